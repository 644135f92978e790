"""Comparability beyond the digest: same labels and same metric definitions.

Two versions scored on the same rows are still not comparable when the label means something
else (a redefined target, another label column, another positive class) or when a metric is
computed another way (another averaging, another `k`, another threshold). These facts read what
teams log: the paired evaluation tables' labels, the pipeline config and run params, and the
metric names themselves (``f1_macro`` against ``f1_weighted``, ``precision_at_10`` against
``precision_at_5``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from comparison._refs import artifact_ref, metric_ref
from comparison.unavailable import Unavailable
from tools.evidence import VersionEvidence
from tools.pipeline_config import key_matches, value_text
from tools.pipeline_diff import POSITIVE_CLASS_PATTERNS, ConfigChange, PipelineDiff
from tools.segments import TablePairing, label_differences, pair_rows
from tools.significance import numeric_array

__all__ = [
    "DefinitionAspect",
    "DefinitionChange",
    "LabelAgreement",
    "definition_aspect",
    "label_agreement",
    "label_changes",
    "metric_definition_changes",
    "metric_name_qualifiers",
]

DefinitionAspect = Literal["label_key", "positive_class", "averaging", "k", "threshold"]

_AVERAGING_MODES = frozenset({"macro", "micro", "weighted", "binary", "samples"})
_K_KEYS = ("k", "top_k", "topk", "at_k", "*_at_k", "*.at_k", "eval_k", "metric_k", "cutoff_k")
_EXAMPLES = 5


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LabelAgreement(_Frozen):
    """How often the two evaluation tables' labels agree on the same (paired) examples."""

    paired_rows: int
    method: Literal["row_id", "row_order"]
    differing: int
    share: float = Field(description="differing / paired_rows")
    examples: list[str] = Field(
        default_factory=list, description="Row ids (or row numbers) of the first differing rows."
    )
    baseline_positive_share: float | None = None
    candidate_positive_share: float | None = None
    evidence: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        if not self.differing:
            return f"labels agree on all {self.paired_rows} paired rows (paired on {self.method})"
        text = (
            f"labels differ on {self.differing} of {self.paired_rows} paired rows "
            f"({self.share:.1%}; paired on {self.method})"
        )
        if self.baseline_positive_share is not None and self.candidate_positive_share is not None:
            text += (
                f"; positive labels {self.baseline_positive_share:.1%} in the baseline's table, "
                f"{self.candidate_positive_share:.1%} in the candidate's"
            )
        return text


class DefinitionChange(_Frozen):
    """One change of what a label or a metric means between the baseline and the candidate."""

    aspect: DefinitionAspect
    key: str = Field(description="The config key or run param, or the metric's base name.")
    old: str | None = None
    new: str | None = None
    source: Literal["config", "metric_names"]
    location: str
    evidence: list[str] = Field(default_factory=list)

    def describe(self) -> str:
        what = {
            "label_key": "the label",
            "positive_class": "the positive class",
            "averaging": "the averaging",
            "k": "k",
            "threshold": "the threshold",
        }[self.aspect]
        if self.source == "metric_names":
            return (
                f"{what} of metric {self.key!r} changed: the baseline logged {self.old}, the "
                f"candidate {self.new}"
            )
        old = "unset" if self.old is None else repr(self.old)
        new = "unset" if self.new is None else repr(self.new)
        return f"{what} ({self.key}) changed from {old} to {new} at {self.location}"


def _is_positive(value: object) -> bool:
    """1, 1.0, True and "1" are the positive class (as the metrics read a table)."""
    if isinstance(value, bool):
        return value
    if type(value) is int or type(value) is float:
        # What the text route gives a number (`float(str(v)) == v` for every float), without
        # the text: tables hold thousands of labels.
        return value == 1
    try:
        return float(str(value)) == 1.0
    except ValueError:
        return False


