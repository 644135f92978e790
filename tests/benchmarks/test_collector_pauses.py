"""The collector benchmark on the session's demo registry: what it reports, never how fast."""

from __future__ import annotations

from pathlib import Path

from benchmarks.collector_pauses import measure, render
from scenarios.demo_registry import DemoRegistry


def test_both_modes_gate_every_candidate_and_only_the_frozen_one_froze(
    demo_registry: DemoRegistry, tmp_path: Path
) -> None:
    versions = [c.version for c in demo_registry.candidates[:2]]
    before, frozen = measure(demo_registry, tmp_path, rounds=1, versions=versions)
    assert (before.mode, frozen.mode) == ("as before", "frozen")
    assert before.gates == frozen.gates == len(versions)
    assert before.frozen_objects == 0
    assert frozen.frozen_objects > 10_000
    table = render([before, frozen]).splitlines()
    assert [line.split(" | ")[0] for line in table[2:4]] == ["| as before", "| frozen"]
