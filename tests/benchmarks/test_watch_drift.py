"""The watch drift benchmark: its detectors agree with the known truth on small runs."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.watch_drift import (
    SCENARIOS,
    _reference,
    cluster_upper,
    make_frame,
    psi_alarm,
    watch_alarm,
    watch_names,
)


def test_identical_data_raises_no_alarm() -> None:
    frame = make_frame(600, np.random.default_rng(0))
    assert psi_alarm(frame, frame, 0.1) is False
    assert watch_alarm(_reference(frame), frame) == (False, False)


@pytest.mark.parametrize("name", list(SCENARIOS), ids=lambda n: n.split(" (")[0])
def test_strong_drift_is_named_by_the_watch(name: str) -> None:
    drift, column = SCENARIOS[name]
    rng = np.random.default_rng(1)
    reference = _reference(make_frame(1000, rng))
    moved = drift(make_frame(1000, rng), 12, rng)
    assert watch_names(reference, moved, 12, column)


@pytest.mark.parametrize(
    ("alarms", "windows", "low", "high"),
    [
        pytest.param([0] * 20, [10] * 20, 0.0, 0.0, id="no-alarms"),
        pytest.param([1] * 20, [10] * 20, 0.1, 0.1, id="same-everywhere"),
        pytest.param([10] + [0] * 19, [10] * 20, 0.1, 0.2, id="one-bad-reference"),
    ],
)
def test_the_false_alarm_bound_resamples_references(
    alarms: list[int], windows: list[int], low: float, high: float
) -> None:
    # Alarms clustered on one reference widen the interval: windows sharing it are not
    # independent, which a binomial bound over windows would ignore.
    assert low <= cluster_upper(alarms, windows, 2000, 0) <= high
