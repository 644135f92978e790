"""Webhook signatures: ``X-Hub-Signature-256`` is HMAC-SHA256 of the raw body under the secret.

Verified over the exact bytes received, before anything parses them, with a constant-time compare.
"""

from __future__ import annotations

import hashlib
import hmac

from api.github.errors import SignatureError

__all__ = ["SIGNATURE_HEADER", "sign_payload", "verify_signature"]

SIGNATURE_HEADER = "X-Hub-Signature-256"
_PREFIX = "sha256="


def sign_payload(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for `body` under `secret`.

    Args:
        secret: The webhook secret.
        body: The raw request body.
    """
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify_signature(secret: str | None, body: bytes, header: str | None) -> None:
    """Raise `SignatureError` unless `header` is the signature of `body` under `secret`.

    Args:
        secret: The configured webhook secret; None or empty refuses every delivery.
        body: The raw request body, as received.
        header: The ``X-Hub-Signature-256`` header value, None when absent.
    """
    if not secret:
        raise SignatureError("no webhook secret is configured, so no delivery can be verified")
    if not header:
        raise SignatureError(f"the delivery has no {SIGNATURE_HEADER} header")
    if not header.startswith(_PREFIX):
        raise SignatureError(f"{SIGNATURE_HEADER} {header[:16]!r} does not start with 'sha256='")
    expected = sign_payload(secret, body)
    if not hmac.compare_digest(expected.encode("ascii"), header.strip().encode("ascii", "replace")):
        raise SignatureError(f"{SIGNATURE_HEADER} does not match the body under the secret")
