"""Webhook signatures: GitHub's documented test vector, byte for byte, and the refusals."""

from __future__ import annotations

import pytest

from api.github.errors import SignatureError
from api.github.signature import sign_payload, verify_signature

# https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries#testing-the-webhook-payload-validation
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_PAYLOAD = b"Hello, World!"
VECTOR_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_githubs_documented_test_vector() -> None:
    assert sign_payload(VECTOR_SECRET, VECTOR_PAYLOAD) == VECTOR_SIGNATURE
    verify_signature(VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE)


@pytest.mark.parametrize(
    ("secret", "body", "header", "message"),
    [
        pytest.param(None, VECTOR_PAYLOAD, VECTOR_SIGNATURE, "no webhook secret", id="no-secret"),
        pytest.param("", VECTOR_PAYLOAD, VECTOR_SIGNATURE, "no webhook secret", id="empty-secret"),
        pytest.param(VECTOR_SECRET, VECTOR_PAYLOAD, None, "no X-Hub-Signature-256", id="absent"),
        pytest.param(VECTOR_SECRET, VECTOR_PAYLOAD, "sha1=abc", "does not start", id="sha1"),
        pytest.param(
            VECTOR_SECRET, b"Hello, World?", VECTOR_SIGNATURE, "does not match", id="other-body"
        ),
        pytest.param(
            "another secret", VECTOR_PAYLOAD, VECTOR_SIGNATURE, "does not match", id="other-secret"
        ),
        pytest.param(
            VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE.upper(), "does not", id="uppercase"
        ),
        pytest.param(
            VECTOR_SECRET, VECTOR_PAYLOAD, VECTOR_SIGNATURE[:-1] + "é", "does not", id="non-ascii"
        ),
    ],
)
def test_refusals(secret: str | None, body: bytes, header: str | None, message: str) -> None:
    with pytest.raises(SignatureError, match=message):
        verify_signature(secret, body, header)
