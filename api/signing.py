"""The server's side of signed answers: the operator's Ed25519 key, the signing middleware, the
well-known route that publishes the public key.

The key comes from ``PROMOGATE_SIGNING_KEY`` (PEM PKCS#8, or base64 of the raw 32-byte private
key) or ``PROMOGATE_SIGNING_KEY_FILE``; ``promogate key generate`` writes one. Without a key the
API answers unsigned and the well-known route answers 404, so a client configured with a public
key denies every answer: a misconfiguration fails closed. See `api.answer_signature` for what is
signed.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
)
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.answer_signature import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    UNREAD_REQUEST,
    WELL_KNOWN_KEY_PATH,
    format_signature,
    key_id,
    request_digest,
    signing_input,
    valid_nonce,
)
from api.errors import NotFoundApiError

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = [
    "AnswerSigner",
    "PublicKeyDocument",
    "SigningKeyError",
    "SigningMiddleware",
    "generate_private_pem",
    "router",
    "signer_from_settings",
]


class SigningKeyError(ValueError):
    """The configured signing key cannot be read or is not an Ed25519 private key."""


@dataclass(frozen=True)
class AnswerSigner:
    """Signs answers with one Ed25519 private key.

    Args:
        private_key: The operator's key.
    """

    private_key: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def public_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo)."""
        return (
            self.private_key.public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def public_base64(self) -> str:
        """The raw public key in base64, as the gate client's ``--public-key`` accepts it."""
        return base64.b64encode(self.public_raw).decode()

    def sign(
        self, status: int, method: str, path: str, nonce: str, request: str, body: bytes
    ) -> str:
        """The ``Promogate-Signature`` header value for one answer.

        Args:
            status: The answer's status code.
            method: The request method.
            path: The request path.
            nonce: The request's nonce, or "".
            request: The request body's digest, or ``UNREAD_REQUEST``.
            body: The answer body.
        """
        signature = self.private_key.sign(signing_input(status, method, path, nonce, request, body))
        return format_signature(self.key_id, signature)

    @classmethod
    def from_text(cls, text: str) -> AnswerSigner:
        """A signer from PEM (PKCS#8) or base64 of the raw 32-byte private key.

        Args:
            text: The key text.

        Raises:
            SigningKeyError: Not an Ed25519 private key.
        """
        stripped = text.strip()
        try:
            if stripped.startswith("-----BEGIN"):
                key = load_pem_private_key(stripped.encode(), password=None)
            else:
                key = Ed25519PrivateKey.from_private_bytes(
                    base64.b64decode(stripped, validate=True)
                )
        except (ValueError, TypeError) as exc:
            # The message never quotes the key text.
            raise SigningKeyError(
                f"the signing key is not readable: {type(exc).__name__}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"the signing key must be Ed25519, not {type(key).__name__}")
        return cls(key)


def generate_private_pem() -> str:
    """A new Ed25519 private key as unencrypted PKCS#8 PEM."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        .decode()
    )


def signer_from_settings(settings: Settings) -> AnswerSigner | None:
    """The signer the settings configure, or None when no key is configured.

    Args:
        settings: The configuration.

    Raises:
        SigningKeyError: A key is configured but unreadable (the server must not start unsigned).
    """
    if settings.signing_key is not None:
        return AnswerSigner.from_text(settings.signing_key.get_secret_value())
    if settings.signing_key_file is not None:
        path = Path(settings.signing_key_file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise SigningKeyError(f"cannot read the signing key file {str(path)!r}: {exc}") from exc
        return AnswerSigner.from_text(text)
    return None


class SigningMiddleware:
    """Pure ASGI middleware: signs every answer under ``/v1/`` (body buffered, then sent whole).

    Args:
        app: The wrapped application.
        signer: The answer signer.
    """

    def __init__(self, app: ASGIApp, *, signer: AnswerSigner) -> None:
        self.app = app
        self.signer = signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or not path.startswith("/v1/"):
            await self.app(scope, receive, send)
            return
        nonce = ""
        for name, value in scope.get("headers") or []:
            if name == NONCE_HEADER.lower().encode():
                nonce = valid_nonce(value.decode("latin-1"))
        method = str(scope.get("method", "GET"))
        start: Message | None = None
        chunks: list[bytes] = []
        streaming: list[bool] = []
        request = hashlib.sha256()
        request_complete = False
        request_started = False

        async def recording() -> Message:
            nonlocal request_complete, request_started
            message = await receive()
            if message["type"] == "http.request":
                request_started = True
                request.update(message.get("body", b""))
                if not message.get("more_body", False):
                    request_complete = True
            return message

        def request_seen() -> str:
            if request_complete:
                return request.hexdigest()
            if not request_started and not _declares_body(scope):
                return request_digest(b"")
            return UNREAD_REQUEST

        async def buffered(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if _is_stream(message):
                    # A stream (server-sent events) cannot be held back until it ends: unsigned.
                    streaming.append(True)
                    await send(message)
                    return
                start = message
                return
            if streaming or message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            signature = self.signer.sign(
                int(start["status"]), method, path, nonce, request_seen(), body
            )
            headers = [
                *(h for h in start.get("headers", []) if h[0].lower() != b"content-length"),
                (b"content-length", str(len(body)).encode()),
                (SIGNATURE_HEADER.lower().encode(), signature.encode()),
            ]
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, recording, buffered)


def _is_stream(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type" and value.lower().startswith(b"text/event-stream"):
            return True
    return False


def _declares_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() != b"0"):
            return True
    return False


class PublicKeyDocument(BaseModel):
    """The key that signs this server's answers (give it to clients out of band, then pin it)."""

    algorithm: str = Field(default="Ed25519")
    key_id: str = Field(description="16 hex digits of the SHA-256 of the raw public key.")
    public_key: str = Field(description="The raw 32-byte public key, base64.")
    public_key_pem: str = Field(description="The same key as PEM (SubjectPublicKeyInfo).")


router = APIRouter(tags=["signing"])


@router.get(
    WELL_KNOWN_KEY_PATH,
    response_model=PublicKeyDocument,
    summary="The public key that signs answers",
    responses={404: {"description": "This server has no signing key configured."}},
)
def signing_key(request: Request) -> PublicKeyDocument:
    """The Ed25519 public key of this server's answer signatures (no authentication needed)."""
    signer: AnswerSigner | None = getattr(request.app.state, "promogate_signer", None)
    if signer is None:
        raise NotFoundApiError(
            "this server signs no answers: configure PROMOGATE_SIGNING_KEY or "
            "PROMOGATE_SIGNING_KEY_FILE (`promogate key generate` writes one)"
        )
    return PublicKeyDocument(
        key_id=signer.key_id,
        public_key=signer.public_base64(),
        public_key_pem=signer.public_pem(),
    )
