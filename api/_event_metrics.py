"""Prometheus metrics of MLflow events: deliveries, guard checks, event jobs and notifications.

They are registered in the API app's own registry (`api.metrics.ApiMetrics.registry`), so they are
served by ``/metrics`` beside the request and review metrics.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from api._notifications import DeliveryOutcome, NotificationKind

__all__ = ["EventMetrics"]


class EventMetrics:
    """The collectors of the event front door, in the registry given.

    Args:
        registry: The app's registry.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "promogate_mlflow_webhook_deliveries",
            "MLflow webhook deliveries, by outcome (accepted, or why they were refused).",
            ["outcome"],
            registry=registry,
        )
        self.event_jobs = Counter(
            "promogate_mlflow_event_jobs",
            "Event jobs finished, by event and outcome.",
            ["event", "outcome"],
            registry=registry,
        )
        self.guard_checks = Counter(
            "promogate_alias_guard_checks",
            "Alias guard checks, by what they did (none, accepted, reported, reverted, ...).",
            ["action", "source"],
            registry=registry,
        )
        self.notifications = Counter(
            "promogate_notifications",
            "Outgoing notifications, by kind and outcome (delivered or failed after retries).",
            ["kind", "outcome"],
            registry=registry,
        )
        for outcome in ("delivered", "failed"):
            self.notifications.labels(kind="unapproved_alias_move", outcome=outcome)

    def record_notification(self, kind: NotificationKind, outcome: DeliveryOutcome) -> None:
        """Count one notification's final outcome."""
        self.notifications.labels(kind=kind, outcome=outcome).inc()
