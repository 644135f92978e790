"""Promotions as their own record kind: widen the ``kind`` CHECK of ``ledger_records``.

Revision ID: 0002
Revises: 0001
Create Date: 2025-02-01 00:00:00

Revision 0001 created the constraint through the naming convention twice over, so databases at
0001 hold it as ``ck_ledger_records_ck_ledger_records_kind``; this revision names it
``ck_ledger_records_kind``, as ``ledger.tables`` does. Rows are copied unchanged (SQLite) or left
in place (PostgreSQL), so every record hash still verifies.

Migrations are frozen history: they spell out their tables instead of importing ``ledger.tables``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "ledger_records"
_V0001_NAME = "ck_ledger_records_ck_ledger_records_kind"
_V0002_NAME = "ck_ledger_records_kind"
_V0001_KINDS = "kind IN ('decision', 'override')"
_V0002_KINDS = "kind IN ('decision', 'override', 'promotion')"


def _records_table(check_name: str, check_sql: str) -> sa.Table:
    """``ledger_records`` as it stands, for SQLite's table copy.

    Handed to batch mode as ``copy_from`` instead of reflected: SQLite does not reliably report
    CHECK constraint names, and a CHECK it cannot name would be dropped from the copy silently.
    """
    table = sa.Table(
        _TABLE,
        sa.MetaData(),
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
        sa.CheckConstraint(check_sql, name=check_name),
    )
    # The copy is created from this definition, indexes included: leaving one out would drop it.
    sa.Index("ix_ledger_records_model_version_seq", table.c.model, table.c.version, table.c.seq)
    sa.Index(
        "ix_ledger_records_model_version_evidence_digest",
        table.c.model,
        table.c.version,
        table.c.evidence_digest,
    )
    sa.Index("ix_ledger_records_kind_seq", table.c.kind, table.c.seq)
    return table


def _replace_kind_check(old_name: str, old_sql: str, new_name: str, new_sql: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            _TABLE, recreate="always", copy_from=_records_table(old_name, old_sql)
        ) as batch:
            batch.drop_constraint(op.f(old_name), type_="check")
            batch.create_check_constraint(op.f(new_name), sa.text(new_sql))
        return
    # op.f: the names are final; the target metadata's naming convention must not prefix them.
    op.drop_constraint(op.f(old_name), _TABLE, type_="check")
    op.create_check_constraint(op.f(new_name), _TABLE, sa.text(new_sql))


def upgrade() -> None:
    _replace_kind_check(_V0001_NAME, _V0001_KINDS, _V0002_NAME, _V0002_KINDS)


def downgrade() -> None:
    count = sa.text(f"SELECT COUNT(*) FROM {_TABLE} WHERE kind = 'promotion'")
    promotions = int(op.get_bind().execute(count).scalar_one())
    if promotions:
        # Deleting them would break the hash chain; revision 0001 cannot hold them.
        raise RuntimeError(
            f"cannot downgrade the ledger to revision '0001': it holds {promotions!r} promotion "
            "records, which that revision cannot store and the hash chain cannot lose"
        )
    _replace_kind_check(_V0002_NAME, _V0002_KINDS, _V0001_NAME, _V0001_KINDS)
