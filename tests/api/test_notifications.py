"""Outgoing notifications to a real loopback receiver: both forms, retries, a receiver down."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api._notifications import DeliveryOutcome, Notification, NotificationKind, Notifier
from api.webhook_signature import verify_delivery
from benchmarks._events_stack import NotificationSink
from benchmarks._mlflow_server import free_port

NOTE = Notification(
    kind="alias_revert",
    model="fraud",
    version=7,
    alias="champion",
    summary="@champion was put back on v6",
    reasons=["decision d-1 is block"],
    record_id="arv-1",
)


@pytest.fixture
def sink() -> Iterator[NotificationSink]:
    with NotificationSink() as running:
        yield running


def test_slack_form(sink: NotificationSink) -> None:
    assert Notifier(sink.url, form="slack").send(NOTE)
    (payload,) = sink.payloads()
    assert payload["text"].startswith(":leftwards_arrow_with_hook: alias put back: fraud v7")
    block = payload["blocks"][0]
    assert block["type"] == "section" and "`arv-1`" in block["text"]["text"]


def test_generic_form_is_signed(sink: NotificationSink) -> None:
    assert Notifier(sink.url, form="generic", secret="s3cret").send(NOTE)
    ((headers, body),) = sink.received
    assert Notification.model_validate_json(body) == NOTE
    verify_delivery(
        secret="s3cret",
        body=body,
        signature=headers["X-Promogate-Signature"],
        delivery_id=headers["X-Promogate-Delivery-Id"],
        timestamp=headers["X-Promogate-Timestamp"],
        now=time.time(),
        tolerance_s=60,
    )


def test_a_failing_receiver_is_retried_then_counted(sink: NotificationSink) -> None:
    outcomes: list[tuple[NotificationKind, DeliveryOutcome]] = []
    sink.mode = "http_503"
    notifier = Notifier(
        sink.url, attempts=3, backoff_s=0.01, on_outcome=lambda k, o: outcomes.append((k, o))
    )
    assert not notifier.send(NOTE)
    assert outcomes == [("alias_revert", "failed")]
    sink.mode = "ok"
    assert notifier.send(NOTE)
    assert outcomes[-1] == ("alias_revert", "delivered")


def test_a_receiver_that_is_down_never_raises() -> None:
    outcomes: list[DeliveryOutcome] = []
    notifier = Notifier(
        f"http://127.0.0.1:{free_port()}/notify",
        attempts=2,
        backoff_s=0.01,
        timeout_s=2.0,
        on_outcome=lambda _, o: outcomes.append(o),
    )
    future = notifier.notify(NOTE)
    assert future is not None and future.result(timeout=30) is False
    assert outcomes == ["failed"]
    notifier.close()


def test_without_a_url_nothing_is_sent() -> None:
    assert Notifier(None).notify(NOTE) is None
