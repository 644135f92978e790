"""API throughput on loopback: decision reads and fresh reviews at 1, 8 and 32 concurrent clients.

`promogate serve` (one process, SQLite ledger) in front of a real `mlflow server --workers 1` that
serves the demo registry (`credit-risk`, champion v1, candidates v2-v6):

- **decision reads**: `GET /v1/reviews/{id}` of recorded decisions, for `--read-seconds` per level;
- **fresh reviews**: `POST /v1/reviews` (full review, recorded and published each time), cycling
  through the candidates, for `--review-seconds` per level. Reviews run at most
  `PROMOGATE_JOB_CONCURRENCY` (default 2) at a time per API process; more clients queue.

    uv run python -m benchmarks.api_throughput [--levels 1,8,32] [--read-seconds 5]
        [--review-seconds 20]

Bounded in time: each level stops sending at its deadline and waits for the requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final, Literal

import httpx
from pydantic import BaseModel

from benchmarks._api_server import ApiServer, create_token, fresh_ledger_url
from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks._mlflow_server import MlflowServer
from scenarios.demo_registry import DEMO_MODEL_NAME, build_demo_registry

__all__ = ["ThroughputRow", "main", "measure_api_throughput"]

Workload = Literal["decision reads", "fresh reviews"]
_REQUEST_TIMEOUT_S: Final = 600.0


class ThroughputRow(BaseModel):
    """One workload at one concurrency level."""

    workload: Workload
    concurrency: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0


async def _drive(
    concurrency: int,
    duration_s: float,
    call: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    expected_status: int,
) -> tuple[list[float], int, float]:
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=_REQUEST_TIMEOUT_S) as client:
        started = time.perf_counter()
        deadline = started + duration_s

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                try:
                    response = await call(client, next(counter))
                except httpx.HTTPError:
                    errors += 1
                    continue
                if response.status_code == expected_status:
                    latencies.append((time.perf_counter() - t0) * 1000.0)
                else:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return latencies, errors, elapsed


async def _raw_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One GET on a kept-alive HTTP/1.1 connection: the status and the body."""
    writer.write(request)
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return status, await reader.readexactly(length)


async def drive_raw_reads(
    url: str, paths: Sequence[str], token: str, concurrency: int, duration_s: float
) -> tuple[list[float], int, float]:
    """GETs of `paths` over `concurrency` kept-alive connections, for `duration_s` seconds.

    A bare asyncio HTTP/1.1 client with the requests encoded once: an HTTP library spends more
    CPU per request than the server does on a cached read, and both share the same two cores,
    so the figure would measure the client.

    Returns:
        Latencies (ms) of the 200 answers, the number of other answers, and the seconds taken.
    """
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 80
    requests = [
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        for path in paths
    ]
    latencies: list[float] = []
    errors = 0
    counter = itertools.count()
    started = time.perf_counter()
    deadline = started + duration_s

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                status, _ = await _raw_get(reader, writer, requests[next(counter) % len(requests)])
                if status == 200:
                    latencies.append((time.perf_counter() - t0) * 1000.0)
                else:
                    errors += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, errors, time.perf_counter() - started


def _row(
    workload: Workload, concurrency: int, result: tuple[list[float], int, float]
) -> ThroughputRow:
    latencies, errors, elapsed = result
    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0
    return ThroughputRow(
        workload=workload,
        concurrency=concurrency,
        requests=len(latencies),
        errors=errors,
        seconds=elapsed,
        p50_ms=statistics.median(ordered) if ordered else 0.0,
        p95_ms=p95,
    )


