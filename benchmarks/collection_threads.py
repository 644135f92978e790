"""Threads started, CPU and wall time per evidence collection, beside another checkout's code.

A review collects both versions' evidence (`tools.collector.collect_bundle`): the run, the
logged model, the artifact listing, the texts, the evaluation table, the histories and the
safety results, each read on a thread. This benchmark runs that collection for every candidate
of the demo registry (v2-v6, each against the champion) in a child process per checkout, the
checkouts taking turns, through a real ``mlflow server --workers 1`` (``--store`` also reads the
SQLite store directly, as a local review does), and prints for each: the threads the child
started per collection (`threading.Thread.start`, counted), the child's CPU per collection and
the wall time per collection, the medians of `--pairs` turns, and this checkout's ratio to the
other's::

    uv run python -m benchmarks.collection_threads --workdir /tmp/bench/threads \\
        --checkout /path/to/main --pairs 3 [--rounds 20] [--store]

Each child runs one untimed round first (imports, the first evaluation tables parsed and kept),
then `--rounds` rounds. Bounded: one registry build (20-60 s), one MLflow server.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks._mlflow_server import MlflowServer
from benchmarks.review_latency import prepare_registry
from scenarios.demo_registry import DEMO_MODEL_NAME

__all__ = ["CollectionCost", "main", "measure", "render"]

# Run in the child with the checkout first on the path: only what both checkouts have.
_CHILD = """
import json, sys, threading, time
from tools.client import make_client
from tools.collector import collect_bundle

uri, model, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
versions = [int(v) for v in sys.argv[4].split(",")]
client = make_client(uri, uri)
started = [0]
start = threading.Thread.start


def counted(self):
    started[0] += 1
    return start(self)


threading.Thread.start = counted
for version in versions:
    collect_bundle(client, model, version)
started[0] = 0
cpu, wall = time.process_time(), time.perf_counter()
for _ in range(rounds):
    for version in versions:
        collect_bundle(client, model, version)
n = rounds * len(versions)
print(json.dumps({
    "threads": started[0] / n,
    "cpu_ms": (time.process_time() - cpu) * 1000 / n,
    "wall_ms": (time.perf_counter() - wall) * 1000 / n,
}))
"""


class CollectionCost(BaseModel):
    """One child's collections: per collection, threads started, CPU and wall milliseconds."""

    threads: float
    cpu_ms: float
    wall_ms: float


def measure(
    checkout: Path, tracking_uri: str, versions: Sequence[int], *, rounds: int
) -> CollectionCost:
    """Run `rounds` collections of every version in a child process on `checkout`'s code.

    Args:
        checkout: The repository checkout whose `tools` the child imports.
        tracking_uri: The MLflow server's URL, or the registry's SQLite URI.
        versions: The candidate versions collected, each against the champion.
        rounds: Timed rounds over all the versions, after one untimed round.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"PYTHONPATH": str(checkout), "MLFLOW_DISABLE_TELEMETRY": "true"}
    arguments = [tracking_uri, DEMO_MODEL_NAME, str(rounds), ",".join(map(str, versions))]
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, *arguments],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"the collection child on {checkout} failed: {result.stderr[-2000:]}")
    return CollectionCost.model_validate(json.loads(result.stdout.strip().splitlines()[-1]))


def _median(costs: Sequence[CollectionCost]) -> CollectionCost:
    return CollectionCost(
        threads=statistics.median(c.threads for c in costs),
        cpu_ms=statistics.median(c.cpu_ms for c in costs),
        wall_ms=statistics.median(c.wall_ms for c in costs),
    )


def render(reads: str, this: Sequence[CollectionCost], other: Sequence[CollectionCost]) -> str:
    """A Markdown table: each checkout's medians and this one's ratio to the other's."""
    mine, theirs = _median(this), _median(other)

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    lines = [
        f"{reads}: medians of {len(this)} turns each",
        "| code | threads started / collection | CPU ms / collection | wall ms / collection |",
        "|---|---:|---:|---:|",
        f"| this checkout | {mine.threads:.1f} | {mine.cpu_ms:.1f} | {mine.wall_ms:.1f} |",
        f"| other checkout | {theirs.threads:.1f} | {theirs.cpu_ms:.1f} | {theirs.wall_ms:.1f} |",
        f"| this / other | {ratio(mine.threads, theirs.threads)} | "
        f"{ratio(mine.cpu_ms, theirs.cpu_ms)} | {ratio(mine.wall_ms, theirs.wall_ms)} |",
        "turn by turn (this / other, CPU ms): "
        + ", ".join(f"{a.cpu_ms:.1f} / {b.cpu_ms:.1f}" for a, b in zip(this, other, strict=True)),
    ]
    return "\n".join(lines)


def _turns(
    checkout: Path, uri: str, versions: Sequence[int], *, pairs: int, rounds: int
) -> tuple[list[CollectionCost], list[CollectionCost]]:
    this: list[CollectionCost] = []
    other: list[CollectionCost] = []
    here = Path.cwd()
    for turn in range(pairs):
        # Each checkout goes first in every other turn.
        order = [(here, this), (checkout, other)]
        for tree, into in order if turn % 2 == 0 else reversed(order):
            into.append(measure(tree, uri, versions, rounds=rounds))
    return this, other


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--checkout", type=Path, required=True, help="the code to compare with")
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", action="store_true", help="also read the SQLite store")
    args = parser.parse_args(argv)
    quiet_mlflow()
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    versions = [c.version for c in registry.candidates]
    checkout = args.checkout.resolve()
    with MlflowServer(
        registry.tracking_uri,
        args.workdir / "served-artifacts",
        env=dict(os.environ),
        log_path=args.workdir / "mlflow-server.log",
    ) as server:
        this, other = _turns(checkout, server.url, versions, pairs=args.pairs, rounds=args.rounds)
        print(render("through `mlflow server --workers 1`", this, other), flush=True)
    if args.store:
        this, other = _turns(
            checkout, registry.tracking_uri, versions, pairs=args.pairs, rounds=args.rounds
        )
        print(render("the SQLite store, read directly", this, other), flush=True)


if __name__ == "__main__":
    main()
