"""Metric checks: absolute thresholds, non-regression against the baseline, missing baselines."""

from __future__ import annotations

import math
from typing import Any

import pytest

from policies.evaluator import evaluate_policies
from tools.evidence import LoggedModelEvidence, LoggedModelMetric

# (rule, candidate metrics, baseline metrics or None, check id, expected status)
METRIC_CASES: list[tuple[dict[str, Any], dict[str, float], dict[str, float] | None, str, str]] = [
    ({"name": "roc_auc", "min": 0.75}, {"roc_auc": 0.80}, None, "metrics.roc_auc.min", "pass"),
    ({"name": "roc_auc", "min": 0.75}, {"roc_auc": 0.75}, None, "metrics.roc_auc.min", "pass"),
    ({"name": "roc_auc", "min": 0.75}, {"roc_auc": 0.70}, None, "metrics.roc_auc.min", "fail"),
    ({"name": "roc_auc", "min": 0.75}, {"recall": 0.9}, None, "metrics.roc_auc.min", "error"),
    ({"name": "roc_auc", "min": 0.75}, {"roc_auc": math.nan}, None, "metrics.roc_auc.min", "error"),
    ({"name": "lat", "max": 120}, {"lat": 100.0}, None, "metrics.lat.max", "pass"),
    ({"name": "lat", "max": 120}, {"lat": 130.0}, None, "metrics.lat.max", "fail"),
    ({"name": "lat", "max": 120}, {}, None, "metrics.lat.max", "error"),
    ({"name": "lat", "max": 120, "required": False}, {}, None, "metrics.lat.max", "skip"),
    ({"name": "roc_auc"}, {"roc_auc": 0.8}, None, "metrics.roc_auc.present", "pass"),
    ({"name": "roc_auc"}, {}, None, "metrics.roc_auc.present", "error"),
    (
        {"name": "roc_auc", "max_drop": 0.01},
        {"roc_auc": 0.805},
        {"roc_auc": 0.81},
        "metrics.roc_auc.max_drop",
        "pass",
    ),
    (
        {"name": "roc_auc", "max_drop": 0.01},
        {"roc_auc": 0.79},
        {"roc_auc": 0.80},
        "metrics.roc_auc.max_drop",
        "pass",
    ),
    (
        {"name": "roc_auc", "max_drop": 0.01},
        {"roc_auc": 0.78},
        {"roc_auc": 0.80},
        "metrics.roc_auc.max_drop",
        "fail",
    ),
    (
        {"name": "roc_auc", "max_drop": 0.01},
        {},
        {"roc_auc": 0.80},
        "metrics.roc_auc.max_drop",
        "error",
    ),
    (
        {"name": "roc_auc", "max_drop": 0.01},
        {"roc_auc": 0.80},
        {"recall": 0.5},
        "metrics.roc_auc.max_drop",
        "warn",
    ),
    (
        {"name": "lat", "max_drop": 20, "lower_is_better": True},
        {"lat": 130.0},
        {"lat": 100.0},
        "metrics.lat.max_drop",
        "fail",
    ),
    (
        {"name": "lat", "max_drop": 20, "lower_is_better": True},
        {"lat": 60.0},
        {"lat": 100.0},
        "metrics.lat.max_drop",
        "pass",
    ),
    (
        {"name": "lat", "max_relative_drop": 0.2, "lower_is_better": True},
        {"lat": 110.0},
        {"lat": 100.0},
        "metrics.lat.max_relative_drop",
        "pass",
    ),
    (
        {"name": "lat", "max_relative_drop": 0.05, "lower_is_better": True},
        {"lat": 110.0},
        {"lat": 100.0},
        "metrics.lat.max_relative_drop",
        "fail",
    ),
    (
        {"name": "recall", "max_relative_drop": 0.05},
        {"recall": 0.70},
        {"recall": 0.80},
        "metrics.recall.max_relative_drop",
        "fail",
    ),
    (
        {"name": "recall", "max_relative_drop": 0.05},
        {"recall": 0.10},
        {"recall": 0.0},
        "metrics.recall.max_relative_drop",
        "pass",
    ),
    # An error's rise is its drop, though the policy does not say lower_is_better.
    (
        {"name": "rmse", "max_drop": 0.1},
        {"rmse": 1.5},
        {"rmse": 1.0},
        "metrics.rmse.max_drop",
        "fail",
    ),
    (
        {"name": "rmse", "max_drop": 0.1},
        {"rmse": 0.6},
        {"rmse": 1.0},
        "metrics.rmse.max_drop",
        "pass",
    ),
    (
        {"name": "val_loss", "max_relative_drop": 0.05},
        {"val_loss": 0.44},
        {"val_loss": 0.40},
        "metrics.val_loss.max_relative_drop",
        "fail",
    ),
    (
        {"name": "mean_absolute_error", "max_drop": 0.1},
        {"mean_absolute_error": 2.0},
        {"mean_absolute_error": 1.0},
        "metrics.mean_absolute_error.max_drop",
        "fail",
    ),
    # What the policy says wins over the name.
    (
        {"name": "rmse", "max_drop": 0.1, "lower_is_better": False},
        {"rmse": 1.5},
        {"rmse": 1.0},
        "metrics.rmse.max_drop",
        "pass",
    ),
    (
        {"name": "r2_score", "max_drop": 0.05},
        {"r2_score": 0.6},
        {"r2_score": 0.8},
        "metrics.r2_score.max_drop",
        "fail",
    ),
]


