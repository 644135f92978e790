"""A loopback HTTP relay in front of a real server: it records every request's method and path,
and can answer chosen paths itself with 404, as a proxy that exposes only part of a server does.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self

__all__ = ["HttpRelay"]

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class HttpRelay:
    """Forwards HTTP/1.1 requests to ``127.0.0.1:target_port``.

    Args:
        target_port: The real server's port.
        refused_prefixes: Request paths starting with one of these get 404 without reaching
            the server.
        with_queries: Record each path with its query string (which run, which version).
    """

    def __init__(
        self,
        target_port: int,
        refused_prefixes: tuple[str, ...] = (),
        *,
        with_queries: bool = False,
    ) -> None:
        self.target_port = target_port
        self.refused_prefixes = refused_prefixes
        self.with_queries = with_queries
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        relay = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                return

            def _relay(self) -> None:
                with relay._lock:
                    recorded = self.path if relay.with_queries else self.path.split("?", 1)[0]
                    relay.requests.append((self.command, recorded))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if self.path.startswith(relay.refused_prefixes):
                    self._answer(404, b'{"error_code": "ENDPOINT_NOT_FOUND"}', {})
                    return
                upstream = http.client.HTTPConnection("127.0.0.1", relay.target_port, timeout=30)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    payload = response.read()
                    kept = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
                    self._answer(response.status, payload, kept)
                finally:
                    upstream.close()

            def _answer(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                if status == 404:
                    self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _relay
            do_POST = _relay
            do_PATCH = _relay
            do_DELETE = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="http-relay", daemon=True
        )
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def take_requests(self) -> list[tuple[str, str]]:
        """The requests recorded since the last call, oldest first."""
        with self._lock:
            taken, self.requests = self.requests, []
        return taken

    def take_requests_when_quiet(
        self, quiet_s: float = 0.5, timeout_s: float = 30.0
    ) -> list[tuple[str, str]]:
        """`take_requests` once no request has arrived for `quiet_s` (work a server does after
        its answer, such as the gate's tags and fingerprint, is then counted too)."""
        deadline = time.monotonic() + timeout_s
        seen = -1
        while time.monotonic() < deadline:
            with self._lock:
                count = len(self.requests)
            if count == seen:
                break
            seen = count
            time.sleep(quiet_s)
        return self.take_requests()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
