"""Conclusions: the causes several failing checks share, drawn only where the mechanism is
established, and a decision without any serialises exactly as before."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from comparison import Comparison
from policies.conclusions import check_metric, draw_conclusions
from policies.decision import Conclusion, Decision
from policies.result import CheckResult, CheckStatus


def _check(id: str, kind: str, status: CheckStatus = "fail", **details: Any) -> CheckResult:
    return CheckResult(
        id=id,
        policy="p",
        kind=kind,  # type: ignore[arg-type]
        status=status,
        message=f"{id} {status}",
        details=details,
        evidence=[f"ref:{id}"],
    )


SEGMENTS = [
    _check(f"segments.region.recall.{r}", "segment", column="region", segment=r)
    for r in ("north", "south", "east")
]
ROC = _check("metrics.roc_auc.max_drop", "metric")
RECALL = _check("metrics.recall.max_drop", "metric")
LABELS = _check(
    "comparability.same_labels", "comparability", mismatches=["the label changed from a to b"]
)
DEFINITIONS = CheckResult(
    id="comparability.same_metric_definitions",
    policy="p",
    kind="comparability",
    status="fail",
    message="x and y did not compute their metrics the same way, so they are not comparable: "
    "the averaging of metric 'f1' changed",
    details={"changes": [{"source": "metric_names", "key": "f1"}]},
)
F1 = _check("metrics.f1_macro.max_drop", "metric")


def _facts(kit: Any, base: dict[str, str], cand: dict[str, str]) -> Comparison:
    return Comparison(kit.bundle(kit.version(2, params=cand), kit.version(1, params=base)))


@pytest.mark.parametrize(
    ("check", "metric"),
    [
        (ROC, "roc_auc"),
        (SEGMENTS[0], "recall"),
        (_check("segments.plan.tier.recall.gold", "segment", column="plan.tier"), "recall"),
        (LABELS, None),
    ],
    ids=["metric", "segment", "dotted-column", "comparability"],
)
def test_check_metric(check: CheckResult, metric: str | None) -> None:
    assert check_metric(check) == metric


def test_a_label_change_explains_every_metric_and_segment_failure(kit: Any) -> None:
    checks = [ROC, RECALL, *SEGMENTS, LABELS]
    (conclusion,) = draw_conclusions(checks, _facts(kit, {}, {}))
    assert conclusion.kind == "labels_changed"
    assert conclusion.cause_check_id == "comparability.same_labels"
    assert conclusion.check_ids == [c.id for c in [ROC, RECALL, *SEGMENTS]]
    assert "the label changed from a to b" in conclusion.cause
    assert conclusion.evidence == ["ref:comparability.same_labels"]


def test_a_moved_decision_threshold_groups_the_threshold_dependent_failures(kit: Any) -> None:
    facts = _facts(kit, {"decision_threshold": "0.5"}, {"decision_threshold": "0.75"})
    (conclusion,) = draw_conclusions([ROC, RECALL, *SEGMENTS], facts)
    assert conclusion.kind == "decision_threshold_moved"
    # ROC AUC does not depend on the threshold: it stays a finding of its own.
    assert conclusion.check_ids == [RECALL.id, *(c.id for c in SEGMENTS)]
    assert "decision_threshold changed from 0.5 to 0.75" in conclusion.cause
    assert conclusion.evidence == [
        "run:run0002/params/decision_threshold",
        "run:run0001/params/decision_threshold",
    ]


@pytest.mark.parametrize(
    ("checks", "base", "cand"),
    [
        ([RECALL, *SEGMENTS], {"seed": "1"}, {"seed": "2"}),
        ([SEGMENTS[0]], {"decision_threshold": "0.5"}, {"decision_threshold": "0.75"}),
        ([ROC], {"decision_threshold": "0.5"}, {"decision_threshold": "0.75"}),
        ([RECALL, *SEGMENTS], {"eval.threshold": "0.5"}, {"eval.threshold": "0.3"}),
        ([LABELS], {}, {}),
    ],
    ids=[
        "no-established-cause",
        "a-single-symptom",
        "threshold-free-metric",
        "metric-threshold-is-a-definition-not-the-decision",
        "a-cause-without-symptoms",
    ],
)
def test_nothing_to_conclude(
    kit: Any, checks: list[CheckResult], base: dict[str, str], cand: dict[str, str]
) -> None:
    assert draw_conclusions(checks, _facts(kit, base, cand)) == []


def test_each_symptom_is_grouped_under_its_first_cause_only(kit: Any) -> None:
    facts = _facts(kit, {"decision_threshold": "0.5"}, {"decision_threshold": "0.75"})
    checks = [F1, RECALL, *SEGMENTS, DEFINITIONS]
    definitions, threshold = draw_conclusions(checks, facts)
    assert (definitions.kind, definitions.check_ids) == ("metric_definition_changed", [F1.id])
    assert threshold.kind == "decision_threshold_moved"
    assert F1.id not in threshold.check_ids
    assert threshold.check_ids == [RECALL.id, *(c.id for c in SEGMENTS)]


def test_passing_and_skipped_checks_are_not_symptoms(kit: Any) -> None:
    quiet = [_check(c.id, c.kind, "pass") for c in SEGMENTS] + [_check(RECALL.id, "metric", "skip")]
    assert draw_conclusions([*quiet, LABELS], _facts(kit, {}, {})) == []


def _decision(conclusions: list[Conclusion]) -> Decision:
    return Decision(
        id="d1",
        model="m",
        version=2,
        verdict="block",
        policy_verdict="block",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        conclusions=conclusions,
    )


def test_a_decision_without_conclusions_serialises_as_before() -> None:
    data = json.loads(_decision([]).model_dump_json())
    assert "conclusions" not in data
    assert Decision.model_validate(data) == _decision([])


def test_conclusions_round_trip_through_json(kit: Any) -> None:
    conclusions = draw_conclusions([ROC, RECALL, LABELS], _facts(kit, {}, {}))
    decision = _decision(conclusions)
    data = json.loads(decision.model_dump_json())
    assert data["conclusions"][0]["check_ids"] == [ROC.id, RECALL.id]
    assert Decision.model_validate(data) == decision