@pytest.mark.parametrize(
    ("rule", "cand", "base", "check_id", "expected"),
    METRIC_CASES,
    ids=[
        "min-pass",
        "min-equal-pass",
        "min-fail",
        "min-missing-error",
        "min-nan-error",
        "max-pass",
        "max-fail",
        "max-missing-error",
        "max-missing-not-required-skip",
        "present-pass",
        "present-missing-error",
        "drop-within-pass",
        "drop-at-tolerance-pass",
        "drop-beyond-fail",
        "drop-candidate-missing-error",
        "drop-baseline-missing-metric-on-missing-warn",
        "lower-better-drop-fail",
        "lower-better-improved-pass",
        "relative-within-pass",
        "relative-beyond-fail",
        "relative-higher-better-fail",
        "relative-zero-baseline-improved-pass",
        "rmse-rise-unstated-fail",
        "rmse-fall-unstated-pass",
        "val-loss-relative-rise-unstated-fail",
        "mae-long-name-rise-unstated-fail",
        "rmse-stated-higher-better-pass",
        "r2-higher-better-fail",
    ],
)
def test_metric_check_status(
    kit: Any,
    rule: dict[str, Any],
    cand: dict[str, float],
    base: dict[str, float] | None,
    check_id: str,
    expected: str,
) -> None:
    policy = kit.policy(metrics=[rule])
    baseline = kit.version(1, metrics=base) if base is not None else None
    verdict = evaluate_policies([policy], kit.bundle(kit.version(2, metrics=cand), baseline))
    result = kit.check(verdict, check_id)
    assert result.status == expected, result.message
    assert result.kind == "metric"
    assert verdict.verdict == ("block" if expected in ("fail", "error") else "approve")


def test_metric_numbers_and_evidence_refs(kit: Any) -> None:
    policy = kit.policy(metrics=[{"name": "roc_auc", "min": 0.75, "max_drop": 0.01}])
    bundle = kit.bundle(
        kit.version(2, metrics={"roc_auc": 0.78}), kit.version(1, metrics={"roc_auc": 0.80})
    )
    verdict = evaluate_policies([policy], bundle)
    drop = kit.check(verdict, "metrics.roc_auc.max_drop")
    assert drop.status == "fail"
    assert drop.observed == pytest.approx(0.78)
    assert drop.baseline == pytest.approx(0.80)
    assert drop.threshold == pytest.approx(0.01)
    assert drop.delta == pytest.approx(-0.02)
    assert drop.p_value is None
    assert drop.evidence == ["run:run0002/metrics/roc_auc", "run:run0001/metrics/roc_auc"]
    assert "0.78" in drop.message and "0.8" in drop.message
    minimum = kit.check(verdict, "metrics.roc_auc.min")
    assert (minimum.status, minimum.delta) == ("pass", pytest.approx(0.03))


