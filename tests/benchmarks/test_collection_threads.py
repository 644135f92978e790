"""The collection benchmark's child and table on the session's demo registry; never speed."""

from __future__ import annotations

from pathlib import Path

from benchmarks.collection_threads import CollectionCost, measure, render
from scenarios.demo_registry import DemoRegistry


def test_a_warm_collection_starts_no_thread(demo_registry: DemoRegistry) -> None:
    versions = [c.version for c in demo_registry.candidates[:2]]
    cost = measure(Path.cwd(), demo_registry.tracking_uri, versions, rounds=1)
    # The process's pools run every read once warm: a review starts no thread of its own.
    assert cost.threads == 0
    assert cost.cpu_ms > 0 and cost.wall_ms > 0


def test_the_table_gives_each_checkouts_medians_and_the_ratio() -> None:
    this = [CollectionCost(threads=0, cpu_ms=c, wall_ms=2 * c) for c in (50.0, 60.0, 55.0)]
    other = [CollectionCost(threads=13.5, cpu_ms=c, wall_ms=2 * c) for c in (70.0, 66.0, 80.0)]
    table = render("through the server", this, other)
    assert "| this checkout | 0.0 | 55.0 | 110.0 |" in table
    assert "| other checkout | 13.5 | 70.0 | 140.0 |" in table
    assert "| this / other | 0.00x | 0.79x | 0.79x |" in table
    assert "50.0 / 70.0, 60.0 / 66.0, 55.0 / 80.0" in table
