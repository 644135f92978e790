"""A response cache in one SQLite file, so that an interrupted suite run resumes where it stopped.

Each successful response is written as soon as it arrives, keyed by the SHA-256 of everything that
determines it: the target's name, the case (id, prompt, context), the system prompt and the
generation parameters. A rerun finds those entries and sends only the cases still missing. Failed
requests are never cached: they are retried on the next run.

The key names the target, not the weights behind it: an HTTP endpoint that is redeployed with a new
model under the same URL keeps its old entries. Use a fresh cache file per model under test.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from evals.suite import Case
from tools import canonical_digest, journal_in_wal

__all__ = ["CachedResponse", "ResponseCache", "cache_key"]

_SCHEMA_VERSION = 1
_BUSY_TIMEOUT_S = 15.0


class CachedResponse(BaseModel):
    """A response found in the cache."""

    response: str
    latency_ms: float
    created_at: float


def cache_key(
    *,
    target: str,
    case: Case,
    system_prompt: str | None,
    parameters: Mapping[str, Any],
) -> str:
    """The cache key of one request: SHA-256 of its canonical JSON description.

    Args:
        target: The target's name (e.g. `models:/support-assistant/2`).
        case: The case sent.
        system_prompt: The system prompt sent with it, if any.
        parameters: Generation parameters that change the response.
    """
    payload = {
        "target": target,
        "case_id": case.id,
        "prompt": case.prompt,
        "context": case.context,
        "system_prompt": system_prompt,
        "parameters": dict(parameters),
    }
    return canonical_digest(payload)


class ResponseCache:
    """Responses by request key, in a SQLite file (created when missing).

    Args:
        path: The SQLite file.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared under a lock: the runner writes from its event loop thread, and
        # callers may read from another thread.
        self._conn = sqlite3.connect(
            self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None
        )
        self._lock = threading.Lock()
        with self._lock:
            # Runs sharing a cache file may open it at once (a CI matrix of suites).
            journal_in_wal(self._conn, _BUSY_TIMEOUT_S)
            # NORMAL keeps each write cheap; WAL still makes every committed response durable
            # across a crash of this process.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS responses ("
                " key TEXT PRIMARY KEY,"
                " target TEXT NOT NULL,"
                " case_id TEXT NOT NULL,"
                " response TEXT NOT NULL,"
                " latency_ms REAL NOT NULL,"
                " created_at REAL NOT NULL)"
            )
            self._conn.execute(f"PRAGMA user_version={_SCHEMA_VERSION}")

    def get(self, key: str) -> CachedResponse | None:
        """The cached response for a key, if any."""
        with self._lock:
            row = self._conn.execute(
                "SELECT response, latency_ms, created_at FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        return CachedResponse(response=row[0], latency_ms=row[1], created_at=row[2])

    def put(self, key: str, response: str, *, target: str, case_id: str, latency_ms: float) -> None:
        """Store a response (replacing an older one under the same key)."""
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses"
                " (key, target, case_id, response, latency_ms, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (key, target, case_id, response, latency_ms, time.time()),
            )

    def count(self, target: str | None = None) -> int:
        """How many responses are stored, for one target or in all."""
        with self._lock:
            if target is None:
                row = self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()
            else:
                row = self._conn.execute(
                    "SELECT COUNT(*) FROM responses WHERE target = ?", (target,)
                ).fetchone()
        return int(row[0])

    def clear(self, target: str | None = None) -> int:
        """Delete stored responses (for one target or all) and return how many were deleted."""
        with self._lock:
            if target is None:
                cursor = self._conn.execute("DELETE FROM responses")
            else:
                cursor = self._conn.execute("DELETE FROM responses WHERE target = ?", (target,))
        return cursor.rowcount

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
