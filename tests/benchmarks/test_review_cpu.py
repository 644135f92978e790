"""The review CPU benchmark on the session's demo registry: what it reports, never how fast."""

from __future__ import annotations

from benchmarks.review_cpu import measure_digests, measure_importances, render
from scenarios.demo_registry import DemoRegistry


def test_every_candidates_digest_is_the_same_both_ways_and_every_model_file_is_timed(
    demo_registry: DemoRegistry,
) -> None:
    digests = measure_digests(demo_registry, repeats=1)
    assert [r.version for r in digests] == [c.version for c in demo_registry.candidates]
    assert all(r.same_digest for r in digests)
    importances = measure_importances(demo_registry, repeats=1)
    versions = [demo_registry.champion_version, *(c.version for c in demo_registry.candidates)]
    assert [r.version for r in importances] == versions
    assert all(r.megabytes > 0 for r in importances)
    table = render(digests, importances)
    assert "| NO |" not in table
    assert table.count("\n| v") == len(digests) + len(importances)
