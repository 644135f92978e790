"""A promoted regressor is watched for its realised error: a delivery-time model whose travel
times change in one region after promotion (real scikit-learn model, frames as logged)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from support.regression_watch import FEATURES, REGIONS, orders

from policies.watch_rules import WatchRules
from watch.evaluate import evaluate_window
from watch.profile import profile_frame
from watch.report import WatchCheck, WindowReport
from watch.window import MonitoringWindow, Reference


@pytest.fixture(scope="module")
def model() -> Any:
    train = orders(1, 3000)
    return HistGradientBoostingRegressor(max_iter=150, random_state=0).fit(
        train[FEATURES], train["label"]
    )


def _scored(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(prediction=model.predict(frame[FEATURES]))


@pytest.fixture(scope="module")
def reference(model: Any) -> Reference:
    evaluation = _scored(model, orders(2, 1200))
    return Reference(
        model="delivery-eta",
        version="3",
        profile=profile_frame(evaluation[[*FEATURES, "prediction"]]),
        sample=evaluation[[*FEATURES, "prediction", "region"]],
        labelled=evaluation,
    )


def _window(frame: pd.DataFrame) -> MonitoringWindow:
    return MonitoringWindow(
        model="delivery-eta",
        version="3",
        window_start=datetime(2026, 11, 2, tzinfo=UTC),
        window_end=datetime(2026, 11, 3, tzinfo=UTC),
        profile=profile_frame(frame[[*FEATURES, "prediction"]]),
        sample=frame[[*FEATURES, "prediction", "region"]],
        labelled=frame,
    )


def _rules(*metrics: str, segments: list[str] | None = None) -> WatchRules:
    return WatchRules.model_validate(
        {
            "performance": [
                {"metric": m, "max_drop": 0.5 if m != "r2" else 0.02, "segments": segments or []}
                for m in metrics
            ],
            "prediction_drift": {"column": "prediction"},
            "segments": ["region"],
            "n_resamples": 300,
        }
    )


def _check(report: WindowReport, check_id: str) -> WatchCheck:
    return next(c for c in report.checks if c.id == check_id)


@pytest.fixture(scope="module")
def roadworks(model: Any, reference: Reference) -> WindowReport:
    window = _window(_scored(model, orders(3, 1500, west_delay=1.2)))
    return evaluate_window(reference, window, _rules("rmse", "mae", "r2", segments=["region"]), {})


@pytest.mark.parametrize("metric", ["rmse", "mae"])
def test_a_rising_error_is_the_drop_that_alerts(roadworks: WindowReport, metric: str) -> None:
    check = _check(roadworks, f"performance.{metric}")
    assert check.status == "alert", check.message
    evidence = check.metric
    assert evidence is not None and evidence.lower_is_better
    assert evidence.delta > 0.5 and evidence.worsening == evidence.delta
    assert evidence.method == "bootstrap" and evidence.p_value is not None
    assert "significant rise" in check.message


def test_a_falling_r2_alerts_too(roadworks: WindowReport) -> None:
    check = _check(roadworks, "performance.r2")
    assert check.status == "alert", check.message
    assert check.metric is not None and not check.metric.lower_is_better
    assert check.metric.delta < -0.02 and "significant drop" in check.message


def test_the_region_whose_roads_changed_is_named(roadworks: WindowReport) -> None:
    statuses = {
        region: _check(roadworks, f"performance.rmse.region={region}").status for region in REGIONS
    }
    assert statuses["west"] == "alert"
    assert {statuses[r] for r in ("north", "south", "east")} <= {"ok"}, statuses


def test_a_window_like_the_evaluation_is_ok(model: Any, reference: Reference) -> None:
    window = _window(_scored(model, orders(4, 1500)))
    report = evaluate_window(reference, window, _rules("rmse", "mae", "r2"), {})
    for metric in ("rmse", "mae", "r2"):
        check = _check(report, f"performance.{metric}")
        assert check.status == "ok", check.message


def test_the_promotion_value_is_read_under_evaluate_s_long_name(
    model: Any, reference: Reference
) -> None:
    """Without the evaluation table, the value `mlflow.models.evaluate` logged at promotion
    (`root_mean_squared_error`) is the baseline of `rmse`."""
    bare = reference.model_copy(update={"labelled": None})
    labelled = reference.labelled
    assert labelled is not None
    logged = float(np.sqrt(np.mean(np.square(labelled["prediction"] - labelled["label"]))))
    window = _window(_scored(model, orders(3, 1500, west_delay=1.2)))
    report = evaluate_window(bare, window, _rules("rmse"), {"root_mean_squared_error": logged})
    check = _check(report, "performance.rmse")
    assert check.metric is not None
    assert check.metric.method == "bootstrap_one_sample"
    assert check.metric.promotion_value == pytest.approx(logged)
    assert check.status == "alert", check.message


def test_an_error_needs_predictions_not_scores(model: Any, reference: Reference) -> None:
    frame = _scored(model, orders(5, 600)).rename(columns={"prediction": "score"})
    window = MonitoringWindow(
        model="delivery-eta",
        version="3",
        window_start=datetime(2026, 11, 2, tzinfo=UTC),
        window_end=datetime(2026, 11, 3, tzinfo=UTC),
        profile=profile_frame(frame[FEATURES]),
        labelled=frame,
    )
    report = evaluate_window(reference, window, _rules("rmse"), {})
    check = _check(report, "performance.rmse")
    assert check.status == "error"
    assert "no 'prediction' column, which rmse needs" in check.message
