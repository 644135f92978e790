"""Rollback advice after a watch alert: which version to move back to, and what it would cost.

The target is the last version promogate approved for the alias before the current holder (a
promotion, a revert or a move the alias guard accepted, read from the ledger), with the decision
it rested on. The cost is measured on the monitored windows that have labels: both versions score
the same rows and the promotion metrics are compared. The earlier version is loaded only when its
artifacts pass the security checks (the matching policies' `security:` section, or the default
rules); otherwise the advice says why it was not scored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger
from policies.loader import LoadedPolicy
from review.artifact_security import scan_version
from tools.errors import ToolError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "RollbackAdvice",
    "RollbackTarget",
    "ScoredWindow",
    "WindowCost",
    "classification_metrics",
    "rollback_target",
]

logger = logging.getLogger("promogate.review")

_SAFE_STATUSES = frozenset({"pass", "skip", "warn"})


class RollbackTarget(BaseModel):
    """The last version promogate approved for an alias before its current holder."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    record_id: str = Field(description="The ledger record that made it the alias's holder.")
    decision_id: str | None = Field(
        default=None, description="The allowing decision that record rested on."
    )


class WindowCost(BaseModel):
    """One metric on one monitored window: the holder's value and the rollback target's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_id: str
    metric: str
    rows: int
    current: float | None
    previous: float | None
    delta: float | None = Field(description="previous - current: what moving back changes.")
    segment: str | None = None


class RollbackAdvice(BaseModel):
    """What a watch alert advises: move back to `target`, at the cost measured on the windows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str
    current_version: int
    target: RollbackTarget | None = None
    summary: str
    costs: list[WindowCost] = Field(default_factory=list)
    not_scored: str | None = Field(
        default=None, description="Why the moving-back cost could not be measured, if it was not."
    )


def rollback_target(ledger: Ledger, model: str, alias: str, current: int) -> RollbackTarget | None:
    """The last version promogate approved for `alias` that is not `current`, from the ledger.

    Args:
        ledger: The decision ledger.
        model: Registered model name.
        alias: The alias.
        current: The version holding the alias now.
    """
    for record in ledger.alias_history(model, alias, limit=200):
        held: int | None
        decision_id: str | None
        if isinstance(record, Promotion):
            held, decision_id = record.version, record.decision_id
        elif isinstance(record, AliasRevert):
            held, decision_id = record.restored_version, None
        elif isinstance(record, AliasMove) and record.action == "accepted":
            held, decision_id = record.version, record.decision_id
        else:
            continue
        if held is not None and held != current:
            return RollbackTarget(version=held, record_id=record.id, decision_id=decision_id)
    return None


def classification_metrics(labels: Sequence[Any], predictions: Sequence[Any]) -> dict[str, float]:
    """Recall, precision, accuracy and F1 of hard predictions against labels (positive class 1).

    Args:
        labels: Realised labels.
        predictions: Predicted labels (scores are thresholded at 0.5).
    """
    import numpy as np

    y = np.asarray(labels).astype(float)
    raw = np.asarray(predictions).astype(float)
    p = (raw >= 0.5).astype(float) if raw.size and not np.isin(raw, (0.0, 1.0)).all() else raw
    out: dict[str, float] = {}
    if y.size == 0:
        return out
    tp = float(((y == 1) & (p == 1)).sum())
    fp = float(((y == 0) & (p == 1)).sum())
    fn = float(((y == 1) & (p == 0)).sum())
    out["accuracy"] = float((y == p).mean())
    if tp + fn > 0:
        out["recall"] = tp / (tp + fn)
    if tp + fp > 0:
        out["precision"] = tp / (tp + fp)
    if "recall" in out and "precision" in out and out["recall"] + out["precision"] > 0:
        out["f1"] = 2 * out["recall"] * out["precision"] / (out["recall"] + out["precision"])
    return out


class ScoredWindow(BaseModel):
    """A labelled window sample the rollback cost is measured on."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    window_id: str
    features: Any = Field(description="The model inputs (a DataFrame).")
    labels: list[float]
    segments: dict[str, list[str]] = Field(default_factory=dict)


def loadable_safely(
    client: MlflowClient,
    model: str,
    version: int,
    policies: Sequence[LoadedPolicy],
    alias: str,
) -> str | None:
    """Why `version`'s model must not be loaded here, or None when its artifacts pass the checks.

    Args:
        client: MLflow client.
        model: Registered model name.
        version: The version to load.
        policies: Every loaded policy (their security sections apply; else the default rules).
        alias: The alias (selects the policies).
    """
    try:
        report = scan_version(client, model, version, policies=policies, target_alias=alias)
    except ToolError as exc:
        return f"its artifacts could not be scanned: {exc}"
    failing = [c for c in report.checks if c.status not in _SAFE_STATUSES]
    if report.scan.error is not None:
        return f"its artifacts could not be read: {report.scan.error}"
    if failing:
        named = "; ".join(f"{c.id} {c.status}: {c.message}" for c in failing[:3])
        return f"its artifacts do not pass the security checks ({named})"
    return None


def measure_cost(
    *,
    windows: Sequence[ScoredWindow],
    metrics: Sequence[str],
    score_current: Callable[[Any], Sequence[Any]],
    score_previous: Callable[[Any], Sequence[Any]],
) -> list[WindowCost]:
    """Score both versions on each labelled window and compare the named metrics.

    Args:
        windows: Labelled window samples.
        metrics: The promotion metrics to compare (those computable from labels).
        score_current: The holder's predictions for a feature frame.
        score_previous: The rollback target's predictions for a feature frame.
    """
    costs: list[WindowCost] = []
    for window in windows:
        if not window.labels:
            continue
        current = classification_metrics(window.labels, score_current(window.features))
        previous = classification_metrics(window.labels, score_previous(window.features))
        wanted = [m for m in metrics if m in current or m in previous] or sorted(current)
        for metric in wanted:
            now, then = current.get(metric), previous.get(metric)
            costs.append(
                WindowCost(
                    window_id=window.window_id,
                    metric=metric,
                    rows=len(window.labels),
                    current=now,
                    previous=then,
                    delta=(then - now) if now is not None and then is not None else None,
                )
            )
    return costs
