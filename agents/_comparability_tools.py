"""The comparability and common-cause tools: are the numbers comparable at all, and do several
failures share one cause."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents._tool_base import ReviewContext, _checks_about, _respond
from agents.untrusted import quote_untrusted
from comparison import DefinitionChange, LabelAgreement, Unavailable
from policies.conclusions import draw_conclusions

if TYPE_CHECKING:
    from langchain.tools import ToolRuntime

__all__ = ["Comparability", "check_comparability", "comparability_of", "find_common_causes"]

_LABELS_CHECK = "comparability.same_labels"


def _change_row(change: DefinitionChange) -> dict[str, Any]:
    def shown(value: str | None) -> str | None:
        if value is None:
            return None
        return quote_untrusted(f"config:{change.key}", value, limit=300)

    return {
        "aspect": change.aspect,
        "key": change.key,
        "old": shown(change.old),
        "new": shown(change.new),
        "source": change.source,
        "location": change.location,
        "describe": quote_untrusted(f"config:{change.key}", change.describe(), limit=400),
    }


class Comparability:
    """What `check_comparability` reports, as the offline plan reads it.

    Args:
        ctx: The review's context.
    """

    def __init__(self, ctx: ReviewContext) -> None:
        facts = ctx.facts
        self.same_dataset = facts.same_dataset()
        self.labels = facts.label_agreement()
        self.label_changes = facts.label_changes()
        self.definition_changes = facts.metric_definition_changes()
        tolerances = [
            float(c.details["tolerance"])
            for c in ctx.verdict.checks
            if c.id == _LABELS_CHECK and "tolerance" in c.details
        ]
        # The strictest applied policy's tolerance; without a label check, any difference counts.
        self.tolerance = min(tolerances) if tolerances else 0.0

    @property
    def labels_differ(self) -> bool:
        return isinstance(self.labels, LabelAgreement) and self.labels.share > self.tolerance

    @property
    def changes(self) -> list[DefinitionChange]:
        out: list[DefinitionChange] = []
        for found in (self.label_changes, self.definition_changes):
            if not isinstance(found, Unavailable):
                out += found
        return out

    @property
    def beyond_digest(self) -> list[str]:
        """Differences of the labels and the metric definitions, one sentence each."""
        out: list[str] = []
        if isinstance(self.labels, LabelAgreement) and self.labels_differ:
            out.append(self.labels.describe())
        out += [c.describe() for c in self.changes]
        return out

    @property
    def problems(self) -> list[str]:
        """Why the numbers are not comparable, one sentence each (empty: nothing found)."""
        same = self.same_dataset
        digests = not isinstance(same, Unavailable) and same.same is False
        return (["the evaluation dataset digests differ"] if digests else []) + self.beyond_digest

    @property
    def comparable(self) -> bool | None:
        """False when anything differs; True when digests, labels and definitions were all
        compared and agree; None when something could not be compared."""
        if self.problems:
            return False
        same = self.same_dataset
        compared = (
            not isinstance(same, Unavailable)
            and same.same is True
            and not isinstance(self.labels, Unavailable)
            and not isinstance(self.label_changes, Unavailable)
        )
        return True if compared else None

    @property
    def evidence(self) -> list[str]:
        refs: list[str] = []
        if isinstance(self.labels, LabelAgreement):
            refs += self.labels.evidence
        for change in self.changes:
            refs += change.evidence
        return list(dict.fromkeys(refs))


def comparability_of(ctx: ReviewContext) -> Comparability:
    """The comparability facts of the review, as `check_comparability` reports them."""
    return Comparability(ctx)


def check_comparability(runtime: ToolRuntime[ReviewContext]) -> str:
    """Check whether the two versions' numbers can be compared at all: same rows, same labels,
    same metric definitions.

    Compares the evaluation dataset digests, the labels of the paired per-example evaluation rows
    (the share that differs), the label keys and positive class in the pipeline config, and each
    metric's definition (averaging, k, an evaluation threshold) from run params, the config and
    the metric names. Answers "were both versions scored on the same thing?" beyond the digest.
    """
    ctx = runtime.context
    found = Comparability(ctx)
    same = found.same_dataset
    payload: dict[str, Any] = {
        "comparable": found.comparable,
        "problems": [quote_untrusted("comparability", p, limit=400) for p in found.problems],
        "same_evaluation_dataset": None if isinstance(same, Unavailable) else same.same,
        "labels": (
            {"unavailable": found.labels.reason}
            if isinstance(found.labels, Unavailable)
            else {
                **found.labels.model_dump(exclude={"evidence", "examples"}),
                "tolerance": found.tolerance,
                "differ_beyond_tolerance": found.labels_differ,
            }
        ),
        "label_changes": (
            {"unavailable": found.label_changes.reason}
            if isinstance(found.label_changes, Unavailable)
            else [_change_row(c) for c in found.label_changes]
        ),
        "metric_definition_changes": (
            {"unavailable": found.definition_changes.reason}
            if isinstance(found.definition_changes, Unavailable)
            else [_change_row(c) for c in found.definition_changes]
        ),
        "checks": _checks_about(ctx.verdict, lambda c: c.kind == "comparability"),
        "evidence": found.evidence,
    }
    return _respond(ctx, "check_comparability", payload)


def find_common_causes(runtime: ToolRuntime[ReviewContext]) -> str:
    """Find causes that several failing or warning checks share, and group the checks under them.

    A cause is named only where the evidence establishes it: the labels changed, a metric's
    definition changed, the evaluation data differs, or the decision threshold moved (every
    threshold-dependent metric and segment then moves together). Open the review with the cause
    rather than listing its symptoms one by one.
    """
    ctx = runtime.context
    conclusions = draw_conclusions(ctx.verdict.checks, ctx.facts)
    return _respond(
        ctx,
        "find_common_causes",
        {
            "conclusions": [c.model_dump(exclude={"evidence"}) for c in conclusions],
            "symptoms_considered": sum(
                1
                for c in ctx.verdict.checks
                if c.kind in ("metric", "segment") and c.status in ("fail", "warn")
            ),
            "evidence": list(dict.fromkeys(r for c in conclusions for r in c.evidence)),
        },
    )
