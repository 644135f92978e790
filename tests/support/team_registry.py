"""The team-styles registry (built by `scenarios.team_styles`) and a ledger-free review of it."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from scenarios.team_styles import (
    AUTOLOGGED,
    CUSTOM,
    EVALUATED,
    EVALUATED_APART,
    SYNONYMS,
    TWO_TABLES,
    TeamRegistry,
    build_team_registry,
)

if TYPE_CHECKING:
    from policies.decision import Decision

__all__ = [
    "AUTOLOGGED",
    "CUSTOM",
    "EVALUATED",
    "EVALUATED_APART",
    "SYNONYMS",
    "TWO_TABLES",
    "TeamRegistry",
    "build_team_registry",
    "review_once",
]


def review_once(tracking_uri: str, model: str, ref: str | int, policies: Any) -> Decision:
    """Gather, evaluate and decide, without a ledger (what every front door does first)."""
    from mlflow import MlflowClient

    from agents.offline_investigator import OfflineInvestigator
    from review import decide, evaluate_evidence, gather_evidence

    client = MlflowClient(tracking_uri, tracking_uri)
    started = time.perf_counter()
    bundle = gather_evidence(client, model, ref, policies=policies)
    return decide(
        evaluate_evidence(bundle, policies),
        investigator=OfflineInvestigator(),
        target_alias="champion",
        created_at=datetime.now(UTC),
        started=started,
    )
