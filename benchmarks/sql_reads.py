"""The reads a review and a fingerprint make of a SQL store, through MLflow's client and through
promogate's (`tools._sql_reads.SqlReadClient`), side by side on the demo registry.

For each read (the candidate's version, the champion by alias, a run, a metric's history, a
logged model, and the searches: the versions before the candidate, the two runs by id, the linked
evaluation runs, a run's logged models), both clients answer it on the same SQLite store and
their answers must be equal (the entities' protos, in order); then each is timed, alternating,
as the calling thread's CPU time (`time.thread_time`): the median of `--repeats`. A search is
timed twice on promogate's side: with its statement kept from an earlier search (a fingerprint
and the review after it search alike) and built afresh (a version searched for the first time).

    uv run python -m benchmarks.sql_reads [--workdir DIR] [--reuse] [--repeats N]

This module sits on top of the packages it measures, and nothing imports it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks.review_latency import prepare_registry

__all__ = ["main", "measure"]

Read = Callable[[Any], Any]


def _thread_ms(work: Callable[[], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.thread_time()
        work()
        times.append((time.thread_time() - started) * 1000.0)
    return times


def _protos(found: Any) -> Any:
    if isinstance(found, list):
        return [item.to_proto() for item in found]
    return found.to_proto()


def _reads(client: Any, model: str, candidate: int) -> list[tuple[str, bool, Read]]:
    """(name, is a search, read) for the demo's candidate `candidate`."""
    from mlflow.entities import ViewType

    version = client.get_model_version(model, str(candidate))
    champion = client.get_model_version_by_alias(model, "champion")
    run = client.get_run(version.run_id)
    experiment = run.info.experiment_id
    key = sorted(run.data.metrics)[0]
    models = client.search_logged_models([experiment], f"source_run_id = '{run.info.run_id}'")
    model_id = models[0].model_id
    ids = f"'{version.run_id}', '{champion.run_id}'"
    return [
        ("the candidate's version", False, lambda c: c.get_model_version(model, str(candidate))),
        (
            "the champion, by alias",
            False,
            lambda c: c.get_model_version_by_alias(model, "champion"),
        ),
        ("a run", False, lambda c: c.get_run(version.run_id)),
        ("a metric's history", False, lambda c: c.get_metric_history(version.run_id, key)),
        ("a logged model", False, lambda c: c.get_logged_model(model_id)),
        (
            "the versions before the candidate",
            True,
            lambda c: list(
                c.search_model_versions(
                    f"name = '{model}' AND version_number < {candidate}",
                    max_results=50,
                    order_by=["version_number DESC"],
                )
            ),
        ),
        (
            "both versions' runs, by id",
            True,
            lambda c: list(
                c.search_runs(
                    [experiment],
                    f"attributes.run_id IN ({ids})",
                    run_view_type=ViewType.ALL,
                    max_results=2,
                )
            ),
        ),
        (
            "the linked evaluation runs (none)",
            True,
            lambda c: list(
                c.search_runs(
                    [experiment],
                    f"tags.`promogate.eval_target` = '{model}/{candidate}'",
                    max_results=50,
                    order_by=["attributes.start_time DESC"],
                )
            ),
        ),
        (
            "a run's logged models",
            True,
            lambda c: list(
                c.search_logged_models([experiment], f"source_run_id = '{version.run_id}'")
            ),
        ),
    ]


def measure(tracking_uri: str, model: str, candidate: int, repeats: int) -> list[dict[str, Any]]:
    """One row per read: MLflow's client's and promogate's median thread CPU (ms)."""
    from mlflow import MlflowClient

    from tools import _sql_reads

    theirs = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    ours = _sql_reads.SqlReadClient(tracking_uri, tracking_uri)
    rows: list[dict[str, Any]] = []
    for name, is_search, read in _reads(theirs, model, candidate):
        if _protos(read(theirs)) != _protos(read(ours)):
            raise RuntimeError(f"{name}: promogate's client answers otherwise than MLflow's")
        mlflow_ms: list[float] = []
        kept_ms: list[float] = []
        for _ in range(repeats):
            mlflow_ms += _thread_ms(partial(read, theirs), 1)
            kept_ms += _thread_ms(partial(read, ours), 1)
        row = {
            "read": name,
            "mlflow_ms": statistics.median(mlflow_ms),
            "promogate_ms": statistics.median(kept_ms),
            "fresh_ms": None,
        }
        if is_search:
            fresh_ms: list[float] = []
            for _ in range(repeats):
                _sql_reads._KEPT_STATEMENTS.clear()
                fresh_ms += _thread_ms(partial(read, ours), 1)
            row["fresh_ms"] = statistics.median(fresh_ms)
        rows.append(row)
    return rows


def _ratio(theirs: float, ours: float) -> str:
    return f"{theirs / ours:.1f}x" if ours > 0 else "-"


def _table(rows: Sequence[dict[str, Any]], repeats: int) -> str:
    lines = [
        "| read | MLflow's client (ms) | promogate's (ms) | ratio | promogate's, statement "
        "built afresh (ms) | ratio |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        fresh = row["fresh_ms"]
        fresh_cells = (
            f"{fresh:.2f} | {_ratio(row['mlflow_ms'], fresh)}" if fresh is not None else " | "
        )
        lines.append(
            f"| {row['read']} | {row['mlflow_ms']:.2f} | {row['promogate_ms']:.2f} | "
            f"{_ratio(row['mlflow_ms'], row['promogate_ms'])} | {fresh_cells} |"
        )
    total_theirs = sum(r["mlflow_ms"] for r in rows)
    total_ours = sum(r["promogate_ms"] for r in rows)
    lines.append(
        f"\nThread CPU, medians of {repeats} alternated calls; all reads: {total_theirs:.2f} ms "
        f"through MLflow's client, {total_ours:.2f} ms through promogate's "
        f"({_ratio(total_theirs, total_ours)})."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true", help="reuse a demo registry build")
    parser.add_argument("--repeats", type=int, default=200)
    args = parser.parse_args(argv)
    if not 1 <= args.repeats <= 10_000:
        parser.error(f"--repeats must be between 1 and 10000, got {args.repeats}")
    quiet_mlflow()
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    candidate = registry.candidates[1].version
    rows = measure(registry.tracking_uri, registry.model_name, candidate, args.repeats)
    print(_table(rows, args.repeats))


if __name__ == "__main__":
    main()
