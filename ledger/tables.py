"""The ledger's database tables as typed SQLAlchemy ORM classes.

The Alembic migrations in ``ledger/migrations`` create these tables; a test checks that the two
agree. Table names carry a ``ledger_`` prefix and the Alembic version table is
``ledger_alembic_version``, so the ledger can share a database (even MLflow's) without clashing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "ALEMBIC_VERSION_TABLE",
    "GENESIS_HASH",
    "HEAD_ROW_ID",
    "SCHEMA_REVISION",
    "ApiTokenRow",
    "Base",
    "IdempotencyKeyRow",
    "LedgerHeadRow",
    "LedgerRecordRow",
    "UtcDateTime",
]

ALEMBIC_VERSION_TABLE = "ledger_alembic_version"
# The newest migration's revision id; a test keeps it equal to the Alembic script head.
SCHEMA_REVISION = "0003"
# prev_hash of the first record: there is nothing before it.
GENESIS_HASH = "0" * 64
HEAD_ROW_ID = 1

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite stores datetimes without a zone and PostgreSQL returns them in the session's zone; the
    hash chain needs the same value back that went in, so both are normalised to UTC here.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"ledger timestamps must be timezone-aware, got {value!r}")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {value!r}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so migrations name constraints predictably."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LedgerRecordRow(Base):
    """One link of the hash chain: a decision, override or promotion, never updated or deleted."""

    __tablename__ = "ledger_records"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    record_id: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(256))
    version: Mapped[int] = mapped_column(Integer)
    verdict: Mapped[str | None] = mapped_column(String(16))
    target_alias: Mapped[str | None] = mapped_column(String(256))
    evidence_digest: Mapped[str | None] = mapped_column(String(128))
    policy_refs: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        CheckConstraint(
            "kind IN ('decision', 'override', 'promotion', 'alias_move', 'alias_revert', "
            "'watch', 'command', 'checkpoint')",
            name="kind",
        ),
        Index(None, "model", "version", "seq"),
        Index(None, "model", "version", "evidence_digest"),
        Index(None, "kind", "seq"),
    )


class LedgerHeadRow(Base):
    """The single row that names the chain's last record.

    Appenders lock it (``SELECT ... FOR UPDATE`` on PostgreSQL) so appends are serialised, and
    ``verify`` compares it with the last record, which is how a deleted tail is detected.
    """

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    record_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint(f"id = {HEAD_ROW_ID}", name="single_row"),)


class ApiTokenRow(Base):
    """An API bearer token: only the SHA-256 of its secret is stored."""

    __tablename__ = "ledger_api_tokens"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    __table_args__ = (
        CheckConstraint(
            "role IN ('viewer', 'reviewer', 'deployer', 'approver', 'admin')", name="role"
        ),
        # A name is unique among active tokens, so a revoked token's name can be reused.
        Index(
            "uq_ledger_api_tokens_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class IdempotencyKeyRow(Base):
    """The first request made with an Idempotency-Key, and its response once it is complete."""

    __tablename__ = "ledger_idempotency_keys"

    caller: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(2048))
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    owner: Mapped[str] = mapped_column(String(32))
    claimed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str | None] = mapped_column(String(128))
    body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        PrimaryKeyConstraint("caller", "key"),
        CheckConstraint("state IN ('in_progress', 'completed')", name="state"),
        Index(None, "claimed_at"),
    )
