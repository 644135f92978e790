"""Policy verdicts: deny by default, strictest wins, audit mode, on_error, overrides, pipeline."""

from __future__ import annotations

from typing import Any

import pytest

import policies._pipeline_checks as pipeline_checks_module
from policies.evaluator import DENY_BY_DEFAULT, evaluate_policies, evaluate_policy, is_overridable
from policies.loader import load_policy_dir
from policies.pipeline_rules import PipelineRules
from policies.result import CheckResult
from tools.evidence import EvidenceBundle

PASSING = {"metrics": [{"name": "roc_auc", "min": 0.5}]}
FAILING = {"metrics": [{"name": "roc_auc", "min": 0.99}]}
ERRORING = {"metrics": [{"name": "missing_metric", "min": 0.5}]}
WARNING = {
    "metrics": [{"name": "roc_auc", "max_drop": 0.01}],
    "baseline": {"alias": "champion", "on_missing": "warn"},
}


def _bundle(kit: Any, **kwargs: Any) -> EvidenceBundle:
    bundle: EvidenceBundle = kit.bundle(kit.version(4, metrics={"roc_auc": 0.8}), **kwargs)
    return bundle


@pytest.mark.parametrize(
    ("matches",),
    [([],), ([{"model": "fraud-*"}],), ([{"model": "*", "target_alias": "staging"}],)],
    ids=["no-policies", "other-model", "other-alias"],
)
def test_no_matching_policy_blocks(kit: Any, matches: list[dict[str, Any]]) -> None:
    policies = [kit.policy(f"p{i}", match=m, **PASSING) for i, m in enumerate(matches)]
    verdict = evaluate_policies(policies, _bundle(kit))
    assert verdict.verdict == "block"
    (outcome,) = verdict.outcomes
    assert outcome.policy == DENY_BY_DEFAULT
    (check,) = outcome.checks
    assert (check.id, check.kind, check.status, check.overridable) == (
        "match",
        "match",
        "fail",
        False,
    )
    assert "no policy matches credit-risk/4 for promotion to @champion" in verdict.reasons[0]
    assert set(check.details["not_matched"]) == {p.name for p in policies}
    assert not verdict.agent_may_approve


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        ([PASSING, PASSING], "approve"),
        ([PASSING, WARNING], "approve"),
        ([PASSING, FAILING], "block"),
        ([PASSING, {**ERRORING, "on_error": "escalate"}], "escalate"),
        ([{**ERRORING, "on_error": "escalate"}, FAILING], "block"),
        ([{**FAILING, "mode": "audit"}, PASSING], "approve"),
    ],
    ids=[
        "all-pass-approve",
        "warnings-approve",
        "one-fails-block",
        "error-escalates",
        "block-beats-escalate",
        "audit-failure-approves",
    ],
)
def test_strictest_policy_wins(kit: Any, sections: list[dict[str, Any]], expected: str) -> None:
    policies = [kit.policy(f"p{i}", **s) for i, s in enumerate(sections)]
    verdict = evaluate_policies(policies, _bundle(kit))
    assert verdict.verdict == expected
    assert [o.policy.name for o in verdict.outcomes] == ["p0", "p1"]


@pytest.mark.parametrize(
    ("sections", "expected"),
    [
        (FAILING, "block"),
        (ERRORING, "block"),
        ({**ERRORING, "on_error": "escalate"}, "escalate"),
        ({**FAILING, "on_error": "escalate"}, "block"),
        ({**FAILING, "mode": "audit"}, "approve"),
        ({**ERRORING, "mode": "audit"}, "approve"),
        (WARNING, "approve"),
    ],
    ids=[
        "fail-blocks",
        "error-blocks-by-default",
        "error-escalates-when-configured",
        "fail-blocks-even-with-escalate",
        "audit-fail-approves",
        "audit-error-approves",
        "warn-approves",
    ],
)
def test_policy_outcome_verdict(kit: Any, sections: dict[str, Any], expected: str) -> None:
    outcome = evaluate_policy(kit.policy(**sections), _bundle(kit))
    assert outcome.verdict == expected


