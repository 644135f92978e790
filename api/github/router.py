"""`POST /v1/github/webhook`: GitHub deliveries, verified before they are parsed, run as jobs.

1. No webhook secret configured: 503, every delivery refused.
2. ``X-Hub-Signature-256`` checked over the raw body (constant time): 401 when absent or wrong.
3. ``X-GitHub-Delivery`` claimed in the ledger's idempotency store: a delivery id seen before is
   acknowledged (200, ``duplicate``) and not processed again.
4. Events the bot does not act on, and repositories it does not serve, are acknowledged and
   ignored with a log line; the rest become a job (202) and the answer goes out at once.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.dependencies import AppState, get_state
from api.errors import problem_response
from api.github._bot import PRBot
from api.github._events import event_from_payload
from api.github._metrics import GitHubMetrics
from api.github.errors import GitHubConfigError, SignatureError
from api.github.jobs import GitHubJobQueue, InProcessGitHubQueue, ProcrastinateGitHubQueue
from api.github.signature import verify_signature
from api.jobs import ensure_procrastinate_schema, make_procrastinate_app, postgres_conninfo
from ledger.errors import IdempotencyConflictError, IdempotencyInProgressError
from ledger.store import Ledger

__all__ = ["GitHubWebhook", "github_webhook", "router"]

logger = logging.getLogger("promogate.github")


@asynccontextmanager
async def _lifespan(app: Any) -> AsyncIterator[None]:
    yield
    webhook: GitHubWebhook | None = getattr(app.state, "promogate_github", None)
    if webhook is not None:
        webhook.close()
        app.state.promogate_github = None


router = APIRouter(prefix="/v1/github", tags=["github"], lifespan=_lifespan)

_CALLER = "github-webhook"
_PATH = "/v1/github/webhook"
_MAX_BODY = 25 * 1024 * 1024  # GitHub caps payloads at 25 MB
_build_lock = threading.Lock()


@dataclass
class GitHubWebhook:
    """The webhook's share of the app: the bot, its queue and its metrics."""

    secret: str | None
    metrics: GitHubMetrics
    bot: PRBot | None
    queue: GitHubJobQueue | None
    problem: str | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        """Stop the queue and close the GitHub clients (the app's shutdown)."""
        for close in self.closers:
            close()
        self.closers.clear()


def github_webhook(request: Request) -> GitHubWebhook:
    """The app's webhook state, built from its settings on first use."""
    existing: GitHubWebhook | None = getattr(request.app.state, "promogate_github", None)
    if existing is not None:
        return existing
    with _build_lock:
        again: GitHubWebhook | None = getattr(request.app.state, "promogate_github", None)
        if again is not None:
            return again
        state: AppState = get_state(request)
        settings = state.settings
        metrics = GitHubMetrics(state.metrics.registry)
        secret = (
            settings.github_webhook_secret.get_secret_value()
            if settings.github_webhook_secret is not None
            else None
        )
        bot: PRBot | None = None
        queue: GitHubJobQueue | None = None
        problem: str | None = None
        closers: list[Callable[[], None]] = []
        try:
            from api.github._service import build_bot, client_pool

            pool = client_pool(settings)
            closers.append(pool.close)
            bot = build_bot(settings, state.gate, metrics=metrics, clients=pool)
            if state.ledger.database.backend == "postgresql":
                conninfo = postgres_conninfo(settings.ledger_url)
                queue = ProcrastinateGitHubQueue(
                    make_procrastinate_app(conninfo),
                    lambda: ensure_procrastinate_schema(conninfo),
                )
            else:
                queue = InProcessGitHubQueue(bot, concurrency=max(2, settings.job_concurrency))
            closers.insert(0, queue.close)
        except GitHubConfigError as exc:
            problem = str(exc)
            logger.error("the PR bot is not configured: %s", exc)
        webhook = GitHubWebhook(
            secret=secret, metrics=metrics, bot=bot, queue=queue, problem=problem, closers=closers
        )
        request.app.state.promogate_github = webhook
        return webhook


