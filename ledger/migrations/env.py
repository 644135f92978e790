"""Alembic environment for the ledger: runs on the connection ``Database.migrate`` passes in.

There is no alembic.ini: ``ledger._database.Database.migrate`` builds the configuration in code
and hands over an open connection inside the transaction (and, on PostgreSQL, the advisory lock)
it holds.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ledger.tables import ALEMBIC_VERSION_TABLE, Base

__all__: list[str] = []


def _run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        version_table=ALEMBIC_VERSION_TABLE,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        raise RuntimeError("ledger migrations run online only, through Database.migrate()")
    connection = context.config.attributes.get("connection")
    if not isinstance(connection, Connection):
        raise RuntimeError(
            "ledger migrations need a connection; run them with ledger._database.Database.migrate()"
        )
    _run_migrations(connection)


_main()
