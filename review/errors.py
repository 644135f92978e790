"""Refusals of the gate rules, as domain errors; the HTTP layer maps each to a status code.

    GateError                       the gate rules refuse what was asked
    ├── SubjectNotFoundError        no such model, version or decision            (HTTP 404)
    ├── InvalidOverrideError        an override names unknown or passing checks,
    │                               or asks for too long an expiry                (HTTP 422)
    ├── ApproverNotAllowedError     a policy names its approvers; this one is not (HTTP 403)
    ├── PromotionRefusedError       no allowing decision on the current evidence  (HTTP 409)
    ├── OverrideRefusedError        a check cannot be overridden, or the review
    │                               failed, or the decision already approves      (HTTP 409)
    └── MlflowUnavailableError      MLflow cannot be reached; nothing was moved   (HTTP 503)

A review itself never raises these: a review that cannot complete is a blocking decision.
"""

from __future__ import annotations

__all__ = [
    "ApproverNotAllowedError",
    "GateError",
    "InvalidOverrideError",
    "MlflowUnavailableError",
    "OverrideRefusedError",
    "PromotionRefusedError",
    "SubjectNotFoundError",
]


class GateError(Exception):
    """Base class of the gate rules' refusals; `detail` says what was refused and why."""

    def __init__(self, detail: str) -> None:
        self.detail = detail
        super().__init__(detail)


class SubjectNotFoundError(GateError):
    """No such model, version or decision."""


class InvalidOverrideError(GateError):
    """An override names unknown or passing checks, or asks for a longer expiry than allowed."""


class ApproverNotAllowedError(GateError):
    """A policy names who may override its checks, and the approver is not among them."""


class PromotionRefusedError(GateError):
    """No decision on the current evidence allows the promotion."""


class OverrideRefusedError(GateError):
    """The checks cannot be overridden (never-overridable, failed review, already approved)."""


class MlflowUnavailableError(GateError):
    """MLflow cannot be reached, so nothing was read or moved."""
