"""MLflow webhook signatures: compute and verify, before anything in the body is parsed.

MLflow 3 signs each delivery as ``X-MLflow-Signature: v1,<base64 HMAC-SHA256(secret,
"<X-MLflow-Delivery-Id>.<X-MLflow-Timestamp>.<raw body>")>``. A delivery is accepted only when the
signature matches (compared in constant time) and its timestamp lies within a window of now; MLflow
retries a delivery with its first timestamp, so the window must cover its retries. Replays (a
delivery id already seen) are refused by the receiver, which keeps the ids.

The same scheme signs promogate's own generic notifications (`api._notifications`), so a receiver
can verify both with one function.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Final, Literal

__all__ = [
    "SIGNATURE_VERSION",
    "RejectionReason",
    "WebhookRejectedError",
    "sign",
    "verify_delivery",
]

SIGNATURE_VERSION: Final = "v1"
_MAX_ID_LENGTH: Final = 255

RejectionReason = Literal[
    "unsigned", "bad_signature", "bad_timestamp", "stale", "bad_delivery_id", "replayed"
]


class WebhookRejectedError(Exception):
    """A delivery refused before its body was read: why, in a word, and in a sentence."""

    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(detail)
        self.reason: RejectionReason = reason
        self.detail = detail


def sign(secret: str, delivery_id: str, timestamp: str, body: bytes) -> str:
    """The ``v1,<base64>`` signature of one delivery.

    Args:
        secret: The shared webhook secret.
        delivery_id: The delivery id header.
        timestamp: The timestamp header (Unix seconds, as sent).
        body: The raw request body.
    """
    message = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify_delivery(
    *,
    secret: str,
    body: bytes,
    signature: str | None,
    delivery_id: str | None,
    timestamp: str | None,
    now: float,
    tolerance_s: float,
) -> None:
    """Accept a signed delivery or raise `WebhookRejectedError`; the body is never parsed here.

    Args:
        secret: The shared webhook secret.
        body: The raw request body.
        signature: The ``X-MLflow-Signature`` header (may list several space-separated values).
        delivery_id: The ``X-MLflow-Delivery-Id`` header.
        timestamp: The ``X-MLflow-Timestamp`` header.
        now: The current Unix time.
        tolerance_s: How far the timestamp may be from now, either way.
    """
    if not signature:
        raise WebhookRejectedError("unsigned", "the delivery carries no X-MLflow-Signature")
    if not delivery_id or len(delivery_id) > _MAX_ID_LENGTH or not delivery_id.isascii():
        raise WebhookRejectedError(
            "bad_delivery_id", f"missing or malformed X-MLflow-Delivery-Id {delivery_id!r}"
        )
    if not delivery_id.isprintable() or " " in delivery_id:
        raise WebhookRejectedError(
            "bad_delivery_id", f"malformed X-MLflow-Delivery-Id {delivery_id!r}"
        )
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit():
        raise WebhookRejectedError(
            "bad_timestamp", f"missing or malformed X-MLflow-Timestamp {timestamp!r}"
        )
    expected = sign(secret, delivery_id, timestamp, body)
    offered = signature.split()
    # Compare against every offered value so a rotation can send old and new side by side.
    matched = False
    for value in offered:
        matched |= hmac.compare_digest(value.encode("ascii", "replace"), expected.encode("ascii"))
    if not matched:
        raise WebhookRejectedError(
            "bad_signature", f"X-MLflow-Signature does not match delivery {delivery_id!r}"
        )
    skew = abs(now - int(timestamp))
    if skew > tolerance_s:
        raise WebhookRejectedError(
            "stale",
            f"delivery {delivery_id!r} is timestamped {int(timestamp)!r}, {skew:.0f} s from now "
            f"(the window is {tolerance_s:g} s)",
        )
