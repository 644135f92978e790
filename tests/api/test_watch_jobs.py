"""The periodic watch on the real PostgreSQL job queue, run by a `promogate worker` process."""

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
from support.watch_scenario import WatchScenario

from api._watch_jobs import WATCH_PERIODIC_TASK
from api.jobs import postgres_conninfo

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(postgres_url: str) -> Iterator[str]:
    """The test PostgreSQL database, confined to a fresh schema dropped afterwards."""
    with postgres_schema(postgres_url, "promogate_watch") as url:
        yield url


def test_the_periodic_watch_job_runs_on_the_postgresql_queue(
    watch_models: Any, pg_url: str, tmp_path: Path
) -> None:
    scenario = WatchScenario(watch_models, tmp_path, ledger_url=pg_url)
    scenario.log_window(0, drift=True)
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PROMOGATE_WATCH_CRON": "* * * * * */2",
        "PROMOGATE_LOG_LEVEL": "INFO",
    }
    command = [
        *(sys.executable, "-m", "api.cli", "worker", "--name", "watch-worker"),
        *("--ledger-url", pg_url, "--tracking-uri", scenario.tracking_uri),
        *("--policies", str(scenario.policies_dir)),
    ]
    with log.open("wb") as out:
        worker = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 150
        while not scenario.ledger.list_watch(scenario.name) and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(1.0)
        records = scenario.ledger.list_watch(scenario.name)
        assert records, f"no watch record after 150 s\n{log.read_text()[-3000:]}"
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)
        scenario.close()

    assert [r.level for r in records] == ["alert"]
    assert records[0].decision_id is not None
    with psycopg.connect(postgres_conninfo(pg_url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT status FROM procrastinate_jobs WHERE task_name = %s", (WATCH_PERIODIC_TASK,)
        ).fetchall()
    assert ("succeeded",) in rows or ("doing",) in rows, rows
