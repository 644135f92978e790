"""Overrides: an approver lets named failing checks pass, with a justification and an expiry."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from pydantic import BaseModel, ConfigDict, StringConstraints

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
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
)
def create_override(
    body: OverrideRequest, state: State, caller: Approver, idempotency_key: IdempotencyKey = None
) -> Response:
    """Let the named failing checks of a decision pass until the override expires.

    Needs the approver (or admin) role, and the caller must be among a policy's
    `overrides.approvers` when it names any. Refused (409) for checks a policy marks
    never-overridable and for reviews that failed; the expiry may not exceed a policy's
    `overrides.expires_in_hours`. The override applies to decisions made on the same evidence.
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


class RevokeRequest(BaseModel):
    """Why an override is revoked before it expires."""

    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(min_length=3, max_length=4000)]


@router.post(
    "/{override_id}/revoke",
    summary="Revoke an override",
    responses=problem_responses(400, 401, 403, 404, 409, 413, 422, 503),
)
def revoke_override(
    override_id: Annotated[str, Path(min_length=1, max_length=128)],
    body: RevokeRequest,
    state: State,
    caller: Approver,
) -> dict[str, Any]:
    """Revoke an override before it expires (approver role); decisions it covered block again.

    Recorded as its own ledger record; the override itself is never edited.
    """
    from ledger.errors import LedgerError, RecordNotFoundError
    from ledger.override_revocations import revoke_override as revoke

    try:
        return revoke(state.ledger, override_id, revoked_by=caller.name, reason=body.reason)
    except RecordNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except LedgerError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
