"""The CI client `promogate gate --server`: exit codes, fail-closed answers, lean start-up.

The client runs as a real subprocess (the console script), against the API served by uvicorn on
loopback, which reviews against the session's real MLflow server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.gate_client import EXIT_BLOCK, EXIT_ERROR, EXIT_ESCALATE, EXIT_OK, wants_server_gate
from benchmarks._mlflow_server import free_port

MODEL = "gate-model"
PROMOGATE = str(Path(sys.executable).with_name("promogate"))
HEAVY = ("mlflow", "langchain", "langchain_core", "pydantic", "rich", "httpx", "sqlalchemy")


def _run(
    args: list[str], token: str | None, timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOGATE_")}
    if token is not None:
        env["PROMOGATE_TOKEN"] = token
    return subprocess.run(
        [PROMOGATE, "gate", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.parametrize(
    ("model", "version", "extra", "code", "line"),
    [
        (MODEL, "2", [], EXIT_OK, "allow approve gate-model v2 @champion"),
        (MODEL, "3", [], EXIT_BLOCK, "deny block gate-model v3 @champion"),
        (MODEL, "2", ["--target-alias", "canary"], EXIT_ESCALATE, "deny escalate gate-model v2"),
        ("no-such-model", "1", [], EXIT_ERROR, "not found"),
        (MODEL, "@champion", [], EXIT_OK, "allow approve gate-model v1 @champion"),
    ],
    ids=["approve", "block", "escalate", "review-error", "alias"],
)
def test_exit_codes_follow_the_decision(
    live_gate: Any, model: str, version: str, extra: list[str], code: int, line: str
) -> None:
    result = _run(["--server", live_gate.url, model, version, *extra], live_gate.tokens["deployer"])
    assert result.returncode == code, result.stdout + result.stderr
    assert line in result.stdout


def test_json_output_is_the_server_answer(live_gate: Any) -> None:
    result = _run([f"--server={live_gate.url}", MODEL, "3", "--json"], live_gate.tokens["deployer"])
    assert result.returncode == EXIT_BLOCK
    answer = json.loads(result.stdout)
    assert answer["allowed"] is False
    assert live_gate.ledger.get_decision(answer["decision_id"]).verdict == "block"


@pytest.mark.parametrize(
    ("token", "text"),
    [(None, "HTTP 401"), ("pgt_wrong", "HTTP 401"), ("viewer", "HTTP 403")],
    ids=["no-token", "unknown-token", "wrong-role"],
)
def test_refused_credentials_deny_with_exit_3(live_gate: Any, token: str | None, text: str) -> None:
    secret = live_gate.tokens.get(token, token) if token else None
    result = _run(["--server", live_gate.url, MODEL, "2"], secret)
    assert result.returncode == EXIT_ERROR
    assert result.stdout.startswith("deny gate-model v2: ")
    assert text in result.stdout


def test_a_503_is_a_deny(make_live_api: Any) -> None:
    ledger_down = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    with make_live_api(ledger_down, tokens=False, allow_anonymous=True) as live:
        result = _run(["--server", live.url, MODEL, "2"], None)
    assert result.returncode == EXIT_ERROR
    assert "the gate is unavailable, so the promotion is denied (HTTP 503" in result.stdout
    assert "ledger database" in result.stdout


def test_nothing_listening_is_a_deny() -> None:
    result = _run(["--server", f"http://127.0.0.1:{free_port()}", MODEL, "2"], "pgt_x")
    assert result.returncode == EXIT_ERROR
    assert "cannot reach" in result.stdout


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for sock in held:
        sock.close()
    listener.close()


def test_a_timeout_is_a_deny(silent_server: str) -> None:
    started = time.monotonic()
    result = _run(["--server", silent_server, MODEL, "2", "--timeout", "1"], "pgt_x")
    assert result.returncode == EXIT_ERROR
    assert "no answer" in result.stdout
    assert time.monotonic() - started < 10.0


@pytest.mark.parametrize(
    "args",
    [["--server", "ftp://x", MODEL, "2"], ["--server", "http://x", MODEL], ["--server"]],
    ids=["bad-scheme", "missing-version", "missing-url"],
)
def test_usage_errors_exit_3(args: list[str]) -> None:
    result = _run(args, None)
    assert result.returncode == EXIT_ERROR
    assert "usage: promogate gate --server" in result.stderr


@pytest.mark.parametrize(
    ("argv", "wanted"),
    [
        (["gate", "--server", "http://x", "m", "1"], True),
        (["gate", "m", "1", "--server=http://x"], True),
        (["gate", "m", "1"], False),
        (["review", "--server", "http://x"], False),
        ([], False),
    ],
    ids=["flag", "inline-flag", "local-gate", "other-command", "nothing"],
)
def test_only_a_gate_with_a_server_takes_the_lean_path(argv: list[str], wanted: bool) -> None:
    assert wants_server_gate(argv) is wanted


def test_the_client_path_imports_no_heavy_library(live_gate: Any) -> None:
    probe = (
        "import atexit, sys\n"
        f"heavy = {HEAVY!r}\n"
        "atexit.register(lambda: print('LOADED', sorted({m.split('.')[0] for m in sys.modules"
        " if m.split('.')[0] in heavy}), file=sys.stderr))\n"
        f"sys.argv = ['promogate', 'gate', '--server', {live_gate.url!r}, 'gate-model', '2']\n"
        "from api.cli import main\n"
        "main()\n"
    )
    env = {**os.environ, "PROMOGATE_TOKEN": live_gate.tokens["deployer"]}
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == EXIT_OK, result.stdout + result.stderr
    assert "LOADED []" in result.stderr


def test_json_output_reports_a_deny_without_an_answer() -> None:
    result = _run(["--server", f"http://127.0.0.1:{free_port()}", MODEL, "2", "--json"], None)
    assert result.returncode == EXIT_ERROR
    body = json.loads(result.stdout)
    assert body["allowed"] is False
    assert "cannot reach" in body["error"]
