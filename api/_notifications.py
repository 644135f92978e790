"""Outgoing notifications: blocks, escalations, unapproved alias moves, reverts and forged tags.

One configurable webhook (``PROMOGATE_NOTIFY_URL``) in one of two forms:

- ``slack``: Slack-compatible JSON (``text`` plus ``blocks``), for an incoming-webhook URL;
- ``generic``: the notification as JSON, signed like MLflow's own webhooks
  (``X-Promogate-Signature: v1,<base64 HMAC-SHA256(secret, "<id>.<timestamp>.<body>")>``, with
  ``X-Promogate-Delivery-Id`` and ``X-Promogate-Timestamp``), so a receiver can verify it with
  `api.webhook_signature.verify_delivery`.

Delivery happens on a background thread with retries (connection errors, timeouts, 429 and 5xx,
with exponential backoff). A notification that still cannot be delivered is logged and counted
(``promogate_notifications_total{outcome="failed"}``); it never blocks or fails the guard or the
review that raised it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final, Literal
from uuid import uuid4

import httpx
from pydantic import BaseModel, ConfigDict, Field

from api.webhook_signature import sign

__all__ = [
    "DeliveryOutcome",
    "Notification",
    "NotificationForm",
    "NotificationKind",
    "Notifier",
    "slack_payload",
]

logger = logging.getLogger("promogate.api")

NotificationKind = Literal[
    "block",
    "escalate",
    "unapproved_alias_move",
    "alias_revert",
    "forged_tag",
    "guard_failure",
    "watch_alert",
    "watch_rollback",
]
NotificationForm = Literal["slack", "generic"]
DeliveryOutcome = Literal["delivered", "failed"]

_RETRIED_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})
_TITLES: Final[dict[str, str]] = {
    "block": ":no_entry: promotion blocked",
    "escalate": ":raising_hand: promotion escalated to a human",
    "unapproved_alias_move": ":rotating_light: alias moved without approval",
    "alias_revert": ":leftwards_arrow_with_hook: alias put back",
    "forged_tag": ":warning: hand-written promogate tag",
    "guard_failure": ":x: alias guard could not check an alias",
    "watch_alert": ":chart_with_downwards_trend: champion alert after promotion",
    "watch_rollback": ":rewind: champion rolled back after a watch alert",
}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Notification(BaseModel):
    """One thing worth telling people about, with the records behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"ntf-{uuid4().hex}")
    kind: NotificationKind
    model: str
    version: int | None = None
    alias: str | None = None
    summary: str
    reasons: list[str] = Field(default_factory=list)
    record_id: str | None = Field(default=None, description="The ledger record it is about.")
    created_at: datetime = Field(default_factory=_utc_now)


def slack_payload(notification: Notification) -> dict[str, Any]:
    """The notification as a Slack incoming-webhook message.

    Args:
        notification: What to say.
    """
    title = _TITLES.get(notification.kind, notification.kind)
    subject = notification.model
    if notification.version is not None:
        subject += f" v{notification.version}"
    if notification.alias is not None:
        subject += f" @{notification.alias}"
    lines = [f"*{title}*: `{subject}`", notification.summary]
    lines += [f"• {reason}" for reason in notification.reasons[:10]]
    if notification.record_id is not None:
        lines.append(f"ledger record `{notification.record_id}`")
    text = "\n".join(lines)
    return {
        "text": f"{title}: {subject}: {notification.summary}",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
    }


class Notifier:
    """Posts notifications to one webhook in the background, with retries.

    Args:
        url: Where to post; None disables notifications (they are only logged).
        form: ``slack`` or ``generic``.
        secret: Signs the generic form; None sends it unsigned.
        attempts: Tries per notification (at least 1).
        timeout_s: Per-attempt timeout.
        backoff_s: First pause between attempts; doubles each time.
        on_outcome: Called with the kind and the outcome of every notification (metrics).
        transport: httpx transport (tests); the default network transport when None.
    """

    def __init__(
        self,
        url: str | None,
        *,
        form: NotificationForm = "slack",
        secret: str | None = None,
        attempts: int = 3,
        timeout_s: float = 5.0,
        backoff_s: float = 0.5,
        on_outcome: Callable[[NotificationKind, DeliveryOutcome], None] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = url
        self.form: NotificationForm = form
        self._secret = secret
        self.attempts = max(1, attempts)
        self.timeout_s = timeout_s
        self.backoff_s = backoff_s
        self.on_outcome = on_outcome
        self._transport = transport
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="promogate-notify")
        self._lock = threading.Lock()
        self._pending: set[Future[bool]] = set()

    def notify(self, notification: Notification) -> Future[bool] | None:
        """Queue the notification; never raises. None when no URL is configured."""
        logger.info(
            "notification %s: %s %s v%s @%s",
            notification.id,
            notification.kind,
            notification.model,
            notification.version,
            notification.alias,
        )
        if self.url is None:
            return None
        try:
            future = self._pool.submit(self.send, notification)
        except RuntimeError:
            logger.warning("notification %s dropped: the notifier is closed", notification.id)
            self._count(notification.kind, "failed")
            return None
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)
        return future

    def _done(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(future)

    def send(self, notification: Notification) -> bool:
        """Deliver now, retrying; True when the receiver accepted it. Never raises."""
        if self.url is None:
            return False
        body, headers = self._request(notification)
        pause = self.backoff_s
        problem = "no attempt made"
        with httpx.Client(timeout=self.timeout_s, transport=self._transport) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = client.post(self.url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                else:
                    if response.status_code < 300:
                        self._count(notification.kind, "delivered")
                        return True
                    problem = f"HTTP {response.status_code}"
                    if response.status_code not in _RETRIED_STATUSES:
                        break
                if attempt < self.attempts:
                    time.sleep(pause)
                    pause *= 2
        logger.warning(
            "notification %s (%s) not delivered after %d attempt(s): %s",
            notification.id,
            notification.kind,
            attempt,
            problem,
        )
        self._count(notification.kind, "failed")
        return False

    def _request(self, notification: Notification) -> tuple[bytes, dict[str, str]]:
        headers = {"Content-Type": "application/json"}
        if self.form == "slack":
            return json.dumps(slack_payload(notification)).encode(), headers
        body = notification.model_dump_json().encode()
        timestamp = str(int(time.time()))
        headers["X-Promogate-Delivery-Id"] = notification.id
        headers["X-Promogate-Timestamp"] = timestamp
        if self._secret is not None:
            headers["X-Promogate-Signature"] = sign(self._secret, notification.id, timestamp, body)
        return body, headers

    def _count(self, kind: NotificationKind, outcome: DeliveryOutcome) -> None:
        if self.on_outcome is not None:
            self.on_outcome(kind, outcome)

    def flush(self, timeout: float = 30.0) -> None:
        """Wait for queued notifications to finish (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            if not pending:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            pending[0].exception(timeout=remaining)

    def close(self) -> None:
        """Stop taking notifications; queued ones still go out."""
        self._pool.shutdown(wait=False)
