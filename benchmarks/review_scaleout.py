"""Fresh-review throughput on the PostgreSQL job queue with 1, 2 and 4 worker processes.

Reviews of the demo candidates are queued on procrastinate (`api.jobs.ProcrastinateJobQueue`,
what `POST /v1/reviews?wait=false` does) and run by `promogate worker` processes, one review at a
time each, on the same machine; the decisions go to a PostgreSQL ledger. Per level::

    uv run python -m benchmarks.review_scaleout --workdir /tmp/bench --reuse \\
        --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test --workers 1,2,4 --jobs 40

- the database ``promogate_bench`` on that server is dropped and created, so concurrent test
  runs on the server's other databases are not touched;
- the workers start and each runs warm-up reviews (imports, connections) before timing;
- each worker runs `--concurrency` reviews at once (default 1; `promogate worker` itself
  defaults to 2);
- `--jobs` reviews are queued at once; throughput is jobs / (last finished - first queued);
- CPU seconds per review are the workers' own CPU time (``/proc/<pid>/stat``) over the jobs,
  which is what a review costs whatever the number of cores;
- every decision is read back from the ledger and its verdict compared with the demo's;
- `--mlflow-server N` has the workers read the registry through a real ``mlflow server`` with N
  worker processes on loopback, as workers beside a team's tracking server do, instead of its
  SQLite store directly; the server's CPU (its whole process tree) is then reported per review
  beside the workers', since it runs on the same cores;
- the workers write no decision tags to MLflow unless `--publish-tags` is given, which runs them
  as `promogate worker` runs by default (``PROMOGATE_PUBLISH_TAGS``: seven tags a decision, in
  one transaction on a store read directly, one MLflow call each through a server); each row
  says which. With it, each candidate version's ``promogate.decision_id`` must then name one
  of the level's timed reviews, so a row never claims tags that were not written.

`--checkout DIR` runs the workers from another checkout of the repository (e.g. the main branch)
with the same interpreter, for a before/after in one run. Reviews of the same five candidates
repeat, so evidence caches warm up as they would for a champion compared with many candidates;
so do a candidate's own (its table, its model file's importances), which a candidate never seen
before would still pay for: `docs/benchmarks.md` gives what a new model file adds.

This module sits on top of the packages it measures, and nothing imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from api import ProcrastinateJobQueue, ReviewJob, postgres_conninfo
from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks._mlflow_server import MlflowServer
from benchmarks.review_latency import policies_of, prepare_registry
from ledger.store import Ledger
from scenarios.demo_registry import DemoRegistry

__all__ = ["ScaleRow", "main", "measure_level"]

BENCH_DATABASE = "promogate_bench"
_MODEL = "credit-risk"
"""The demo's model, whose candidates the levels review."""
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ScaleRow(BaseModel):
    """One level: how many workers, how many reviews, how long, at what CPU cost."""

    workers: int
    jobs: int
    seconds: float
    reviews_per_s: float
    cpu_s_per_review: float
    wrong_verdicts: int
    failed: int
    load_average: float
    server_cpu_s_per_review: float | None = None
    tags_written: bool = False


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of `pid` and every process below it that is still running."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            total += _cpu_seconds(current)
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited between the listing and the read
    return total