def _positive_share(labels: list[object]) -> float | None:
    if not labels:
        return None
    numeric = numeric_array(labels)
    if numeric is not None:
        # Every label a real number: `_is_positive` is `value == 1` for each, counted at once.
        return int(np.count_nonzero(numeric == 1.0)) / len(labels)
    return sum(1 for v in labels if _is_positive(v)) / len(labels)


def label_agreement(
    baseline: VersionEvidence | None,
    candidate: VersionEvidence,
    rows: TablePairing | None = None,
) -> LabelAgreement | Unavailable:
    """Whether the two evaluation tables hold the same labels for the same examples.

    Rows are paired on ``row_id`` (else on row order) whatever their labels (the bootstrap's
    pairing refuses differing labels), so a redefined label on the same rows shows as differing
    labels rather than as tables that cannot be paired.

    Args:
        baseline: The baseline's evidence.
        candidate: The candidate's evidence.
        rows: `tools.segments.pair_rows` of the two tables, when the caller has it already.
    """
    if baseline is None:
        return Unavailable(reason="there is no baseline version")
    a, b = baseline.eval_table, candidate.eval_table
    if b is None:
        return Unavailable(reason=f"{candidate.ref} has no per-example evaluation table")
    if a is None:
        return Unavailable(
            reason=f"the baseline {baseline.ref} has no per-example evaluation table"
        )
    if "label" not in a.columns or "label" not in b.columns:
        return Unavailable(reason="both evaluation tables need a label column")
    pairing = rows if rows is not None else pair_rows(a, b)
    if not pairing.paired or pairing.method is None:
        return Unavailable(reason=f"the two evaluation tables cannot be paired: {pairing.reason}")
    differ = label_differences(a, b, pairing)
    ids = a.column("row_id") if "row_id" in a.columns else None
    examples = [
        str(ids[pairing.index_a[k]]) if ids is not None else f"row {pairing.index_a[k]}"
        for k in differ[:_EXAMPLES]
    ]
    labels_a, labels_b = a.column("label"), b.column("label")
    n = len(pairing.index_a)
    return LabelAgreement(
        paired_rows=n,
        method=pairing.method,
        differing=len(differ),
        share=len(differ) / n,
        examples=examples,
        baseline_positive_share=_positive_share([labels_a[i] for i in pairing.index_a]),
        candidate_positive_share=_positive_share([labels_b[j] for j in pairing.index_b]),
        evidence=[artifact_ref(candidate, b.path), artifact_ref(baseline, a.path)],
    )


def _config_change(change: ConfigChange, aspect: DefinitionAspect) -> DefinitionChange:
    return DefinitionChange(
        aspect=aspect,
        key=change.key,
        old=value_text(change.old.value) if change.old is not None else None,
        new=value_text(change.new.value) if change.new is not None else None,
        source="config",
        location=change.location,
        evidence=change.refs,
    )


def label_changes(diff: PipelineDiff) -> list[DefinitionChange]:
    """The label keys (column, definition, positive class) the pipeline diff shows changed."""
    return [
        _config_change(
            c,
            "positive_class"
            if any(key_matches(p, c.key) for p in POSITIVE_CLASS_PATTERNS)
            else "label_key",
        )
        for c in diff.by_class("label")
    ]


def definition_aspect(key: str, old: str | None, new: str | None) -> DefinitionAspect | None:
    """Which part of a metric's definition a config key or run param sets, if any.

    Averaging keys count only with an averaging mode as a value (``macro``, ``weighted`` ...), so
    an estimator's own ``average`` flag is not read as one; a threshold counts only under an
    evaluation or metric key and never as the decision threshold, which changes the model's
    predictions rather than how they are scored.

    Args:
        key: The flat-view key.
        old: The baseline's value as text (None: unset).
        new: The candidate's value as text (None: unset).
    """
    lowered = key.lower()
    values = {v.strip().lower() for v in (old, new) if v is not None}
    if "averag" in lowered and values & _AVERAGING_MODES:
        return "averaging"
    if any(key_matches(p, key) for p in _K_KEYS) and all(v.isdigit() for v in values):
        return "k"
    if (
        "threshold" in lowered
        and ("eval" in lowered or "metric" in lowered)
        and "decision" not in lowered
    ):
        return "threshold"
    return None


