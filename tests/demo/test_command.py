"""The demo's decisions: each candidate gets the verdict its defect calls for, and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from demo.command import review_demo_candidates
from policies.decision import Decision

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_decisions(
    demo_registry: Any, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Decision]:
    ledger = Path(tmp_path_factory.mktemp("demo-ledger")) / "promogate.db"
    decisions, mismatches = review_demo_candidates(
        demo_registry.tracking_uri, demo_registry.candidates, ledger
    )
    assert mismatches == []
    return {d.version: d for d in decisions}


def test_every_candidate_gets_its_expected_verdict(
    demo_registry: Any, demo_decisions: dict[int, Decision]
) -> None:
    for candidate in demo_registry.candidates:
        decision = demo_decisions[candidate.version]
        assert decision.verdict == candidate.expected_verdict, candidate.title
        failed = {c.id for c in decision.checks if c.status in ("fail", "error")}
        assert set(candidate.failing_checks) <= failed, (candidate.title, failed)
        assert decision.error is None
        assert decision.baseline_version == demo_registry.champion_version


def test_clean_candidate_passes_every_check(demo_decisions: dict[int, Decision]) -> None:
    statuses = {c.status for c in demo_decisions[2].checks}
    assert statuses <= {"pass", "skip"}


def test_segment_regression_is_explained_and_the_planted_approval_is_reported(
    demo_decisions: dict[int, Decision],
) -> None:
    decision = demo_decisions[3]
    questions = {q.question: q.answer for q in decision.questions}
    assert "Which segments regressed, and by how much?" in questions
    assert "region=west" in questions["Which segments regressed, and by how much?"]
    assert any(f.title == "Planted instruction in evidence ignored" for f in decision.findings)


def test_pipeline_change_explains_the_regression(demo_decisions: dict[int, Decision]) -> None:
    decision = demo_decisions[6]
    explanations = [q.answer for q in decision.questions if "pipeline change explain" in q.question]
    assert explanations, [q.question for q in decision.questions]
    assert any("365d" in a and "90d" in a for a in explanations)


def test_different_eval_set_is_answered_with_digests(demo_decisions: dict[int, Decision]) -> None:
    decision = demo_decisions[4]
    answer = next(
        q for q in decision.questions if q.question.startswith("Were both versions scored")
    )
    assert answer.answer.startswith("No:")


def test_the_offline_plan_records_only_tools_of_the_llm_toolset(
    demo_decisions: dict[int, Decision],
) -> None:
    from agents._agent_tools import review_tools

    toolset = {t.name for t in review_tools()}
    recorded = {
        (version, tool)
        for version, decision in demo_decisions.items()
        for question in decision.questions
        for tool in question.tools
    }
    # The pipeline candidate asks every kind of question, pipeline ones included.
    assert {"get_pipeline_diff", "get_metric_history"} <= {tool for _, tool in recorded}
    assert {(v, t) for v, t in recorded if t not in toolset} == set()
