"""Segment checks and significance: a noisy drop beyond tolerance warns, a real drop fails."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from policies.evaluator import evaluate_policies
from tools.segments import segment_metrics_from_table

SEGMENT_RULE = {"by": "region", "metric": "recall", "max_drop": 0.03, "min_rows": 100}


def _keys(values: dict[str, float], rows: int | None = 300) -> dict[str, float]:
    out: dict[str, float] = {}
    for region, value in values.items():
        out[f"segment/region:{region}/recall"] = value
        if rows is not None:
            out[f"segment/region:{region}/rows"] = float(rows)
    return out


# (candidate segment metrics, baseline segment metrics, rule overrides, check id, status)
KEY_CASES: list[tuple[dict[str, float], dict[str, float], dict[str, Any], str, str]] = [
    (_keys({"north": 0.80}), _keys({"north": 0.81}), {}, "segments.region.recall.north", "pass"),
    (_keys({"north": 0.70}), _keys({"north": 0.81}), {}, "segments.region.recall.north", "fail"),
    (
        _keys({"north": 0.70}, rows=50),
        _keys({"north": 0.81}, rows=50),
        {},
        "segments.region.recall.north",
        "skip",
    ),
    (
        _keys({"north": 0.7, "south": 0.8}),
        _keys({"north": 0.7}),
        {},
        "segments.region.recall.south",
        "skip",
    ),
    (
        _keys({"north": 0.7}),
        _keys({"north": 0.7, "south": 0.8}),
        {},
        "segments.region.recall.south",
        "error",
    ),
    ({}, _keys({"north": 0.7}), {}, "segments.region.recall", "error"),
    (_keys({"north": 0.7}), {}, {}, "segments.region.recall", "warn"),
    (
        _keys({"north": 0.70}, rows=None),
        _keys({"north": 0.81}, rows=None),
        {},
        "segments.region.recall.north",
        "fail",
    ),
    (
        _keys({"north": 0.70}),
        _keys({"north": 0.81}),
        {"significance": 0.05},
        "segments.region.recall.north",
        "fail",
    ),
]


@pytest.mark.parametrize(
    ("cand", "base", "overrides", "check_id", "expected"),
    KEY_CASES,
    ids=[
        "within-tolerance-pass",
        "beyond-tolerance-fail",
        "under-min-rows-skip",
        "new-segment-skip",
        "segment-missing-in-candidate-error",
        "no-segment-evidence-error",
        "baseline-without-segments-on-missing-warn",
        "unknown-row-count-still-judged",
        "significance-untestable-fails-on-tolerance",
    ],
)
def test_segment_checks_from_metric_keys(
    kit: Any,
    cand: dict[str, float],
    base: dict[str, float],
    overrides: dict[str, Any],
    check_id: str,
    expected: str,
) -> None:
    policy = kit.policy(segments={**SEGMENT_RULE, **overrides})
    bundle = kit.bundle(kit.version(2, metrics=cand), kit.version(1, metrics=base))
    result = kit.check(evaluate_policies([policy], bundle), check_id)
    assert result.status == expected, result.message
    assert result.kind == "segment"


@pytest.mark.parametrize(
    ("metric", "stated", "candidate", "expected"),
    [
        ("rmse", None, 1.8, "fail"),
        ("rmse", None, 0.9, "pass"),
        ("val_mean_absolute_error", None, 1.8, "fail"),
        ("rmse", False, 1.8, "pass"),
        ("r2_score", None, 0.9, "fail"),
        ("r2_score", None, 1.8, "pass"),
    ],
    ids=[
        "error-rise-fails",
        "error-fall-passes",
        "prefixed-error-rise-fails",
        "stated-higher-better-wins",
        "score-fall-fails",
        "score-rise-passes",
    ],
)
def test_segment_drop_follows_the_metric_direction(
    kit: Any, metric: str, stated: bool | None, candidate: float, expected: str
) -> None:
    """A regressor's error per region rising is the regression, whether or not the rule says
    lower_is_better: read as higher-is-better it would pass as an improvement."""
    rule = {"by": "region", "metric": metric, "max_drop": 0.1, "min_rows": 100}
    if stated is not None:
        rule["lower_is_better"] = stated

    def keys(value: float) -> dict[str, float]:
        return {f"segment/region:west/{metric}": value, "segment/region:west/rows": 300.0}

    policy = kit.policy(segments=rule)
    bundle = kit.bundle(kit.version(2, metrics=keys(candidate)), kit.version(1, metrics=keys(1.2)))
    result = kit.check(evaluate_policies([policy], bundle), f"segments.region.{metric}.west")
    assert result.status == expected, result.message
    assert result.details["lower_is_better"] is (
        stated if stated is not None else "r2" not in metric
    )


def test_segment_numbers_and_untestable_significance_message(kit: Any) -> None:
    policy = kit.policy(segments={**SEGMENT_RULE, "significance": 0.05})
    bundle = kit.bundle(
        kit.version(2, metrics=_keys({"north": 0.70})),
        kit.version(1, metrics=_keys({"north": 0.81})),
    )
    result = kit.check(evaluate_policies([policy], bundle), "segments.region.recall.north")
    assert (result.observed, result.baseline, result.threshold) == (0.70, 0.81, 0.03)
    assert result.delta == pytest.approx(-0.11)
    assert result.details["rows"] == 300
    assert "significance could not be tested" in result.message
    assert result.how_to_fix is not None and "eval/predictions.json" in result.how_to_fix
    assert "run:run0002/metrics/segment/region:north/recall" in result.evidence


def test_segment_skip_reason_names_rows(kit: Any) -> None:
    policy = kit.policy(segments=SEGMENT_RULE)
    bundle = kit.bundle(
        kit.version(2, metrics=_keys({"north": 0.5}, rows=40)),
        kit.version(1, metrics=_keys({"north": 0.9}, rows=40)),
    )
    result = kit.check(evaluate_policies([policy], bundle), "segments.region.recall.north")
    assert result.status == "skip"
    assert "only 40 rows, fewer than min_rows 100" in result.message


def test_missing_segment_evidence_says_how_to_log(kit: Any) -> None:
    policy = kit.policy(segments=SEGMENT_RULE)
    bundle = kit.bundle(kit.version(2, metrics={"recall": 0.5}), kit.version(1))
    result = kit.check(evaluate_policies([policy], bundle), "segments.region.recall")
    assert result.status == "error"
    assert "no per-example evaluation table" in result.message
    assert result.how_to_fix is not None and "segment/region:<value>/recall" in result.how_to_fix


def _recall_drop(base: Any, cand: Any, region: str) -> float:
    a = segment_metrics_from_table(base, "region", "recall")[region].value
    b = segment_metrics_from_table(cand, "region", "recall")[region].value
    return a - b


def test_noisy_segment_drop_beyond_tolerance_warns(kit: Any, eval_data: Any) -> None:
    """A harmless retrain (same recipe, another seed) that moves one region's recall past 0.03."""
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(eval_data, kit.scores(eval_data, seed=6, rho=0.7))
    drop = _recall_drop(base, cand, "south")
    assert 0.03 < drop < 0.05  # the setup: beyond tolerance, but small
    policy = kit.policy(segments={**SEGMENT_RULE, "significance": 0.05})
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    result = kit.check(verdict, "segments.region.recall.south")
    assert result.status == "warn", result.message
    assert result.p_value is not None and result.p_value >= 0.05
    assert "not significant" in result.message
    assert result.details["paired"] is True
    assert result.details["rows"] == 800
    assert result.details["bootstrap"]["n"] == 800
    assert verdict.verdict == "approve"


