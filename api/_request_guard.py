"""What a request must pass before its body is read: a token, a size limit, a review rate limit.

FastAPI reads and parses a request's body before it runs the route's dependencies, so without this
guard an unauthenticated caller learns how the body was judged (422) and can make the server read
and parse ten megabytes. The guard is pure ASGI middleware and runs, in this order:

1. **Authentication** for every route that needs a caller (found once, by walking each route's
   dependencies for `api.dependencies.caller_dependency`): a missing, malformed, unknown or revoked
   token is answered 401 before a byte of the body is read. The principal is kept in the request
   scope for the route's role check.
2. **Size**: a declared ``Content-Length`` above the limit is answered 413 at once; a body sent in
   chunks is counted as it is read and refused with 413 when it passes the limit.
3. **Review rate**: requests that may record a decision (``POST /v1/reviews``, ``POST /v1/gate``)
   draw from a token bucket per token; an empty bucket is answered 429 with ``Retry-After``. The
   buckets live in this process: behind a load balancer each replica allows the rate.

It also computes the ``Allow`` header of a 405 answer from every route on the path, not only the
first one Starlette tried.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import Principal, authenticate_header
from api.errors import ApiError, problem_response
from ledger.errors import LedgerUnavailableError
from ledger.tokens import TokenStore

__all__ = [
    "PRINCIPAL_SCOPE_KEY",
    "RATE_LIMITED_ROUTES",
    "RateLimiter",
    "RequestGuard",
    "allowed_methods",
]

logger = logging.getLogger("promogate.api")

PRINCIPAL_SCOPE_KEY: Final = "promogate.principal"
RATE_LIMITED_ROUTES: Final = frozenset({("POST", "/v1/reviews"), ("POST", "/v1/gate")})
"""Routes that may append a decision to the ledger, limited per token."""


@dataclass
class _Bucket:
    tokens: float
    updated: float


@dataclass
class RateLimiter:
    """A token bucket per key: `per_minute` requests a minute, bursts of up to `per_minute`.

    Args:
        per_minute: Sustained requests a minute per key; 0 switches the limit off.
        clock: Monotonic seconds.
    """

    per_minute: int
    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, key: str) -> float:
        """Take one request for `key`: 0.0 when allowed, else the seconds until one is free.

        Args:
            key: Who is asking (a token id).
        """
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self.clock()
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = _Bucket(float(self.per_minute), now)
            bucket.tokens = min(
                float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate
            )
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


@dataclass(frozen=True)
class _Endpoint:
    """One route as the guard sees it: its path pattern and template, methods, and the route."""

    regex: re.Pattern[str]
    path: str
    methods: frozenset[str]
    route: BaseRoute


def _endpoints(routes: Iterable[BaseRoute]) -> Iterator[_Endpoint]:
    """Every endpoint of an app, through included routers (FastAPI wraps those in objects that
    list their effective routes) and plain routes."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            for context in contexts():
                yield _Endpoint(
                    context.path_regex,
                    str(context.path_format or context.path),
                    frozenset(context.methods or ()),
                    context.original_route,
                )
            continue
        regex = getattr(route, "path_regex", None)
        if regex is not None:
            yield _Endpoint(
                regex,
                str(getattr(route, "path_format", getattr(route, "path", ""))),
                frozenset(getattr(route, "methods", None) or ()),
                route,
            )


def _needs_caller(route: BaseRoute, marker: Callable[..., Any]) -> bool:
    if not isinstance(route, APIRoute):
        return False
    pending = list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        if dependant.call is marker:
            return True
        pending.extend(dependant.dependencies)
    return False


def allowed_methods(routes: Iterable[BaseRoute], path: str) -> list[str]:
    """Every method some route serves at `path` (for the ``Allow`` header of a 405).

    Args:
        routes: The app's routes.
        path: The request path.
    """
    methods: set[str] = set()
    for endpoint in _endpoints(routes):
        if endpoint.regex.match(path):
            methods |= endpoint.methods
    return sorted(methods)


class _BodyTooLargeError(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


class RequestGuard:
    """Pure ASGI middleware: authenticate, limit size, limit review rate; see the module doc.

    Args:
        app: The wrapped application.
        routes: The FastAPI app's routes (read when the first request arrives).
        caller_marker: The dependency whose presence marks a route as needing a caller.
        tokens: Returns the token store to authenticate against.
        allow_anonymous: Requests without a header act as the anonymous admin (demo only).
        max_body_bytes: Largest request body accepted.
        limiter: The per-token review rate limiter.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Callable[[], list[BaseRoute]],
        caller_marker: Callable[..., Any],
        tokens: Callable[[], TokenStore],
        allow_anonymous: bool,
        max_body_bytes: int,
        limiter: RateLimiter,
    ) -> None:
        self.app = app
        self._routes = routes
        self._marker = caller_marker
        self._tokens = tokens
        self.allow_anonymous = allow_anonymous
        self.max_body_bytes = max_body_bytes
        self.limiter = limiter
        self._table: list[tuple[_Endpoint, bool]] | None = None

    def _match(self, scope: Scope) -> tuple[_Endpoint, bool] | None:
        """The endpoint the request goes to and whether it needs a caller (None: no endpoint)."""
        if self._table is None:
            self._table = [
                (endpoint, _needs_caller(endpoint.route, self._marker))
                for endpoint in _endpoints(self._routes())
            ]
        path = str(scope.get("path", ""))
        method = str(scope.get("method", "GET"))
        for endpoint, protected in self._table:
            if endpoint.regex.match(path) and (
                method in endpoint.methods or (method == "HEAD" and "GET" in endpoint.methods)
            ):
                return endpoint, protected
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        matched = self._match(scope)
        principal: Principal | None = None
        if matched is not None and matched[1]:
            headers = dict(scope.get("headers") or [])
            raw = headers.get(b"authorization")
            try:
                principal = authenticate_header(
                    raw.decode("latin-1") if raw is not None else None,
                    self._tokens(),
                    allow_anonymous=self.allow_anonymous,
                )
            except ApiError as exc:
                await self._refuse(scope, receive, send, exc.status_code, exc.detail, exc.kind)
                return
            except LedgerUnavailableError as exc:
                await self._refuse(scope, receive, send, 503, str(exc), "ledger_unavailable")
                return
            scope.setdefault("state", {})[PRINCIPAL_SCOPE_KEY] = principal
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            await self._refuse(
                scope,
                receive,
                send,
                413,
                f"request body of {declared} bytes is over the limit of {self.max_body_bytes}",
                "too_large",
            )
            return
        path = matched[0].path if matched is not None else None
        if principal is not None and (scope.get("method"), path) in RATE_LIMITED_ROUTES:
            wait_s = self.limiter.take(principal.id)
            if wait_s > 0.0:
                logger.warning("review rate limit reached for token %s on %s", principal.name, path)
                await self._refuse(
                    scope,
                    receive,
                    send,
                    429,
                    f"token {principal.name!r} may start at most {self.limiter.per_minute} "
                    f"reviews a minute; retry in {math.ceil(wait_s)} s",
                    "rate_limited",
                    headers={"Retry-After": str(math.ceil(wait_s))},
                )
                return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0
        limit = self.max_body_bytes

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError(limit)
            return message

        return counted

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str,
        kind: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        if status == 401:
            headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
        headers = {**(headers or {}), "Connection": "close"}
        response = problem_response(status, detail, kind, headers=headers)
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers") or []:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
