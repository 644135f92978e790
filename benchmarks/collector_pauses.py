"""Python's full garbage collections during fresh gates, with and without freezing the heap first.

A long-running process (`promogate serve`, `promogate worker`) holds a few hundred thousand objects
for its lifetime: the modules of MLflow, SQLAlchemy, pydantic, scikit-learn and their schemas.
CPython's full collection walks all of them, inside whichever call allocated past the threshold.
The servers now freeze what they hold once warmed up and again after their first review
(`api._cli_gc`). This runs the same fresh gates in two child processes built as `promogate worker`
builds its services (the demo's SQLite MLflow store, a new SQLite ledger per round so every gate
reviews afresh), one with the collector as it was and one that settles the heap as the worker
does, and reports what the collector cost each::

    uv run python -m benchmarks.collector_pauses [--workdir DIR] [--reuse] [--rounds 4]

Collections are timed with `gc.callbacks`; the gates' wall times are reported beside them.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from benchmarks.review_latency import policies_of, prepare_registry
from scenarios.demo_registry import DemoRegistry

__all__ = ["HeapMode", "PauseRow", "main", "measure", "run_gates"]

HeapMode = Literal["as before", "frozen"]


class PauseRow(BaseModel):
    """What the collector cost over one child's fresh gates."""

    mode: HeapMode
    gates: int
    frozen_objects: int
    median_gate_ms: float
    slowest_gate_ms: float
    collector_ms: float
    full_collections: list[float]


def run_gates(
    tracking_uri: str,
    model: str,
    versions: Sequence[int],
    scratch: Path,
    mode: HeapMode,
    rounds: int,
) -> PauseRow:
    """In this process: start as a worker does (settling the heap when `mode` says so), run one
    untimed gate, then `rounds` fresh gates of every version with the collector timed."""
    from api import (
        Settings,
        SettleAfterFirstReview,
        build_review_service,
        configure_mlflow_environment,
        settle_heap,
    )
    from review.gate import GateService

    settler = SettleAfterFirstReview() if mode == "frozen" else None

    def gate_service(name: str) -> GateService:
        ledger = scratch / "pause-ledgers" / f"{mode.replace(' ', '-')}-{name}.db"
        ledger.parent.mkdir(parents=True, exist_ok=True)
        ledger.unlink(missing_ok=True)
        settings = Settings(
            tracking_uri=tracking_uri,
            ledger_url=f"sqlite:///{ledger}",
            policies_dir=policies_of(None),
            publish_tags=False,
            disk_cache=False,
        )
        configure_mlflow_environment(settings)
        return GateService(build_review_service(settings), observer=settler)

    # As `promogate worker` starts: the ledger and the MLflow client built, the heap settled;
    # then its first job (untimed), after which the heap is settled once more.
    warm = gate_service("warm-up")
    warm.ledger.head()
    assert warm.client is not None
    if settler is not None:
        settle_heap()
    warm.gate(model, versions[0])
    warm.drain()
    frozen = gc.get_freeze_count() if settler is not None and settler.wait() else 0
    pauses: list[tuple[int, float, float]] = []
    started: list[float] = []

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started.append(time.perf_counter())
        else:
            pauses.append((info["generation"], started.pop(), time.perf_counter()))

    walls: list[float] = []
    gc.callbacks.append(timed)
    try:
        for round_index in range(rounds):
            service = gate_service(f"round-{round_index}")
            for version in versions:
                t0 = time.perf_counter()
                service.gate(model, version)
                walls.append((time.perf_counter() - t0) * 1000.0)
            service.drain()
    finally:
        gc.callbacks.remove(timed)
    return PauseRow(
        mode=mode,
        gates=len(walls),
        frozen_objects=frozen,
        median_gate_ms=statistics.median(walls),
        slowest_gate_ms=max(walls),
        collector_ms=sum(end - start for _, start, end in pauses) * 1000.0,
        full_collections=[(end - start) * 1000.0 for gen, start, end in pauses if gen == 2],
    )


def measure(
    registry: DemoRegistry, scratch: Path, rounds: int, versions: Sequence[int] = ()
) -> list[PauseRow]:
    """Both modes on the registry's candidates (or `versions` of them), each in a child process
    of its own (freezing is process-wide); `scratch` holds their ledgers."""
    chosen = ",".join(str(v) for v in versions or [c.version for c in registry.candidates])
    rows = []
    for mode in ("as before", "frozen"):
        command = [sys.executable, "-m", "benchmarks.collector_pauses", "--child", mode]
        command += ["--tracking-uri", registry.tracking_uri, "--model", registry.model_name]
        command += ["--versions", chosen, "--workdir", str(scratch.resolve())]
        command += ["--rounds", str(rounds)]
        child = subprocess.run(
            command,
            cwd=Path(__file__).resolve().parents[1],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"the {mode!r} child failed: {child.stderr[-2000:]}")
        rows.append(PauseRow.model_validate_json(child.stdout.strip().splitlines()[-1]))
    return rows


def render(rows: Sequence[PauseRow]) -> str:
    lines = [
        "| heap | gates | objects frozen | median gate (ms) | slowest gate (ms) "
        "| collector, all gates (ms) | full collections (ms each) |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.mode} | {r.gates} | {r.frozen_objects:,} | {r.median_gate_ms:.0f} "
        f"| {r.slowest_gate_ms:.0f} | {r.collector_ms:.0f} "
        f"| {', '.join(f'{p:.0f}' for p in r.full_collections) or 'none'} |"
        for r in rows
    ]
    before, frozen = rows[0].collector_ms, rows[-1].collector_ms
    if before > 0:
        lines.append(f"\ncollector time, frozen / as before: {frozen / before:.2f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--child", choices=("as before", "frozen"), help=argparse.SUPPRESS)
    parser.add_argument("--tracking-uri", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--versions", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 50:
        parser.error(f"--rounds must be between 1 and 50, got {args.rounds}")
    if args.child is not None:
        versions = [int(v) for v in args.versions.split(",")]
        row = run_gates(
            args.tracking_uri, args.model, versions, args.workdir, args.child, args.rounds
        )
        print(row.model_dump_json())
        return
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    print(render(measure(registry, args.workdir, args.rounds)))


if __name__ == "__main__":
    main()