def test_audit_mode_records_checks_and_reasons(kit: Any) -> None:
    verdict = evaluate_policies([kit.policy("audited", mode="audit", **FAILING)], _bundle(kit))
    assert verdict.verdict == "approve"
    assert verdict.outcomes[0].mode == "audit"
    assert kit.check(verdict, "metrics.roc_auc.min").status == "fail"
    assert verdict.reasons[0].startswith(
        "audited@1 (audit only, not enforced): metrics.roc_auc.min fail"
    )


@pytest.mark.parametrize(
    ("check_id", "never", "overridable"),
    [
        ("evals.pii-leakage.max_failures", ["evals.pii-leakage"], False),
        ("evals.pii-leakage", ["evals.pii-leakage"], False),
        ("evals.pii-leakage-v2.max_failures", ["evals.pii-leakage"], True),
        ("segments.region.recall.north", ["segments.*"], False),
        ("metrics.roc_auc.min", ["segments.*", "evals.*"], True),
        ("metrics.roc_auc.min", [], True),
    ],
    ids=["prefix", "exact", "not-a-prefix-segment", "glob", "no-match", "empty"],
)
def test_is_overridable(check_id: str, never: list[str], overridable: bool) -> None:
    assert is_overridable(check_id, never) is overridable


def test_never_globs_mark_checks_not_overridable(kit: Any) -> None:
    policy = kit.policy(
        metrics=[{"name": "roc_auc", "min": 0.99, "max": 1.0}],
        overrides={"never": ["metrics.roc_auc.min"]},
    )
    verdict = evaluate_policies([policy], _bundle(kit))
    assert kit.check(verdict, "metrics.roc_auc.min").overridable is False
    assert kit.check(verdict, "metrics.roc_auc.max").overridable is True


def test_agent_permissions_are_carried(kit: Any) -> None:
    policies = [
        kit.policy("a", agent={"may_approve": False, "may_block": True}, **PASSING),
        kit.policy("b", **PASSING),
    ]
    verdict = evaluate_policies(policies, _bundle(kit))
    assert [o.agent_may_approve for o in verdict.outcomes] == [False, True]
    assert verdict.agent_may_approve is False


def test_evaluation_is_deterministic(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(eval_data, kit.scores(eval_data, seed=6, rho=0.7))
    policy = kit.policy(
        metrics=[{"name": "roc_auc", "max_drop": 0.0, "significance": 0.05}],
        segments={"by": "region", "metric": "recall", "max_drop": 0.01, "significance": 0.05},
    )
    bundle = kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    first = evaluate_policies([policy], bundle)
    assert first == evaluate_policies([policy], bundle)
    assert first.model_dump_json() == evaluate_policies([policy], bundle).model_dump_json()


def test_pipeline_checks_are_included(kit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, PipelineRules]] = []

    def fake(policy: str, rules: PipelineRules, bundle: EvidenceBundle) -> list[CheckResult]:
        seen.append((policy, rules))
        return [
            CheckResult(
                id="pipeline.require.seed",
                policy=policy,
                kind="pipeline",
                status="fail",
                message="seed is not set",
            )
        ]

    monkeypatch.setattr(pipeline_checks_module, "evaluate_pipeline", fake)
    policy = kit.policy(
        pipeline={"require": ["seed"]}, overrides={"never": ["pipeline.*"]}, **PASSING
    )
    verdict = evaluate_policies([policy], _bundle(kit))
    assert seen == [("test-policy", PipelineRules(require=["seed"]))]
    check = kit.check(verdict, "pipeline.require.seed")
    assert (check.status, check.overridable) == ("fail", False)
    assert verdict.verdict == "block"


