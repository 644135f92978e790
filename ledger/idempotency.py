"""Idempotency-Key records: a retried POST gets the first response, never a second review.

How the API uses it, per request that carries an ``Idempotency-Key`` header::

    claim = store.claim(key, caller=token_id, method="POST", path="/v1/reviews", body=raw_body)
    if claim.replay:                      # the same request was answered before
        return claim.response             # status code, body and media type as first sent
    try:
        response = handle(request)
    except Exception:
        store.release(claim)              # nothing to replay; a retry may run again
        raise
    store.complete(claim, response.status_code, response.body)

- The same key with a different method, path or body raises ``IdempotencyConflictError`` (422).
- While the first request still runs, a duplicate waits up to ``wait_seconds`` for its response,
  then raises ``IdempotencyInProgressError`` (409).
- A claim whose holder died (no response after ``lease_seconds``) is taken over by the next retry.

Keys are scoped per caller (token id), so two clients cannot read each other's responses.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Literal, cast
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ledger._chain import canonical_json
from ledger._database import Database
from ledger.errors import IdempotencyConflictError, IdempotencyInProgressError
from ledger.tables import IdempotencyKeyRow

__all__ = [
    "IdempotencyClaim",
    "IdempotencyRecord",
    "IdempotencyState",
    "IdempotencyStore",
    "StoredResponse",
    "request_hash",
    "validate_key",
]

logger = logging.getLogger("promogate.ledger")

IdempotencyState = Literal["in_progress", "completed"]

_MAX_KEY_LENGTH = 255
_MAX_CALLER_LENGTH = 128
_MAX_PATH_LENGTH = 2048
_MAX_POLL_SECONDS = 0.5
_VANISHED_RETRIES = 5


class _ClaimVanished(Exception):
    """The key's row was deleted between the insert that found it and the read that locks it:
    its holder released it (a lease given back, a failed request), so the key is free again."""


def validate_key(key: str) -> str:
    """The key, if it is 1-255 visible ASCII characters; otherwise ``ValueError`` (answer 400).

    Args:
        key: The Idempotency-Key header value.
    """
    if not 1 <= len(key) <= _MAX_KEY_LENGTH or not all("!" <= ch <= "~" for ch in key):
        raise ValueError(
            f"invalid Idempotency-Key {key!r}: use 1-{_MAX_KEY_LENGTH} visible ASCII characters, "
            "e.g. a UUID"
        )
    return key


def request_hash(method: str, path: str, body: bytes | str) -> str:
    """SHA-256 of the method, path and body; JSON bodies are canonicalised first.

    Canonical JSON means a client that re-serialises the same payload with other spacing or key
    order on retry is still recognised as sending the same request.

    Args:
        method: HTTP method.
        path: Request path, with the query string if it changes the meaning.
        body: Raw request body.
    """
    raw = body.encode("utf-8") if isinstance(body, str) else body
    try:
        canonical = canonical_json(json.loads(raw)).encode("utf-8")
    except (ValueError, UnicodeDecodeError):
        canonical = raw
    digest = hashlib.sha256()
    digest.update(f"{method.upper()} {path}\n".encode())
    digest.update(canonical)
    return digest.hexdigest()


class StoredResponse(BaseModel):
    """The response the first request got, replayed to every retry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    status_code: int = Field(ge=100, le=599)
    body: str
    media_type: str = "application/json"


class IdempotencyClaim(BaseModel):
    """What ``claim`` returns: this request owns the key, or the stored response to replay."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    caller: str
    method: str
    path: str
    request_hash: str
    owner: str = Field(description="Opaque id of this claim; only its holder may complete it.")
    response: StoredResponse | None = Field(
        default=None, description="Set when the request was answered before: replay it."
    )

    @property
    def replay(self) -> bool:
        return self.response is not None


class IdempotencyRecord(BaseModel):
    """A stored Idempotency-Key, as ``lookup`` returns it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    caller: str
    method: str
    path: str
    request_hash: str
    state: IdempotencyState
    claimed_at: datetime
    completed_at: datetime | None = None
    response: StoredResponse | None = None


def _response(row: IdempotencyKeyRow) -> StoredResponse | None:
    if row.state != "completed" or row.status_code is None or row.body is None:
        return None
    return StoredResponse(
        status_code=row.status_code,
        body=row.body,
        media_type=row.media_type or "application/json",
    )


