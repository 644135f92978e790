"""Promotion: move the alias, only on an allowing decision for the current evidence."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api.dependencies import IdempotencyKey, Promoter, State
from api.idempotency import idempotent
from api.schemas import PromoteRequest, PromoteResponse, problem_responses

__all__ = ["router"]

router = APIRouter(prefix="/v1/promote", tags=["promote"])


@router.post(
    "",
    response_model=PromoteResponse,
    summary="Move the alias to an approved version",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def promote(
    body: PromoteRequest, state: State, caller: Promoter, idempotency_key: IdempotencyKey = None
) -> Response:
    """Move `target_alias` to `model` at `version`.

    Only when the ledger holds a decision made on the version's current evidence (same digest,
    same policy revisions) that allows it: an approval, or a block whose failing checks are all
    overridden. Nothing is reviewed here; a refusal (409) says what is missing. The promotion is
    appended to the ledger and tagged on the model version.
    """

    def handle() -> Response:
        answer = state.gate.promote(
            body.model, body.version, target_alias=body.target_alias, actor=caller.name
        )
        return Response(content=answer.model_dump_json(), media_type="application/json")

    return idempotent(
        state.ledger.idempotency,
        idempotency_key,
        caller=caller,
        method="POST",
        path="/v1/promote",
        body=body.model_dump_json(),
        handle=handle,
        wait_seconds=state.settings.request_deadline_s,
    )
