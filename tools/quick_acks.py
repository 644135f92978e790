"""Acknowledge each HTTP response's first packet at once, so that a server with Nagle's algorithm
on does not hold the rest of its answer for 40 ms.

`mlflow server` with more than one worker (its default is four) serves through uvicorn's
multi-process mode, whose listening socket never gets ``TCP_NODELAY``: each answer goes out in
several writes, and every write after the first waits until the client acknowledges what came
before. On a kept-alive connection Linux delays that acknowledgement (it hopes to send it with the
next request), by 40 ms. Measured over the demo's store: 48-52 ms for each request on a
kept-alive connection to a four-worker server (MLflow's client, or a bare HTTP connection), 5-6 ms
with one worker; MLflow's client keeps its connections alive, so every call a review makes one
after another paid it. Asking the kernel for a quick acknowledgement once the request is sent
(``TCP_QUICKACK``, which lasts only until the kernel changes mode again, hence once per request)
brings MLflow's client to 6-9 ms a call (a bare socket: 44 ms to 1 ms).

`acknowledge_responses_at_once` makes every urllib3 pool created or used after it (MLflow's
client goes through `requests`, which goes through urllib3) use connections that do this. It
changes nothing else in a request and is a no-op where the platform has no ``TCP_QUICKACK``.
promogate's front doors call it once at start-up (`api.services.configure_mlflow_environment`).
"""

from __future__ import annotations

import socket
from typing import Any, Final

from urllib3 import poolmanager
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.response import HTTPResponse

__all__ = [
    "QuickAckHTTPConnection",
    "QuickAckHTTPConnectionPool",
    "QuickAckHTTPSConnection",
    "QuickAckHTTPSConnectionPool",
    "acknowledge_responses_at_once",
    "quick_ack",
]

_QUICKACK: Final[int | None] = getattr(socket, "TCP_QUICKACK", None)


def quick_ack(sock: Any) -> None:
    """Ask the kernel to acknowledge what `sock` receives next at once (Linux; else nothing).

    Args:
        sock: A connected TCP socket (or TLS socket over one); anything else is left alone.
    """
    setsockopt = getattr(sock, "setsockopt", None)
    if _QUICKACK is None or setsockopt is None:
        return
    try:
        setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    except OSError:
        # Not a TCP socket (a Unix socket to a local proxy): the request goes on as it would
        # have; only the early acknowledgement is lost.
        return


class QuickAckHTTPConnection(HTTPConnection):
    """urllib3's HTTP connection, asking for a quick acknowledgement before reading each answer."""

    # urllib3's own override returns its response type, not http.client's.
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        quick_ack(self.sock)
        return super().getresponse()


class QuickAckHTTPSConnection(HTTPSConnection):
    """urllib3's HTTPS connection, asking for a quick acknowledgement before reading each answer."""

    # urllib3's own override returns its response type, not http.client's.
    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        quick_ack(self.sock)
        return super().getresponse()


class QuickAckHTTPConnectionPool(HTTPConnectionPool):
    """urllib3's HTTP pool, with `QuickAckHTTPConnection` connections."""

    ConnectionCls = QuickAckHTTPConnection


class QuickAckHTTPSConnectionPool(HTTPSConnectionPool):
    """urllib3's HTTPS pool, with `QuickAckHTTPSConnection` connections."""

    ConnectionCls = QuickAckHTTPSConnection


def acknowledge_responses_at_once() -> bool:
    """Make urllib3's pool managers (those made before too: they share the table) open pools
    whose connections ask for quick acknowledgements; False where the platform cannot.

    Pools a manager has already opened keep their connections; a process calls this before it
    makes its first MLflow call.
    """
    if _QUICKACK is None:
        return False
    # The table every PoolManager refers to unless given its own.
    poolmanager.pool_classes_by_scheme["http"] = QuickAckHTTPConnectionPool
    poolmanager.pool_classes_by_scheme["https"] = QuickAckHTTPSConnectionPool
    return True