_QUALIFIED: tuple[tuple[DefinitionAspect, re.Pattern[str]], ...] = (
    (
        "averaging",
        re.compile(r"^(?P<base>.+?)[_@/\-](?P<q>macro|micro|weighted|binary|samples)(?:_avg)?$"),
    ),
    ("averaging", re.compile(r"^(?P<q>macro|micro|weighted)[_\-](?:avg[_\-])?(?P<base>.+)$")),
    (
        "threshold",
        re.compile(r"^(?P<base>.+?)(?:@|_at_|_at|/at_)(?:t|thr|threshold)?[_=]?(?P<q>0?\.\d+)$"),
    ),
    ("k", re.compile(r"^(?P<base>.+?)(?:@|_at_|_at|/at_|@k=|_k)(?P<q>\d+)$")),
)


def metric_name_qualifiers(name: str) -> tuple[str, DefinitionAspect, str] | None:
    """(base metric, aspect, qualifier) of a metric key that names its definition, if it does:
    ``f1_macro`` -> (f1, averaging, macro), ``precision_at_10`` -> (precision, k, 10),
    ``recall@0.3`` -> (recall, threshold, 0.3)."""
    if name.startswith("segment/"):
        return None
    for aspect, pattern in _QUALIFIED:
        m = pattern.match(name)
        if m is not None:
            return m["base"].lower(), aspect, m["q"].lower()
    return None


def _name_index(
    metrics: Mapping[str, float],
) -> dict[tuple[str, DefinitionAspect], dict[str, str]]:
    """(base, aspect) -> qualifier -> metric key."""
    out: dict[tuple[str, DefinitionAspect], dict[str, str]] = {}
    for key in sorted(metrics):
        parsed = metric_name_qualifiers(key)
        if parsed is not None:
            base, aspect, q = parsed
            out.setdefault((base, aspect), {})[q] = key
    return out


def metric_definition_changes(
    diff: PipelineDiff | Unavailable,
    baseline: VersionEvidence,
    candidate: VersionEvidence,
    baseline_metrics: Mapping[str, float],
    candidate_metrics: Mapping[str, float],
) -> list[DefinitionChange]:
    """Changed metric definitions: config keys and run params (averaging, `k`, an evaluation
    threshold), and metrics logged under another definition's name with no definition shared.

    Args:
        diff: The pipeline diff (config changes are skipped when it is unavailable).
        baseline: The baseline's evidence (for evidence references).
        candidate: The candidate's evidence.
        baseline_metrics: Every metric of the baseline.
        candidate_metrics: Every metric of the candidate.
    """
    changes: list[DefinitionChange] = []
    if not isinstance(diff, Unavailable):
        for change in diff.changes:
            if change.change_class in ("label", "dependency", "seed"):
                continue
            old = value_text(change.old.value) if change.old is not None else None
            new = value_text(change.new.value) if change.new is not None else None
            aspect = definition_aspect(change.key, old, new)
            if aspect is not None:
                changes.append(_config_change(change, aspect))
    base_names, cand_names = _name_index(baseline_metrics), _name_index(candidate_metrics)
    for (base, named), cand_q in sorted(cand_names.items()):
        base_q = base_names.get((base, named))
        if not base_q or set(base_q) & set(cand_q):
            continue
        changes.append(
            DefinitionChange(
                aspect=named,
                key=base,
                old=", ".join(sorted(base_q.values())),
                new=", ".join(sorted(cand_q.values())),
                source="metric_names",
                location="metric names",
                evidence=[metric_ref(candidate, k) for k in sorted(cand_q.values())]
                + [metric_ref(baseline, k) for k in sorted(base_q.values())],
            )
        )
    return changes
