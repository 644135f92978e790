"""Facts behind the question "is this improvement plausible?": how far a metric moved against the
model's own history and against the settings that changed, which inputs are new, and what the
logged models say about their inputs."""

from __future__ import annotations

from itertools import pairwise
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from comparison._refs import version_ref
from comparison.datasets import input_digests
from tools.evidence import VersionEvidence
from tools.pipeline_config import value_text
from tools.pipeline_diff import ConfigChange, PipelineDiff
from tools.plausibility_models import VersionHistory

__all__ = [
    "GainFact",
    "InputChange",
    "InputChanges",
    "gain_fact",
    "input_changes",
    "signature_inputs",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GainFact(_Frozen):
    """How far one metric improved, and what could explain it."""

    metric: str
    lower_is_better: bool
    baseline: float
    candidate: float
    gain: float = Field(description="The improvement: positive is better, in the metric's units.")
    history: list[tuple[int, float]] = Field(
        default_factory=list, description="(version, value) of the earlier versions, oldest first."
    )
    largest_history_move: float | None = Field(
        default=None,
        description="The largest move (either way) between consecutive earlier versions; None "
        "with fewer than two earlier values.",
    )
    best_before: float | None = Field(
        default=None, description="The best value any earlier version had."
    )
    changed_classes: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Pipeline config changes per class (their keys); the training data counts as "
        "data_source when its dataset digest changed.",
    )
    diff_unavailable: str | None = Field(
        default=None, description="Why no pipeline config diff was available."
    )
    evidence: list[str] = Field(default_factory=list)


class InputChange(_Frozen):
    """An input the candidate has that the baseline did not (or whose definition changed)."""

    name: str
    how: Literal["pipeline_config", "signature", "importances"]
    detail: str
    evidence: list[str] = Field(default_factory=list)


class InputChanges(_Frozen):
    """Every new or changed input, found in the pipeline diff, the signatures and importances."""

    changes: list[InputChange] = Field(default_factory=list)
    sources: list[str] = Field(default_factory=list, description="Where new inputs were looked.")
    notes: list[str] = Field(default_factory=list, description="Sources that could not be read.")

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(c.name for c in self.changes))


def _largest_move(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    return max(abs(b - a) for a, b in pairwise(values))


def gain_fact(
    metric: str,
    *,
    lower_is_better: bool,
    baseline: VersionEvidence,
    candidate: VersionEvidence,
    base_value: float,
    cand_value: float,
    history: VersionHistory | None,
    diff: PipelineDiff | str,
    evidence: list[str],
) -> GainFact:
    """The gain of `metric` from baseline to candidate with its history and changed settings.

    Args:
        metric: The metric name.
        lower_is_better: Whether a smaller value is better (losses, errors).
        baseline: The baseline's evidence.
        candidate: The candidate's evidence.
        base_value: The baseline's value.
        cand_value: The candidate's value.
        history: The model's earlier versions (None when not read).
        diff: The pipeline config diff, or why there is none.
        evidence: References to the two metric values.
    """
    series = history.series(metric) if history is not None else []
    # The baseline is the latest point of history when the registry listing missed it.
    if baseline.version not in {v for v, _ in series}:
        series = sorted([*series, (baseline.version, base_value)])
    values = [v for _, v in series]
    best = (min(values) if lower_is_better else max(values)) if values else None
    classes: dict[str, list[str]] = {}
    unavailable: str | None = None
    if isinstance(diff, str):
        unavailable = diff
    else:
        for change in diff.changes:
            classes.setdefault(change.change_class, []).append(change.key)
    cand_train = set(input_digests(candidate, "training"))
    base_train = set(input_digests(baseline, "training"))
    if cand_train and base_train and cand_train != base_train:
        classes.setdefault("data_source", []).append("training dataset digest")
    refs = list(evidence)
    if history is not None:
        refs += [r for v in history.versions if metric in v.metrics for r in v.evidence[:1]]
    return GainFact(
        metric=metric,
        lower_is_better=lower_is_better,
        baseline=base_value,
        candidate=cand_value,
        gain=(base_value - cand_value) if lower_is_better else (cand_value - base_value),
        history=series,
        largest_history_move=_largest_move(values),
        best_before=best,
        changed_classes=classes,
        diff_unavailable=unavailable,
        evidence=list(dict.fromkeys(refs)),
    )


def signature_inputs(version: VersionEvidence) -> list[str] | None:
    """The input column names of the logged model's signature (None: no column signature)."""
    lm = version.logged_model
    if lm is None or not isinstance(lm.signature, dict):
        return None
    inputs: Any = lm.signature.get("inputs")
    if not isinstance(inputs, list):
        return None
    names = [str(i["name"]) for i in inputs if isinstance(i, dict) and i.get("name") is not None]
    return names or None


def _new_values(change: ConfigChange) -> list[str]:
    """The input names a feature-class change brings in."""
    new = change.new.value if change.new is not None else None
    old = change.old.value if change.old is not None else None
    if isinstance(new, list):
        before = {value_text(v) for v in old} if isinstance(old, list) else set()
        return [value_text(v) for v in new if value_text(v) not in before]
    leaf = change.key.rsplit(".", 1)[-1]
    if isinstance(new, str) and new.strip():
        return [new.strip()]
    # `features.chargeback_flag: true`: the key itself names the input.
    return [leaf] if change.kind == "added" else []


def input_changes(
    baseline: VersionEvidence,
    candidate: VersionEvidence,
    diff: PipelineDiff | str,
) -> InputChanges:
    """New or changed inputs of the candidate, by the pipeline diff, the signatures and the
    importances its logged model states.

    Args:
        baseline: The baseline's evidence.
        candidate: The candidate's evidence.
        diff: The classified pipeline config diff, or why there is none.
    """
    changes: list[InputChange] = []
    sources: list[str] = []
    notes: list[str] = []
    if isinstance(diff, str):
        notes.append(f"pipeline config: {diff}")
    else:
        sources.append("pipeline config diff")
        for change in diff.changes:
            if change.change_class not in ("features", "label") or change.kind == "removed":
                continue
            for name in _new_values(change):
                changes.append(
                    InputChange(
                        name=name,
                        how="pipeline_config",
                        detail=change.explain(),
                        evidence=change.refs,
                    )
                )
    cand_cols, base_cols = signature_inputs(candidate), signature_inputs(baseline)
    if cand_cols is not None and base_cols is not None:
        sources.append("model signatures")
        for name in cand_cols:
            if name not in base_cols:
                changes.append(
                    InputChange(
                        name=name,
                        how="signature",
                        detail=f"input column {name!r} is in {candidate.ref}'s signature but not "
                        f"in {baseline.ref}'s",
                        evidence=[version_ref(candidate, "signature")],
                    )
                )
    else:
        missing = [v.ref for v, c in ((candidate, cand_cols), (baseline, base_cols)) if c is None]
        notes.append(f"signature: no column signature for {', '.join(missing)}")
    cand_imp, base_imp = candidate.feature_importances, baseline.feature_importances
    if cand_imp is not None and cand_imp.available and base_imp is not None and base_imp.available:
        sources.append("feature importances")
        for name in cand_imp.shares:
            if name not in base_imp.shares:
                changes.append(
                    InputChange(
                        name=name,
                        how="importances",
                        detail=f"{candidate.ref}'s model uses input {name!r} "
                        f"({cand_imp.shares[name]:.0%} of its importance); {baseline.ref}'s "
                        "model has no such input",
                        evidence=[version_ref(candidate, "importances")],
                    )
                )
    return InputChanges(changes=changes, sources=sources, notes=notes)
