"""Conclusions: when several failing checks share one cause, name the cause and group them.

A reviewer who sees every region's recall fall right after the decision threshold moved does not
report five regressions; they report one decision and the recall it cost. Likewise every metric
that falls after the label was redefined says nothing about the model. These rules draw such a
conclusion only where the evidence establishes the mechanism:

1. the labels differ (``comparability.same_labels``): every metric and segment symptom;
2. a metric's definition changed (``comparability.same_metric_definitions``): the symptoms of the
   metrics it concerns (all of them for a changed config setting);
3. the evaluation data differs (``comparability.same_eval_dataset``): every symptom;
4. the decision threshold moved in the pipeline config: the symptoms of metrics computed from
   predicted classes (recall, precision, f1, accuracy ...), when there are at least two.

A symptom is a failing or warning metric or segment check; each is grouped under the first cause
that explains it. Pure and deterministic: the same checks and facts give the same conclusions.
"""

from __future__ import annotations

from collections.abc import Sequence

from comparison import Comparison, Unavailable, definition_aspect, metric_name_qualifiers
from policies.decision import CauseKind, Conclusion
from policies.result import CheckResult
from tools.pipeline_config import value_text
from tools.pipeline_diff import ConfigChange

__all__ = ["THRESHOLD_METRICS", "check_metric", "draw_conclusions"]

THRESHOLD_METRICS: tuple[str, ...] = (
    "recall",
    "precision",
    "f1",
    "fbeta",
    "accuracy",
    "balanced_accuracy",
    "specificity",
    "sensitivity",
    "tpr",
    "fpr",
    "tnr",
    "fnr",
    "true_positive_rate",
    "false_positive_rate",
)
"""Metrics computed from predicted classes: they move whenever the decision threshold moves."""

_PREFIXES = ("eval_", "test_", "val_", "validation_", "holdout_", "eval/", "test/", "val/")
_SYMPTOM_STATUSES = ("fail", "warn")
_LABELS = "comparability.same_labels"
_DEFINITIONS = "comparability.same_metric_definitions"
_DATASET = "comparability.same_eval_dataset"


def check_metric(check: CheckResult) -> str | None:
    """The metric a metric or segment check judges, from its id (``metrics.<name>.<rule>``,
    ``segments.<column>.<metric>.<segment>``)."""
    if check.kind == "metric" and check.id.startswith("metrics."):
        return check.id.removeprefix("metrics.").rsplit(".", 1)[0]
    if check.kind == "segment" and check.id.startswith("segments."):
        column = str(check.details.get("column", ""))
        rest = check.id.removeprefix("segments.")
        if column and rest.startswith(column + "."):
            return rest[len(column) + 1 :].split(".", 1)[0]
        parts = rest.split(".")
        return parts[1] if len(parts) >= 3 else None
    return None


def _base(metric: str) -> str:
    name = metric.lower()
    for prefix in _PREFIXES:
        name = name.removeprefix(prefix)
    parsed = metric_name_qualifiers(name)
    return parsed[0] if parsed is not None else name


def _threshold_dependent(metric: str) -> bool:
    base = _base(metric).removesuffix("_score")
    return any(base == m or base.startswith(m + "_") for m in THRESHOLD_METRICS)


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def _conclusion(
    kind: CauseKind,
    cause: str,
    effect: str,
    symptoms: Sequence[CheckResult],
    *,
    cause_check: CheckResult | None = None,
    evidence: Sequence[str] = (),
) -> Conclusion:
    refs = list(cause_check.evidence) if cause_check is not None else []
    return Conclusion(
        kind=kind,
        cause=cause,
        effect=effect,
        cause_check_id=cause_check.id if cause_check is not None else None,
        check_ids=[c.id for c in symptoms],
        evidence=list(dict.fromkeys([*refs, *evidence])),
    )