def test_missing_metric_says_how_to_log_it(kit: Any) -> None:
    policy = kit.policy(metrics=[{"name": "roc_auc", "min": 0.75, "max_drop": 0.01}])
    bundle = kit.bundle(kit.version(2, metrics={}), kit.version(1, metrics={"roc_auc": 0.8}))
    verdict = evaluate_policies([policy], bundle)
    for check_id in ("metrics.roc_auc.min", "metrics.roc_auc.max_drop"):
        result = kit.check(verdict, check_id)
        assert result.status == "error"
        assert "credit-risk/2 has no metric 'roc_auc'" in result.message
        assert result.how_to_fix is not None and "mlflow.log_metric('roc_auc'" in result.how_to_fix
    assert verdict.verdict == "block"
    assert any("metrics.roc_auc.min error" in r for r in verdict.reasons)


def test_metric_read_from_logged_model(kit: Any) -> None:
    logged = LoggedModelEvidence(
        model_id="m-0002",
        metrics=[LoggedModelMetric(key="roc_auc", value=0.81, dataset_digest="eval-2024q4")],
    )
    policy = kit.policy(metrics=[{"name": "roc_auc", "min": 0.75}])
    verdict = evaluate_policies([policy], kit.bundle(kit.version(2, logged_model=logged)))
    result = kit.check(verdict, "metrics.roc_auc.min")
    assert result.status == "pass"
    assert result.evidence == ["logged_model:m-0002/metrics/roc_auc"]


@pytest.mark.parametrize(
    ("on_missing", "regression_status", "baseline_status", "verdict"),
    [
        ("pass", "skip", "pass", "approve"),
        ("warn", "warn", "warn", "approve"),
        ("error", "error", "error", "block"),
    ],
    ids=["pass-skips", "warn-warns", "error-errors"],
)
def test_missing_baseline_follows_on_missing(
    kit: Any, on_missing: str, regression_status: str, baseline_status: str, verdict: str
) -> None:
    policy = kit.policy(
        baseline={"alias": "champion", "on_missing": on_missing},
        metrics=[{"name": "roc_auc", "min": 0.75, "max_drop": 0.01}],
    )
    result = evaluate_policies([policy], kit.bundle(kit.version(1, metrics={"roc_auc": 0.8})))
    assert kit.check(result, "metrics.roc_auc.max_drop").status == regression_status
    assert kit.check(result, "metrics.roc_auc.min").status == "pass"
    present = kit.check(result, "baseline.present")
    assert present.status == baseline_status
    assert "no @champion version" in present.message
    assert result.verdict == verdict


def test_baseline_of_another_alias_is_an_error(kit: Any) -> None:
    policy = kit.policy(
        baseline={"alias": "production", "on_missing": "pass"},
        metrics=[{"name": "roc_auc", "max_drop": 0.01}],
    )
    bundle = kit.bundle(
        kit.version(2, metrics={"roc_auc": 0.8}),
        kit.version(1, metrics={"roc_auc": 0.8}),
        baseline_alias="champion",
    )
    verdict = evaluate_policies([policy], bundle)
    assert kit.check(verdict, "baseline.present").status == "error"
    drop = kit.check(verdict, "metrics.roc_auc.max_drop")
    assert drop.status == "error"
    assert "@production" in drop.message
    assert verdict.verdict == "block"


def test_baseline_check_only_with_regression_rules(kit: Any) -> None:
    policy = kit.policy(metrics=[{"name": "roc_auc", "min": 0.75}])
    verdict = evaluate_policies([policy], kit.bundle(kit.version(1, metrics={"roc_auc": 0.8})))
    assert [c.id for c in verdict.checks] == ["metrics.roc_auc.min"]
