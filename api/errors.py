"""Typed refusals of the HTTP API, each with the status code and error kind it is answered with.

ApiError(status, kind)
├── UnauthenticatedError               401: no bearer token, or an unknown or revoked one
├── ForbiddenError                     403: the token's role may not do this
├── NotFoundApiError                   404: no such review, decision, model or version
├── RefusedError                       409: the request conflicts with the ledger or a policy
│   ├── PromotionRefusedError          no approving decision for the current evidence
│   └── OverrideRefusedError           a check cannot be overridden (never-overridable, ...)
├── InvalidRequestError                422: well-formed but not acceptable (unknown check id)
└── UnavailableError                   503: MLflow, the ledger or the job queue is down

The review pipeline's refusals (`review.errors.GateError`) become these through `api_error_for`.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse

from review.errors import (
    ApproverNotAllowedError,
    GateError,
    InvalidOverrideError,
    MlflowUnavailableError,
    SubjectNotFoundError,
)
from review.errors import OverrideRefusedError as GateOverrideRefusedError
from review.errors import PromotionRefusedError as GatePromotionRefusedError

__all__ = [
    "ApiError",
    "ForbiddenError",
    "InvalidRequestError",
    "JobQueueUnavailableError",
    "NotFoundApiError",
    "OverrideRefusedError",
    "PromotionRefusedError",
    "RefusedError",
    "UnauthenticatedError",
    "UnavailableError",
    "api_error_for",
    "problem_response",
]


class ApiError(Exception):
    """A refusal with an HTTP status code and a machine-readable kind."""

    status_code = 500
    kind = "internal"

    def __init__(self, detail: str, *, kind: str | None = None) -> None:
        self.detail = detail
        if kind is not None:
            self.kind = kind
        super().__init__(detail)


class UnauthenticatedError(ApiError):
    status_code = 401
    kind = "unauthenticated"


class ForbiddenError(ApiError):
    status_code = 403
    kind = "forbidden"


class NotFoundApiError(ApiError):
    status_code = 404
    kind = "not_found"


class RefusedError(ApiError):
    status_code = 409
    kind = "refused"


class PromotionRefusedError(RefusedError):
    kind = "promotion_refused"


class OverrideRefusedError(RefusedError):
    kind = "override_refused"


class InvalidRequestError(ApiError):
    status_code = 422
    kind = "invalid_request"


class UnavailableError(ApiError):
    status_code = 503
    kind = "unavailable"


class JobQueueUnavailableError(UnavailableError):
    kind = "jobs_unavailable"


def api_error_for(exc: GateError) -> ApiError:
    """The HTTP refusal for a refusal of the gate rules (status code and kind by its class)."""
    if isinstance(exc, SubjectNotFoundError):
        return NotFoundApiError(exc.detail)
    if isinstance(exc, InvalidOverrideError):
        return InvalidRequestError(exc.detail)
    if isinstance(exc, ApproverNotAllowedError):
        return ForbiddenError(exc.detail)
    if isinstance(exc, GatePromotionRefusedError):
        return PromotionRefusedError(exc.detail)
    if isinstance(exc, GateOverrideRefusedError):
        return OverrideRefusedError(exc.detail)
    if isinstance(exc, MlflowUnavailableError):
        return UnavailableError(exc.detail, kind="mlflow_unavailable")
    return RefusedError(exc.detail)


def problem_response(
    status_code: int,
    detail: str,
    kind: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A JSON error answer in the shape of `api.schemas.Problem`.

    Args:
        status_code: HTTP status code.
        detail: What went wrong, for a human.
        kind: Error class, for a machine (e.g. ``ledger_unavailable``).
        errors: Field-level validation errors, for 422 answers.
        headers: Extra response headers (``WWW-Authenticate`` on 401).
    """
    body: dict[str, Any] = {"detail": detail, "kind": kind}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status_code, headers=headers)
