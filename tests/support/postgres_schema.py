"""A PostgreSQL URL confined to a fresh schema of its own, dropped afterwards.

Tests share the server's one test database; each writes into a schema named after it, reached
through ``search_path`` in the URL, so concurrent test processes and later runs never see its
tables.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import psycopg

from api.jobs import postgres_conninfo

__all__ = ["postgres_schema"]


@contextmanager
def postgres_schema(postgres_url: str, prefix: str) -> Iterator[str]:
    """`postgres_url` with its ``search_path`` set to a new schema ``<prefix>_<random>``, which
    is dropped with everything in it when the block ends."""
    schema = f"{prefix}_{secrets.token_hex(4)}"
    admin = postgres_conninfo(postgres_url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_url else "?"
    try:
        yield f"{postgres_url}{separator}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
