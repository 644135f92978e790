"""An HTTP server on 127.0.0.1 in a daemon thread: the base of the product's loopback stand-ins.

The scripted OpenAI-compatible server (`agents.testing`) and the fixed-latency endpoint of the
runner benchmark both answer real HTTP on loopback; this class owns their socket and thread.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, ClassVar, Self

__all__ = ["LoopbackHttpServer", "LoopbackServerThread"]


class LoopbackHttpServer(ThreadingHTTPServer):
    """A threading HTTP server whose handlers reach their host object as `server.owner`."""

    daemon_threads = True
    # Keep-alive handler threads may outlive a client; never wait for them on close.
    block_on_close = False
    # socketserver's default backlog of 5 drops connections when 32 clients connect at once.
    request_queue_size = 128
    owner: Any

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that cancelled its request (a timeout, an interrupted run) is expected here.
        if isinstance(sys.exc_info()[1], BrokenPipeError | ConnectionResetError):
            return
        super().handle_error(request, client_address)


class LoopbackServerThread:
    """Serves `handler_class` on a free loopback port from `start()` (or `with`) to `stop()`."""

    handler_class: ClassVar[type[BaseHTTPRequestHandler]]

    _server: LoopbackHttpServer | None = None
    _thread: threading.Thread | None = None

    def start(self) -> Self:
        server = LoopbackHttpServer(("127.0.0.1", 0), self.handler_class)
        server.owner = self
        self._server = server
        # A short poll interval keeps stop() fast (it waits for the serving loop's next poll).
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=type(self).__name__,
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"the {type(self).__name__} is not running; start it first")
        return int(self._server.server_address[1])
