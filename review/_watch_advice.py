"""Rollback advice after a watch alert: which version to move back to, and what it would cost.

The target is the last version promogate approved for the alias before the current holder (a
promotion, a revert or a move the alias guard accepted, read from the ledger), with the decision
it rested on. The cost is measured on the monitored windows that have labels: both versions score
the same rows and the promotion metrics are compared. The earlier version is loaded only when its
artifacts pass the security checks (the matching policies' `security:` section, else the default
rules with the types the `watch:` section's `skops_trusted_types` lists); otherwise the advice
says why it was not scored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger
from policies.loader import LoadedPolicy
from policies.schema import Policy
from review.artifact_security import scan_version
from tools.errors import ToolError
from tools.metric_direction import lower_is_better
from tools.regression_metrics import REGRESSION_METRICS, regression_metrics

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from review.gate import GateService
    from watch.window import MonitoringWindow

__all__ = [
    "RollbackAdvice",
    "RollbackTarget",
    "ScoredWindow",
    "WindowCost",
    "advise_rollback",
    "classification_metrics",
    "rollback_target",
]

logger = logging.getLogger("promogate.review")

_SAFE_STATUSES = frozenset({"pass", "skip", "warn"})
_NOT_FEATURES = frozenset({"label", "prediction", "score", "row_id"})


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


def scoring_policies(
    policies: Sequence[LoadedPolicy], rules: Mapping[str, Any]
) -> list[LoadedPolicy]:
    """The policies whose security sections judge the rollback target before it is loaded.

    A policy without a `security:` section whose `watch:` section lists `skops_trusted_types`
    judges with the default rules plus those types (as `plausibility.skops_trusted_types` does
    for importances): the trust covers this load only, so reviews still scan nothing.

    Args:
        policies: Every loaded policy.
        rules: The `watch:` sections that applied, by policy name.
    """
    chosen: list[LoadedPolicy] = []
    for loaded in policies:
        trusted = list(getattr(rules.get(loaded.name), "skops_trusted_types", None) or [])
        if loaded.policy.security is not None or not trusted:
            chosen.append(loaded)
            continue
        # The default rules are an empty security section (as `promogate scan` applies them).
        raw = loaded.policy.model_dump(by_alias=True, exclude_none=True)
        policy = Policy.model_validate({**raw, "security": {"skops_trusted_types": trusted}})
        chosen.append(loaded.model_copy(update={"policy": policy}))
    return chosen


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
        policies: The policies (their security sections apply, see `scoring_policies`; with
            none, the default rules).
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
    # A regressor's predictions are values, not classes: thresholding them would invent an
    # accuracy.
    regression = any(m in REGRESSION_METRICS for m in metrics)
    realised = regression_metrics if regression else classification_metrics
    costs: list[WindowCost] = []
    for window in windows:
        if not window.labels:
            continue
        current = realised(window.labels, score_current(window.features))
        previous = realised(window.labels, score_previous(window.features))
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


def advise_rollback(
    gate: GateService,
    model: str,
    alias: str,
    version: int,
    windows: Sequence[MonitoringWindow],
    rules: Mapping[str, Any],
    policies: Sequence[LoadedPolicy],
    *,
    score: bool = True,
) -> RollbackAdvice:
    """The rollback target for `model@alias` and what moving back would cost on `windows`.

    Args:
        gate: The gate service (its ledger, MLflow client and tracking URI).
        model: Registered model name.
        alias: The alias.
        version: The alias's current holder.
        windows: The monitored windows of this pass (the labelled ones are scored).
        rules: The `watch:` sections that applied, by policy name (their performance metrics).
        policies: Every loaded policy (security sections, or the default rules with the watch
            sections' `skops_trusted_types`, decide whether loading is safe).
        score: Whether to load and score the target at all.
    """
    target = rollback_target(gate.ledger, model, alias, version)
    if target is None:
        return RollbackAdvice(
            model=model,
            alias=alias,
            current_version=version,
            summary=f"No rollback target: promogate approved no other version for @{alias} "
            "before this one, so moving back would leave the alias unset.",
            not_scored="no rollback target",
        )
    decided = f" (decision {target.decision_id})" if target.decision_id else ""
    head = (
        f"Rollback target: v{target.version}, the last version promogate approved for "
        f"@{alias}{decided}."
    )
    labelled = [w for w in windows if w.labelled is not None and len(w.labelled) > 0]
    not_scored: str | None = None
    costs: list[WindowCost] = []
    if not score:
        not_scored = "scoring the rollback target is switched off"
    elif not labelled:
        not_scored = "no monitored window has labels yet"
    else:
        not_scored = loadable_safely(
            gate.client, model, target.version, scoring_policies(policies, rules), alias
        )
        if not_scored is None:
            costs, not_scored = _score(gate, model, target.version, labelled, rules)
    if costs:
        overall = [c for c in costs if c.segment is None and c.delta is not None]
        parts = [
            f"{c.metric} {c.current:.3f} -> {c.previous:.3f} ({c.delta:+.3f}) on window "
            f"{c.window_id} ({c.rows} rows)"
            for c in overall
            if c.current is not None and c.previous is not None
        ]
        worst_segment = sorted(
            (c for c in costs if c.segment is not None and c.delta is not None),
            # What moving back gains most first: a fall of an error, a rise of a score.
            key=lambda c: -(c.delta or 0.0) if lower_is_better(c.metric) else c.delta or 0.0,
            reverse=True,
        )[:3]
        parts += [
            f"{c.metric} in {c.segment} {c.current:.3f} -> {c.previous:.3f} ({c.delta:+.3f})"
            for c in worst_segment
            if c.current is not None and c.previous is not None
        ]
        summary = head + " Moving back on the labelled windows: " + "; ".join(parts) + "."
    else:
        summary = head + f" What moving back would cost was not measured: {not_scored}."
    return RollbackAdvice(
        model=model,
        alias=alias,
        current_version=version,
        target=target,
        summary=summary,
        costs=costs,
        not_scored=None if costs else not_scored,
    )


def _score(
    gate: GateService,
    model: str,
    previous: int,
    windows: Sequence[MonitoringWindow],
    rules: Mapping[str, Any],
) -> tuple[list[WindowCost], str | None]:
    from evals import EvalError, load_model_version

    config = gate.config
    if config.tracking_uri is None:
        return [], "the service has no tracking URI to load the model from"
    try:
        loaded = load_model_version(
            model, previous, tracking_uri=config.tracking_uri, registry_uri=config.registry_uri
        )
    except EvalError as exc:
        return [], f"v{previous} could not be loaded: {exc}"
    inputs = _input_names(loaded)
    named = {r.metric for rule in rules.values() for r in rule.performance}
    metrics = sorted(named if named & set(REGRESSION_METRICS) else named | {"accuracy"})
    segment_columns = sorted(
        {s for rule in rules.values() for r in rule.performance for s in r.segments}
    )
    scored: list[ScoredWindow] = []
    for window in windows:
        frame = _labelled_inputs(window, inputs)
        if frame is None:
            continue
        scored.append(
            ScoredWindow(
                window_id=window.run_id or "window",
                features=frame,
                labels=[float(v) for v in frame["label"]],
                segments={c: [str(v) for v in frame[c]] for c in segment_columns if c in frame},
            )
        )
    if not scored:
        return [], "the labelled rows carry no model inputs to score"

    def current(frame: Any) -> Sequence[Any]:
        column = "prediction" if "prediction" in frame else "score"
        return list(frame[column])

    def previous_model(frame: Any) -> Sequence[Any]:
        columns = inputs or [c for c in frame.columns if c not in _NOT_FEATURES]
        return list(loaded.predict(frame[columns]))

    try:
        costs = measure_cost(
            windows=scored,
            metrics=metrics,
            score_current=current,
            score_previous=previous_model,
        )
        for sample in scored:
            for column, values in sample.segments.items():
                for value in sorted(set(values)):
                    mask = [v == value for v in values]
                    sub = sample.features[mask]
                    costs.extend(
                        c.model_copy(update={"segment": f"{column}={value}"})
                        for c in measure_cost(
                            windows=[
                                ScoredWindow(
                                    window_id=sample.window_id,
                                    features=sub,
                                    labels=[float(v) for v in sub["label"]],
                                )
                            ],
                            metrics=metrics,
                            score_current=current,
                            score_previous=previous_model,
                        )
                    )
    except (KeyError, ValueError, TypeError) as exc:
        return [], f"v{previous} could not score the window sample: {type(exc).__name__}: {exc}"
    return costs, None


def _input_names(loaded: Any) -> list[str]:
    """The model's input column names from its signature (empty when it has none)."""
    try:
        schema = loaded.metadata.get_input_schema()
    except AttributeError:
        return []
    if schema is None:
        return []
    names = schema.input_names()
    return [str(n) for n in names if isinstance(n, str)]


def _labelled_inputs(window: MonitoringWindow, inputs: Sequence[str]) -> Any:
    """The window's labelled rows with the model's inputs and the realised prediction, or None."""
    labelled = window.labelled
    if labelled is None or "label" not in labelled:
        return None
    needed = [c for c in inputs if c not in labelled]
    frame = labelled
    if needed and window.sample is not None and "row_id" in labelled and "row_id" in window.sample:
        extra = [c for c in window.sample.columns if c not in labelled or c == "row_id"]
        frame = labelled.merge(window.sample[extra], on="row_id", how="inner")
    if any(c not in frame for c in inputs):
        return None
    if "prediction" not in frame and "score" not in frame:
        return None
    return frame
