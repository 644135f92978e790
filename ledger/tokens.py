"""API bearer tokens: created with a role, shown once, stored only as the SHA-256 of the secret.

A plain SHA-256 is enough here (no slow password hash): secrets are 256 random bits, so there is
nothing to guess, and lookups by hash stay cheap on every request.

With ``cache_seconds`` above zero (the API sets it), a token that authenticated is remembered for
that long, so most requests make no database round trip. The bound on revocation: a token revoked
through the same store stops authenticating at once (the store forgets it); one revoked elsewhere
(``promogate token revoke``, another API replica) stops at the latest ``cache_seconds`` later.
Unknown and revoked tokens are never remembered, so a new token works at once.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Literal, cast, get_args
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError

from ledger._database import Database
from ledger.errors import TokenError
from ledger.tables import ApiTokenRow

__all__ = ["ROLES", "SECRET_PREFIX", "Role", "TokenInfo", "TokenStore", "hash_secret"]

logger = logging.getLogger("promogate.ledger")

Role = Literal["viewer", "reviewer", "deployer", "approver", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
# Makes leaked secrets recognisable to secret scanners and to people.
SECRET_PREFIX = "pgt_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$")
# Writing last_used_at on every request would turn every read into a write; once a minute is enough.
_LAST_USED_GRANULARITY = timedelta(seconds=60)
# Bounds the memory the cache of authenticated tokens can take.
_CACHE_MAX_TOKENS = 4096


def hash_secret(secret: str) -> str:
    """The SHA-256 of a token secret, as stored.

    Args:
        secret: The bearer token as the client sends it.
    """
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class TokenInfo(BaseModel):
    """What the store knows about a token; never the secret."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = Field(default=None, description="Set once the token is revoked.")

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _info(row: ApiTokenRow) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        role=cast(Role, row.role),
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class TokenStore:
    """Creates, lists, revokes and checks API bearer tokens in the ledger database.

    Args:
        database: The ledger database.
        cache_seconds: How long an authenticated token is answered from memory (0: never); a
            revocation made elsewhere takes effect at the latest this long after it.
    """

    def __init__(self, database: Database, *, cache_seconds: float = 0.0) -> None:
        self._db = database
        self.cache_seconds = cache_seconds
        self._cache: OrderedDict[str, tuple[TokenInfo, float]] = OrderedDict()
        self._cache_lock = threading.Lock()
        # Bumped by every revocation here, so a read that raced one is not remembered.
        self._revocations = 0

    def forget(self) -> None:
        """Drop every remembered token: the next request of each reads the database."""
        with self._cache_lock:
            self._cache.clear()

    def _remembered(self, digest: str) -> TokenInfo | None:
        if self.cache_seconds <= 0:
            return None
        with self._cache_lock:
            entry = self._cache.get(digest)
            if entry is None:
                return None
            if time.monotonic() - entry[1] >= self.cache_seconds:
                del self._cache[digest]
                return None
            self._cache.move_to_end(digest)
            return entry[0]

    def _remember(self, digest: str, info: TokenInfo, checked: float, revocations: int) -> None:
        if self.cache_seconds <= 0:
            return
        with self._cache_lock:
            if revocations != self._revocations:
                return
            self._cache[digest] = (info, checked)
            self._cache.move_to_end(digest)
            while len(self._cache) > _CACHE_MAX_TOKENS:
                self._cache.popitem(last=False)

    def create_token(self, name: str, role: Role) -> tuple[TokenInfo, str]:
        """Create a token; return it with its secret, which is not stored and is shown only once.

        Args:
            name: A unique name among active tokens, e.g. ``ci-deploy`` (letters, digits, ``._@-``).
            role: One of viewer, reviewer, deployer, approver, admin.
        """
        if not _NAME.fullmatch(name):
            raise TokenError(
                f"invalid token name {name!r}: use 1-128 letters, digits, '.', '_', '@' or '-', "
                "starting with a letter or digit"
            )
        if role not in ROLES:
            raise TokenError(f"invalid role {role!r}: choose one of {', '.join(ROLES)}")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        row = ApiTokenRow(
            id=uuid4().hex,
            name=name,
            role=role,
            secret_sha256=hash_secret(secret),
            created_at=datetime.now(UTC),
        )
        with self._db.write() as session:
            existing = session.execute(
                select(ApiTokenRow.id).where(
                    ApiTokenRow.name == name, ApiTokenRow.revoked_at.is_(None)
                )
            ).first()
            if existing is not None:
                raise TokenError(f"an active token named {name!r} exists; revoke it first")
            session.add(row)
            try:
                session.flush()
            except IntegrityError as exc:
                # Another process created the same name between our check and our insert.
                raise TokenError(f"an active token named {name!r} exists; revoke it first") from exc
            info = _info(row)
        logger.info("ledger: created token %s (%s) with role %s", info.name, info.id, info.role)
        return info, secret

    def revoke_token(self, name_or_id: str) -> TokenInfo:
        """Revoke the active token with this name or id; it stops authenticating at once.

        Args:
            name_or_id: The token's name or its id.
        """
        with self._db.write() as session:
            row = session.execute(
                select(ApiTokenRow)
                .where(
                    or_(ApiTokenRow.name == name_or_id, ApiTokenRow.id == name_or_id),
                    ApiTokenRow.revoked_at.is_(None),
                )
                .with_for_update()
            ).scalar_one_or_none()
            if row is None:
                raise TokenError(f"no active token with name or id {name_or_id!r}")
            row.revoked_at = datetime.now(UTC)
            info = _info(row)
        with self._cache_lock:
            self._revocations += 1
            for digest in [d for d, (cached, _) in self._cache.items() if cached.id == info.id]:
                del self._cache[digest]
        logger.info("ledger: revoked token %s (%s)", info.name, info.id)
        return info

    def list_tokens(self, *, include_revoked: bool = True) -> list[TokenInfo]:
        """Every token, oldest first; secrets are never returned.

        Args:
            include_revoked: Also list revoked tokens.
        """
        query = select(ApiTokenRow).order_by(ApiTokenRow.created_at, ApiTokenRow.id)
        if not include_revoked:
            query = query.where(ApiTokenRow.revoked_at.is_(None))
        with self._db.read() as session:
            return [_info(row) for row in session.execute(query).scalars()]

    def authenticate(self, secret: str) -> TokenInfo | None:
        """The active token this secret belongs to, or None (unknown or revoked).

        Args:
            secret: The bearer token the client sent.
        """
        if not secret:
            return None
        digest = hash_secret(secret)
        remembered = self._remembered(digest)
        if remembered is not None:
            return remembered
        # Taken before the read: a revocation committed after it is seen by the next read.
        checked = time.monotonic()
        revocations = self._revocations
        query = select(ApiTokenRow).where(
            ApiTokenRow.secret_sha256 == digest, ApiTokenRow.revoked_at.is_(None)
        )
        with self._db.read() as session:
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                return None
            info = _info(row)
        now = datetime.now(UTC)
        if info.last_used_at is not None and now - info.last_used_at < _LAST_USED_GRANULARITY:
            self._remember(digest, info, checked, revocations)
            return info
        with self._db.write() as session:
            row = session.execute(query).scalar_one_or_none()
            if row is None:
                # Revoked between the two transactions.
                return None
            row.last_used_at = now
            info = _info(row)
        self._remember(digest, info, checked, revocations)
        return info