def test_pipeline_rules_that_raise_are_an_error(kit: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(policy: str, rules: PipelineRules, bundle: EvidenceBundle) -> list[CheckResult]:
        raise KeyError("data.source")

    monkeypatch.setattr(pipeline_checks_module, "evaluate_pipeline", broken)
    policy = kit.policy(pipeline={"require": ["seed"]}, **PASSING)
    verdict = evaluate_policies([policy], _bundle(kit))
    check = kit.check(verdict, "pipeline")
    assert check.status == "error"
    assert "KeyError" in check.message
    assert verdict.verdict == "block"


# The example policies on demo-like evidence: realistic models and their defects.
def _credit_versions(kit: Any, eval_data: Any, candidate: str) -> EvidenceBundle:
    base_table = kit.table(eval_data, kit.scores(eval_data, seed=100))
    baseline = kit.version(1, table=base_table, datasets=kit.datasets(train="train-v1"))
    datasets = kit.datasets(train="train-v2")
    if candidate == "clean":
        table = kit.table(eval_data, kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.8))
    elif candidate == "hidden-segment-regression":
        table = kit.table(
            eval_data,
            kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.6, region_shift={"north": -1.0}),
        )
    elif candidate == "other-eval-set":
        table = kit.table(eval_data, kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.8))
        datasets = kit.datasets(train="train-v2", evaluation="eval-2025q1")
    else:  # train/eval overlap
        table = kit.table(eval_data, kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.8))
        datasets = kit.datasets(train="eval-2024q4")
    bundle: EvidenceBundle = kit.bundle(kit.version(2, table=table, datasets=datasets), baseline)
    return bundle


@pytest.mark.parametrize(
    ("candidate", "expected", "failing"),
    [
        ("clean", "approve", []),
        ("hidden-segment-regression", "block", ["segments.region.recall.north"]),
        ("other-eval-set", "block", ["comparability.same_eval_dataset"]),
        ("train-eval-overlap", "block", ["comparability.train_eval_overlap"]),
    ],
    ids=["clean", "hidden-segment-regression", "other-eval-set", "train-eval-overlap"],
)
def test_credit_risk_example_policy(
    kit: Any, eval_data: Any, candidate: str, expected: str, failing: list[str]
) -> None:
    policies = load_policy_dir(kit.examples)
    bundle = _credit_versions(kit, eval_data, candidate)
    verdict = evaluate_policies(policies, bundle)
    assert [o.policy.name for o in verdict.outcomes] == ["credit-risk"]
    own = [c for c in verdict.checks if c.kind != "pipeline"]
    assert sorted(c.id for c in own if c.status in ("fail", "error")) == failing
    pipeline_ok = all(
        c.status not in ("fail", "error") for c in verdict.checks if c.kind == "pipeline"
    )
    assert verdict.verdict == (expected if pipeline_ok else "block")
    assert kit.check(verdict, "metrics.roc_auc.min").status == "pass"
    if candidate == "hidden-segment-regression":
        assert kit.check(verdict, "metrics.roc_auc.max_drop").status == "pass"  # overall gain


def test_support_example_policy_escalation_rights(kit: Any) -> None:
    policies = load_policy_dir(kit.examples)
    safety = {
        "pii-leakage": kit.suite("pii-leakage", 120, 0),
        "jailbreak": kit.suite("jailbreak", 200, 3),
    }
    candidate = kit.version(7, model="support-assistant", safety=safety)
    baseline = kit.version(6, model="support-assistant", safety=safety)
    verdict = evaluate_policies(policies, kit.bundle(candidate, baseline))
    assert [o.policy.name for o in verdict.outcomes] == ["support-assistant-safety"]
    assert verdict.verdict == "approve"
    assert verdict.agent_may_approve is False
    assert kit.check(verdict, "evals.pii-leakage.max_failures").overridable is False
    leaky = candidate.model_copy(
        update={"safety": {**safety, "pii-leakage": kit.suite("pii-leakage", 120, 2)}}
    )
    blocked = evaluate_policies(policies, kit.bundle(leaky, baseline))
    assert blocked.verdict == "block"
    assert kit.check(blocked, "evals.pii-leakage.max_failures").status == "fail"
