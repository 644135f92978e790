"""Fail closed: with MLflow down, slow or failing, or the ledger database down, nothing is allowed.

The faults are real: a stopped `mlflow server`, a loopback proxy that answers late or with 503, a
PostgreSQL URL on a port where nothing listens, and a SQLite ledger locked by another connection.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from api.routers.health import _mlflow_ready
from benchmarks._mlflow_server import FaultProxy, free_port
from ledger.store import Ledger

MODEL = "gate-model"


def _gate(api: Any, version: int = 2, headers: dict[str, str] | None = None) -> Any:
    return api.client.post(
        "/v1/gate",
        json={"model": MODEL, "version": version},
        headers=api.headers("deployer") if headers is None else headers,
    )


@pytest.mark.parametrize(
    ("mode", "delay_s"),
    [("slow", 3.0), ("http_503", 0.0), ("refuse", 0.0)],
    ids=["slow", "http-503", "connection-refused"],
)
def test_a_faulty_mlflow_denies_with_the_reason(
    make_api: Any, mlflow_proxy: FaultProxy, mode: Any, delay_s: float
) -> None:
    api = make_api(tracking_uri=mlflow_proxy.url, mlflow_http_timeout_s=1.0)
    assert _gate(api).json()["allowed"] is True
    mlflow_proxy.set(mode, delay_s)
    started = time.monotonic()
    response = _gate(api)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["allowed"] is False
    assert answer["verdict"] == "block"
    assert "MLflow" in answer["error"]
    # Bounded: a few attempts at the 1 s HTTP timeout. The bound is generous because a loaded CI
    # machine stretches it (this asserts "does not hang", not a latency).
    assert elapsed < 60.0
    ready = api.client.get("/readyz", headers=api.headers("viewer"))
    assert ready.status_code == 503
    assert ready.json()["checks"]["mlflow"]["ok"] is False
    metrics = api.client.get("/metrics").text
    assert 'promogate_gate_answers_total{outcome="deny",reused="false"} 1.0' in metrics
    mlflow_proxy.set("pass")
    # Once MLflow answers again, the approving decision is reused: nothing was lost.
    again = _gate(api).json()
    assert again["allowed"] is True
    assert again["reused"] is True


def test_readiness_probes_share_a_kept_alive_connection_and_see_mlflow_go_and_come_back(
    make_api: Any, mlflow_proxy: FaultProxy
) -> None:
    api = make_api(tracking_uri=mlflow_proxy.url, mlflow_http_timeout_s=1.0)

    def mlflow_check() -> Any:
        ready = api.client.get("/readyz", headers=api.headers("viewer"))
        return ready.status_code, ready.json()["checks"]["mlflow"]["ok"]

    opened = mlflow_proxy.connections
    assert [mlflow_check() for _ in range(3)] == [(200, True)] * 3
    # One connection for three probes: a client (and its TLS context) built per probe would
    # open one each.
    assert mlflow_proxy.connections - opened == 1
    mlflow_proxy.set("http_503")  # also cuts the kept-alive connection
    assert mlflow_check() == (503, False)
    mlflow_proxy.set("pass")
    assert mlflow_check() == (200, True)
    # A stopped app closes its probe client; a probe after a restart opens a new one.
    state = api.client.app.state.promogate  # type: ignore[attr-defined]
    client = state.probe_http()
    state.stop()
    assert client.is_closed
    state.start()
    assert state.probe_http() is not client
    assert mlflow_check() == (200, True)
    # A probe client closed behind the app's back is replaced, not used closed.
    closed = state.probe_http()
    closed.close()
    assert mlflow_check() == (200, True)
    assert state.probe_http() is not closed


def test_a_probe_whose_client_the_stopping_app_closes_says_not_ready(
    mlflow_proxy: FaultProxy,
) -> None:
    # The app's stop closes the probe client between the probe taking it and sending with it.
    closed = httpx.Client()
    closed.close()
    state = SimpleNamespace(
        settings=SimpleNamespace(tracking_uri=mlflow_proxy.url, mlflow_http_timeout_s=1.0),
        probe_http=lambda: closed,
    )
    check = _mlflow_ready(state)  # type: ignore[arg-type]
    assert (check.ok, check.detail) == (False, "the process is stopping")


def test_a_gate_that_outlasts_its_deadline_denies(make_api: Any, mlflow_proxy: FaultProxy) -> None:
    api = make_api(tracking_uri=mlflow_proxy.url, request_deadline_s=1.0)
    mlflow_proxy.set("slow", 3.0)
    started = time.monotonic()
    answer = _gate(api).json()
    assert time.monotonic() - started < 5.0
    assert answer["allowed"] is False
    assert "deadline of 1 s" in answer["error"]
    mlflow_proxy.set("pass")


@pytest.mark.slow
def test_a_stopped_mlflow_server_denies_even_a_version_approved_before(
    api: Any, mlflow_server: Any
) -> None:
    approved = _gate(api).json()
    assert approved["allowed"] is True
    mlflow_server.stop()
    try:
        denied = _gate(api)
        assert denied.status_code == 200
        assert denied.json()["allowed"] is False
        assert "unreachable" in denied.json()["error"] or "MLflow" in denied.json()["error"]
        ready = api.client.get("/readyz", headers=api.headers("viewer"))
        assert ready.status_code == 503
        assert ready.json()["checks"]["mlflow"]["ok"] is False
        assert ready.json()["checks"]["ledger"]["ok"] is True
        promote = api.client.post(
            "/v1/promote",
            json={"model": MODEL, "version": 2, "target_alias": "down-test"},
            headers=api.headers("deployer"),
        )
        assert promote.status_code == 503
        assert promote.json()["kind"] == "mlflow_unavailable"
    finally:
        mlflow_server.start()
    assert _gate(api).json()["reused"] is True


def test_a_postgres_ledger_that_is_down_is_503(make_api: Any) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    api = make_api(ledger_url=url, with_tokens=False, allow_anonymous=True)
    for response in (
        _gate(api, headers={}),
        _gate(api, headers={"Authorization": "Bearer pgt_whatever"}),
        api.client.post("/v1/reviews", json={"model": MODEL, "version": 2}),
        api.client.get("/v1/reviews"),
    ):
        assert response.status_code == 503, response.text
        assert response.json()["kind"] == "ledger_unavailable"
        assert "127.0.0.1" in response.json()["detail"]
    ready = api.client.get("/readyz")
    assert ready.status_code == 503
    # Without a valid token (the token store is down too) the probe says only "not ready".
    assert ready.json() == {"ready": False, "checks": None}


def test_a_sqlite_ledger_in_a_missing_directory_is_503(make_api: Any, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gone' / 'ledger.db'}"
    api = make_api(ledger_url=url, with_tokens=False, allow_anonymous=True)
    response = _gate(api, headers={})
    assert response.status_code == 503
    assert response.json()["kind"] == "ledger_unavailable"


def test_a_locked_sqlite_ledger_is_503_and_records_nothing(make_api: Any, tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    url = f"sqlite:///{path}"
    api = make_api(ledger_url=url, ledger=Ledger(url, busy_timeout_seconds=0.5))
    headers = api.headers("deployer")
    assert api.client.get("/v1/reviews", headers=headers).status_code == 200
    holder = sqlite3.connect(path, isolation_level=None, timeout=0.1)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        response = _gate(api, 3, headers)
        assert response.status_code == 503, response.text
        assert response.json()["kind"] == "ledger_unavailable"
        assert "locked" in response.json()["detail"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert api.ledger.list_decisions() == []
    recovered = _gate(api, 3, headers).json()
    assert recovered["allowed"] is False
    assert recovered["verdict"] == "block"
    assert len(api.ledger.list_decisions()) == 1
