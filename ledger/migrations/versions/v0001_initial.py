"""Initial ledger schema: hash-chained records, chain head, API tokens, idempotency keys.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Migrations are frozen history: they spell out their tables instead of importing ``ledger.tables``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_GENESIS_HASH = "0" * 64


def upgrade() -> None:
    op.create_table(
        "ledger_records",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=True),
        sa.Column("target_alias", sa.String(256), nullable=True),
        sa.Column("evidence_digest", sa.String(128), nullable=True),
        sa.Column("policy_refs", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger_records"),
        sa.UniqueConstraint("record_id", name="uq_ledger_records_record_id"),
        sa.CheckConstraint("kind IN ('decision', 'override')", name="ck_ledger_records_kind"),
    )
    op.create_index(
        "ix_ledger_records_model_version_seq", "ledger_records", ["model", "version", "seq"]
    )
    op.create_index(
        "ix_ledger_records_model_version_evidence_digest",
        "ledger_records",
        ["model", "version", "evidence_digest"],
    )
    op.create_index("ix_ledger_records_kind_seq", "ledger_records", ["kind", "seq"])

    head = op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_head"),
        sa.CheckConstraint("id = 1", name="ck_ledger_head_single_row"),
    )
    now = datetime.now(UTC)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite stores datetimes without a zone; the ledger reads them back as UTC.
        now = now.replace(tzinfo=None)
    op.bulk_insert(head, [{"id": 1, "seq": 0, "record_hash": _GENESIS_HASH, "updated_at": now}])

    op.create_table(
        "ledger_api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_api_tokens"),
        sa.UniqueConstraint("secret_sha256", name="uq_ledger_api_tokens_secret_sha256"),
        sa.CheckConstraint(
            "role IN ('viewer', 'reviewer', 'deployer', 'approver', 'admin')",
            name="ck_ledger_api_tokens_role",
        ),
    )
    op.create_index(
        "uq_ledger_api_tokens_active_name",
        "ledger_api_tokens",
        ["name"],
        unique=True,
        sqlite_where=sa.text("revoked_at IS NULL"),
        postgresql_where=sa.text("revoked_at IS NULL"),
    )

    op.create_table(
        "ledger_idempotency_keys",
        sa.Column("caller", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("path", sa.String(2048), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("media_type", sa.String(128), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("caller", "key", name="pk_ledger_idempotency_keys"),
        sa.CheckConstraint(
            "state IN ('in_progress', 'completed')", name="ck_ledger_idempotency_keys_state"
        ),
    )
    op.create_index(
        "ix_ledger_idempotency_keys_claimed_at", "ledger_idempotency_keys", ["claimed_at"]
    )


def downgrade() -> None:
    op.drop_table("ledger_idempotency_keys")
    op.drop_index("uq_ledger_api_tokens_active_name", table_name="ledger_api_tokens")
    op.drop_table("ledger_api_tokens")
    op.drop_table("ledger_head")
    op.drop_table("ledger_records")
