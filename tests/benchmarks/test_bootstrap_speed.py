"""The bootstrap benchmark against this very checkout: what it reports, never how fast."""

from __future__ import annotations

from pathlib import Path

from benchmarks.bootstrap_speed import METRICS, measure, render

ROOT = Path(__file__).resolve().parents[2]


def test_every_metric_and_size_is_timed_in_both_children_with_the_same_result() -> None:
    # Both sides of the per-resample counting's threshold, small enough to be quick.
    sizes = (300, 1500)
    rows = measure(ROOT, repeats=1, rounds=1, this=ROOT, sizes=sizes)
    assert [(r.metric, r.rows) for r in rows] == [(m, n) for n in sizes for m in METRICS]
    assert all(r.same_result and r.this_ms > 0 and r.other_ms > 0 for r in rows)
    table = render(rows, ROOT).splitlines()
    assert table[0].startswith("| metric | rows | this (ms) |")
    assert len(table) == 2 + len(rows)
