"""`promogate token create|revoke|list`, `promogate serve` and `promogate worker` from the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import typer
from typer.testing import CliRunner

from api._server_commands import register_server_commands
from benchmarks._mlflow_server import free_port
from ledger.store import Ledger


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register_server_commands(app)
    return app


def test_token_create_list_revoke(cli: typer.Typer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    runner = CliRunner()
    created = runner.invoke(
        cli, ["token", "create", "ci-deploy", "--role", "deployer", "--ledger-url", url, "--json"]
    )
    assert created.exit_code == 0, created.output
    token = json.loads(created.output)
    assert token["role"] == "deployer"
    assert token["secret"].startswith("pgt_")
    info = Ledger(url).tokens.authenticate(token["secret"])
    assert info is not None and info.name == "ci-deploy"

    listed = runner.invoke(cli, ["token", "list", "--ledger-url", url, "--json"])
    assert [t["name"] for t in json.loads(listed.output)] == ["ci-deploy"]
    assert token["secret"] not in listed.output

    revoked = runner.invoke(cli, ["token", "revoke", "ci-deploy", "--ledger-url", url])
    assert revoked.exit_code == 0
    assert Ledger(url).tokens.authenticate(token["secret"]) is None
    assert (
        json.loads(runner.invoke(cli, ["token", "list", "--ledger-url", url, "--json"]).output)
        == []
    )


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (["token", "create", "x", "--role", "root"], "invalid role 'root'"),
        (["token", "revoke", "nobody"], "no active token"),
        (["worker"], "procrastinate needs a PostgreSQL URL"),
        (
            ["serve", "--allow-anonymous", "--host", "0.0.0.0"],
            "anonymous access is for a local demo and listens on loopback only, not '0.0.0.0'",
        ),
        (["serve", "--allow-anonymous", "--host", "10.1.2.3"], "loopback only, not '10.1.2.3'"),
    ],
    ids=[
        "bad-role",
        "unknown-token",
        "worker-without-postgres",
        "anonymous-on-every-address",
        "anonymous-on-a-network-address",
    ],
)
def test_refusals_exit_3(cli: typer.Typer, tmp_path: Path, args: list[str], text: str) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(url).migrate()
    result = CliRunner().invoke(cli, [*args, "--ledger-url", url])
    assert result.exit_code == 3
    assert text in result.output


@pytest.mark.parametrize(
    "args", [["token", "list"], ["token", "revoke", "ci-deploy"]], ids=["list", "revoke"]
)
def test_tokens_are_not_read_from_a_ledger_that_is_not_there(
    cli: typer.Typer, tmp_path: Path, args: list[str]
) -> None:
    """An empty ledger made at a mistyped URL would list no token, as if none could be used."""
    url = f"sqlite:///{tmp_path / 'typo.db'}"
    result = CliRunner().invoke(cli, [*args, "--ledger-url", url])
    assert result.exit_code == 3
    assert f"there is no ledger at {url!r}" in result.output
    assert not (tmp_path / "typo.db").exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("gate.example.com", False),
    ],
    ids=["v4", "v4-other", "v6", "v6-bracketed", "localhost", "any-v4", "any-v6", "lan", "name"],
)
def test_only_loopback_addresses_count_as_local(host: str, loopback: bool) -> None:
    from api._server_commands import _is_loopback

    assert _is_loopback(host) is loopback


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_serve_answers_the_gate(
    gate_registry: Any, mlflow_server: Any, tmp_path: Path, workers: int
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    secret = Ledger(url).tokens.create_token("ci", "deployer")[1]
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_LOG_LEVEL": "WARNING"}
    command = [
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        "--port",
        str(port),
        "--ledger-url",
        url,
        "--tracking-uri",
        mlflow_server.url,
        "--policies",
        str(gate_registry.policies_dir),
        "--workers",
        str(workers),
    ]
    server = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        answer = httpx.post(
            f"{base}/v1/gate",
            json={"model": "gate-model", "version": 2},
            headers={"Authorization": f"Bearer {secret}"},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["allowed"] is True
        assert httpx.post(f"{base}/v1/gate", json={}, timeout=10).status_code == 401
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output


def test_a_worker_whose_job_queue_is_down_says_so_and_exits_3(tmp_path: Path) -> None:
    # In a process of its own: the worker freezes its heap as it starts.
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{free_port()}/queue"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PROMOGATE_")},
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PROMOGATE_LOG_LEVEL": "ERROR",
    }
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "worker", "--once", "--ledger-url", url],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3, done.stderr
    assert "error: the job queue 'postgresql://postgres:***@127.0.0.1:" in done.stderr
    assert "is unavailable" in done.stderr
    assert "Traceback" not in done.stderr
    assert "hunter2" not in done.stdout + done.stderr