def test_same_noisy_drop_without_significance_fails(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(eval_data, kit.scores(eval_data, seed=6, rho=0.7))
    policy = kit.policy(segments=SEGMENT_RULE)
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    assert kit.check(verdict, "segments.region.recall.south").status == "fail"
    assert verdict.verdict == "block"


def test_real_segment_regression_fails(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(
        eval_data, kit.scores(eval_data, seed=5, rho=0.85, region_shift={"north": -1.0})
    )
    assert _recall_drop(base, cand, "north") > 0.15
    policy = kit.policy(segments={**SEGMENT_RULE, "significance": 0.05})
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    north = kit.check(verdict, "segments.region.recall.north")
    assert north.status == "fail", north.message
    assert north.p_value is not None and north.p_value < 0.01
    assert "the drop is significant" in north.message
    assert "run:run0002/artifacts/eval/predictions.json" in north.evidence
    assert {
        kit.check(verdict, f"segments.region.recall.{r}").status for r in ("south", "east", "west")
    } == {"pass"}
    assert verdict.verdict == "block"


def test_tables_without_row_id_pair_on_row_order(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100), row_ids=False)
    cand = kit.table(eval_data, kit.scores(eval_data, seed=6, rho=0.7), row_ids=False)
    policy = kit.policy(segments={**SEGMENT_RULE, "significance": 0.05})
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    result = kit.check(verdict, "segments.region.recall.south")
    assert (result.status, result.details["paired"]) == ("warn", True)


def test_unpairable_tables_fail_on_tolerance_and_say_why(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100), row_ids=False)
    cand_full = kit.table(eval_data, kit.scores(eval_data, seed=6, rho=0.7), row_ids=False)
    cand = cand_full.model_copy(update={"rows": cand_full.rows[:-4]})
    policy = kit.policy(segments={**SEGMENT_RULE, "significance": 0.05})
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    result = kit.check(verdict, "segments.region.recall.south")
    assert result.status == "fail"
    assert result.details["paired"] is False
    assert "differ in length" in result.message
    assert "significance could not be tested" in result.message


