"""The MLflow event front door of one API app: receiver state, alias guard, jobs, reconciler loop.

`install_mlflow_events(app, state)` builds it from the app's settings and services (the app mounts
the webhook route, `api.routers.mlflow_webhook`), and counts notifications and guard checks in
the app's ``/metrics``. The app's lifespan calls `start` (the periodic reconciler) and `stop`.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Final

from fastapi import FastAPI

from api._event_metrics import EventMetrics
from api._event_processor import EventProcessor
from api._notifications import Notification, Notifier
from ledger.errors import LedgerError
from ledger.idempotency import IdempotencyStore
from policies.decision import Decision
from review.alias_guard import AliasGuard, GuardOutcome, ReconcileReport

if TYPE_CHECKING:
    from api.dependencies import AppState
    from review.service import ReviewObserver

__all__ = ["DELIVERY_CALLER", "MlflowEvents", "install_mlflow_events", "outcome_notification"]

logger = logging.getLogger("promogate.api")

DELIVERY_CALLER: Final = "mlflow-webhook"
"""Delivery ids are kept as idempotency keys of this caller (one row per delivery)."""


def outcome_notification(outcome: GuardOutcome) -> Notification | None:
    """The notification a guard outcome deserves, if any."""
    if outcome.action == "reported":
        mode = "recorded (audit)" if outcome.mode == "audit" else "recorded; putting it back"
        return Notification(
            kind="unapproved_alias_move",
            model=outcome.model,
            version=outcome.version,
            alias=outcome.alias,
            summary=f"@{outcome.alias} was moved to v{outcome.version} without an allowing "
            f"decision; {mode}. promogate last approved "
            + (f"v{outcome.expected_version}." if outcome.expected_version else "no version."),
            reasons=outcome.reasons,
            record_id=outcome.move_id,
        )
    if outcome.action in ("reverted", "removed"):
        where = (
            f"put back on v{outcome.expected_version}"
            if outcome.action == "reverted"
            else "removed (promogate never approved a version for it)"
        )
        return Notification(
            kind="alias_revert",
            model=outcome.model,
            version=outcome.version,
            alias=outcome.alias,
            summary=f"@{outcome.alias} was {where}; it had been moved to v{outcome.version} "
            "without approval.",
            reasons=outcome.reasons,
            record_id=outcome.revert_id,
        )
    if outcome.action == "failed":
        return Notification(
            kind="guard_failure",
            model=outcome.model,
            version=outcome.version,
            alias=outcome.alias,
            summary=f"@{outcome.alias} could not be checked; the reconciler will try again.",
            reasons=outcome.reasons,
            record_id=outcome.move_id,
        )
    return None


class MlflowEvents:
    """Everything the webhook route and the reconciler loop share.

    Args:
        state: The app's state (settings, review and gate services, metrics).
    """

    def __init__(self, state: AppState) -> None:
        settings = state.settings
        self.settings = settings
        self.state = state
        self.metrics = EventMetrics(state.metrics.registry)
        self.notifier = Notifier(
            settings.notify_url,
            form=settings.notify_format,
            secret=(
                settings.notify_secret.get_secret_value()
                if settings.notify_secret is not None
                else None
            ),
            attempts=settings.notify_attempts,
            on_outcome=self.metrics.record_notification,
        )
        self.guard = AliasGuard(
            state.gate, default_alias=settings.target_alias, notify=self._notify_outcome
        )
        self.processor = EventProcessor(
            state.reviews,
            self.guard,
            notify=self.notifier.notify,
            default_alias=settings.target_alias,
            on_job=lambda event, outcome: self.metrics.event_jobs.labels(
                event=event, outcome=outcome
            ).inc(),
            on_guard=lambda o: self.metrics.guard_checks.labels(
                action=o.action, source="webhook"
            ).inc(),
        )
        self.deliveries = IdempotencyStore(state.ledger.database)
        self._observer: ReviewObserver | None = state.reviews.observer
        state.reviews.observer = self._observe_decision
        self._stop = threading.Event()
        self._loop: threading.Thread | None = None

    @property
    def secret(self) -> str | None:
        secret = self.settings.mlflow_webhook_secret
        return secret.get_secret_value() if secret is not None else None

    def _notify_outcome(self, outcome: GuardOutcome) -> None:
        notification = outcome_notification(outcome)
        if notification is not None:
            self.notifier.notify(notification)

    def _observe_decision(self, decision: Decision, seconds: float) -> None:
        if self._observer is not None:
            self._observer(decision, seconds)
        if decision.verdict in ("block", "escalate"):
            self.notifier.notify(
                Notification(
                    kind="block" if decision.verdict == "block" else "escalate",
                    model=decision.model,
                    version=decision.version,
                    alias=decision.target_alias,
                    summary=f"v{decision.version} for @{decision.target_alias}: "
                    f"{decision.verdict}"
                    + (f" (the review failed: {decision.error})" if decision.error else ""),
                    reasons=decision.reasons[:10],
                    record_id=decision.id,
                )
            )

    def reconcile_once(self) -> ReconcileReport:
        """One reconciler pass, counted in the metrics."""
        report = self.guard.reconcile(deadline_s=self.settings.reconcile_deadline_s)
        for outcome in report.outcomes:
            self.metrics.guard_checks.labels(action=outcome.action, source="reconciler").inc()
        return report

    def _run_loop(self) -> None:
        interval = self.settings.reconcile_interval_s
        while not self._stop.wait(interval):
            try:
                report = self.reconcile_once()
            except LedgerError as exc:
                logger.warning("reconciler pass failed: %s", exc)
                continue
            if report.unapproved or report.errors:
                logger.warning(
                    "reconciler: %d unapproved alias(es), %d error(s) in %.1f s",
                    len(report.unapproved),
                    len(report.errors),
                    report.seconds,
                )

    def start(self) -> None:
        """Start the periodic reconciler (unless its interval is 0)."""
        if self.settings.reconcile_interval_s <= 0 or self._loop is not None:
            return
        self._stop.clear()
        self._loop = threading.Thread(
            target=self._run_loop, name="promogate-reconciler", daemon=True
        )
        self._loop.start()

    def stop(self) -> None:
        """Stop the reconciler loop, the event jobs and the notifier."""
        self._stop.set()
        if self._loop is not None:
            self._loop.join(timeout=5.0)
            self._loop = None
        self.processor.close()
        self.notifier.close()


def install_mlflow_events(app: FastAPI, state: AppState) -> MlflowEvents:
    """Build the event front door for `app` (its route is `api.routers.mlflow_webhook`).

    Args:
        app: The API app.
        state: Its state.
    """
    events = MlflowEvents(state)
    app.state.promogate_events = events
    return events
