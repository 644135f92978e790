"""Alembic migrations of the ledger schema, applied by ``ledger.database.Database.migrate``."""

__all__: list[str] = []
