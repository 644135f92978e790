"""`Idempotency-Key` on POSTs: a retried request gets the first response, never a second effect.

Responses below 500 are stored (a refusal is an answer too: the retry gets the same refusal); a 5xx
or an exception releases the key, so a retry after an outage runs afresh. Keys are scoped per
caller and stored in the ledger database, so every API replica sees them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import Response

from api.auth import Principal
from api.errors import ApiError, api_error_for, problem_response
from ledger.errors import LedgerError
from ledger.idempotency import IdempotencyStore
from review.errors import GateError

__all__ = ["REPLAY_HEADER", "idempotent"]

logger = logging.getLogger("promogate.api")

REPLAY_HEADER = "Idempotency-Replayed"


def _answer(handle: Callable[[], Response]) -> Response:
    try:
        try:
            return handle()
        except GateError as refusal:
            raise api_error_for(refusal) from refusal
    except ApiError as exc:
        if exc.status_code >= 500:
            raise
        return problem_response(exc.status_code, exc.detail, exc.kind)


def idempotent(
    store: IdempotencyStore,
    key: str | None,
    *,
    caller: Principal,
    method: str,
    path: str,
    body: str,
    handle: Callable[[], Response],
    wait_seconds: float = 30.0,
) -> Response:
    """Answer a POST once per Idempotency-Key: run `handle`, or replay what it answered before.

    Args:
        store: The ledger's idempotency store.
        key: The ``Idempotency-Key`` header, or None to run `handle` unconditionally.
        caller: The authenticated caller (keys are scoped per caller).
        method: HTTP method.
        path: Path and the query parameters that change the meaning of the request.
        body: The validated request body, serialised (so equivalent JSON texts compare equal).
        handle: Produces the response; `ApiError` refusals below 500 become stored answers.
        wait_seconds: How long a duplicate waits for the first request still in progress
            (then 409).

    Raises:
        IdempotencyConflictError: The key was used for a different request (422).
        IdempotencyInProgressError: The first request is still running (409).
    """
    if key is None:
        return _answer(handle)
    claim = store.claim(
        key, caller=caller.id, method=method, path=path, body=body, wait_seconds=wait_seconds
    )
    if claim.response is not None:
        stored = claim.response
        return Response(
            content=stored.body,
            status_code=stored.status_code,
            media_type=stored.media_type,
            headers={REPLAY_HEADER: "true"},
        )
    try:
        response = _answer(handle)
    except BaseException:
        _release(key, lambda: store.release(claim))
        raise
    if response.status_code >= 500:
        _release(key, lambda: store.release(claim))
        return response
    content = bytes(response.body).decode("utf-8")
    try:
        store.complete(
            claim, response.status_code, content, response.media_type or "application/json"
        )
    except LedgerError as exc:
        # The work is done and answered; a retry within the claim's lease gets 409, later reruns.
        logger.warning("idempotency key %r: response not stored: %s", key, exc)
    return response


def _release(key: str, release: Callable[[], bool]) -> None:
    try:
        release()
    except LedgerError as exc:
        logger.warning("idempotency key %r could not be released: %s", key, exc)
