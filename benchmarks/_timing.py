"""The median of repeated timings, the unit most benchmarks here report."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

__all__ = ["median_ms"]


def median_ms(work: Callable[[], object], repeats: int) -> float:
    """Milliseconds `work()` takes, the median of `repeats` calls."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)
