"""MLflow webhook signatures: the issue's test vector, and every way a delivery is refused."""

from __future__ import annotations

import pytest

from api.webhook_signature import WebhookRejectedError, sign, verify_delivery

SECRET = "It's a Secret to Everybody"
DELIVERY = "00000000-0000-4000-8000-000000000001"
TIMESTAMP = "1764633600"
BODY = (
    b'{"entity": "model_version_alias", "action": "created", "timestamp": '
    b'"2025-12-02T00:00:00+00:00", "data": {"name": "fraud", "alias": "champion", "version": "7"}}'
)
VECTOR = "v1,aD08P7GvuDoUl9NDEiCJXysimXHJfwP05mM9cXihPkY="


def test_the_vector_computed_with_mlflow_s_formula() -> None:
    assert sign(SECRET, DELIVERY, TIMESTAMP, BODY) == VECTOR


def test_mlflow_s_own_signer_agrees() -> None:
    from mlflow.webhooks.delivery import _generate_hmac_signature

    assert _generate_hmac_signature(SECRET, DELIVERY, TIMESTAMP, BODY.decode()) == VECTOR


def _verify(**overrides: object) -> None:
    values: dict[str, object] = {
        "secret": SECRET,
        "body": BODY,
        "signature": VECTOR,
        "delivery_id": DELIVERY,
        "timestamp": TIMESTAMP,
        "now": float(TIMESTAMP) + 10,
        "tolerance_s": 300.0,
    }
    values.update(overrides)
    verify_delivery(**values)  # type: ignore[arg-type]


def test_a_good_delivery_passes_and_a_rotation_may_offer_two_signatures() -> None:
    _verify()
    _verify(signature=f"v1,b2xkLXNlY3JldA== {VECTOR}")
    _verify(now=float(TIMESTAMP) - 299)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"signature": None}, "unsigned"),
        ({"signature": ""}, "unsigned"),
        ({"signature": VECTOR.replace("aD08", "aD09")}, "bad_signature"),
        ({"signature": VECTOR.removeprefix("v1,")}, "bad_signature"),
        ({"signature": "v1,é"}, "bad_signature"),
        ({"secret": "another secret"}, "bad_signature"),
        ({"body": BODY.replace(b'"7"', b'"8"')}, "bad_signature"),
        ({"delivery_id": "00000000-0000-4000-8000-000000000002"}, "bad_signature"),
        ({"timestamp": "1764633601"}, "bad_signature"),
        ({"delivery_id": None}, "bad_delivery_id"),
        ({"delivery_id": "a b"}, "bad_delivery_id"),
        ({"delivery_id": "x" * 256}, "bad_delivery_id"),
        ({"timestamp": None}, "bad_timestamp"),
        ({"timestamp": "-5"}, "bad_timestamp"),
        ({"timestamp": "17646e5"}, "bad_timestamp"),
        ({"now": float(TIMESTAMP) + 301}, "stale"),
        ({"now": float(TIMESTAMP) - 301}, "stale"),
    ],
    ids=[
        "missing",
        "empty",
        "altered",
        "no-version-prefix",
        "non-ascii",
        "wrong-secret",
        "altered-body",
        "other-delivery-id",
        "other-timestamp",
        "no-delivery-id",
        "delivery-id-with-space",
        "delivery-id-too-long",
        "no-timestamp",
        "negative-timestamp",
        "non-numeric-timestamp",
        "too-old",
        "from-the-future",
    ],
)
def test_refused(overrides: dict[str, object], reason: str) -> None:
    with pytest.raises(WebhookRejectedError) as caught:
        _verify(**overrides)
    assert caught.value.reason == reason