class IdempotencyStore:
    """Idempotency keys in the ledger database, shared by every API process.

    Args:
        database: The ledger database.
        lease_seconds: After this long without a response, a claim counts as abandoned and the
            next retry takes it over.
    """

    def __init__(self, database: Database, *, lease_seconds: float = 300.0) -> None:
        self._db = database
        self.lease = timedelta(seconds=lease_seconds)

    def claim(
        self,
        key: str,
        *,
        caller: str,
        method: str,
        path: str,
        body: bytes | str,
        wait_seconds: float = 0.0,
    ) -> IdempotencyClaim:
        """Claim the key for this request, or get the response stored for it.

        Args:
            key: The Idempotency-Key header value.
            caller: Who is asking (token id); keys are scoped per caller.
            method: HTTP method.
            path: Request path (with the query string if it changes the meaning).
            body: Raw request body.
            wait_seconds: How long to wait for a duplicate that is still running before
                raising ``IdempotencyInProgressError``.
        """
        validate_key(key)
        if not 1 <= len(caller) <= _MAX_CALLER_LENGTH:
            raise ValueError(f"invalid caller {caller!r}: use 1-{_MAX_CALLER_LENGTH} characters")
        if len(path) > _MAX_PATH_LENGTH:
            raise ValueError(f"path {path[:64]!r}... is longer than {_MAX_PATH_LENGTH} characters")
        method = method.upper()
        fingerprint = request_hash(method, path, body)
        started = time.monotonic()
        pause = 0.02
        vanished = 0
        while True:
            try:
                claim = self._try_claim(key, caller, method, path, fingerprint)
            except _ClaimVanished:
                vanished += 1
                if vanished >= _VANISHED_RETRIES:
                    raise IdempotencyConflictError(
                        key, "vanished while it was being claimed"
                    ) from None
                continue
            if claim is not None:
                return claim
            waited = time.monotonic() - started
            if waited >= wait_seconds:
                raise IdempotencyInProgressError(key, waited)
            time.sleep(min(pause, wait_seconds - waited))
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def _try_claim(
        self, key: str, caller: str, method: str, path: str, fingerprint: str
    ) -> IdempotencyClaim | None:
        owner = uuid4().hex
        now = datetime.now(UTC)
        claim = IdempotencyClaim(
            key=key, caller=caller, method=method, path=path, request_hash=fingerprint, owner=owner
        )
        insert = postgresql_insert if self._db.backend == "postgresql" else sqlite_insert
        with self._db.write() as session:
            # Insert-if-absent, then lock whichever row won: concurrent first requests cannot both
            # believe they own the key.
            session.execute(
                insert(IdempotencyKeyRow)
                .values(
                    caller=caller,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=fingerprint,
                    state="in_progress",
                    owner=owner,
                    claimed_at=now,
                )
                .on_conflict_do_nothing(index_elements=["caller", "key"])
            )
            row = self._locked_row(session, caller, key)
            if row is None:
                raise _ClaimVanished
            if row.owner == owner:
                return claim
            if row.method != method or row.path != path:
                raise IdempotencyConflictError(key, f"was first used for {row.method} {row.path}")
            if row.request_hash != fingerprint:
                raise IdempotencyConflictError(key, "was first used with a different request body")
            response = _response(row)
            if response is not None:
                logger.info("idempotency: replaying the response stored for key %r", key)
                return claim.model_copy(update={"owner": row.owner, "response": response})
            if now - row.claimed_at > self.lease:
                logger.warning(
                    "idempotency: key %r was claimed at %s and never completed; taking it over",
                    key,
                    row.claimed_at.isoformat(),
                )
                row.owner = owner
                row.claimed_at = now
                return claim
        return None

    @staticmethod
    def _locked_row(session: Session, caller: str, key: str) -> IdempotencyKeyRow | None:
        return session.execute(
            select(IdempotencyKeyRow)
            .where(IdempotencyKeyRow.caller == caller, IdempotencyKeyRow.key == key)
            .with_for_update()
        ).scalar_one_or_none()

    def complete(
        self,
        claim: IdempotencyClaim,
        status_code: int,
        body: str,
        media_type: str = "application/json",
    ) -> bool:
        """Store the response for a claimed key; retries get it from now on.

        Returns False (and stores nothing) when the claim was taken over after its lease ran out.

        Args:
            claim: The claim ``claim`` returned (not a replay).
            status_code: HTTP status code sent.
            body: Response body sent.
            media_type: Response media type.
        """
        if claim.replay:
            raise ValueError(
                f"claim for key {claim.key!r} is a replay; there is nothing to complete"
            )
        response = StoredResponse(status_code=status_code, body=body, media_type=media_type)
        with self._db.write() as session:
            row = self._locked_row(session, claim.caller, claim.key)
            if row is None or row.owner != claim.owner or row.state != "in_progress":
                logger.warning(
                    "idempotency: claim on key %r was lost before completion; response not stored",
                    claim.key,
                )
                return False
            row.state = "completed"
            row.status_code = response.status_code
            row.body = response.body
            row.media_type = response.media_type
            row.completed_at = datetime.now(UTC)
        return True

    def release(self, claim: IdempotencyClaim) -> bool:
        """Give up a claim without a response (the request failed), so a retry runs afresh.

        Args:
            claim: The claim ``claim`` returned (not a replay).
        """
        if claim.replay:
            return False
        with self._db.write() as session:
            result = session.execute(
                delete(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.caller == claim.caller,
                    IdempotencyKeyRow.key == claim.key,
                    IdempotencyKeyRow.owner == claim.owner,
                    IdempotencyKeyRow.state == "in_progress",
                )
            )
            return bool(getattr(result, "rowcount", 0))

    def lookup(self, key: str, *, caller: str) -> IdempotencyRecord | None:
        """The stored record of a key, or None.

        Args:
            key: The Idempotency-Key header value.
            caller: Who used it (token id).
        """
        with self._db.read() as session:
            row = session.execute(
                select(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.caller == caller, IdempotencyKeyRow.key == key
                )
            ).scalar_one_or_none()
            if row is None:
                return None
            return IdempotencyRecord(
                key=row.key,
                caller=row.caller,
                method=row.method,
                path=row.path,
                request_hash=row.request_hash,
                state=cast(IdempotencyState, row.state),
                claimed_at=row.claimed_at,
                completed_at=row.completed_at,
                response=_response(row),
            )

    def purge(self, older_than: timedelta) -> int:
        """Delete keys claimed longer ago than ``older_than``; returns how many were deleted.

        Args:
            older_than: Retention period, e.g. 24 hours.
        """
        cutoff = datetime.now(UTC) - older_than
        with self._db.write() as session:
            result = session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.claimed_at < cutoff)
            )
            return int(getattr(result, "rowcount", 0))
