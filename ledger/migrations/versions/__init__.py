"""Alembic revision scripts of the ledger schema, oldest first (Alembic skips this file)."""

__all__: list[str] = []
