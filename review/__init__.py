"""The review pipeline in one home, below the front doors.

resolve and gather (`gather`) → evaluate (`evaluate`) → investigate and decide (`decide`) →
record and publish (`service`, `publish`); the gate rules (reuse, overrides, promote) in `gate`,
with their refusals in `errors`; the alias guard (approved holders, reverts, the reconciler) in
`alias_guard`; the post-promotion watch (a pass over a champion's new monitoring windows, the
re-review an alert opens, rollback advice and automatic rollback) in `watch_runner` and
`watch_advice`. The CLI, the HTTP API, jobs and the PR bot call `ReviewService`
and `GateService`; nothing here reads settings or the environment.
"""

from review._decide import (
    ReviewOutcome,
    compose_decision,
    decide,
    error_decision,
    package_versions,
    version_hint,
)
from review._evaluate import EvaluatedEvidence, evaluate_evidence
from review._gather import gather_evidence, history_keys_for
from review._publish import decision_tags, publish_decision_tags
from review._watch_advice import RollbackAdvice, RollbackTarget, WindowCost
from review.alias_guard import (
    AliasGuard,
    GuardAction,
    GuardedAlias,
    GuardOutcome,
    HolderCheck,
    ReconcileReport,
    guard_mode_for,
)
from review.artifact_security import SecurityReport, scan_version
from review.errors import (
    ApproverNotAllowedError,
    GateError,
    InvalidOverrideError,
    MlflowUnavailableError,
    OverrideRefusedError,
    PromotionRefusedError,
    SubjectNotFoundError,
)
from review.gate import (
    HUMAN_APPROVAL,
    Assessment,
    GateResponse,
    GateService,
    OverrideOrder,
    PromoteResponse,
)
from review.service import ReviewConfig, ReviewObserver, ReviewService
from review.watch_runner import (
    WATCH_ACTOR,
    RollbackResult,
    Watcher,
    WatchNotice,
    WatchPass,
    WindowOutcome,
)

__all__ = [
    "HUMAN_APPROVAL",
    "WATCH_ACTOR",
    "AliasGuard",
    "ApproverNotAllowedError",
    "Assessment",
    "EvaluatedEvidence",
    "GateError",
    "GateResponse",
    "GateService",
    "GuardAction",
    "GuardOutcome",
    "GuardedAlias",
    "HolderCheck",
    "InvalidOverrideError",
    "MlflowUnavailableError",
    "OverrideOrder",
    "OverrideRefusedError",
    "PromoteResponse",
    "PromotionRefusedError",
    "ReconcileReport",
    "ReviewConfig",
    "ReviewObserver",
    "ReviewOutcome",
    "ReviewService",
    "RollbackAdvice",
    "RollbackResult",
    "RollbackTarget",
    "SecurityReport",
    "SubjectNotFoundError",
    "WatchNotice",
    "WatchPass",
    "Watcher",
    "WindowCost",
    "WindowOutcome",
    "compose_decision",
    "decide",
    "decision_tags",
    "error_decision",
    "evaluate_evidence",
    "gather_evidence",
    "guard_mode_for",
    "history_keys_for",
    "package_versions",
    "publish_decision_tags",
    "scan_version",
    "version_hint",
]
