"""`evaluate_window` on frames directly: profiles only, quality, errors, levels and actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from support.watch_world import FEATURES, draw, train_model

from policies.watch_rules import WatchRules
from watch.evaluate import evaluate_window
from watch.profile import profile_frame
from watch.report import WindowReport
from watch.window import MonitoringWindow, Reference

COLUMNS = [*FEATURES, "score"]


@pytest.fixture(scope="module")
def model() -> Any:
    return train_model()


@pytest.fixture(scope="module")
def reference(model: Any) -> Reference:
    frame = draw(model, 800, 1)
    return Reference(
        model="m",
        version="1",
        profile=profile_frame(frame[COLUMNS]),
        sample=frame[[*COLUMNS, "region"]],
        labelled=frame,
    )


def _window(frame: pd.DataFrame, *, sample: bool = True, labels: bool = False) -> MonitoringWindow:
    columns = [c for c in COLUMNS if c in frame.columns]
    return MonitoringWindow(
        model="m",
        version="1",
        window_start=datetime(2026, 1, 1, tzinfo=UTC),
        window_end=datetime(2026, 1, 2, tzinfo=UTC),
        profile=profile_frame(frame[columns]),
        sample=frame[[*columns, "region"]] if sample else None,
        labelled=frame if labels else None,
    )


def _check(report: WindowReport, check_id: str) -> Any:
    return next(c for c in report.checks if c.id == check_id)


def test_profiles_alone_find_the_shifted_feature(model: Any, reference: Reference) -> None:
    profiled = reference.model_copy(update={"sample": None, "labelled": None})
    frame = draw(model, 1000, 5, "income_shift")
    report = evaluate_window(profiled, _window(frame, sample=False), WatchRules(), {})
    assert report.drifted_features == ["income"]
    check = _check(report, "drift.feature.income")
    assert check.drift.approximate is True


@pytest.mark.parametrize(
    ("mutate", "check_id", "status"),
    [
        pytest.param(
            lambda f: f.assign(channel=np.where(np.arange(len(f)) % 10 == 0, "kiosk", f.channel)),
            "quality.unseen.channel",
            "watch",
            id="unseen-category",
        ),
        pytest.param(
            lambda f: f.assign(age=np.where(np.arange(len(f)) % 8 == 0, 150.0, f.age)),
            "quality.range.age",
            "watch",
            id="out-of-range",
        ),
        pytest.param(
            lambda f: f.assign(tenure=np.where(np.arange(len(f)) % 5 == 0, np.nan, f.tenure)),
            "quality.missing.tenure",
            "watch",
            id="missing-share",
        ),
        pytest.param(lambda f: f, "quality.missing.tenure", "ok", id="clean"),
    ],
)
def test_data_quality(
    model: Any, reference: Reference, mutate: Any, check_id: str, status: str
) -> None:
    frame = mutate(draw(model, 1000, 6))
    report = evaluate_window(reference, _window(frame), WatchRules(), {})
    assert _check(report, check_id).status == status


def test_a_feature_missing_from_the_window_is_an_error_at_alert(
    model: Any, reference: Reference
) -> None:
    frame = draw(model, 1000, 7).drop(columns=["debt_ratio"])
    report = evaluate_window(reference, _window(frame), WatchRules(), {})
    check = _check(report, "drift.feature.debt_ratio")
    assert check.status == "error" and check.level == "alert"
    assert "missing from the window" in check.message
    assert report.level == "alert"


def test_a_window_without_the_models_outputs_is_an_error(model: Any, reference: Reference) -> None:
    frame = draw(model, 1000, 8).drop(columns=["score"])
    report = evaluate_window(reference, _window(frame), WatchRules(), {})
    assert _check(report, "drift.prediction").status == "error"


@pytest.mark.parametrize(
    ("levels", "expected_level", "expected_actions"),
    [
        pytest.param({}, "watch", ["notify"], id="default-feature-drift-watches"),
        pytest.param(
            {"feature_drift": "alert"}, "alert", ["notify", "re_review"], id="policy-raises-alert"
        ),
    ],
)
def test_levels_and_actions_follow_the_policy(
    model: Any,
    reference: Reference,
    levels: dict[str, str],
    expected_level: str,
    expected_actions: list[str],
) -> None:
    rules = WatchRules.model_validate({"levels": levels, "prediction_drift": {"enabled": False}})
    frame = draw(model, 1000, 9, "income_shift")
    report = evaluate_window(reference, _window(frame), rules, {})
    assert report.level == expected_level
    assert report.actions == expected_actions


def test_without_an_evaluation_table_the_promotion_value_is_the_baseline(
    model: Any, reference: Reference
) -> None:
    bare = reference.model_copy(update={"labelled": None})
    frame = draw(model, 1000, 10, "north_hidden_risk")
    rules = WatchRules.model_validate({"performance": [{"metric": "recall", "max_drop": 0.03}]})
    recall = float((reference.labelled.query("label == 1").prediction == 1).mean())  # type: ignore[union-attr]
    report = evaluate_window(bare, _window(frame, labels=True), rules, {"recall": recall})
    check = _check(report, "performance.recall")
    assert check.metric.method == "wilson" and check.status == "alert"
    no_value = evaluate_window(bare, _window(frame, labels=True), rules, {})
    assert _check(no_value, "performance.recall").status == "error"


def test_roc_auc_uses_a_bootstrap_of_both_sides(model: Any, reference: Reference) -> None:
    rules = WatchRules.model_validate(
        {"performance": [{"metric": "roc_auc", "max_drop": 0.02}], "n_resamples": 200}
    )
    frame = draw(model, 1000, 11)
    report = evaluate_window(reference, _window(frame, labels=True), rules, {})
    check = _check(report, "performance.roc_auc")
    assert check.metric.method == "bootstrap" and check.metric.p_value is not None
    assert check.status in ("ok", "watch")  # the same world: no significant loss beyond 0.02


@pytest.mark.parametrize(
    ("unconfirmed", "expected"),
    [pytest.param(None, "ok", id="default-ok"), pytest.param("watch", "watch", id="opt-in-watch")],
)
def test_a_chance_drop_in_a_segment_raises_nothing_unless_asked(
    model: Any, reference: Reference, unconfirmed: str | None, expected: str
) -> None:
    # Stable traffic, zero tolerance: per region, recall on ~200 labelled rows falls below the
    # evaluation table's by chance in some windows; none of those drops is significant.
    spec: dict[str, Any] = {
        "performance": [{"metric": "recall", "max_drop": 0.0, "segments": ["region"]}],
        "prediction_drift": {"enabled": False},
    }
    if unconfirmed is not None:
        spec["levels"] = {"performance_unconfirmed": unconfirmed}
    rules = WatchRules.model_validate(spec)
    dropped = []
    for seed in range(20, 26):
        report = evaluate_window(reference, _window(draw(model, 800, seed), labels=True), rules, {})
        segment_checks = [c for c in report.checks if c.id.startswith("performance.recall.region=")]
        values = len([c for c in segment_checks if c.status != "skip"])
        for check in segment_checks:
            if check.metric is None:
                continue
            # Bonferroni over the region values compared in this window.
            assert check.metric.significance == pytest.approx(0.05 / values)
            if check.metric.delta < 0:
                dropped.append(check)
                assert check.status == expected, check.message
                assert "not significant" in check.message
    assert dropped  # the draws hold chance drops, so the assertion above was exercised


def test_a_drop_within_tolerance_is_never_a_finding(model: Any, reference: Reference) -> None:
    rules = WatchRules.model_validate(
        {
            "performance": [{"metric": "recall", "max_drop": 0.5, "segments": ["region"]}],
            "levels": {"performance_unconfirmed": "watch"},
        }
    )
    frame = draw(model, 1000, 10, "north_hidden_risk")
    report = evaluate_window(reference, _window(frame, labels=True), rules, {})
    north = _check(report, "performance.recall.region=north")
    assert north.metric.delta < 0 and north.status == "ok"
