"""The review pipeline in one home, below the front doors.

resolve and gather (`gather`) → evaluate (`evaluate`) → investigate and decide (`decide`) →
record and publish (`service`, `publish`); the gate rules (reuse, overrides, promote) in `gate`,
with their refusals in `errors`. The CLI, the HTTP API, jobs and the PR bot call `ReviewService`
and `GateService`; nothing here reads settings or the environment.
"""

from review.decide import (
    ReviewOutcome,
    compose_decision,
    decide,
    error_decision,
    package_versions,
    version_hint,
)
from review.errors import (
    ApproverNotAllowedError,
    GateError,
    InvalidOverrideError,
    MlflowUnavailableError,
    OverrideRefusedError,
    PromotionRefusedError,
    SubjectNotFoundError,
)
from review.evaluate import EvaluatedEvidence, evaluate_evidence
from review.gate import (
    HUMAN_APPROVAL,
    Assessment,
    GateResponse,
    GateService,
    OverrideOrder,
    PromoteResponse,
)
from review.gather import gather_evidence, history_keys_for
from review.publish import decision_tags, publish_decision_tags
from review.service import ReviewConfig, ReviewObserver, ReviewService

__all__ = [
    "HUMAN_APPROVAL",
    "ApproverNotAllowedError",
    "Assessment",
    "EvaluatedEvidence",
    "GateError",
    "GateResponse",
    "GateService",
    "InvalidOverrideError",
    "MlflowUnavailableError",
    "OverrideOrder",
    "OverrideRefusedError",
    "PromoteResponse",
    "PromotionRefusedError",
    "ReviewConfig",
    "ReviewObserver",
    "ReviewOutcome",
    "ReviewService",
    "SubjectNotFoundError",
    "compose_decision",
    "decide",
    "decision_tags",
    "error_decision",
    "evaluate_evidence",
    "gather_evidence",
    "history_keys_for",
    "package_versions",
    "publish_decision_tags",
    "version_hint",
]
