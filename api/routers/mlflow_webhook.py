"""``POST /v1/mlflow/webhook``: MLflow 3 webhook deliveries, verified before they are read.

No bearer token: the delivery's HMAC signature is its credential. In order, a delivery is refused
when the receiver has no secret (404), when it is unsigned or wrongly signed (401), when its
timestamp is outside the window (401) or malformed (400), when its delivery id was seen before
(409), or when its verified body is not an event (400). Only then is anything parsed or queued;
the answer is 202 with the jobs queued, and the work runs in the background.
"""

from __future__ import annotations

import logging
import time
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from api.mlflow_events import EventParseError, parse_event
from api.mlflow_events_service import DELIVERY_CALLER, MlflowEvents
from api.webhook_signature import WebhookRejectedError, verify_delivery
from ledger.errors import IdempotencyConflictError, IdempotencyInProgressError

__all__ = ["WebhookAccepted", "router"]

logger = logging.getLogger("promogate.api")

router = APIRouter(tags=["mlflow events"])

_MAX_BODY: Final = 1 << 20
_PATH: Final = "/v1/mlflow/webhook"


class WebhookAccepted(BaseModel):
    """A delivery accepted: what it was and the jobs it queued."""

    delivery_id: str
    event: str
    queued: list[str]


def _refuse(events: MlflowEvents, status: int, outcome: str, detail: str) -> JSONResponse:
    events.metrics.deliveries.labels(outcome=outcome).inc()
    logger.warning("MLflow webhook refused (%s): %s", outcome, detail)
    return JSONResponse(
        status_code=status,
        content={"detail": detail, "kind": outcome},
        headers={"WWW-Authenticate": "X-MLflow-Signature"} if status == 401 else None,
    )


@router.post(
    _PATH,
    status_code=202,
    summary="Receive an MLflow webhook delivery",
    response_model=WebhookAccepted,
    responses={
        400: {"description": "Malformed timestamp or delivery id, or not an MLflow event."},
        401: {"description": "Unsigned, wrongly signed or stale delivery."},
        404: {"description": "No webhook secret is configured: the receiver is off."},
        409: {"description": "Delivery id already processed (replay)."},
        413: {"description": "Body over 1 MiB."},
        503: {"description": "The ledger is down (MLflow retries)."},
    },
    # The body is read raw (the signature covers its exact bytes), so it is described here.
    openapi_extra={
        "parameters": [
            {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
            for name in ("X-MLflow-Signature", "X-MLflow-Delivery-Id", "X-MLflow-Timestamp")
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["entity", "action", "data"],
                        "properties": {
                            "entity": {"type": "string", "example": "model_version_alias"},
                            "action": {"type": "string", "example": "created"},
                            "timestamp": {"type": "string"},
                            "data": {"type": "object"},
                        },
                    }
                }
            },
        },
    },
)
async def receive_mlflow_webhook(request: Request) -> JSONResponse:
    """Verify an MLflow webhook delivery, record its id, and queue the work it asks for."""
    events: MlflowEvents = request.app.state.promogate_events
    secret = events.secret
    if secret is None:
        # 404, not 503: the receiver is switched off here, and MLflow must not keep retrying.
        return _refuse(
            events,
            404,
            "not_configured",
            "no MLflow webhook secret is configured; set PROMOGATE_MLFLOW_WEBHOOK_SECRET",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > _MAX_BODY:
        return _refuse(events, 413, "too_large", f"the body exceeds {_MAX_BODY} bytes")
    body = await request.body()
    if len(body) > _MAX_BODY:
        return _refuse(events, 413, "too_large", f"the body exceeds {_MAX_BODY} bytes")
    delivery_id = request.headers.get("x-mlflow-delivery-id")
    try:
        verify_delivery(
            secret=secret,
            body=body,
            signature=request.headers.get("x-mlflow-signature"),
            delivery_id=delivery_id,
            timestamp=request.headers.get("x-mlflow-timestamp"),
            now=time.time(),
            tolerance_s=events.settings.mlflow_webhook_tolerance_s,
        )
    except WebhookRejectedError as exc:
        status = 400 if exc.reason in ("bad_timestamp", "bad_delivery_id") else 401
        return _refuse(events, status, exc.reason, exc.detail)
    assert delivery_id is not None
    return await run_in_threadpool(_accept, events, delivery_id, body)


def _accept(events: MlflowEvents, delivery_id: str, body: bytes) -> JSONResponse:
    """Record the delivery id (once across processes), parse, queue. The ledger being down
    raises LedgerUnavailableError, answered 503, so MLflow retries."""
    try:
        claim = events.deliveries.claim(
            delivery_id, caller=DELIVERY_CALLER, method="POST", path=_PATH, body=body
        )
    except (IdempotencyInProgressError, IdempotencyConflictError):
        return _refuse(events, 409, "replayed", f"delivery {delivery_id!r} was seen before")
    except ValueError as exc:
        return _refuse(events, 400, "bad_delivery_id", str(exc))
    if claim.replay:
        return _refuse(events, 409, "replayed", f"delivery {delivery_id!r} was processed before")
    try:
        event = parse_event(body)
    except EventParseError as exc:
        events.deliveries.complete(claim, 400, '{"detail": "invalid event"}')
        return _refuse(events, 400, "invalid", str(exc))
    try:
        queued = events.processor.submit(event, delivery_id)
    except RuntimeError as exc:
        events.deliveries.release(claim)
        return _refuse(events, 503, "unavailable", f"event jobs cannot be queued: {exc}")
    accepted = WebhookAccepted(delivery_id=delivery_id, event=event.event, queued=queued)
    events.deliveries.complete(claim, 202, accepted.model_dump_json())
    events.metrics.deliveries.labels(outcome="accepted").inc()
    logger.info("MLflow webhook %s: %s, queued %s", delivery_id, event.event, queued or "nothing")
    return JSONResponse(status_code=202, content=accepted.model_dump(mode="json"))
