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
