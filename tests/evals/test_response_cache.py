"""The response cache: runs that open one new cache file at once all get in."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from pathlib import Path

from evals.response_cache import ResponseCache

OPENERS = 8


def _open_at_once(path: Path) -> list[BaseException]:
    """Open `path` from `OPENERS` threads released together, each writing one response; what
    they raised."""
    barrier = threading.Barrier(OPENERS)
    raised: list[BaseException] = []

    def opener(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            with ResponseCache(path) as cache:
                cache.put(f"key-{worker}", "r", target="t", case_id=f"c{worker}", latency_ms=1.0)
        except Exception as exc:  # noqa: BLE001 - returned to the test, which asserts on it
            raised.append(exc)

    threads = [threading.Thread(target=opener, args=(w,)) for w in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return raised


def test_caches_opening_a_new_file_at_once_all_get_in(tmp_path: Path) -> None:
    # Each connection turns the new file to WAL as it opens; SQLite answers some of those that do
    # it at once "database is locked" without waiting for the busy timeout. Over 60 new files,
    # eight openers each, some collide.
    for round_ in range(60):
        path = tmp_path / f"cache-{round_}.sqlite3"
        assert _open_at_once(path) == [], f"round {round_}"
        with ResponseCache(path) as cache:
            assert cache.count("t") == OPENERS
        with closing(sqlite3.connect(path)) as connection:
            assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
