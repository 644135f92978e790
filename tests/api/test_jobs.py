"""Reviews as procrastinate jobs on the real PostgreSQL, run by two `promogate worker` processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from support.postgres_schema import postgres_schema

from api.jobs import postgres_conninfo

MODEL = "gate-model"
pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg_schema_url(postgres_url: str) -> Iterator[str]:
    """The test PostgreSQL database, confined to a fresh schema that is dropped afterwards."""
    with postgres_schema(postgres_url, "promogate_api") as url:
        yield url


def _start_worker(name: str, ledger_url: str, registry: Any, server: Any, log: Path) -> Any:
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PROMOGATE_MLFLOW_HTTP_RETRIES": "0",
        "PROMOGATE_LOG_LEVEL": "INFO",
    }
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "worker",
        "--name",
        name,
        "--concurrency",
        "1",
        "--ledger-url",
        ledger_url,
        "--tracking-uri",
        server.url,
        "--policies",
        str(registry.policies_dir),
    ]
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def _wait_until_started(processes: list[Any], logs: list[Path], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = list(zip(processes, logs, strict=True))
    while pending and time.monotonic() < deadline:
        for process, log in list(pending):
            assert process.poll() is None, log.read_text()
            if "worker" in log.read_text() and "starting" in log.read_text():
                pending.remove((process, log))
        time.sleep(0.2)
    assert not pending, f"workers did not start: {[str(log) for _, log in pending]}"


def _stop(process: Any) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def test_two_workers_share_the_review_jobs(
    make_api: Any, pg_schema_url: str, gate_registry: Any, mlflow_server: Any, tmp_path: Path
) -> None:
    api = make_api(ledger_url=pg_schema_url)
    workers = [
        _start_worker(f"w{i}", pg_schema_url, gate_registry, mlflow_server, tmp_path / f"w{i}.log")
        for i in (1, 2)
    ]
    try:
        # Queue only once both workers listen: a worker that starts late on a loaded machine
        # would otherwise find the queue already drained, and the test could not see the sharing.
        _wait_until_started(workers, [tmp_path / f"w{i}.log" for i in (1, 2)])
        expected = {2: "approve", 3: "block", 4: "block"}
        versions = [2, 3, 4, 2, 3, 4, 2, 3]
        queued: dict[str, int] = {}
        for index, version in enumerate(versions):
            response = api.client.post(
                "/v1/reviews?wait=false",
                json={"model": MODEL, "version": version, "target_alias": f"job-{index}"},
                headers=api.headers("reviewer"),
            )
            assert response.status_code == 202, response.text
            assert response.json()["state"] == "queued"
            queued[response.json()["review_id"]] = version
        first = api.client.get(f"/v1/reviews/{next(iter(queued))}", headers=api.headers("viewer"))
        assert first.json()["state"] in ("queued", "running", "completed")

        # Generous: two worker processes start cold on a machine other jobs may be loading; the loop
        # ends as soon as every job is done.
        deadline = time.monotonic() + 260
        done: dict[str, Any] = {}
        while len(done) < len(queued) and time.monotonic() < deadline:
            for review_id in set(queued) - set(done):
                body = api.client.get(
                    f"/v1/reviews/{review_id}", headers=api.headers("viewer")
                ).json()
                assert body["state"] != "failed", body
                if body["state"] == "completed":
                    done[review_id] = body["decision"]
            time.sleep(0.5)
        logs = "".join((tmp_path / f"w{i}.log").read_text() for i in (1, 2))
        assert len(done) == len(queued), f"jobs left: {set(queued) - set(done)}\n{logs[-3000:]}"

        for review_id, decision in done.items():
            assert decision["id"] == review_id
            assert decision["verdict"] == expected[queued[review_id]]
            assert decision["error"] is None
        assert api.ledger.verify().ok
        assert len(api.ledger.list_decisions(MODEL)) == len(queued)

        # The decision is recorded a moment before the worker marks its job finished.
        while True:
            with psycopg.connect(postgres_conninfo(pg_schema_url)) as conn:
                rows = conn.execute(
                    "SELECT status, worker_id FROM procrastinate_jobs WHERE task_name = %s",
                    ("promogate.review",),
                ).fetchall()
            if all(r[0] == "succeeded" for r in rows) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert [r[0] for r in rows] == ["succeeded"] * len(queued)
        # Both worker processes took jobs from the shared queue.
        assert len({r[1] for r in rows if r[1] is not None}) == 2, rows
        # Each worker froze what it held once warmed up, and again after its first review.
        frozen = "objects frozen out of the collector's full collections"
        while time.monotonic() < deadline:
            logs = "".join((tmp_path / f"w{i}.log").read_text() for i in (1, 2))
            if logs.count(frozen) >= 4:
                break
            time.sleep(0.2)
        assert logs.count(frozen) == 4, logs[-3000:]

        ready = api.client.get("/readyz", headers=api.headers("viewer")).json()
        assert ready["checks"]["jobs"] == {
            "ok": True,
            "detail": "job queue (procrastinate) answers",
        }
    finally:
        for worker in workers:
            _stop(worker)
    for worker in workers:
        assert worker.returncode in (0, -signal.SIGTERM), worker.returncode
