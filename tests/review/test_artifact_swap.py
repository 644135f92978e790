"""No swap after review: promote and the gate's reuse hash the artifacts again."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.model_artifacts import SecurityRegistry, logged_model_dir

from agents.offline_investigator import OfflineInvestigator
from ledger.store import Ledger
from review.artifact_security import artifact_change
from review.errors import PromotionRefusedError
from review.gate import GateService
from review.service import ReviewConfig, ReviewService

VERSION = 3  # clean, signed skops: approved by the security policy


@pytest.fixture
def gate(security_registry: SecurityRegistry, tmp_path: Path) -> GateService:
    config = ReviewConfig(
        tracking_uri=security_registry.tracking_uri,
        policies_dir=security_registry.policies_dir,
        publish_tags=False,
    )
    reviews = ReviewService(
        config,
        ledger=Ledger(f"sqlite:///{tmp_path / 'ledger.db'}"),
        investigator=OfflineInvestigator(),
    )
    return GateService(reviews)


@pytest.fixture
def tamper(security_registry: SecurityRegistry, tmp_path: Path) -> Iterator[Any]:
    """Edits a file of the version's logged model; restores it afterwards."""
    from mlflow import MlflowClient

    client = MlflowClient(security_registry.tracking_uri, security_registry.tracking_uri)
    files = logged_model_dir(client, security_registry.model, VERSION)
    backup = Path(shutil.copytree(files, tmp_path / "backup"))

    def edit() -> None:
        (files / "requirements.txt").write_text("scikit-learn==1.5.2\nswapped==6.6.6\n")

    yield edit
    shutil.copy2(backup / "requirements.txt", files / "requirements.txt")


def test_decision_records_the_artifact_digest(gate: GateService, security_registry: Any) -> None:
    answer = gate.gate(security_registry.model, VERSION)
    assert answer.allowed, answer
    decision = gate.ledger.get_decision(answer.decision_id)
    assert decision.artifact_digest is not None
    again = gate.gate(security_registry.model, VERSION)
    assert again.reused and again.decision_id == answer.decision_id


def test_artifact_changed_between_review_and_promote_is_refused(
    gate: GateService, security_registry: Any, tamper: Any
) -> None:
    answer = gate.gate(security_registry.model, VERSION)
    assert answer.allowed
    tamper()
    with pytest.raises(PromotionRefusedError):
        gate.promote(security_registry.model, VERSION, target_alias="champion", actor="ci")
    # The gate does not reuse the approval either: it reviews the changed artifacts, which the
    # signature no longer covers.
    after = gate.gate(security_registry.model, VERSION)
    assert not after.reused and not after.allowed
    assert after.decision_id != answer.decision_id


def test_artifact_change_compares_the_recorded_digest_with_fresh_hashes(
    gate: GateService, security_registry: Any, tamper: Any
) -> None:
    answer = gate.gate(security_registry.model, VERSION)
    decision = gate.ledger.get_decision(answer.decision_id)
    evidence = gate.reviews.gather(security_registry.model, VERSION)
    assert artifact_change(gate.client, decision, evidence.bundle) is None
    # Evidence gathered without a scan: the artifacts are downloaded and hashed again.
    unscanned = evidence.bundle.model_copy(
        update={"candidate": evidence.bundle.candidate.model_copy(update={"artifact_scan": None})}
    )
    assert artifact_change(gate.client, decision, unscanned) is None
    tamper()
    reason = artifact_change(gate.client, decision, unscanned)
    assert reason is not None and "changed since decision" in reason
