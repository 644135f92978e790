"""A real `mlflow server` on loopback, and a TCP proxy in front of it that can misbehave.

Used by the gate benchmarks and by the API's fail-closed tests, which need MLflow to be really down,
slow or failing rather than mocked:

- `MlflowServer` runs ``mlflow server --backend-store-uri sqlite:///... --workers N`` (one worker
  unless asked for more) on a free 127.0.0.1 port, waits for ``/health``, and can be stopped and
  started again on the same port.
- `FaultProxy` forwards TCP connections to a port and can switch, at run time, to answering late
  (``slow``), answering every HTTP request with ``503`` (``http_503``), or refusing connections
  (``refuse``).

Nothing here reads the environment; the caller passes the server's environment explicitly.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Final, Literal, Self

from benchmarks._server_process import ServerProcess, free_port

__all__ = ["FaultMode", "FaultProxy", "MlflowServer", "free_port"]

logger = logging.getLogger("promogate.evals")

FaultMode = Literal["pass", "slow", "http_503", "refuse"]

_CHUNK: Final = 65536
_HTTP_503: Final = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Content-Length: 61\r\n"
    b"Connection: close\r\n\r\n"
    b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "fault"}'
)


class MlflowServer(ServerProcess):
    """``mlflow server --workers N`` over a SQLite store, on loopback.

    Args:
        backend_store_uri: ``sqlite:///path/to/mlflow.db``.
        artifacts_destination: Directory the server stores proxied artifacts in.
        env: The server process's environment. Telemetry and MLflow's job-execution consumers
            (a dozen background processes the gate never needs) are switched off on top of it.
        log_path: File the server's output goes to.
        port: Port to listen on; a free one when None.
        workers: Worker processes; one (the default here, and what every earlier figure in
            `docs/benchmarks.md` was measured against) answers requests one after another.
            ``mlflow server``'s own default is 4.
    """

    name = "mlflow server"
    health_path = "/health"

    def __init__(
        self,
        backend_store_uri: str,
        artifacts_destination: Path,
        *,
        env: Mapping[str, str],
        log_path: Path,
        port: int | None = None,
        workers: int = 1,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers!r}")
        super().__init__(
            env={
                **env,
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            },
            log_path=log_path,
            port=port,
        )
        self.backend_store_uri = backend_store_uri
        self.artifacts_destination = artifacts_destination
        self.workers = workers

    def command(self) -> list[str]:
        mlflow_cli = Path(sys.executable).with_name("mlflow")
        return [
            str(mlflow_cli) if mlflow_cli.exists() else sys.executable,
            *([] if mlflow_cli.exists() else ["-m", "mlflow"]),
            "server",
            "--backend-store-uri",
            self.backend_store_uri,
            "--artifacts-destination",
            str(self.artifacts_destination),
            "--workers",
            str(self.workers),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]


class FaultProxy:
    """A loopback TCP proxy to `target_port` whose behaviour can be switched while it runs.

    Modes: ``pass`` forwards both ways; ``slow`` forwards but holds every chunk the target sends
    for `delay_s`; ``http_503`` answers every request itself with ``503 Service Unavailable``;
    ``refuse`` closes every new connection at once.

    Args:
        target_port: The port on 127.0.0.1 to forward to.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode: FaultMode = "pass"
        self.delay_s = 0.0
        self.connections = 0
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: FaultMode, delay_s: float = 0.0) -> None:
        """Switch behaviour from now on.

        Switching to ``http_503`` or ``refuse`` also cuts the connections already open, so a
        client's keep-alive pool cannot bypass the fault.
        """
        self.mode = mode
        self.delay_s = delay_s
        if mode in ("http_503", "refuse"):
            with self._lock:
                open_sockets = list(self._open)
            for sock in open_sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        mode = self.mode
        if mode == "refuse":
            client.close()
            return
        if mode == "http_503":
            with contextlib.suppress(OSError):
                client.settimeout(5.0)
                client.recv(_CHUNK)
                client.sendall(_HTTP_503)
            client.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5.0)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        client.settimeout(None)
        with self._lock:
            self._open.update((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
        self._pump(upstream, client, True)

    def _pump(self, source: socket.socket, sink: socket.socket, from_target: bool) -> None:
        try:
            while True:
                data = source.recv(_CHUNK)
                # A connection opened just before a switch to a fault (registered after `set`
                # cut the open ones) must not carry traffic past it.
                if not data or self.mode in ("http_503", "refuse"):
                    break
                if from_target and self.mode == "slow" and self.delay_s > 0:
                    time.sleep(self.delay_s)
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                with contextlib.suppress(OSError):
                    sock.close()
            with self._lock:
                self._open.difference_update((source, sink))

    def close(self) -> None:
        """Stop accepting connections."""
        self._closed.set()
        with contextlib.suppress(OSError):
            self._listener.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