# Overall metric significance: the same rule with and without a real drop.
@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ({"seed": 3, "rho": 0.85}, "warn"),
        ({"seed": 5, "rho": 0.5, "noise_scale": 1.5}, "fail"),
    ],
    ids=["noisy-auc-drop-warns", "real-auc-drop-fails"],
)
def test_metric_drop_significance(
    kit: Any, eval_data: Any, candidate: dict[str, Any], expected: str
) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(eval_data, kit.scores(eval_data, **candidate))
    drop = kit.table_metrics(base)["roc_auc"] - kit.table_metrics(cand)["roc_auc"]
    assert drop > 0.002  # beyond the tolerance in both cases
    policy = kit.policy(metrics=[{"name": "roc_auc", "max_drop": 0.002, "significance": 0.05}])
    verdict = evaluate_policies(
        [policy], kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    )
    result = kit.check(verdict, "metrics.roc_auc.max_drop")
    assert result.status == expected, result.message
    assert result.p_value is not None
    assert (result.p_value < 0.05) == (expected == "fail")
    assert result.details["bootstrap"]["delta"] == pytest.approx(-drop)


def test_metric_drop_without_tables_fails_and_says_significance_untested(kit: Any) -> None:
    policy = kit.policy(metrics=[{"name": "roc_auc", "max_drop": 0.01, "significance": 0.05}])
    bundle = kit.bundle(
        kit.version(2, metrics={"roc_auc": 0.70}), kit.version(1, metrics={"roc_auc": 0.80})
    )
    result = kit.check(evaluate_policies([policy], bundle), "metrics.roc_auc.max_drop")
    assert result.status == "fail"
    assert "significance could not be tested" in result.message
    assert "credit-risk/2 has no per-example evaluation table" in result.message
    assert result.how_to_fix is not None and "mlflow.log_table" in result.how_to_fix


def test_significance_untestable_for_metric_not_in_tables(kit: Any, eval_data: Any) -> None:
    table = kit.table(eval_data, kit.scores(eval_data, seed=100))
    policy = kit.policy(
        metrics=[{"name": "lat", "max_drop": 5, "lower_is_better": True, "significance": 0.05}]
    )
    bundle = kit.bundle(
        kit.version(2, table=table, metrics={"lat": 130.0}),
        kit.version(1, table=table, metrics={"lat": 100.0}),
    )
    result = kit.check(evaluate_policies([policy], bundle), "metrics.lat.max_drop")
    assert result.status == "fail"
    assert "'lat' cannot be computed from a per-example table" in result.message


def _minutes_table(west_error: float, seed: int) -> Any:
    """A delivery-time regressor's per-example table: minutes, predicted minutes, region; the
    predictions in the west off by `west_error` minutes more on average."""
    from tools.evidence import EvalTable

    rng = np.random.default_rng(0)
    noise = np.random.default_rng(seed)
    regions = ["north", "south", "east", "west"]
    rows: list[list[Any]] = []
    for i in range(1200):
        region = regions[i % 4]
        minutes = float(rng.gamma(4.0, 8.0))
        error = noise.normal(0.0, 3.0) + (west_error if region == "west" else 0.0)
        rows.append([f"o{i:05d}", minutes, minutes + error, region])
    return EvalTable(
        path="eval/predictions.json", columns=["row_id", "label", "prediction", "region"], rows=rows
    )


@pytest.mark.parametrize(
    "metric", ["rmse", "root_mean_squared_error", "mae"], ids=["short", "evaluate-name", "mae"]
)
def test_a_regressors_segment_error_is_computed_from_its_table(kit: Any, metric: str) -> None:
    """No `segment/...` keys: the error per region comes from the tables, and the region whose
    predictions got worse fails while the others pass."""
    policy = kit.policy(segments={"by": "region", "metric": metric, "max_drop": 0.5})
    bundle = kit.bundle(
        kit.version(2, table=_minutes_table(4.0, seed=2)),
        kit.version(1, table=_minutes_table(0.0, seed=1)),
    )
    verdict = evaluate_policies([policy], bundle)
    west = kit.check(verdict, f"segments.region.{metric}.west")
    assert west.status == "fail", west.message
    assert west.details["source_candidate"] == "eval_table" and west.details["paired"] is True
    assert west.details["lower_is_better"] is True and west.delta > 0.5
    for region in ("north", "south", "east"):
        assert kit.check(verdict, f"segments.region.{metric}.{region}").status == "pass"


def test_a_regressors_segment_significance_is_not_a_classification_test(kit: Any) -> None:
    policy = kit.policy(
        segments={"by": "region", "metric": "rmse", "max_drop": 0.5, "significance": 0.05}
    )
    bundle = kit.bundle(
        kit.version(2, table=_minutes_table(4.0, seed=2)),
        kit.version(1, table=_minutes_table(0.0, seed=1)),
    )
    west = kit.check(evaluate_policies([policy], bundle), "segments.region.rmse.west")
    assert west.status == "fail"
    assert "paired tests cover classification metrics" in west.message


def test_a_regressors_table_without_predictions_says_so(kit: Any) -> None:
    from tools.evidence import EvalTable

    table = EvalTable(
        path="eval/predictions.json",
        columns=["label", "estimate", "region"],
        rows=[[10.0, 11.0, "west"], [12.0, 12.5, "east"]],
    )
    policy = kit.policy(segments={"by": "region", "metric": "rmse", "max_drop": 0.5})
    bundle = kit.bundle(kit.version(2, table=table), kit.version(1, table=table))
    check = kit.check(evaluate_policies([policy], bundle), "segments.region.rmse")
    assert check.status == "error"
    assert "no 'prediction' column, which rmse needs" in check.message
