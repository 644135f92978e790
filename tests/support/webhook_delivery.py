"""Headers of an MLflow webhook delivery, signed as MLflow 3 signs them."""

from __future__ import annotations

import time
import uuid

from api.webhook_signature import sign


def delivery_headers(
    body: bytes, *, secret: str, delivery_id: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """The headers MLflow sends with `body`: a fresh delivery id and the current time unless
    given, and the signature with `secret`."""
    delivery = delivery_id or str(uuid.uuid4())
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    return {
        "Content-Type": "application/json",
        "X-MLflow-Delivery-Id": delivery,
        "X-MLflow-Timestamp": stamp,
        "X-MLflow-Signature": sign(secret, delivery, stamp, body),
    }
