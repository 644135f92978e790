"""Reviewer depth on real trained models and real MLflow runs: the numbers of a redefined label, a
changed positive class or another averaging are not comparable, a moved decision threshold is one
cause of many failures, and harmless retrains still approve.

The registry is built once per session (benchmarks/reviewer_depth_comparability.py); every
version is a real scikit-learn model logged to a SQLite MLflow store as a team would log it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from api._plain_output import decision_lines
from api.render import decision_markdown
from benchmarks.reviewer_depth_comparability import depth_policies, review_scenario
from policies.decision import Decision

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def decisions(reviewer_depth_registry: Any) -> dict[str, Decision]:
    policies = depth_policies()
    return {
        s.title: review_scenario(reviewer_depth_registry.tracking_uri, s.version, policies)[0]
        for s in reviewer_depth_registry.scenarios
    }


def _by_title(registry: Any, fragment: str) -> Any:
    (scenario,) = [s for s in registry.scenarios if fragment in s.title]
    return scenario


def _failing(decision: Decision) -> set[str]:
    return {c.id for c in decision.checks if c.status in ("fail", "error")}


def _answer(decision: Decision, prefix: str) -> str:
    (answer,) = [q.answer for q in decision.questions if q.question.startswith(prefix)]
    return answer


def test_every_scenario_gets_its_expected_verdict(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    for scenario in reviewer_depth_registry.scenarios:
        decision = decisions[scenario.title]
        assert decision.verdict == scenario.expected_verdict, (scenario.title, decision.reasons)
        assert set(scenario.expected_failing) <= _failing(decision), scenario.title
        assert [c.kind for c in decision.conclusions] == (
            [scenario.expected_conclusion] if scenario.expected_conclusion else []
        ), scenario.title
        assert decision.error is None


def test_a_redefined_label_on_the_same_rows_is_not_comparable(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    decision = decisions[_by_title(reviewer_depth_registry, "label redefinition").title]
    same_rows = next(c for c in decision.checks if c.id == "comparability.same_eval_dataset")
    assert same_rows.status == "pass"  # the digest alone says "same dataset"
    labels = next(c for c in decision.checks if c.id == "comparability.same_labels")
    assert labels.status == "fail"
    share = labels.details["label_agreement"]["share"]
    assert 0.05 < share < 0.5
    assert "'churned_90d' to 'churned_30d'" in labels.message
    answer = _answer(decision, "Were both versions scored")
    assert answer.startswith("No, the numbers are not comparable")
    assert "same dataset" not in answer and not answer.startswith("Yes")
    assert f"{share:.1%}" in answer
    # The decision opens with the cause and groups every metric drop under it.
    (conclusion,) = decision.conclusions
    assert decision.reasons[0].startswith("conclusion: The label changed")
    assert set(conclusion.check_ids) == _failing(decision) - {"comparability.same_labels"}
    assert "metrics.roc_auc.max_drop" in conclusion.check_ids
    assert len(conclusion.check_ids) >= 5


def test_a_changed_positive_class_is_named(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    decision = decisions[_by_title(reviewer_depth_registry, "positive class").title]
    labels = next(c for c in decision.checks if c.id == "comparability.same_labels")
    assert labels.status == "fail"
    aspects = [c["aspect"] for c in labels.details["label_changes"]]
    assert aspects == ["positive_class"]
    assert "the positive class (data.positive_class) changed from 'churned' to 'stayed'" in (
        labels.message
    )
    assert any("comparability.same_labels fail" in r for r in decision.reasons)


def test_a_metric_computed_with_another_averaging_is_not_comparable(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    decision = decisions[_by_title(reviewer_depth_registry, "averaging").title]
    definitions = next(
        c for c in decision.checks if c.id == "comparability.same_metric_definitions"
    )
    assert definitions.status == "fail"
    assert "the averaging (f1_average) changed from 'binary' to 'macro'" in definitions.message
    # f1 looks better under macro averaging: the metric check alone would approve.
    f1 = next(c for c in decision.checks if c.id == "metrics.f1.max_drop")
    assert f1.status == "pass" and f1.delta is not None and f1.delta > 0
    assert _answer(decision, "Were both versions scored").startswith("No, the numbers")


def test_a_moved_threshold_is_one_conclusion_over_every_region(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    decision = decisions[_by_title(reviewer_depth_registry, "threshold").title]
    (conclusion,) = decision.conclusions
    regions = {f"segments.region.recall.{r}" for r in ("north", "south", "east", "west")}
    assert regions <= set(conclusion.check_ids)
    assert "metrics.roc_auc.max_drop" not in conclusion.check_ids
    assert "model.decision_threshold changed from 0.5 to 0.75" in conclusion.cause
    assert decision.reasons[0].startswith("conclusion: The decision threshold moved")
    # Same rows and labels: the comparison itself is valid, the threshold is the model's.
    assert _answer(decision, "Were both versions scored").startswith("Yes")
    assert _answer(decision, "Do the failing checks share one cause?").startswith("Yes")


def test_conclusions_come_first_in_markdown_plain_text_and_json(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    decision = decisions[_by_title(reviewer_depth_registry, "threshold").title]
    markdown = decision_markdown(decision)
    assert markdown.index("#### Conclusions") < markdown.index("| check | status |")
    assert "  - `segments.region.recall.north`" in markdown
    lines = decision_lines(decision)
    at = next(i for i, line in enumerate(lines) if line.startswith("conclusion "))
    assert at < next(i for i, line in enumerate(lines) if line.startswith("check "))
    assert "  explains segments.region.recall.north" in lines
    data = json.loads(decision.model_dump_json())
    assert data["conclusions"][0]["kind"] == "decision_threshold_moved"


def test_harmless_retrains_carry_nothing_new(
    reviewer_depth_registry: Any, decisions: dict[str, Decision]
) -> None:
    for scenario in reviewer_depth_registry.scenarios:
        if "harmless" not in scenario.title:
            continue
        decision = decisions[scenario.title]
        assert decision.verdict == "approve"
        assert decision.reasons == ["every applied check passed"]
        statuses = {c.id: c.status for c in decision.checks}
        assert statuses["comparability.same_labels"] == "pass"
        assert statuses["comparability.same_metric_definitions"] == "pass"
        assert "conclusions" not in json.loads(decision.model_dump_json())
        assert "Conclusions" not in decision_markdown(decision)
