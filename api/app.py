"""The HTTP API: FastAPI app factory, error answers and request metrics.

`create_app(settings)` reads nothing else: settings are read once at the edge (`promogate serve`, or
`app_from_environment` for `uvicorn --factory`) and everything is built from them. Errors answer in
one JSON shape (`api.schemas.Problem`); anything that stops the gate from deciding is 503 or a deny,
never an allow.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any, cast, get_args

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import api.signing as signing
from api._anchoring import AnchorScheduler, anchor_stores
from api._cli_gc import SettleAfterFirstReview
from api._decision_reads import CachedDecisionReads
from api._request_guard import RateLimiter, RequestGuard, allowed_methods
from api._watch_service import install_watch
from api.dependencies import AppState, caller_dependency
from api.errors import ApiError, api_error_for, problem_response
from api.github.router import router as github_router
from api.jobs import JobQueue, ProcrastinateJobQueue, postgres_conninfo
from api.metrics import ApiMetrics, ErrorKind
from api.mlflow_events_service import install_mlflow_events
from api.pages import router as pages_router
from api.routers import gate, health, mlflow_webhook, overrides, promote, reviews
from api.routers import metrics as metrics_router
from api.services import (
    build_review_service,
    configure_mlflow_environment,
    start_importance_process,
    stop_importance_process,
)
from api.settings import Settings, load_settings
from api.signing import SigningMiddleware, signer_from_settings
from ledger.errors import (
    IdempotencyConflictError,
    IdempotencyInProgressError,
    LedgerError,
    LedgerUnavailableError,
    RecordNotFoundError,
    TokenError,
)
from review.errors import GateError
from review.gate import GateService
from review.service import ReviewService
from tools.redaction import install_log_redaction

__all__ = ["app_from_environment", "create_app"]

logger = logging.getLogger("promogate.api")

# A warm-up still running at shutdown is waited for this long (it holds no request).
_WARM_UP_JOIN_S = 30.0

_DESCRIPTION = """\
The promogate gate: review MLflow model versions against the champion under per-version policies,
and allow or deny their promotion.

Authenticate with `Authorization: Bearer <token>` (`promogate token create`). POSTs accept an
`Idempotency-Key`: a retry with the same key gets the first answer. A deploy pipeline must treat
anything but `allowed: true` from `POST /v1/gate` as a deny, including 503 and timeouts.
"""


def _version() -> str:
    try:
        return metadata.version("promogate")
    except metadata.PackageNotFoundError:
        return "0+unknown"


class _RequestMetrics:
    """Pure ASGI middleware: counts requests and their latency by route template."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = str(getattr(route, "path", "unmatched"))
            method = str(scope.get("method", "GET"))
            self.metrics.requests.labels(route=template, method=method, status=str(status)).inc()
            self.metrics.request_latency.labels(route=template, method=method).observe(
                time.perf_counter() - started
            )


def _metrics_of(request: Request) -> ApiMetrics:
    state: AppState = request.app.state.promogate
    return state.metrics


def _install_error_handlers(app: FastAPI) -> None:
    def answer(request: Request, status: int, detail: str, kind: str, **extra: Any) -> JSONResponse:
        if kind in _ERROR_KINDS:
            _metrics_of(request).record_error(cast(ErrorKind, kind))
        return problem_response(status, detail, kind, **extra)

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return answer(request, exc.status_code, exc.detail, exc.kind, headers=headers)

    async def on_gate_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, GateError)
        return await on_api_error(request, api_error_for(exc))

    async def on_ledger_unavailable(request: Request, exc: Exception) -> JSONResponse:
        logger.warning("ledger unavailable: %s", exc)
        return answer(request, 503, str(exc), "ledger_unavailable")

    async def on_idempotency_in_progress(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 409, str(exc), "idempotency_in_progress")

    async def on_idempotency_conflict(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 422, str(exc), "idempotency_conflict")

    async def on_not_found(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 404, str(exc), "not_found")

    async def on_token_error(request: Request, exc: Exception) -> JSONResponse:
        return answer(request, 422, str(exc), "invalid_request")

    async def on_ledger_error(request: Request, exc: Exception) -> JSONResponse:
        logger.error("ledger error: %s", exc)
        return answer(request, 500, str(exc), "ledger_error")

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(part) for part in err.get("loc", ())],
                "msg": str(err.get("msg", "")),
                "type": str(err.get("type", "")),
            }
            for err in exc.errors()
        ]
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return answer(request, 422, f"invalid request: {summary}", "invalid_request", errors=errors)

    async def on_http_exception(request: Request, exc: Exception) -> JSONResponse:
        # FastAPI's own refusals (unparsable body, unknown route, wrong method) in the same shape.
        assert isinstance(exc, StarletteHTTPException)
        kind = "invalid_request" if exc.status_code < 500 else "internal"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route it tried; list every method the path serves.
            methods = allowed_methods(request.app.router.routes, request.url.path)
            headers["Allow"] = ", ".join(methods)
        elif exc.status_code == 413:
            kind = "too_large"
        return answer(request, exc.status_code, str(exc.detail), kind, headers=headers or None)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error answering %s %s", request.method, request.url.path)
        return answer(request, 500, f"internal error: {type(exc).__name__}", "internal")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(GateError, on_gate_error)
    app.add_exception_handler(LedgerUnavailableError, on_ledger_unavailable)
    app.add_exception_handler(IdempotencyInProgressError, on_idempotency_in_progress)
    app.add_exception_handler(IdempotencyConflictError, on_idempotency_conflict)
    app.add_exception_handler(RecordNotFoundError, on_not_found)
    app.add_exception_handler(TokenError, on_token_error)
    app.add_exception_handler(LedgerError, on_ledger_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_exception)
    app.add_exception_handler(Exception, on_unexpected)


