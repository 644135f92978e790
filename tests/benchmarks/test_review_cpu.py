"""The review CPU benchmark on the session's demo registry: what it reports, never how fast."""

from __future__ import annotations

import re

from benchmarks.review_cpu import (
    measure_digests,
    measure_importances,
    measure_screening,
    render,
)
from scenarios.demo_registry import DemoRegistry


def test_every_candidates_digest_and_texts_are_the_same_both_ways_and_every_file_is_timed(
    demo_registry: DemoRegistry,
) -> None:
    digests = measure_digests(demo_registry, repeats=1)
    assert [r.version for r in digests] == [c.version for c in demo_registry.candidates]
    assert all(r.same_digest for r in digests)
    importances = measure_importances(demo_registry, repeats=1)
    versions = [demo_registry.champion_version, *(c.version for c in demo_registry.candidates)]
    assert [r.version for r in importances] == versions
    assert all(r.megabytes > 0 for r in importances)
    screenings = measure_screening(demo_registry, repeats=1)
    assert [r.version for r in screenings] == [c.version for c in demo_registry.candidates]
    assert all(r.same_texts and r.texts > 0 for r in screenings)
    table = render(digests, importances, screenings)
    assert "| NO |" not in table
    rows = re.findall(r"^\| v\d", table, flags=re.MULTILINE)
    assert len(rows) == len(digests) + len(importances) + len(screenings)