def _decision_thresholds(facts: Comparison) -> list[ConfigChange]:
    """Changes of the decision threshold (not of a threshold a metric is computed at)."""
    diff = facts.pipeline_diff()
    if isinstance(diff, Unavailable):
        return []
    out: list[ConfigChange] = []
    for change in diff.changes:
        if "threshold" not in change.key.lower():
            continue
        old = value_text(change.old.value) if change.old is not None else None
        new = value_text(change.new.value) if change.new is not None else None
        if definition_aspect(change.key, old, new) is None:
            out.append(change)
    return out


def _definition_metrics(check: CheckResult) -> set[str] | None:
    """Base names of the metrics whose definitions changed; None when a config setting changed
    (it may concern every metric)."""
    changes = check.details.get("changes", [])
    names: set[str] = set()
    for change in changes if isinstance(changes, list) else []:
        if not isinstance(change, dict) or change.get("source") != "metric_names":
            return None
        names.add(str(change.get("key", "")))
    return names or None


def draw_conclusions(checks: Sequence[CheckResult], facts: Comparison) -> list[Conclusion]:
    """The causes several failing or warning checks share (see the module docstring).

    Args:
        checks: Every check of the review.
        facts: The review's comparison (the pipeline diff names a moved decision threshold).
    """
    by_id = {c.id: c for c in checks if c.status in _SYMPTOM_STATUSES}
    pending = [
        c
        for c in checks
        if c.kind in ("metric", "segment")
        and c.status in _SYMPTOM_STATUSES
        and check_metric(c) is not None
    ]
    conclusions: list[Conclusion] = []

    def claim(wanted: list[CheckResult]) -> list[CheckResult]:
        ids = {c.id for c in wanted}
        pending[:] = [c for c in pending if c.id not in ids]
        return wanted

    labels = by_id.get(_LABELS)
    if labels is not None and pending:
        symptoms = claim(list(pending))
        mismatches = labels.details.get("mismatches") or [labels.message]
        conclusions.append(
            _conclusion(
                "labels_changed",
                _sentence(
                    "The label changed between the two versions: " + "; ".join(map(str, mismatches))
                ),
                f"These {len(symptoms)} metric and segment check(s) compare numbers measured "
                "against different labels: they say nothing about whether the model got worse "
                "until both versions are scored against the same labels.",
                symptoms,
                cause_check=labels,
            )
        )
    definitions = by_id.get(_DEFINITIONS)
    if definitions is not None and pending:
        concerned = _definition_metrics(definitions)
        symptoms = claim(
            [c for c in pending if concerned is None or _base(check_metric(c) or "") in concerned]
        )
        if symptoms:
            conclusions.append(
                _conclusion(
                    "metric_definition_changed",
                    _sentence(
                        "A metric is computed differently than for the baseline: "
                        + definitions.message.split(": ", 1)[-1]
                    ),
                    f"These {len(symptoms)} check(s) compare numbers computed two ways: "
                    "recompute both versions with one definition before judging them.",
                    symptoms,
                    cause_check=definitions,
                )
            )
    dataset = by_id.get(_DATASET)
    if dataset is not None and pending:
        symptoms = claim(list(pending))
        conclusions.append(
            _conclusion(
                "evaluation_data_changed",
                _sentence(
                    "The two versions were not scored on the same evaluation data: "
                    + "; ".join(map(str, dataset.details.get("mismatches") or [dataset.message]))
                ),
                f"These {len(symptoms)} check(s) compare numbers from different evaluation "
                "data: score the candidate on the baseline's data before judging them.",
                symptoms,
                cause_check=dataset,
            )
        )
    dependent = [c for c in pending if _threshold_dependent(check_metric(c) or "")]
    moved = _decision_thresholds(facts) if len(dependent) >= 2 else []
    if moved:
        symptoms = claim(dependent)
        what = "; ".join(ch.describe() + f" at {ch.location}" for ch in moved)
        conclusions.append(
            _conclusion(
                "decision_threshold_moved",
                f"The decision threshold moved: {what}.",
                f"These {len(symptoms)} check(s) judge metrics counted from predicted classes, "
                "which all move with the threshold: this is one decision (what the new "
                "threshold buys against what it costs), not separate regressions.",
                symptoms,
                evidence=[r for ch in moved for r in ch.refs],
            )
        )
    return conclusions
