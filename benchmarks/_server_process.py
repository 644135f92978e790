"""A server command run as a child process on a free loopback port, ready when its health URL is.

The base of `MlflowServer` (``mlflow server``) and `ApiServer` (``promogate serve``): both start
in a session of their own, are polled until their health route answers 200, and stop with SIGTERM
then SIGKILL sent to the whole process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Final, Self

import httpx

__all__ = ["ServerProcess", "free_port"]

logger = logging.getLogger("promogate.evals")

START_TIMEOUT_S: Final = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """A server process on 127.0.0.1 that can be stopped and started again on the same port.

    Args:
        env: The process's environment (nothing is read from this process's own).
        log_path: File the server's output goes to.
        port: Port to listen on; a free one when None.
    """

    name: ClassVar[str] = "server"
    health_path: ClassVar[str] = "/health"

    def __init__(self, *, env: Mapping[str, str], log_path: Path, port: int | None = None) -> None:
        self.env = dict(env)
        self.log_path = log_path
        self.port = port if port is not None else free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._launched_at = 0.0
        self.last_start_seconds: float | None = None

    def command(self) -> list[str]:
        """The command line that starts the server on `self.port`."""
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs (its own workers are its descendants)."""
        return self._process.pid if self.running and self._process is not None else None

    def start(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Start the server and wait until it is healthy; returns the seconds it took."""
        if self.running:
            return 0.0
        self.launch()
        return self.wait_ready(timeout_s)

    def launch(self) -> None:
        """Start the process without waiting for it (overlap its start with other work)."""
        if self.running:
            return
        self._launched_at = time.perf_counter()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> float:
        """Wait until the launched server's health route answers 200; seconds since launch."""
        if self._process is None:
            raise RuntimeError(f"the {self.name} was not launched")
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self._process.returncode} while starting; "
                    f"see {str(self.log_path)!r}"
                )
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}{self.health_path}", timeout=1.0).status_code == 200:
                    self.last_start_seconds = time.perf_counter() - self._launched_at
                    logger.info(
                        "%s on %s ready in %.1f s", self.name, self.url, self.last_start_seconds
                    )
                    return self.last_start_seconds
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"{self.name} on {self.url} not ready within {timeout_s:g} s")

    def stop(self, timeout_s: float = 20.0) -> None:
        """Stop the server (SIGTERM, then SIGKILL) and wait until its port refuses connections."""
        process, self._process = self._process, None
        if process is None:
            return
        # The server runs in a session of its own; signal the whole group so its workers and any
        # helper processes stop with it.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=timeout_s)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            except OSError:
                return
            time.sleep(0.1)

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
