"""The layers of DESIGN §2 hold: no package imports one above it or a sibling of its own rank, and
no modules import each other.

tools < comparison < policies < {evals, ledger} < {agents, watch} < review < api < scenarios
< {demo, benchmarks} (the demo command and the benchmarks both build on the scenario registries,
and neither imports the other)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.structure import (
    RANKS,
    ImportEdge,
    import_cycles,
    import_edges,
    sideways_edges,
    upward_edges,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def edges() -> list[ImportEdge]:
    return import_edges(ROOT)


def test_no_package_imports_one_above_it(edges: list[ImportEdge]) -> None:
    assert upward_edges(edges) == []


def test_packages_of_one_rank_do_not_import_each_other(edges: list[ImportEdge]) -> None:
    assert sideways_edges(edges) == []


def test_no_import_cycles(edges: list[ImportEdge]) -> None:
    assert import_cycles(edges) == []


def test_every_top_level_package_has_a_rank() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    assert packages - {"tests"} <= set(RANKS), sorted(packages - set(RANKS))


@pytest.mark.parametrize(
    ("source", "target", "upward"),
    [
        ("ledger.store", "agents.investigation", True),
        ("evals.suite", "ledger.store", False),
        ("api.cli", "demo.command", True),
        ("review.gate", "policies.decision", False),
        ("tools.collector", "comparison.facts", True),
        ("benchmarks.review_latency", "scenarios.demo_registry", False),
        ("scenarios.demo_registry", "benchmarks.structure", True),
        ("scenarios.demo_registry", "demo.command", True),
    ],
    ids=[
        "ledger-imports-agents",
        "siblings",
        "front-door-imports-demo",
        "downward",
        "tools-up",
        "benchmark-measures-demo",
        "scenario-imports-benchmarks",
        "scenario-imports-demo",
    ],
)
def test_upward_edges_are_found(source: str, target: str, upward: bool) -> None:
    edge = ImportEdge(source, target, 1)
    assert upward_edges([edge]) == ([edge] if upward else [])


def test_cycles_are_found() -> None:
    cycle = [
        ImportEdge("ledger._chain", "ledger.errors", 1),
        ImportEdge("ledger.errors", "ledger._chain", 2),
        ImportEdge("ledger.store", "ledger._chain", 3),
    ]
    assert import_cycles(cycle) == [["ledger._chain", "ledger.errors"]]


@pytest.mark.parametrize(
    ("source", "target", "sideways"),
    [
        ("evals.suite", "ledger.store", True),
        ("ledger.store", "evals.suite", True),
        ("ledger.store", "ledger.errors", False),
        ("benchmarks.review_latency", "scenarios.demo_registry", False),
        ("benchmarks.review_latency", "demo.command", True),
        ("demo.command", "benchmarks.structure", True),
    ],
    ids=[
        "evals-imports-ledger",
        "ledger-imports-evals",
        "same-package",
        "benchmark-above-scenarios",
        "benchmark-imports-demo",
        "demo-imports-benchmarks",
    ],
)
def test_sideways_edges_are_found(source: str, target: str, sideways: bool) -> None:
    edge = ImportEdge(source, target, 1)
    assert sideways_edges([edge]) == ([edge] if sideways else [])
