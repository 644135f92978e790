"""The promogate API as the benchmarks see it: `promogate serve` in a process of its own.

The benchmarks drive the API over loopback HTTP, the way a deploy pipeline does, so they start it
with the project's own command line (``python -m api.cli serve``) rather than importing it. A token
is created with ``promogate token create`` the same way.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Self

import httpx

from evals.benchmarks.mlflow_server import free_port

__all__ = ["ApiServer", "create_token"]

_START_TIMEOUT_S: Final = 120.0


def create_token(ledger_url: str, name: str, role: str, *, env: Mapping[str, str]) -> str:
    """Create an API token with ``promogate token create`` and return its secret.

    Args:
        ledger_url: The ledger database the API uses.
        name: Token name.
        role: viewer, reviewer, deployer, approver or admin.
        env: Environment of the command.
    """
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "api.cli",
            "token",
            "create",
            name,
            "--role",
            role,
            "--ledger-url",
            ledger_url,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"token create failed ({result.returncode}): {result.stderr.strip()}")
    secret = json.loads(result.stdout)["secret"]
    if not isinstance(secret, str):
        raise RuntimeError(f"token create printed no secret: {result.stdout!r}")
    return secret


class ApiServer:
    """``promogate serve`` on a free loopback port.

    Args:
        tracking_uri: MLflow tracking URI the API reviews against.
        ledger_url: Ledger database URL.
        policies_dir: Trusted policy directory.
        env: Environment of the server process.
        log_path: File the server's output goes to.
    """

    def __init__(
        self,
        *,
        tracking_uri: str,
        ledger_url: str,
        policies_dir: Path,
        env: Mapping[str, str],
        log_path: Path,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.ledger_url = ledger_url
        self.policies_dir = policies_dir
        self.env = {**env, "MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_LOG_LEVEL": "WARNING"}
        self.log_path = log_path
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = _START_TIMEOUT_S) -> float:
        """Start the API and wait until ``/healthz`` answers; returns the seconds it took."""
        started = time.perf_counter()
        command = [
            sys.executable,
            "-m",
            "api.cli",
            "serve",
            "--port",
            str(self.port),
            "--tracking-uri",
            self.tracking_uri,
            "--ledger-url",
            self.ledger_url,
            "--policies",
            str(self.policies_dir),
        ]
        log = self.log_path.open("ab")
        try:
            self._process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env
            )
        finally:
            log.close()
        deadline = started + timeout_s
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"promogate serve exited with {self._process.returncode}; "
                    f"see {str(self.log_path)!r}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return time.perf_counter() - started
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"promogate serve on {self.url} not ready within {timeout_s:g} s")

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop the API (SIGTERM, then SIGKILL)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout_s)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
