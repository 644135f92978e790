"""Signed answers: what the server signs, how the signature travels, how a client checks it.

The API signs every answer under ``/v1/`` (gate answers, decisions, promotions, refusals) with an
Ed25519 key the operator configures. The signature covers the request it answers, not only the
body, so an answer cannot be replayed for another request or another version:

    promogate-answer-v1 \\n <status> \\n <METHOD> <path> \\n <nonce> \\n
    <sha256 hex of the request body> \\n <sha256 hex of the answer body>

``nonce`` is the client's ``Promogate-Nonce`` request header (a fresh random value per request;
empty when absent). The request body's digest binds the answer to exactly what was asked (model,
version, target alias), so a proxy that rewrites the request cannot pass the answer off as the
answer to the original; it is ``-`` when the server answered before reading the whole body (a
refusal such as 401 or 413). The answer carries it in one header:

    Promogate-Signature: v1; key=<key id>; sig=<base64 Ed25519 signature>

The key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key. The public key
is published at ``GET /.well-known/promogate-signing-key`` and printed by ``promogate key public``;
a client is given it out of band and trusts nothing else.

Standard library only, except `verify_answer` and `public_key_from_text`, which import
``cryptography`` when called (the lean gate client calls them only when it has a key).
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import TYPE_CHECKING, Final, NamedTuple

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "NONCE_HEADER",
    "SIGNATURE_HEADER",
    "SIGNATURE_VERSION",
    "UNREAD_REQUEST",
    "WELL_KNOWN_KEY_PATH",
    "BadSignatureError",
    "ParsedSignature",
    "format_signature",
    "key_id",
    "parse_signature",
    "public_key_from_text",
    "raw_public_bytes",
    "request_digest",
    "signing_input",
    "valid_nonce",
    "verify_answer",
]

SIGNATURE_HEADER: Final = "Promogate-Signature"
NONCE_HEADER: Final = "Promogate-Nonce"
SIGNATURE_VERSION: Final = "v1"
WELL_KNOWN_KEY_PATH: Final = "/.well-known/promogate-signing-key"
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
_HEADER = re.compile(
    r"^\s*v1\s*;\s*key=(?P<key>[0-9a-f]{16})\s*;\s*sig=(?P<sig>[A-Za-z0-9+/]{86}==)\s*$"
)


class BadSignatureError(ValueError):
    """An answer's signature is missing, malformed, from another key, or does not verify."""


class ParsedSignature(NamedTuple):
    """The parts of a ``Promogate-Signature`` header."""

    key_id: str
    signature: bytes


def key_id(public_raw: bytes) -> str:
    """The id of a public key: 16 hex digits of the SHA-256 of its raw 32 bytes.

    Args:
        public_raw: The raw Ed25519 public key.
    """
    return hashlib.sha256(public_raw).hexdigest()[:16]


def valid_nonce(value: str | None) -> str:
    """The nonce if it is well-formed (16-128 URL-safe characters), else the empty string.

    Args:
        value: The ``Promogate-Nonce`` header, if any.
    """
    return value if value is not None and _NONCE.match(value) else ""


UNREAD_REQUEST: Final = "-"
"""The request digest of an answer given before the request body was read in full."""


def request_digest(body: bytes) -> str:
    """The digest of a request body as the signature names it.

    Args:
        body: The request body as sent (``b""`` for none).
    """
    return hashlib.sha256(body).hexdigest()


def signing_input(
    status: int, method: str, path: str, nonce: str, request: str, body: bytes
) -> bytes:
    """The bytes signed for one answer.

    Args:
        status: The HTTP status code of the answer.
        method: The request method.
        path: The request path (no query string).
        nonce: The request's nonce, or "".
        request: `request_digest` of the request body, or `UNREAD_REQUEST`.
        body: The answer body, exactly as sent.
    """
    digest = hashlib.sha256(body).hexdigest()
    return (
        f"promogate-answer-v1\n{status}\n{method.upper()} {path}\n{nonce}\n{request}\n{digest}"
    ).encode()


def format_signature(key: str, signature: bytes) -> str:
    """The ``Promogate-Signature`` header value.

    Args:
        key: The signing key's id.
        signature: The 64-byte Ed25519 signature.
    """
    return f"{SIGNATURE_VERSION}; key={key}; sig={base64.b64encode(signature).decode()}"


def parse_signature(value: str | None) -> ParsedSignature:
    """The key id and signature of a ``Promogate-Signature`` header value.

    Args:
        value: The header value, or None when absent.

    Raises:
        BadSignatureError: Absent or malformed.
    """
    if value is None:
        raise BadSignatureError("the answer is not signed (no Promogate-Signature header)")
    match = _HEADER.match(value)
    if match is None:
        raise BadSignatureError(f"malformed Promogate-Signature header {value[:120]!r}")
    return ParsedSignature(match["key"], base64.b64decode(match["sig"]))


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo) or base64 of the raw 32 bytes.

    Args:
        text: The key as ``promogate key public`` prints it, or the well-known route's
            ``public_key`` value.

    Raises:
        BadSignatureError: Not an Ed25519 public key.
    """
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = load_pem_public_key(stripped.encode())
        else:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(stripped, validate=True))
    except ValueError as exc:
        raise BadSignatureError(f"not an Ed25519 public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BadSignatureError(f"not an Ed25519 public key but {type(key).__name__}")
    return key


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32 bytes of a public key.

    Args:
        key: An Ed25519 public key.
    """
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def verify_answer(
    key: Ed25519PublicKey,
    header: str | None,
    *,
    status: int,
    method: str,
    path: str,
    nonce: str,
    request: bytes,
    body: bytes,
) -> None:
    """Check that `header` signs exactly this answer to exactly this request with `key`.

    Args:
        key: The server's public key, obtained out of band.
        header: The answer's ``Promogate-Signature`` header, or None.
        status: The answer's status code.
        method: The request method the client sent.
        path: The request path the client sent.
        nonce: The nonce the client sent.
        request: The request body the client sent.
        body: The answer body as received.

    Raises:
        BadSignatureError: The signature is absent, malformed, by another key, or wrong.
    """
    from cryptography.exceptions import InvalidSignature

    parsed = parse_signature(header)
    expected = key_id(raw_public_bytes(key))
    if parsed.key_id != expected:
        raise BadSignatureError(
            f"the answer is signed with key {parsed.key_id!r}, not the trusted key {expected!r}"
        )
    try:
        key.verify(
            parsed.signature,
            signing_input(status, method, path, nonce, request_digest(request), body),
        )
    except InvalidSignature:
        raise BadSignatureError(
            "the signature does not match this answer to this request (altered, replayed or forged)"
        ) from None