def _bench_url(server_url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def _recreate_database(server_url: str) -> None:
    import psycopg

    with psycopg.connect(postgres_conninfo(server_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")


def _statuses(conninfo: str, review_ids: Sequence[str]) -> dict[str, int]:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT status, count(*) FROM procrastinate_jobs WHERE queueing_lock = ANY(%s) "
            "GROUP BY status",
            (list(review_ids),),
        ).fetchall()
    return {str(status): int(count) for status, count in rows}


def _wait_done(conninfo: str, review_ids: Sequence[str], timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        statuses = _statuses(conninfo, review_ids)
        if statuses.get("succeeded", 0) + statuses.get("failed", 0) >= len(review_ids):
            return statuses
        if time.monotonic() > deadline:
            raise TimeoutError(f"jobs not finished after {timeout_s:g} s: {statuses}")
        time.sleep(0.05)


def measure_level(
    workers: int,
    jobs: int,
    *,
    tracking_uri: str,
    ledger_url: str,
    candidates: Sequence[tuple[int, str]],
    checkout: Path | None,
    concurrency: int = 1,
    timeout_s: float = 900.0,
    server_pid: int | None = None,
    publish_tags: bool = False,
) -> ScaleRow:
    """Start `workers` worker processes running `concurrency` reviews at once each, warm them
    up, then time `jobs` queued reviews (and the CPU of the MLflow server `server_pid`, if
    any, over them). With `publish_tags` the workers write each decision's tags to MLflow."""
    conninfo = postgres_conninfo(ledger_url)
    queue = ProcrastinateJobQueue(conninfo)
    env = {
        **os.environ,
        "PROMOGATE_LEDGER_URL": ledger_url,
        "PROMOGATE_TRACKING_URI": tracking_uri,
        "PROMOGATE_POLICIES_DIR": str(policies_of(checkout)),
        "PROMOGATE_PUBLISH_TAGS": "true" if publish_tags else "false",
        "PROMOGATE_LOG_LEVEL": "WARNING",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    probe = "import sys; sys.argv = ['promogate', *sys.argv[1:]]; from api.cli import main; main()"
    procs = [
        subprocess.Popen(
            [
                *(sys.executable, "-c", probe, "worker"),
                *("--concurrency", str(concurrency), "--name", f"w{i}"),
            ],
            cwd=checkout or Path.cwd(),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(workers)
    ]
    try:

        def submit(count: int) -> dict[str, str]:
            expected: dict[str, str] = {}
            for i in range(count):
                version, verdict = candidates[i % len(candidates)]
                review_id = f"bench-{uuid.uuid4().hex[:12]}"
                queue.submit(ReviewJob(review_id=review_id, model=_MODEL, ref=str(version)))
                expected[review_id] = verdict
            return expected

        # Two warm-up reviews per worker thread: imports, MLflow store and ledger connections.
        _wait_done(conninfo, list(submit(2 * workers * concurrency)), timeout_s)
        cpu_before = sum(_cpu_seconds(p.pid) for p in procs)
        server_before = _tree_cpu_seconds(server_pid) if server_pid is not None else 0.0
        started = time.perf_counter()
        expected = submit(jobs)
        statuses = _wait_done(conninfo, list(expected), timeout_s)
        seconds = time.perf_counter() - started
        cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu_before
        server_cpu = (
            _tree_cpu_seconds(server_pid) - server_before if server_pid is not None else None
        )
        load = os.getloadavg()[0]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        queue.close()
    if publish_tags:
        _check_tags(tracking_uri, {version for version, _ in candidates}, set(expected))
    ledger = Ledger(ledger_url)
    try:
        wrong = sum(
            1 for rid, verdict in expected.items() if ledger.get_decision(rid).verdict != verdict
        )
    finally:
        ledger.close()
    return ScaleRow(
        workers=workers,
        jobs=jobs,
        seconds=seconds,
        reviews_per_s=jobs / seconds,
        cpu_s_per_review=cpu / jobs,
        wrong_verdicts=wrong,
        failed=statuses.get("failed", 0),
        load_average=load,
        server_cpu_s_per_review=server_cpu / jobs if server_cpu is not None else None,
        tags_written=publish_tags,
    )


def _check_tags(tracking_uri: str, versions: set[int], review_ids: set[str]) -> None:
    """Every version's decision tag names one of `review_ids` (the last of its reviews)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    for version in sorted(versions):
        tagged = client.get_model_version(_MODEL, str(version)).tags.get("promogate.decision_id")
        if tagged not in review_ids:
            raise RuntimeError(
                f"version {version}'s promogate.decision_id is {tagged!r}, none of the timed "
                "reviews: the workers did not write their tags"
            )


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


def render(rows: Sequence[ScaleRow], label: str) -> str:
    base = rows[0].reviews_per_s if rows else 1.0
    lines = [
        "| code | workers | reviews | seconds | reviews/s | vs 1 worker | CPU s / review "
        "| MLflow server CPU s / review | decision tags | wrong verdicts | failed | load avg |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|",
    ]
    lines += [
        f"| {label} | {r.workers} | {r.jobs} | {r.seconds:.1f} | {r.reviews_per_s:.2f} | "
        f"{r.reviews_per_s / base:.2f}x | {r.cpu_s_per_review:.3f} | "
        f"{_seconds(r.server_cpu_s_per_review)} | {'written' if r.tags_written else 'off'} | "
        f"{r.wrong_verdicts} | {r.failed} | "
        f"{r.load_average:.1f} |"
        for r in rows
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true", help="Reuse a demo registry build.")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("PROMOGATE_TEST_POSTGRES_URL"),
        help="A PostgreSQL server URL; the benchmark uses its own database on it.",
    )
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=1,
        help="reviews each worker runs at once (default 1; `promogate worker` defaults to 2)",
    )
    parser.add_argument(
        "--checkout", type=Path, action="append", default=[], help="Also run another checkout."
    )
    parser.add_argument(
        "--mlflow-server",
        type=int,
        default=0,
        metavar="N",
        help="read through a real `mlflow server` with N workers (default 0: the SQLite store)",
    )
    parser.add_argument(
        "--publish-tags",
        action="store_true",
        help="workers write decision tags to MLflow, as `promogate worker` does by default",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.mlflow_server <= 8:
        parser.error(f"--mlflow-server must be between 0 and 8, got {args.mlflow_server}")
    if not 1 <= args.concurrency <= 8:
        parser.error(f"--concurrency must be between 1 and 8, got {args.concurrency}")
    if not args.postgres:
        parser.error("--postgres (or PROMOGATE_TEST_POSTGRES_URL) is required")
    quiet_mlflow()
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    with contextlib.ExitStack() as stack:
        tracking_uri, server_pid = registry.tracking_uri, None
        if args.mlflow_server:
            server = stack.enter_context(
                MlflowServer(
                    registry.tracking_uri,
                    args.workdir / "served-artifacts",
                    env=os.environ,
                    log_path=args.workdir / "mlflow-server.log",
                    workers=args.mlflow_server,
                )
            )
            tracking_uri, server_pid = server.url, server.pid
        _measure(args, registry, tracking_uri, server_pid)


def _measure(
    args: argparse.Namespace, registry: DemoRegistry, tracking_uri: str, server_pid: int | None
) -> None:
    candidates = [(c.version, c.expected_verdict) for c in registry.candidates]
    ledger_url = _bench_url(args.postgres)
    levels = [int(x) for x in args.workers.split(",")]
    where = f"`mlflow server --workers {args.mlflow_server}`" if server_pid else "the SQLite store"
    for checkout in [None, *args.checkout]:
        label = "this" if checkout is None else checkout.name
        rows: list[ScaleRow] = []
        for workers in levels:
            _recreate_database(args.postgres)
            Ledger(ledger_url).close()  # creates the ledger's tables before workers race to
            rows.append(
                measure_level(
                    workers,
                    args.jobs,
                    tracking_uri=tracking_uri,
                    ledger_url=ledger_url,
                    candidates=candidates,
                    checkout=checkout,
                    concurrency=args.concurrency,
                    server_pid=server_pid,
                    publish_tags=args.publish_tags,
                )
            )
            print(render(rows[-1:], label), flush=True)
        print(
            f"\n{label}: {args.jobs} reviews per level, worker concurrency {args.concurrency}, "
            f"reading {where}, decision tags {'written' if args.publish_tags else 'off'}"
        )
        print(render(rows, label))
        cost = statistics.median(r.cpu_s_per_review for r in rows)
        print(f"median CPU per review: {cost:.3f} s")


if __name__ == "__main__":
    main()
