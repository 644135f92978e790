"""Overrides: an approver lets named failing checks pass, with a justification and an expiry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.dependencies import Approver, IdempotencyKey, State, Viewer
from api.idempotency import idempotent
from api.schemas import AliasName, ModelName, OverrideList, OverrideRequest, problem_responses
from ledger.records import Override

__all__ = ["router"]

router = APIRouter(prefix="/v1/overrides", tags=["overrides"])


@router.post(
    "",
    status_code=201,
    response_model=Override,
    summary="Override failing checks",
    responses=problem_responses(400, 401, 403, 404, 409, 422, 503),
)
def create_override(
    body: OverrideRequest, state: State, caller: Approver, idempotency_key: IdempotencyKey = None
) -> Response:
    """Let the named failing checks of a decision pass until the override expires.

    Needs the approver (or admin) role, and the caller must be among a policy's
    `overrides.approvers` when it names any. Refused (409) for checks a policy marks
    never-overridable and for reviews that failed; the expiry may not exceed a policy's
    `overrides.expires_hours`. The override applies to decisions made on the same evidence.
    """

    def handle() -> Response:
        override = state.gate.add_override(body, caller.name)
        return Response(
            content=override.model_dump_json(), status_code=201, media_type="application/json"
        )

    return idempotent(
        state.ledger.idempotency,
        idempotency_key,
        caller=caller,
        method="POST",
        path="/v1/overrides",
        body=body.model_dump_json(),
        handle=handle,
        wait_seconds=state.settings.request_deadline_s,
    )


@router.get(
    "",
    response_model=OverrideList,
    summary="Active overrides of a version",
    responses=problem_responses(401, 403, 422, 503),
)
def list_overrides(
    state: State,
    caller: Viewer,
    model: Annotated[ModelName, Query(description="Registered model name.")],
    version: Annotated[int, Query(ge=1, le=2_147_483_647, description="Version number.")],
    target_alias: Annotated[AliasName | None, Query(description="Only for this alias.")] = None,
) -> OverrideList:
    """Overrides of this version that have not expired, oldest first."""
    del caller
    return OverrideList(
        overrides=state.ledger.active_overrides(model, version, target_alias=target_alias)
    )
