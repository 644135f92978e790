"""The SQL reads benchmark on the session's demo registry: what it reports, never how fast."""

from __future__ import annotations

from benchmarks.sql_reads import _table, measure
from scenarios.demo_registry import DemoRegistry


def test_every_read_is_answered_alike_and_timed_both_ways(demo_registry: DemoRegistry) -> None:
    candidate = demo_registry.candidates[1].version
    rows = measure(demo_registry.tracking_uri, demo_registry.model_name, candidate, repeats=1)
    assert len(rows) == 9
    searches = [row for row in rows if row["fresh_ms"] is not None]
    assert len(searches) == 4
    assert all(row["mlflow_ms"] >= 0 and row["promogate_ms"] >= 0 for row in rows)
    table = _table(rows, 1)
    assert table.count("\n| ") == len(rows)
