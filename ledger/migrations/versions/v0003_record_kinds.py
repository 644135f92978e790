"""Record kinds for the front doors that act on their own: widen the ``kind`` CHECK.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 00:00:00

Alias moves and reverts (the alias guard), post-promotion watch windows, commands given through
the PR bot and ledger checkpoints each become a record kind of their own. The kinds are reserved
together in one revision so that the features adding them share one schema revision. Rows are
copied unchanged (SQLite) or left in place (PostgreSQL), so every record hash still verifies.

Migrations are frozen history: they spell out their tables instead of importing ``ledger.tables``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

__all__ = ["downgrade", "upgrade"]

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLE = "ledger_records"
_NAME = "ck_ledger_records_kind"
_V0002_KINDS = "kind IN ('decision', 'override', 'promotion')"
_V0003_KINDS = (
    "kind IN ('decision', 'override', 'promotion', 'alias_move', 'alias_revert', 'watch', "
    "'command', 'checkpoint')"
)
_NEW_KINDS = ("alias_move", "alias_revert", "watch", "command", "checkpoint")


def _records_table(check_sql: str) -> sa.Table:
    """``ledger_records`` as it stands, for SQLite's table copy (see revision 0002 for why)."""
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
        sa.CheckConstraint(check_sql, name=_NAME),
    )
    sa.Index("ix_ledger_records_model_version_seq", table.c.model, table.c.version, table.c.seq)
    sa.Index(
        "ix_ledger_records_model_version_evidence_digest",
        table.c.model,
        table.c.version,
        table.c.evidence_digest,
    )
    sa.Index("ix_ledger_records_kind_seq", table.c.kind, table.c.seq)
    return table


def _replace_kind_check(old_sql: str, new_sql: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            _TABLE, recreate="always", copy_from=_records_table(old_sql)
        ) as batch:
            batch.drop_constraint(op.f(_NAME), type_="check")
            batch.create_check_constraint(op.f(_NAME), sa.text(new_sql))
        return
    op.drop_constraint(op.f(_NAME), _TABLE, type_="check")
    op.create_check_constraint(op.f(_NAME), _TABLE, sa.text(new_sql))


def upgrade() -> None:
    _replace_kind_check(_V0002_KINDS, _V0003_KINDS)


def downgrade() -> None:
    kinds = ", ".join(f"'{kind}'" for kind in _NEW_KINDS)
    count = sa.text(f"SELECT COUNT(*) FROM {_TABLE} WHERE kind IN ({kinds})")
    held = int(op.get_bind().execute(count).scalar_one())
    if held:
        # Deleting them would break the hash chain; revision 0002 cannot hold them.
        raise RuntimeError(
            f"cannot downgrade the ledger to revision '0002': it holds {held!r} records of the "
            f"kinds {_NEW_KINDS!r}, which that revision cannot store and the hash chain cannot lose"
        )
    _replace_kind_check(_V0003_KINDS, _V0002_KINDS)