def measure_api_throughput(
    workdir: Path,
    policies_dir: Path,
    *,
    levels: Sequence[int],
    read_seconds: float,
    review_seconds: float,
    env: dict[str, str],
) -> list[ThroughputRow]:
    """Serve the demo registry and measure both workloads at every concurrency level.

    Args:
        workdir: Scratch directory (registry, ledger, logs).
        policies_dir: The trusted policies (`policies/examples`).
        levels: Concurrent clients per level.
        read_seconds: Duration of each decision-read level.
        review_seconds: Duration of each fresh-review level.
        env: Environment of the MLflow and promogate servers.
    """
    registry = build_demo_registry(workdir / "registry")
    versions = [c.version for c in registry.candidates]
    ledger_url = fresh_ledger_url(workdir)
    headers = {"Authorization": f"Bearer {create_token(ledger_url, 'bench', 'reviewer', env=env)}"}
    rows: list[ThroughputRow] = []
    with (
        MlflowServer(
            registry.tracking_uri,
            workdir / "served-artifacts",
            env=env,
            log_path=workdir / "mlflow-server.log",
        ) as mlflow_server,
        ApiServer(
            tracking_uri=mlflow_server.url,
            ledger_url=ledger_url,
            policies_dir=policies_dir,
            env=env,
            log_path=workdir / "api-server.log",
        ) as api,
    ):
        review_ids: list[str] = []
        with httpx.Client(timeout=_REQUEST_TIMEOUT_S) as client:
            for version in versions:
                response = client.post(
                    f"{api.url}/v1/reviews",
                    json={"model": DEMO_MODEL_NAME, "version": version},
                    headers=headers,
                )
                response.raise_for_status()
                review_ids.append(response.json()["review_id"])

        async def read(client: httpx.AsyncClient, n: int) -> httpx.Response:
            review_id = review_ids[n % len(review_ids)]
            return await client.get(f"{api.url}/v1/reviews/{review_id}", headers=headers)

        async def review(client: httpx.AsyncClient, n: int) -> httpx.Response:
            body = {"model": DEMO_MODEL_NAME, "version": versions[n % len(versions)]}
            return await client.post(f"{api.url}/v1/reviews", json=body, headers=headers)

        for level in levels:
            rows.append(
                _row("decision reads", level, asyncio.run(_drive(level, read_seconds, read, 200)))
            )
        for level in levels:
            rows.append(
                _row(
                    "fresh reviews", level, asyncio.run(_drive(level, review_seconds, review, 201))
                )
            )
    return rows


def _table(rows: Sequence[ThroughputRow]) -> str:
    lines = [
        "| workload | clients | requests | errors | seconds | req/s | p50 (ms) | p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.workload} | {r.concurrency} | {r.requests} | {r.errors} | {r.seconds:.1f} | "
            f"{r.per_second:.1f} | {r.p50_ms:.0f} | {r.p95_ms:.0f} |"
        )
    by_load: dict[str, list[ThroughputRow]] = {}
    for r in rows:
        by_load.setdefault(r.workload, []).append(r)
    lines.append("")
    for workload, group in by_load.items():
        base = group[0].per_second
        ratios = ", ".join(
            f"{r.concurrency} clients {r.per_second / base:.1f}x" for r in group if base > 0
        )
        lines.append(f"{workload}: throughput relative to {group[0].concurrency} client: {ratios}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--read-seconds", type=float, default=5.0)
    parser.add_argument("--review-seconds", type=float, default=20.0)
    parser.add_argument("--policies", type=Path, default=Path("policies/examples"))
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    if any(level < 1 or level > 64 for level in levels):
        parser.error(f"concurrency levels must be between 1 and 64, got {args.levels!r}")
    if not (0 < args.read_seconds <= 60 and 0 < args.review_seconds <= 120):
        parser.error("--read-seconds must be in (0, 60] and --review-seconds in (0, 120]")
    # MLflow logs every validation and store operation at INFO; the table is the output here.
    quiet_mlflow()
    # The servers run as child processes of this script; they get its environment.
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="promogate-api-throughput-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = measure_api_throughput(
            workdir,
            args.policies.resolve(),
            levels=levels,
            read_seconds=args.read_seconds,
            review_seconds=args.review_seconds,
            env=env,
        )
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], indent=2))
    else:
        print(_table(rows))


if __name__ == "__main__":
    main()
