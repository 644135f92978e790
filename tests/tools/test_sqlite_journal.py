"""Turning a SQLite file to WAL: a file locked by another opener is waited for within the busy
timeout; any other error, or a lock that outlasts the timeout, is raised."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from tools.sqlite_journal import journal_in_wal


class _Answers:
    """A cursor whose `execute` raises each error in `errors` in turn, then succeeds."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        self.calls = 0

    def execute(self, sql: str, /) -> object:
        assert sql == "PRAGMA journal_mode = WAL"
        self.calls += 1
        if self.errors:
            raise sqlite3.OperationalError(self.errors.pop(0))
        return None


@pytest.mark.parametrize(
    ("errors", "timeout_s", "calls", "raised"),
    [
        ([], 1.0, 1, None),
        (["database is locked"] * 3, 5.0, 4, None),
        (["disk I/O error"], 5.0, 1, "disk I/O error"),
        (["database is locked"] * 10_000, 0.05, None, "database is locked"),
    ],
    ids=["free", "locked-then-free", "other-error-at-once", "locked-past-the-timeout"],
)
def test_journal_in_wal_waits_out_locks_only(
    errors: list[str], timeout_s: float, calls: int | None, raised: str | None
) -> None:
    cursor = _Answers(errors)
    if raised is None:
        journal_in_wal(cursor, timeout_s)
    else:
        with pytest.raises(sqlite3.OperationalError, match=raised):
            journal_in_wal(cursor, timeout_s)
    if calls is not None:
        assert cursor.calls == calls
    else:
        assert 1 < cursor.calls < 10_000


def test_a_real_file_is_turned_to_wal(tmp_path: Path) -> None:
    with closing(sqlite3.connect(tmp_path / "a.db")) as connection:
        journal_in_wal(connection, 1.0)
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
