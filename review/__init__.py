"""The review pipeline in one home, below the front doors.

resolve and gather (`gather`) → evaluate (`evaluate`) → investigate and decide (`decide`) →
record and publish (`service`, `publish`); the gate rules (reuse, overrides, promote) in `gate`,
with their refusals in `errors`; the alias guard (approved holders, reverts, the reconciler) in
`alias_guard`; the post-promotion watch (a pass over a champion's new monitoring windows, the
re-review an alert opens, rollback advice and automatic rollback) in `watch_runner` and
`watch_advice`. The CLI, the HTTP API, jobs and the PR bot call `ReviewService`
and `GateService`; nothing here reads settings or the environment.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
from review.service import ReviewConfig, ReviewObserver, ReviewService
from tools.lazy_exports import lazy_exports

# The watch's names are imported on first use: they bring scipy and pandas, which a review and
# the gate never need (the CLI's review would pay for them on every run). The gate's and the
# alias guard's too: a review needs neither, and they bring the ledger's fingerprints.
if TYPE_CHECKING:
    from review._watch_advice import RollbackAdvice as RollbackAdvice
    from review._watch_advice import RollbackTarget as RollbackTarget
    from review._watch_advice import WindowCost as WindowCost
    from review.alias_guard import AliasGuard as AliasGuard
    from review.alias_guard import GuardAction as GuardAction
    from review.alias_guard import GuardedAlias as GuardedAlias
    from review.alias_guard import GuardOutcome as GuardOutcome
    from review.alias_guard import HolderCheck as HolderCheck
    from review.alias_guard import ReconcileReport as ReconcileReport
    from review.alias_guard import guard_mode_for as guard_mode_for
    from review.gate import HUMAN_APPROVAL as HUMAN_APPROVAL
    from review.gate import Assessment as Assessment
    from review.gate import GateResponse as GateResponse
    from review.gate import GateService as GateService
    from review.gate import OverrideOrder as OverrideOrder
    from review.gate import PromoteResponse as PromoteResponse
    from review.watch_runner import WATCH_ACTOR as WATCH_ACTOR
    from review.watch_runner import RollbackResult as RollbackResult
    from review.watch_runner import Watcher as Watcher
    from review.watch_runner import WatchNotice as WatchNotice
    from review.watch_runner import WatchPass as WatchPass
    from review.watch_runner import WindowOutcome as WindowOutcome

_LAZY: dict[str, str] = {
    "AliasGuard": "review.alias_guard",
    "GuardAction": "review.alias_guard",
    "GuardedAlias": "review.alias_guard",
    "GuardOutcome": "review.alias_guard",
    "HolderCheck": "review.alias_guard",
    "ReconcileReport": "review.alias_guard",
    "guard_mode_for": "review.alias_guard",
    "HUMAN_APPROVAL": "review.gate",
    "Assessment": "review.gate",
    "GateResponse": "review.gate",
    "GateService": "review.gate",
    "OverrideOrder": "review.gate",
    "PromoteResponse": "review.gate",
    "RollbackAdvice": "review._watch_advice",
    "RollbackTarget": "review._watch_advice",
    "WindowCost": "review._watch_advice",
    "WATCH_ACTOR": "review.watch_runner",
    "RollbackResult": "review.watch_runner",
    "Watcher": "review.watch_runner",
    "WatchNotice": "review.watch_runner",
    "WatchPass": "review.watch_runner",
    "WindowOutcome": "review.watch_runner",
}

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, __all__)
