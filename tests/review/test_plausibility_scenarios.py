"""Every review asks whether good news is believable: scenarios on real models and real runs.

The registry (tests/support/plausibility_registry.py) is logged the way a fraud team would log it:
gradient boosting models saved by MLflow with skops, ROC AUC on the run, training and evaluation
datasets, and the pipeline config as a run artifact.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from support.team_registry import review_once

from policies.decision import Decision
from policies.loader import LoadedPolicy, load_policy_text
from policies.result import CheckResult
from scenarios.plausibility_registry import LEAK, LEAKED, MORE_DATA, PICKLED, SEEDS


def _policies(
    plausibility: str = "{skops_trusted_types: [sklearn.tree._tree.Tree]}", extra: str = ""
) -> list[LoadedPolicy]:
    text = textwrap.dedent(
        f"""\
        apiVersion: promogate/v1
        kind: PromotionPolicy
        metadata: {{name: fraud-scoring, revision: 1}}
        match: {{model: "fraud-*"}}
        metrics: [{{name: roc_auc, min: 0.7, max_drop: 0.02}}]
        plausibility: {plausibility}
        """
    )
    return load_policy_text(text + extra, "fraud-scoring.yaml")


def _review(registry: Any, model: str, version: int, policies: list[LoadedPolicy]) -> Decision:
    return review_once(registry.tracking_uri, model, version, policies)


def _check(decision: Decision, check_id: str) -> CheckResult:
    return next(c for c in decision.checks if c.id == check_id)


@pytest.fixture(scope="module")
def leak_decision(plausibility_registry: Any) -> Decision:
    return _review(plausibility_registry, LEAK, 4, _policies())


def test_a_leaked_outcome_column_escalates_with_its_evidence(leak_decision: Decision) -> None:
    d = leak_decision
    assert (d.verdict, d.policy_verdict) == ("escalate", "escalate")
    inputs = _check(d, "plausibility.post_outcome_inputs")
    assert inputs.status == "warn"
    assert inputs.details["action"] == "escalate"
    assert {s["input"] for s in inputs.details["suspects"]} == {LEAKED}
    found_by = {s["found_by"] for s in inputs.details["suspects"]}
    assert found_by == {"pipeline_config", "signature", "importances"}
    assert any("pipeline/pipeline.yaml" in ref for ref in inputs.evidence)
    gain = _check(d, "plausibility.gain.roc_auc")
    assert gain.status == "warn"
    assert gain.details["gain"] > 0.05
    assert gain.details["gap_closed"] > 0.5
    assert len(gain.details["history"]) == 3  # v1-v3, the baseline being v3
    assert gain.details["largest_history_move"] < 0.01
    importance = _check(d, "plausibility.importance")
    assert importance.status == "warn"
    assert importance.details["top_input"] == LEAKED
    assert importance.details["share"] > 0.5
    assert importance.details["baseline_share"] is None
    assert any(LEAKED in r and "plausibility.post_outcome_inputs" in r for r in d.reasons)
    titles = {f.check_id: f for f in d.findings if f.check_id and "plausibility" in f.check_id}
    assert set(titles) == {
        "plausibility.gain.roc_auc",
        "plausibility.post_outcome_inputs",
        "plausibility.importance",
    }
    assert all(f.severity == "warning" and f.evidence for f in titles.values())


@pytest.mark.parametrize(
    ("action", "verdict", "status"),
    [("block", "block", "fail"), ("report", "approve", "warn")],
    ids=["block", "report"],
)
def test_the_policy_decides_what_a_suspicion_does(
    plausibility_registry: Any, action: str, verdict: str, status: str
) -> None:
    policies = _policies(f"{{action: {action}, skops_trusted_types: [sklearn.tree._tree.Tree]}}")
    d = _review(plausibility_registry, LEAK, 4, policies)
    assert d.verdict == verdict
    assert _check(d, "plausibility.post_outcome_inputs").status == status
    assert any(f.check_id == "plausibility.importance" for f in d.findings)


def test_disabled_questions_approve_the_leak(plausibility_registry: Any) -> None:
    d = _review(plausibility_registry, LEAK, 4, _policies("{enabled: false}"))
    assert d.verdict == "approve"
    assert not [c for c in d.checks if c.kind == "plausibility"]


def test_a_large_honest_gain_from_more_data_is_approved(plausibility_registry: Any) -> None:
    d = _review(plausibility_registry, MORE_DATA, 3, _policies())
    assert d.verdict == "approve", d.reasons
    gain = _check(d, "plausibility.gain.roc_auc")
    assert gain.status == "pass"
    # Beyond the model's own history and min_gain: the training data change explains it.
    assert gain.details["gain"] > 3 * gain.details["largest_history_move"]
    assert gain.details["gain"] > gain.details["min_gain"]
    assert "data_source" in gain.details["bound_from"]
    assert _check(d, "plausibility.post_outcome_inputs").status == "pass"
    assert _check(d, "plausibility.importance").status == "pass"


@pytest.mark.parametrize("version", [2, 3, 4], ids=["seed-2", "seed-3", "seed-4"])
def test_retrains_with_new_seeds_are_approved(plausibility_registry: Any, version: int) -> None:
    d = _review(plausibility_registry, SEEDS, version, _policies())
    assert d.verdict == "approve", d.reasons
    assert {c.status for c in d.checks if c.kind == "plausibility"} == {"pass"}
    assert d.reasons == ["every applied check passed"]


def test_a_pickled_model_yields_unavailable_importances(plausibility_registry: Any) -> None:
    d = _review(plausibility_registry, PICKLED, 2, _policies())
    importance = _check(d, "plausibility.importance")
    assert importance.status == "skip"
    assert "unavailable" in importance.message
    assert "cloudpickle" in importance.message
    assert d.verdict == "approve"


@pytest.mark.parametrize(
    ("plausibility", "security", "reason"),
    [
        ("{}", "", "sklearn.tree._tree.Tree"),
        ("{skops_trusted_types: [sklearn.tree._tree.Tree]}", "security: {}", "sklearn.tree"),
        (
            "{}",
            "security: {formats: {allow: [onnx]}, skops_trusted_types: [sklearn.tree._tree.Tree]}",
            "does not allow the skops format",
        ),
    ],
    ids=["types-not-trusted", "security-section-trusts-nothing", "skops-not-allowed"],
)
def test_the_importance_reader_honours_the_policy(
    plausibility_registry: Any, plausibility: str, security: str, reason: str
) -> None:
    policies = _policies(plausibility, security + "\n")
    d = _review(plausibility_registry, SEEDS, 2, policies)
    importance = _check(d, "plausibility.importance")
    assert importance.status == "skip"
    assert reason in importance.message


def test_the_offline_plan_questions_the_leak_with_the_llm_tools(leak_decision: Decision) -> None:
    asked = {q.check_id: q for q in leak_decision.questions if q.check_id}
    inputs = asked["plausibility.post_outcome_inputs"]
    assert inputs.tools == ["list_new_inputs"]
    assert LEAKED in inputs.answer and "post-outcome" in inputs.answer
    assert any("pipeline/pipeline.yaml" in ref for ref in inputs.evidence)
    importance = asked["plausibility.importance"]
    assert importance.tools[0] == "get_feature_importances"
    assert repr(LEAKED) in importance.answer
    assert "has no such input" in importance.answer
    gain = asked["plausibility.gain.roc_auc"]
    assert gain.tools == ["check_gain_plausibility"]
    assert "Suspicious" in gain.answer


def test_an_approval_is_questioned_too(plausibility_registry: Any) -> None:
    d = _review(plausibility_registry, SEEDS, 3, _policies())
    assert d.verdict == "approve"
    tools = {t for q in d.questions for t in q.tools}
    assert {"check_gain_plausibility", "list_new_inputs", "get_feature_importances"} <= tools
