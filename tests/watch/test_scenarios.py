"""Scenarios with known truth, end to end on real MLflow runs and a real trained model.

Windows of scored traffic are logged with `log_monitoring_window` (labels with `log_labels`),
read back with `list_windows` / `read_window`, and judged by `evaluate_window` against the
reference read from the version's evaluation table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.watch_world import MODEL_NAME, Scenario, draw

from policies.watch_rules import WatchRules
from watch.evaluate import evaluate_window
from watch.monitoring import (
    WindowRef,
    list_windows,
    log_labels,
    log_monitoring_window,
    read_reference,
    read_window,
)
from watch.report import WindowReport

RULES = WatchRules.model_validate(
    {
        "segments": ["region"],
        "performance": [{"metric": "recall", "max_drop": 0.03, "segments": ["region"]}],
    }
)
DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
INPUT_COLUMNS = [
    "row_id",
    "income",
    "age",
    "debt_ratio",
    "tenure",
    "channel",
    "region",
    "score",
    "prediction",
]

# Day offsets per scenario, so each scenario's windows are told apart by their bounds.
PLAN: dict[str, tuple[Scenario, int, int, bool]] = {
    # name: (scenario, first day, seed, labels logged with the window)
    "stable-0": ("stable", 0, 100, True),
    "stable-1": ("stable", 1, 101, False),
    "stable-2": ("stable", 2, 102, False),
    "stable-3": ("stable", 3, 103, True),
    "income": ("income_shift", 10, 110, False),
    "north-debt": ("north_debt", 20, 120, False),
    "hidden-risk": ("north_hidden_risk", 30, 130, True),
}


def _bounds(day: int) -> tuple[datetime, datetime]:
    start = DAY0 + timedelta(days=day)
    return start, start + timedelta(days=1)


@pytest.fixture(scope="module")
def reports(watch_world: Any, watch_client: Any) -> dict[str, WindowReport]:
    """Every planned window logged, read back and evaluated once."""
    version = watch_world.version
    for scenario, day, seed, with_labels in PLAN.values():
        frame = draw(watch_world.model, 1000, seed, scenario, first_row=seed * 10_000)
        start, end = _bounds(day)
        log_monitoring_window(
            frame[INPUT_COLUMNS], MODEL_NAME, version, start, end, client=watch_client
        )
        if with_labels:
            labels = frame[["row_id", "label", "prediction", "score", "region"]]
            log_labels(labels, MODEL_NAME, version, start, end, client=watch_client)
    reference = read_reference(watch_client, MODEL_NAME, version)
    refs = {ref.window_start: ref for ref in list_windows(watch_client, MODEL_NAME, version)}
    out = {}
    for name, (_, day, _, _) in PLAN.items():
        window = read_window(watch_client, refs[_bounds(day)[0]])
        out[name] = evaluate_window(reference, window, RULES, {"recall": watch_world.recall})
    return out


def test_the_reference_is_the_versions_evaluation_table(
    watch_world: Any, watch_client: Any
) -> None:
    reference = read_reference(watch_client, MODEL_NAME, watch_world.version)
    assert reference.source == "eval_table"
    assert reference.labelled is not None and len(reference.labelled) == 800
    assert {"income", "channel", "region", "score"} <= set(reference.profile.columns)
    assert set(reference.dataset_digests) == {"training", "evaluation"}


def test_stable_windows_raise_no_alert(reports: dict[str, WindowReport]) -> None:
    stable = [r for name, r in reports.items() if name.startswith("stable")]
    assert all(r.level != "alert" for r in stable), [r.failing() for r in stable]
    assert sum(bool(r.drifted_features) for r in stable) <= 1
    assert all(r.drift_share is not None and r.drift_share < 0.5 for r in stable)


def test_covariate_drift_in_one_feature_is_named(reports: dict[str, WindowReport]) -> None:
    report = reports["income"]
    assert report.drifted_features == ["income"]
    check = next(c for c in report.checks if c.id == "drift.feature.income")
    assert check.status == "watch" and check.drift is not None
    assert check.drift.method == "ks" and check.drift.p_value is not None
    assert report.level in ("watch", "alert")
    dataset = next(c for c in report.checks if c.id == "drift.dataset")
    assert dataset.status == "ok"  # one feature of five is not dataset drift


def test_drift_confined_to_one_segment_is_located(reports: dict[str, WindowReport]) -> None:
    report = reports["north-debt"]
    assert report.drifted_segments == {"region=north": ["debt_ratio"]}
    for region in ("south", "east", "west"):
        check = next(
            c for c in report.checks if c.id == f"drift.segment.region={region}.debt_ratio"
        )
        assert check.status == "ok"


def test_label_shift_with_realised_loss_alerts(reports: dict[str, WindowReport]) -> None:
    report = reports["hidden-risk"]
    by_id = {c.id: c for c in report.checks}
    overall, north = by_id["performance.recall"], by_id["performance.recall.region=north"]
    assert overall.status == "alert" and north.status == "alert"
    assert north.metric is not None and north.metric.method == "newcombe"
    assert north.metric.ci_high is not None and north.metric.ci_high < 0
    assert report.drifted_features == []  # the inputs did not move; only the outcomes did
    assert report.level == "alert"
    assert report.actions == ["notify", "re_review"]


def test_a_stable_window_with_labels_keeps_its_recall(reports: dict[str, WindowReport]) -> None:
    for name in ("stable-0", "stable-3"):
        check = next(c for c in reports[name].checks if c.id == "performance.recall")
        assert check.status == "ok", check.message


def test_a_window_below_the_sample_floor_is_skipped(watch_world: Any, watch_client: Any) -> None:
    frame = draw(watch_world.model, 60, 140, first_row=1_400_000)
    start, end = _bounds(40)
    run_id = log_monitoring_window(
        frame[INPUT_COLUMNS], MODEL_NAME, watch_world.version, start, end, client=watch_client
    )
    window = read_window(
        watch_client,
        WindowRef(
            model=MODEL_NAME,
            version=watch_world.version,
            window_start=start,
            window_end=end,
            run_id=run_id,
        ),
    )
    reference = read_reference(watch_client, MODEL_NAME, watch_world.version)
    report = evaluate_window(reference, window, RULES, {})
    assert report.level == "skip"
    assert {c.status for c in report.checks} == {"skip"}
    assert "sample floor is 200" in report.checks[0].message


def test_late_labels_reopen_an_old_window(watch_world: Any, watch_client: Any) -> None:
    version = watch_world.version
    frame = draw(watch_world.model, 1000, 150, "north_hidden_risk", first_row=1_500_000)
    start, end = _bounds(50)
    log_monitoring_window(
        frame[INPUT_COLUMNS], MODEL_NAME, version, start, end, client=watch_client
    )
    reference = read_reference(watch_client, MODEL_NAME, version)

    def evaluate() -> WindowReport:
        [ref] = [
            r for r in list_windows(watch_client, MODEL_NAME, version) if r.window_start == start
        ]
        return evaluate_window(reference, read_window(watch_client, ref), RULES, {})

    before = evaluate()
    assert next(c for c in before.checks if c.id == "performance.recall").status == "skip"
    labels = frame[["row_id", "label", "prediction", "score", "region"]]
    # Days later, a first batch too small for the floor, then the rest.
    log_labels(labels.iloc[:60], MODEL_NAME, version, start, end, client=watch_client)
    partial = evaluate()
    assert partial.labelled_rows == 60
    assert next(c for c in partial.checks if c.id == "performance.recall").status == "skip"
    assert partial.evidence_digest != before.evidence_digest
    log_labels(labels.iloc[60:], MODEL_NAME, version, start, end, client=watch_client)
    after = evaluate()
    assert after.labelled_rows == 1000
    assert len(after.label_run_ids) == 2
    assert next(c for c in after.checks if c.id == "performance.recall").status == "alert"
    assert after.evidence_digest != partial.evidence_digest
    # A corrected batch replaces rows by row_id instead of counting them twice.
    log_labels(labels.iloc[:10], MODEL_NAME, version, start, end, client=watch_client)
    assert evaluate().labelled_rows == 1000
