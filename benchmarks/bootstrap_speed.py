"""The paired bootstrap, this checkout beside another one, on tables of the demo's size and more.

A review that finds a regression runs a paired bootstrap of the regressed metric (2,000
resamples): on the demo's v6, ROC AUC over the whole evaluation table (4,599 rows) and recall
over one segment (1,120 rows); a team with a larger evaluation set has tables of 20,000 rows
and more. The bootstrap's result is recorded in the decision, so a faster one
must give the very same numbers. For each metric at each size, a child process per checkout
(this one, and `--checkout DIR`, e.g. a worktree of the code before) times
`tools.paired_bootstrap` (a seed per call, so its cache never answers), alternating the
checkouts, and reports the medians side by side with their ratio; every result is compared with
the other checkout's to the last bit::

    uv run python -m benchmarks.bootstrap_speed --checkout /tmp/base [--repeats 7] [--rounds 2]

The tables are drawn like a scored binary classifier's (a latent risk, two correlated models,
scores rounded to three places so that ties occur). This module sits on top of the packages it
measures, and nothing imports it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

__all__ = ["SpeedRow", "main", "measure", "render", "time_bootstraps"]

SIZES: Final = (1120, 4599, 20_000)
METRICS: Final = ("roc_auc", "recall", "precision", "f1", "accuracy")
_RESAMPLES: Final = 2000


class SpeedRow(BaseModel):
    """One metric at one table size: each checkout's median milliseconds."""

    metric: str
    rows: int
    this_ms: float
    other_ms: float
    same_result: bool

    @property
    def ratio(self) -> float:
        return self.this_ms / self.other_ms


def _tables(rows: int) -> tuple[list[int], list[float], list[float]]:
    import numpy as np

    rng = np.random.default_rng(rows)
    latent = rng.normal(0, 1, rows)
    labels = (rng.random(rows) < 1 / (1 + np.exp(-(1.5 * latent - 0.8)))).astype(int)
    noise = rng.normal(0, 1, rows)
    other = 0.9 * noise + np.sqrt(1 - 0.81) * rng.normal(0, 1, rows)
    base = np.round(1 / (1 + np.exp(-(1.5 * latent - 0.8 + 0.9 * noise))), 3)
    cand = np.round(1 / (1 + np.exp(-(1.5 * latent - 0.8 + 0.9 * other - 0.1 * labels))), 3)
    return labels.tolist(), base.tolist(), cand.tolist()


def time_bootstraps(repeats: int, sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """Time every metric at every size in this process (the child's side); JSON-ready."""
    from tools import paired_bootstrap

    found: dict[str, Any] = {}
    for rows in sizes:
        labels, base, cand = _tables(rows)
        classes_a = [int(s >= 0.5) for s in base]
        classes_b = [int(s >= 0.5) for s in cand]
        for metric in METRICS:
            a, b = (base, cand) if metric == "roc_auc" else (classes_a, classes_b)
            times, results = [], []
            # A seed per call: the review's cache of bootstraps never answers one.
            for seed in range(repeats):
                started = time.perf_counter()
                result = paired_bootstrap(metric, labels, a, b, n_resamples=_RESAMPLES, seed=seed)
                times.append((time.perf_counter() - started) * 1000.0)
                results.append(result.model_dump(mode="json"))
            found[f"{metric}/{rows}"] = {"ms": statistics.median(times), "result": results}
    return found


def _child(checkout: Path, repeats: int, sizes: Sequence[int]) -> dict[str, Any]:
    # This file is loaded by its path, so the other checkout needs no copy of it; `tools` is
    # imported from the checkout the child runs in (`python -c` puts its directory first).
    code = (
        "import importlib.util, json; "
        f"spec = importlib.util.spec_from_file_location('bootstrap_speed', {__file__!r}); "
        "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
        f"print(json.dumps(module.time_bootstraps({repeats}, {list(sizes)!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, capture_output=True, text=True, check=True
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def measure(
    other: Path,
    *,
    repeats: int,
    rounds: int,
    this: Path | None = None,
    sizes: Sequence[int] = SIZES,
) -> list[SpeedRow]:
    """Both checkouts' bootstraps, `rounds` child processes each, alternating.

    Args:
        other: The checkout to compare with.
        repeats: Timed calls per metric and size in each child.
        rounds: Child processes per checkout; a row's figure is the median over all of them.
        this: This checkout (the current directory if None).
        sizes: Table sizes (rows).
    """
    here = this or Path.cwd()
    runs: dict[str, list[dict[str, Any]]] = {"this": [], "other": []}
    for _ in range(rounds):
        runs["this"].append(_child(here, repeats, sizes))
        runs["other"].append(_child(other, repeats, sizes))
    rows = []
    for key in runs["this"][0]:
        metric, size = key.split("/")
        results = [run[key]["result"] for side in runs.values() for run in side]
        rows.append(
            SpeedRow(
                metric=metric,
                rows=int(size),
                this_ms=statistics.median(run[key]["ms"] for run in runs["this"]),
                other_ms=statistics.median(run[key]["ms"] for run in runs["other"]),
                same_result=all(r == results[0] for r in results),
            )
        )
    return rows


def render(rows: Sequence[SpeedRow], other: Path) -> str:
    lines = [
        f"| metric | rows | this (ms) | {other} (ms) | this / other | same result |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r.metric} | {r.rows} | {r.this_ms:.1f} | {r.other_ms:.1f} | {r.ratio:.2f}x | "
        f"{'yes' if r.same_result else 'NO'} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--checkout", type=Path, required=True, help="The checkout to compare.")
    parser.add_argument("--repeats", type=int, default=7, help="Timed calls per child.")
    parser.add_argument("--rounds", type=int, default=2, help="Children per checkout.")
    args = parser.parse_args(argv)
    rows = measure(args.checkout, repeats=args.repeats, rounds=args.rounds)
    print(render(rows, args.checkout))
    print(
        f"\nMedians of {args.repeats} bootstraps of {_RESAMPLES} resamples, "
        f"{args.rounds} children per checkout."
    )
    return 0 if all(r.same_result for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
