"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    StringConstraints,
)

from api._model_name import ModelName
from ledger.records import Override
from policies.decision import Decision
from review.gate import GateResponse, PromoteResponse

__all__ = [
    "MAX_VERSION",
    "AliasName",
    "CheckReadiness",
    "GateRequest",
    "GateResponse",
    "Health",
    "ModelName",
    "OverrideList",
    "OverrideRequest",
    "Problem",
    "PromoteRequest",
    "PromoteResponse",
    "Readiness",
    "Review",
    "ReviewList",
    "ReviewRequest",
    "ReviewState",
    "VersionNumber",
    "VersionRefInput",
    "problem_responses",
]

MAX_VERSION = 2_147_483_647
"""MLflow stores version numbers as 32-bit integers (and so does the ledger on PostgreSQL)."""


def _version_text_in_range(value: str) -> str:
    if value[:1] != "@" and value != "latest" and int(value.removeprefix("v")) > MAX_VERSION:
        raise ValueError(f"version {value!r} is above the largest version number {MAX_VERSION}")
    return value


AliasName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=255, pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"),
    Field(description="A registered model alias, e.g. 'champion'.", examples=["champion"]),
]
VersionNumber = Annotated[
    StrictInt, Field(ge=1, le=MAX_VERSION, description="Model version number (a JSON integer).")
]
VersionRefInput = (
    VersionNumber
    | Annotated[
        StrictStr,
        StringConstraints(
            pattern=r"^(v?[1-9][0-9]{0,9}|latest|@[A-Za-z0-9_][A-Za-z0-9_.-]{0,254})$"
        ),
        AfterValidator(_version_text_in_range),
        Field(
            description="A version number as text ('5' or 'v5'; no sign, no leading zero, no "
            f"spaces, at most {MAX_VERSION}), 'latest', or '@alias'.",
            examples=["5", "v5", "latest", "@challenger"],
        ),
    ]
)
ReviewState = Literal["queued", "running", "completed", "failed"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReviewRequest(_Body):
    """Review `model` at `version` for promotion to `target_alias`."""

    model: ModelName
    version: VersionRefInput
    target_alias: AliasName | None = Field(
        default=None,
        description="The alias the promotion would move; the server's default if unset.",
    )
    baseline_alias: AliasName | None = Field(
        default=None, description="Alias of the version to compare against; 'champion' by default."
    )


class Review(BaseModel):
    """A review: queued or running as a job, or completed with its decision."""

    review_id: str
    state: ReviewState
    decision: Decision | None = None
    detail: str | None = Field(default=None, description="Why a job failed, when it did.")


class ReviewList(BaseModel):
    """Completed reviews of a model (and version), newest first."""

    reviews: list[Review]


class GateRequest(_Body):
    """May `model` at `version` take `target_alias` now?"""

    model: ModelName
    version: VersionRefInput
    target_alias: AliasName | None = None


class PromoteRequest(_Body):
    """Move `target_alias` to `model` at `version`, if an approving decision allows it."""

    model: ModelName
    version: VersionNumber
    target_alias: AliasName | None = None


class OverrideRequest(_Body):
    """Let named failing checks of one decision pass, with a justification and an expiry."""

    model: ModelName
    version: VersionNumber
    target_alias: AliasName | None = None
    check_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] = Field(
        min_length=1,
        max_length=100,
        description="Ids of the failing checks to let pass; 'escalation' approves an escalated "
        "decision as the human it escalated to.",
    )
    justification: Annotated[str, StringConstraints(min_length=10, max_length=4000)] = Field(
        description="Why the promotion may proceed despite the failing checks."
    )
    expires_in_hours: float = Field(
        gt=0, le=24 * 365, description="How long the override lasts; a policy may cap it."
    )
    decision_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The decision overridden; the latest for the version if unset."
    )


class OverrideList(BaseModel):
    """Overrides in force for a model version."""

    overrides: list[Override]


class Health(BaseModel):
    """Liveness: the process answers."""

    status: Literal["ok"] = "ok"


class CheckReadiness(BaseModel):
    """One dependency's readiness."""

    ok: bool
    detail: str


class Readiness(BaseModel):
    """Readiness: MLflow, the ledger database and the job queue are reachable, and the process
    has warmed up."""

    ready: bool
    checks: dict[str, CheckReadiness] | None = Field(
        default=None, description="Each dependency's state; only for a caller with a valid token."
    )


class Problem(BaseModel):
    """An error answer (4xx or 5xx). A 503 means the gate cannot decide: treat it as a deny."""

    detail: str
    kind: str | None = Field(default=None, description="Error class, e.g. 'ledger_unavailable'.")
    errors: list[dict[str, Any]] | None = Field(
        default=None, description="Field-level errors of a request that failed validation."
    )


_PROBLEM_DESCRIPTIONS = {
    400: "The body could not be parsed (not JSON, or not in the declared encoding).",
    401: "Missing, unknown or revoked bearer token.",
    403: "The token's role may not do this, or a policy does not let this approver override.",
    404: "No such review, decision, model or version.",
    409: "Refused: conflicts with the recorded decisions or a policy, or the same "
    "Idempotency-Key is still being answered.",
    413: "The request body is over the server's size limit.",
    429: "This token started too many reviews in the last minute; retry after `Retry-After` s.",
    422: "The request is not valid (fields, unknown checks, expiry), or its Idempotency-Key was "
    "used for a different request.",
    503: "MLflow, the ledger database or the job queue is unavailable. Treat it as a deny.",
}


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for error answers with a `Problem` body.

    Args:
        codes: HTTP status codes the route can answer with.
    """
    return {
        code: {"model": Problem, "description": _PROBLEM_DESCRIPTIONS.get(code, "Error.")}
        for code in codes
    }
