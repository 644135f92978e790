"""HTTP connections that ask for a quick acknowledgement before reading each answer.

What the kernel does with the request is checked on real loopback sockets; installing the
connections in urllib3's table runs in an interpreter of its own (the table is process-wide).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tools import quick_acks
from tools.quick_acks import QuickAckHTTPConnection, QuickAckHTTPConnectionPool, quick_ack

pytestmark = pytest.mark.skipif(
    not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's"
)


class _Answers(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # kept alive, as MLflow's client keeps its connections

    def do_GET(self) -> None:
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def _server() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def _quickack(sock: socket.socket) -> int:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK)


def test_a_kept_alive_socket_is_switched_back_to_quick_acknowledgements() -> None:
    with _server() as port:
        sock = socket.create_connection(("127.0.0.1", port))
        try:
            request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
            for _ in range(4):
                sock.sendall(request)
                sock.recv(65536)
            sock.sendall(request)
            if _quickack(sock) != 0:
                pytest.skip("this kernel did not delay acknowledgements on a kept-alive socket")
            quick_ack(sock)
            assert _quickack(sock) == 1
        finally:
            sock.close()


@pytest.mark.parametrize(
    "kind",
    ["no-socket-yet", "no-setsockopt", "unix-socket"],
)
def test_what_is_not_a_tcp_socket_is_left_alone(kind: str) -> None:
    with contextlib.ExitStack() as stack:
        sock: Any = None
        if kind == "no-setsockopt":
            sock = object()
        elif kind == "unix-socket":
            sock, peer = socket.socketpair(socket.AF_UNIX)
            stack.enter_context(sock)
            stack.enter_context(peer)
        quick_ack(sock)


def test_each_answer_is_read_after_asking(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[int, int]] = []

    def recording(sock: Any) -> None:
        quick_ack(sock)
        asked.append((sock.fileno(), _quickack(sock)))

    monkeypatch.setattr(quick_acks, "quick_ack", recording)
    with _server() as port:
        pool = QuickAckHTTPConnectionPool("127.0.0.1", port, maxsize=1)
        try:
            for _ in range(3):
                response = pool.urlopen("GET", "/", preload_content=True)
                assert (response.status, response.data) == (200, b'{"ok": true}')
            assert pool.ConnectionCls is QuickAckHTTPConnection
        finally:
            pool.close()
    assert len(asked) == 3
    assert len({fd for fd, _ in asked}) == 1, "one kept-alive connection"
    assert all(state == 1 for _, state in asked)


def test_pool_managers_open_quick_ack_pools_once_installed(
    own_interpreter: Callable[[str], str],
) -> None:
    with _server() as port:
        out = own_interpreter(
            f"""
            import requests
            from urllib3.connection import HTTPConnection
            from tools.quick_acks import QuickAckHTTPConnection, acknowledge_responses_at_once

            url = "http://127.0.0.1:{port}/"
            made_before = requests.Session()
            assert made_before.get(url).json() == {{"ok": True}}
            pool = made_before.get_adapter(url).poolmanager.connection_from_url(url)
            print(pool.ConnectionCls is HTTPConnection)
            print(acknowledge_responses_at_once())
            made_after = requests.Session()
            for session in (made_before, made_after):
                manager = session.get_adapter("https://x/").poolmanager
                print(manager.connection_from_url("https://x/").ConnectionCls.__name__)
            fresh = made_after.get_adapter(url).poolmanager.connection_from_url(url)
            print(fresh.ConnectionCls is QuickAckHTTPConnection)
            assert made_after.get(url).json() == {{"ok": True}}
            """
        )
    assert out.splitlines() == [
        "True",
        "True",
        "QuickAckHTTPSConnection",
        "QuickAckHTTPSConnection",
        "True",
    ]