def _answer(webhook: GitHubWebhook, outcome: str, status: int, **body: Any) -> JSONResponse:
    webhook.metrics.deliveries.labels(outcome=outcome).inc()
    return JSONResponse({"status": outcome, **body}, status_code=status)


@router.post(
    "/webhook",
    summary="Receive a GitHub webhook delivery",
    status_code=202,
    # Called by GitHub, not by API clients; documented in docs/pr-bot.md.
    include_in_schema=False,
    responses={
        200: {"description": "Acknowledged: a duplicate, or an event the bot ignores."},
        401: {"description": "Signature absent or wrong."},
        503: {"description": "No webhook secret or bot configuration."},
    },
)
async def receive(
    request: Request,
    x_github_event: Annotated[str | None, Header()] = None,
    x_github_delivery: Annotated[str | None, Header()] = None,
    x_hub_signature_256: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    """Verify, deduplicate and queue one delivery (`pull_request`, `issue_comment` commands)."""
    webhook = github_webhook(request)
    if not webhook.secret:
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(
            503, "no GitHub webhook secret is configured; every delivery is refused", "unavailable"
        )
    body = await request.body()
    if len(body) > _MAX_BODY:
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(
            413, f"delivery of {len(body)} bytes is too large", "invalid_request"
        )
    try:
        verify_signature(webhook.secret, body, x_hub_signature_256)
    except SignatureError as exc:
        logger.warning("refused GitHub delivery %r: %s", x_github_delivery, exc)
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(401, str(exc), "unauthenticated")
    if not x_github_delivery or not x_github_event:
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(
            400, "X-GitHub-Event and X-GitHub-Delivery headers are required", "invalid_request"
        )
    if x_github_event == "ping":
        return _answer(webhook, "ignored", 200, detail="pong")
    ledger = get_state(request).ledger
    # The ledger and the queue block: keep them off the event loop.
    return await run_in_threadpool(
        _accept, webhook, ledger, x_github_event, x_github_delivery, body
    )


def _accept(
    webhook: GitHubWebhook, ledger: Ledger, event_name: str, delivery: str, body: bytes
) -> JSONResponse:
    """Parse a verified delivery, claim its id and queue its event."""
    if webhook.bot is None or webhook.queue is None:
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(
            503, f"the PR bot is not configured: {webhook.problem}", "unavailable"
        )
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(400, f"the delivery is not JSON: {exc}", "invalid_request")
    if not isinstance(payload, dict):
        webhook.metrics.deliveries.labels(outcome="rejected").inc()
        return problem_response(400, "the delivery is not a JSON object", "invalid_request")
    try:
        claim = ledger.idempotency.claim(
            delivery[:255], caller=_CALLER, method="POST", path=_PATH, body=body
        )
    except IdempotencyInProgressError:
        # The same delivery is being accepted by a concurrent request: this one is a duplicate.
        logger.info("GitHub delivery %s arrived twice at once; not processed again", delivery)
        return _answer(webhook, "duplicate", 200, delivery=delivery)
    except IdempotencyConflictError as exc:
        # The same delivery id with another body is not a redelivery: refuse it.
        return _answer(webhook, "rejected", 409, detail=str(exc))
    except ValueError as exc:
        return _answer(webhook, "rejected", 400, detail=str(exc))
    if claim.replay:
        logger.info("GitHub delivery %s seen before; not processed again", delivery)
        return _answer(webhook, "duplicate", 200, delivery=delivery)
    event, why = event_from_payload(event_name, payload, delivery)
    if event is not None and webhook.bot.config.repo(event.repository) is None:
        why = f"repository {event.repository!r} is not served by this bot"
        event = None
    if event is None:
        logger.info("GitHub delivery %s ignored: %s", delivery, why)
        ledger.idempotency.complete(claim, 200, json.dumps({"status": "ignored"}))
        return _answer(webhook, "ignored", 200, delivery=delivery, detail=why)
    try:
        webhook.queue.submit(event)
    except Exception:
        ledger.idempotency.release(claim)
        raise
    ledger.idempotency.complete(claim, 202, json.dumps({"status": "queued"}))
    return _answer(webhook, "queued", 202, delivery=delivery)
