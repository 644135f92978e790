"""Recorded decisions kept serialised in memory, so a read costs no database round trip and no
serialisation once the decision has been read.

A decision never changes once it is in the ledger (append-only, hash-chained), so its JSON can be
kept for as long as memory allows; only completed reviews are kept, never a job still running.
The cache is bounded in entries and in bytes and forgets the least recently read first.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from api._request_guard import PRINCIPAL_SCOPE_KEY
from api.auth import Principal

__all__ = ["CachedDecisionReads", "DecisionCache"]

_MAX_BYTES = 64 * 1024 * 1024


class DecisionCache:
    """Serialised reads of recorded decisions by review id, least recently read dropped first.

    Args:
        max_entries: At most this many decisions (0 keeps none).
        max_bytes: At most this many bytes of JSON in all.
    """

    def __init__(self, max_entries: int = 2048, max_bytes: int = _MAX_BYTES) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, review_id: str) -> bytes | None:
        """The JSON of the completed review `review_id`, if it is kept."""
        with self._lock:
            body = self._entries.get(review_id)
            if body is not None:
                self._entries.move_to_end(review_id)
            return body

    def put(self, review_id: str, body: bytes) -> None:
        """Keep the JSON of a completed review (its decision is recorded and never changes)."""
        if self.max_entries <= 0 or len(body) > self.max_bytes:
            return
        with self._lock:
            previous = self._entries.pop(review_id, None)
            if previous is not None:
                self._bytes -= len(previous)
            self._entries[review_id] = body
            self._bytes += len(body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= len(dropped)


_REVIEW_PATH = re.compile(r"^/v1/reviews/([A-Za-z0-9_.:-]{1,128})$")


@dataclass(frozen=True)
class _Route:
    """What the request metrics read of a route: its template."""

    path: str


_REVIEW_ROUTE = _Route("/v1/reviews/{review_id}")


class CachedDecisionReads:
    """Pure ASGI middleware: answers ``GET /v1/reviews/{id}`` of a kept decision at once.

    It sits inside the request guard, so the caller is already authenticated (and the guard's
    refusals already sent); a caller whose role may read gets the kept JSON without routing,
    dependency resolution or a thread hop. Everything else, and every decision not kept yet,
    goes to the app, which keeps it once read.

    Args:
        app: The ASGI app inside.
        cache: The kept decisions (`AppState.decisions`).
    """

    def __init__(self, app: ASGIApp, *, cache: DecisionCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "GET":
            match = _REVIEW_PATH.match(str(scope.get("path", "")))
            principal = scope.get("state", {}).get(PRINCIPAL_SCOPE_KEY)
            if match is not None and isinstance(principal, Principal) and principal.can("read"):
                body = self.cache.get(match.group(1))
                if body is not None:
                    # Counted under the route's template, as if routed.
                    scope["route"] = _REVIEW_ROUTE
                    await send(
                        {
                            "type": "http.response.start",
                            "status": 200,
                            "headers": [
                                (b"content-length", str(len(body)).encode()),
                                (b"content-type", b"application/json"),
                            ],
                        }
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
        await self.app(scope, receive, send)
