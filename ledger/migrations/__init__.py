"""Alembic migrations of the ledger schema, applied by ``ledger._database.Database.migrate``."""

__all__: list[str] = []
