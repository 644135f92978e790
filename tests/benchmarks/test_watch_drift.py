"""The watch drift benchmark: its detectors agree with the known truth on small runs."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.watch_drift import (
    SCENARIOS,
    _reference,
    make_frame,
    psi_alarm,
    watch_alarm,
    watch_names,
    wilson_upper,
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
    ("rate", "n", "low", "high"),
    [
        pytest.param(0.0, 100, 0.03, 0.04, id="none-in-100"),
        pytest.param(0.05, 200, 0.08, 0.09, id="5pct-of-200"),
        pytest.param(0.5, 1000, 0.53, 0.54, id="half-of-1000"),
    ],
)
def test_the_false_alarm_upper_bound_is_the_wilson_one(
    rate: float, n: int, low: float, high: float
) -> None:
    assert low < wilson_upper(rate, n) < high
