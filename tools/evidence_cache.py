"""Bounded caches of work whose result is fixed by its inputs: parsed evaluation tables, paired
bootstraps and the feature importances read from a model file.

Every candidate compared with the same champion reads the champion's evaluation table, and a
version reviewed again (a policy revised, a gate that cannot prove its evidence unchanged) reads
its own again. Parsing a table and resampling it cost more than reading it, so both are kept,
keyed by the content they were computed from: a table by the SHA-256 of the bytes just
downloaded (not by run id and end time: MLflow lets artifacts be logged to a finished run without
changing its end time, so such a key could serve stale rows), a bootstrap by a digest of its
inputs. The bytes are always read afresh, so a replaced artifact is parsed again and nothing
stale is served. Importances are kept under the SHA-256 of the model file's bytes (and the types
trusted to load it): auditing and loading a skops file is most of what the plausibility questions
cost, and the champion's file is the same for every candidate compared with it.

Memory is bounded: entries are evicted least recently used first once their estimated sizes
sum past the cache's byte budget.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = [
    "BOOTSTRAP_CACHE_BYTES",
    "IMPORTANCE_CACHE_BYTES",
    "TABLE_CACHE_BYTES",
    "ByteBoundedCache",
    "CacheStats",
    "content_key",
]

V = TypeVar("V")

TABLE_CACHE_BYTES = 64 * 1024 * 1024
BOOTSTRAP_CACHE_BYTES = 4 * 1024 * 1024
IMPORTANCE_CACHE_BYTES = 1024 * 1024


class CacheStats(BaseModel):
    """What a cache holds and how often it answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


class ByteBoundedCache(Generic[V]):
    """A thread-safe least-recently-used cache bounded by the estimated bytes of its values.

    Values must be immutable (frozen models): one object is handed to every caller.

    Args:
        max_bytes: Budget; 0 disables the cache (every lookup misses, nothing is kept).
    """

    def __init__(self, max_bytes: int) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._max_bytes = max_bytes
        self._hits = 0
        self._misses = 0

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                self._misses += 1
                return None
            self._entries.move_to_end(key)
            self._hits += 1
            return found[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        """Keep `value` under `key`; a value larger than the whole budget is not kept."""
        with self._lock:
            if size > self._max_bytes:
                return
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self._max_bytes:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def get_or_compute(
        self, key: Hashable, compute: Callable[[], V], size: Callable[[V], int]
    ) -> V:
        """The cached value, or `compute()` kept under `key` (two threads may both compute)."""
        value = self.get(key)
        if value is None:
            value = compute()
            self.put(key, value, size(value))
        return value

    def resize(self, max_bytes: int) -> None:
        """Change the budget (evicting as needed); 0 disables the cache."""
        with self._lock:
            self._max_bytes = max_bytes
            while self._bytes > self._max_bytes and self._entries:
                _, (_, evicted) = self._entries.popitem(last=False)
                self._bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self._hits = 0
            self._misses = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                entries=len(self._entries),
                bytes=self._bytes,
                max_bytes=self._max_bytes,
                hits=self._hits,
                misses=self._misses,
            )


def content_key(*parts: bytes | str) -> bytes:
    """SHA-256 over the parts, each prefixed by its length so that no two splits collide."""
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.digest()
