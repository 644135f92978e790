"""The gate a deploy pipeline calls: may this version take the alias now? All but allow denies."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError

from fastapi import APIRouter, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.dependencies import Deployer, IdempotencyKey, State
from api.idempotency import idempotent
from api.schemas import GateRequest, GateResponse, problem_responses

__all__ = ["router"]

logger = logging.getLogger("promogate.api")

router = APIRouter(prefix="/v1/gate", tags=["gate"])


def _deadline_deny(body: GateRequest, target: str, deadline_s: float) -> GateResponse:
    version = body.version if isinstance(body.version, int) else None
    if isinstance(body.version, str) and body.version.isdigit():
        version = int(body.version)
    reason = (
        f"no decision within the gate's deadline of {deadline_s:g} s (MLflow or the reviewer is "
        "slow); the review goes on and a later gate call can reuse its decision"
    )
    return GateResponse(
        allowed=False,
        verdict="block",
        model=body.model,
        version=version,
        target_alias=target,
        reused=False,
        reasons=[f"denied: {reason}"],
        error=reason,
    )


@router.post(
    "",
    response_model=GateResponse,
    summary="Allow or deny a promotion",
    responses=problem_responses(400, 401, 403, 409, 413, 422, 429, 503),
)
async def gate(
    body: GateRequest, state: State, caller: Deployer, idempotency_key: IdempotencyKey = None
) -> Response:
    """Allow or deny moving `target_alias` to `model` at `version`.

    Reuses the decision recorded with an unchanged evidence fingerprint (no evidence is read), else
    one made on the same evidence digest under the same policy revisions, or reviews now.
    `allowed` is true only for an approving decision, or a blocked one whose every failing check an
    approver overrode for the same evidence. When MLflow is down, slow or failing, the
    answer is a deny with the reason in `error`; when the ledger is down the answer is 503. A
    client must treat anything but `allowed: true` as a deny.
    """
    target = body.target_alias or state.settings.target_alias
    deadline_s = state.settings.request_deadline_s
    # What follows a decision (its tags, its fingerprint) waits until the answer has been sent,
    # so that its threads do not hold the interpreter while the answer is encoded and written.
    answered = threading.Event()

    async def release() -> None:
        answered.set()

    def review() -> Future[GateResponse]:
        return state.executor.submit(
            state.gate.gate,
            body.model,
            body.version,
            target_alias=target,
            requested_by=None if caller.anonymous else caller.name,
            answered=answered,
        )

    def respond(answer: GateResponse | None, started: float) -> Response:
        if answer is None:
            state.metrics.record_error("deadline_exceeded")
            answer = _deadline_deny(body, target, deadline_s)
        elif answer.error is not None:
            # The review could not complete (MLflow down, unknown model, policies unreadable).
            state.metrics.record_error("evidence_error")
        state.metrics.record_gate(answer.allowed, answer.reused, time.perf_counter() - started)
        logger.info(
            "gate %s v%s @%s for %s: %s",
            answer.model,
            answer.version,
            answer.target_alias,
            caller.name,
            "allow" if answer.allowed else "deny",
        )
        return Response(
            content=answer.model_dump_json(),
            media_type="application/json",
            background=BackgroundTask(release),
        )

    if idempotency_key is None:
        # The common call is awaited on the event loop: no worker thread sits blocked on the
        # review executor's answer (a second thread hop on every gate call).
        started = time.perf_counter()
        try:
            # Shielded: at the deadline only the waiting stops; a review still queued in the
            # executor is not cancelled, so a later call can reuse its decision.
            answer: GateResponse | None = await asyncio.wait_for(
                asyncio.shield(asyncio.wrap_future(review())), timeout=deadline_s
            )
        except TimeoutError:
            answer = None
        return respond(answer, started)

    def handle() -> Response:
        started = time.perf_counter()
        try:
            found: GateResponse | None = review().result(timeout=deadline_s)
        except FutureTimeoutError:
            found = None
        # The answer is stored for the key before it is sent: its follow-ups need not wait.
        answered.set()
        return respond(found, started)

    return await run_in_threadpool(
        idempotent,
        state.ledger.idempotency,
        idempotency_key,
        caller=caller,
        method="POST",
        path="/v1/gate",
        body=body.model_dump_json(),
        handle=handle,
        wait_seconds=deadline_s,
    )