_ERROR_KINDS: frozenset[str] = frozenset(get_args(ErrorKind))


def _remote_jobs(gate_service: GateService, settings: Settings) -> JobQueue | None:
    if gate_service.ledger.database.backend == "postgresql":
        return ProcrastinateJobQueue(postgres_conninfo(settings.ledger_url))
    return None


def create_app(
    settings: Settings,
    *,
    service: ReviewService | None = None,
    freeze_heap: bool = False,
    reader_process: bool = False,
) -> FastAPI:
    """The promogate HTTP API for one configuration.

    Args:
        settings: The configuration, read once by the caller.
        service: The review service to use (its ledger, MLflow client, investigator and
            policies); built from `settings` when None.
        freeze_heap: The app is served by a process of its own (`promogate serve`): once it has
            warmed up, and again after its first review, what the process holds is frozen out of
            the collector's full collections (`api._cli_gc`).
        reader_process: Read model files in a process of their own while the app serves, when
            the settings allow it (`api.services.start_importance_process`): for a server
            process, which outlives the child's start-up.
    """
    install_log_redaction()
    configure_mlflow_environment(settings)
    reviews_service = service if service is not None else build_review_service(settings)
    api_metrics = ApiMetrics()
    gate_service = GateService(
        reviews_service,
        observer=(
            SettleAfterFirstReview(api_metrics.record_review)
            if freeze_heap
            else api_metrics.record_review
        ),
    )
    state = AppState(
        settings=settings,
        reviews=reviews_service,
        gate=gate_service,
        metrics=api_metrics,
        remote_jobs=_remote_jobs(gate_service, settings),
    )

    anchors = AnchorScheduler(
        reviews_service.ledger,
        anchor_stores(settings, lambda: reviews_service.client),
        settings.anchor_interval_s,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        logger.info(
            "promogate API: MLflow %s, ledger %s, jobs %s, anonymous %s",
            settings.tracking_uri,
            state.ledger.url,
            state.jobs.backend,
            "allowed" if settings.allow_anonymous else "refused",
        )
        state.start()
        # Started before the warm-up, so that the child imports while this process does.
        reader = start_importance_process(settings) if reader_process else None
        state.warm_up(freeze_heap=freeze_heap)
        events.start()
        anchors.start()
        watch_loop.start()
        try:
            yield
        finally:
            watch_loop.stop()
            anchors.stop()
            events.stop()
            state.stop()
            gate_service.drain()
            state.wait_until_warm(_WARM_UP_JOIN_S)
            stop_importance_process(reader)

    app = FastAPI(
        title="promogate",
        version=_version(),
        description=_DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.promogate = state
    events = install_mlflow_events(app, state)
    watch_loop = install_watch(app, state, events)
    for router in (
        reviews.router,
        gate.router,
        promote.router,
        overrides.router,
        health.router,
        metrics_router.router,
        mlflow_webhook.router,
        pages_router,
    ):
        app.include_router(router)
    app.include_router(github_router)
    _install_error_handlers(app)
    # Inside the guard: it authenticates first.
    app.add_middleware(CachedDecisionReads, cache=state.decisions)
    app.add_middleware(
        RequestGuard,
        routes=lambda: app.router.routes,
        caller_marker=caller_dependency,
        tokens=lambda: state.ledger.tokens,
        allow_anonymous=settings.allow_anonymous,
        max_body_bytes=settings.max_request_bytes,
        limiter=RateLimiter(settings.review_rate_per_minute),
    )
    signer = signer_from_settings(settings)
    app.state.promogate_signer = signer
    app.include_router(signing.router)
    if signer is not None:
        app.add_middleware(SigningMiddleware, signer=signer)
    app.add_middleware(_RequestMetrics, metrics=api_metrics)
    return app


def app_from_environment() -> FastAPI:
    """The app configured from ``PROMOGATE_*`` environment variables (for ``uvicorn --factory``,
    which serves it from a process of its own)."""
    return create_app(load_settings(), freeze_heap=True, reader_process=True)
