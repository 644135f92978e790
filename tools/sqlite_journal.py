"""A SQLite file turned to WAL journaling by every connection that opens it, however many open it at
once.

Connections that open a new file at once (`serve --workers N` starting on a fresh ledger, the
threads of one process, two `promogate eval run` sharing a response cache) each turn it to WAL;
SQLite answers some of them "database is locked" at once, without waiting for the busy timeout,
since waiting there could deadlock. The statement holds no lock once it fails, so it is tried again
until the busy timeout has passed.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Final, Protocol

__all__ = ["journal_in_wal"]

_RETRY_PAUSE_S: Final = 0.005


class _Executes(Protocol):
    def execute(self, sql: str, /) -> object: ...


def journal_in_wal(cursor: _Executes, busy_timeout_s: float) -> None:
    """Put the database behind `cursor` (a sqlite3 cursor or connection) in WAL mode, waiting
    out other connections doing the same for up to `busy_timeout_s`.

    Raises:
        sqlite3.OperationalError: The file stayed locked past the busy timeout, or any other
            error SQLite gave.
    """
    deadline = time.monotonic() + busy_timeout_s
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(_RETRY_PAUSE_S)
