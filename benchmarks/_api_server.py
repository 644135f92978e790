"""The promogate API as the benchmarks see it: `promogate serve` in a process of its own.

The benchmarks drive the API over loopback HTTP, the way a deploy pipeline does, so they start it
with the project's own command line (``python -m api.cli serve``) rather than importing it. A token
is created with ``promogate token create`` the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from benchmarks._server_process import ServerProcess

__all__ = ["ApiServer", "create_token", "fresh_ledger_url"]

_START_TIMEOUT_S: Final = 120.0


def fresh_ledger_url(workdir: Path) -> str:
    """A SQLite ledger URL in `workdir`, with any ledger of an earlier run removed.

    The registry is rebuilt on every run, so an earlier run's decisions and tokens mean nothing.
    """
    for suffix in ("", "-wal", "-shm"):
        (workdir / f"ledger.db{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{workdir / 'ledger.db'}"


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


class ApiServer(ServerProcess):
    """``promogate serve`` on a free loopback port.

    Args:
        tracking_uri: MLflow tracking URI the API reviews against.
        ledger_url: Ledger database URL.
        policies_dir: Trusted policy directory.
        env: Environment of the server process.
        log_path: File the server's output goes to.
        workers: ``--workers``: API processes behind the one port.
    """

    name = "promogate serve"
    # Ready, not merely up: a load balancer sends nothing before, and a first request sent
    # while the server warms up would time its warm-up.
    health_path = "/readyz"

    def __init__(
        self,
        *,
        tracking_uri: str,
        ledger_url: str,
        policies_dir: Path,
        env: Mapping[str, str],
        log_path: Path,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        super().__init__(
            env={
                **env,
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "PROMOGATE_LOG_LEVEL": "WARNING",
                # One token drives every client: measure the server, not the per-token limit.
                "PROMOGATE_REVIEW_RATE_PER_MINUTE": "0",
            },
            log_path=log_path,
        )
        self.tracking_uri = tracking_uri
        self.ledger_url = ledger_url
        self.policies_dir = policies_dir
        self.workers = workers

    def command(self) -> list[str]:
        return [
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
            "--workers",
            str(self.workers),
        ]
