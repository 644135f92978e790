"""The HTTP protocol `promogate serve` answers with: uvicorn's, with Nagle's algorithm off on every
connection, however the listening socket was made.

asyncio switches Nagle's algorithm off only on sockets whose protocol number is TCP. With
``--workers`` above one, uvicorn binds the listening socket itself as ``socket(AF_INET)``, whose
protocol number is 0, so no connection its workers accept gets ``TCP_NODELAY``. A response goes out
in two writes (headers, then body); with Nagle on, the body waits until the client acknowledges the
headers, and a client that has nothing to send delays that acknowledgement by up to 40 ms (Linux).
Every request on a kept-alive connection was answered about 40 ms late: a deploy pipeline's
repeated gate calls, a page's reads, and decision reads, 32 connections of which could not pass
about 700 a second. `mlflow server` with its default four workers has the same stall.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["NoDelayHttpProtocol", "no_delay"]


def no_delay(transport: asyncio.BaseTransport) -> None:
    """Switch Nagle's algorithm off on `transport`'s socket, when it is a TCP socket."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, with ``TCP_NODELAY`` set on each connection it is given."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        no_delay(transport)
        super().connection_made(transport)
