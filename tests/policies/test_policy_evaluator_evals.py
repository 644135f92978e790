"""Safety-suite checks: failures, attack-success rate, increase over the baseline, errors."""

from __future__ import annotations

from typing import Any

import pytest

from policies.evaluator import evaluate_policies
from tools.evidence import SafetySuiteResult

# (rule, candidate suite (cases, failures, errors) or None, baseline suite or None, id, status)
EVAL_CASES: list[
    tuple[dict[str, Any], tuple[int, int, int] | None, tuple[int, int, int] | None, str, str]
] = [
    ({"suite": "pii", "max_failures": 0}, (200, 0, 0), None, "evals.pii.max_failures", "pass"),
    ({"suite": "pii", "max_failures": 0}, (200, 1, 0), None, "evals.pii.max_failures", "fail"),
    ({"suite": "pii", "max_failures": 0}, None, None, "evals.pii.max_failures", "error"),
    (
        {"suite": "pii", "max_failures": 0, "required": False},
        None,
        None,
        "evals.pii.max_failures",
        "skip",
    ),
    ({"suite": "pii", "max_failures": 0}, (0, 0, 0), None, "evals.pii.max_failures", "error"),
    ({"suite": "pii", "max_failures": 0}, (200, 0, 5), None, "evals.pii.errors", "pass"),
    ({"suite": "pii", "max_failures": 0}, (200, 0, 30), None, "evals.pii.errors", "error"),
    (
        {"suite": "pii", "max_failures": 0, "max_error_rate": 0.0},
        (200, 0, 1),
        None,
        "evals.pii.errors",
        "error",
    ),
    (
        {"suite": "jb", "max_attack_success_rate": 0.05},
        (200, 10, 0),
        None,
        "evals.jb.max_attack_success_rate",
        "pass",
    ),
    (
        {"suite": "jb", "max_attack_success_rate": 0.05},
        (200, 11, 0),
        None,
        "evals.jb.max_attack_success_rate",
        "fail",
    ),
    (
        {"suite": "jb", "max_increase": 0.0},
        (200, 4, 0),
        (200, 4, 0),
        "evals.jb.max_increase",
        "pass",
    ),
    (
        {"suite": "jb", "max_increase": 0.0},
        (200, 3, 0),
        (200, 4, 0),
        "evals.jb.max_increase",
        "pass",
    ),
    (
        {"suite": "jb", "max_increase": 0.0},
        (200, 6, 0),
        (200, 4, 0),
        "evals.jb.max_increase",
        "warn",
    ),
    (
        {"suite": "jb", "max_increase": 0.0},
        (200, 30, 0),
        (200, 4, 0),
        "evals.jb.max_increase",
        "fail",
    ),
    (
        {"suite": "jb", "max_increase": 0.1},
        (200, 30, 0),
        (200, 4, 0),
        "evals.jb.max_increase",
        "warn",
    ),
    ({"suite": "jb", "max_increase": 0.0}, (200, 30, 0), None, "evals.jb.max_increase", "warn"),
    (
        {"suite": "jb", "max_increase": 0.0},
        (200, 30, 0),
        (0, 0, 0),
        "evals.jb.max_increase",
        "warn",
    ),
    ({"suite": "jb"}, (200, 30, 0), None, "evals.jb.present", "pass"),
]


@pytest.mark.parametrize(
    ("rule", "cand", "base", "check_id", "expected"),
    EVAL_CASES,
    ids=[
        "no-failures-pass",
        "one-failure-fail",
        "suite-missing-error",
        "suite-missing-not-required-skip",
        "no-cases-error",
        "few-errors-pass",
        "many-errors-error",
        "any-error-with-zero-tolerance-error",
        "asr-at-limit-pass",
        "asr-above-limit-fail",
        "same-rate-pass",
        "lower-rate-pass",
        "small-increase-within-noise-warn",
        "large-increase-fail",
        "increase-not-clearly-above-tolerance-warn",
        "no-baseline-on-missing-warn",
        "baseline-without-suite-on-missing-warn",
        "present-only-pass",
    ],
)
def test_eval_suite_checks(
    kit: Any,
    rule: dict[str, Any],
    cand: tuple[int, int, int] | None,
    base: tuple[int, int, int] | None,
    check_id: str,
    expected: str,
) -> None:
    suite = rule["suite"]
    policy = kit.policy(evals=[rule])
    cand_safety = {suite: kit.suite(suite, *cand)} if cand is not None else {}
    candidate = kit.version(2, model="support-bot", safety=cand_safety)
    baseline = None
    if base is not None:
        base_safety = {suite: kit.suite(suite, *base)} if base[0] > 0 else {}
        baseline = kit.version(1, model="support-bot", safety=base_safety)
    verdict = evaluate_policies([policy], kit.bundle(candidate, baseline))
    result = kit.check(verdict, check_id)
    assert result.status == expected, result.message
    assert result.kind == "eval"


def test_missing_suite_says_how_to_run_it(kit: Any) -> None:
    policy = kit.policy(evals=[{"suite": "pii-leakage", "max_failures": 0}])
    verdict = evaluate_policies([policy], kit.bundle(kit.version(3, model="support-bot")))
    result = kit.check(verdict, "evals.pii-leakage.max_failures")
    assert result.status == "error"
    assert result.how_to_fix == (
        "promogate eval run pii-leakage --target models:/support-bot/3 --log-to <run id>"
    )
    assert verdict.verdict == "block"


def test_increase_reports_interval_and_evidence(kit: Any) -> None:
    policy = kit.policy(evals=[{"suite": "jb", "max_increase": 0.0}])
    bundle = kit.bundle(
        kit.version(2, safety={"jb": kit.suite("jb", 200, 30)}),
        kit.version(1, safety={"jb": kit.suite("jb", 200, 4)}),
    )
    result = kit.check(evaluate_policies([policy], bundle), "evals.jb.max_increase")
    assert result.observed == pytest.approx(0.15)
    assert result.baseline == pytest.approx(0.02)
    assert result.delta == pytest.approx(0.13)
    assert 0.0 < result.details["ci_low"] < 0.13 < result.details["ci_high"]
    assert result.evidence == [
        "safety:credit-risk/2/jb",
        "run:run0002/artifacts/safety/jb/results.json",
        "safety:credit-risk/1/jb",
        "run:run0001/artifacts/safety/jb/results.json",
    ]


def test_attack_success_rate_metric_is_used_when_logged(kit: Any) -> None:
    suite = SafetySuiteResult(suite="jb", cases=100, failures=2, attack_success_rate=0.2)
    policy = kit.policy(evals=[{"suite": "jb", "max_attack_success_rate": 0.1}])
    result = kit.check(
        evaluate_policies([policy], kit.bundle(kit.version(2, safety={"jb": suite}))),
        "evals.jb.max_attack_success_rate",
    )
    assert (result.status, result.observed) == ("fail", 0.2)
