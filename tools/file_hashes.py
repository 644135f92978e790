"""SHA-256 of local files, kept under what `stat` says of them, so a file that did not change is
not read again.

The gate hashes its policy directory on every call, and a review reads the importances of both
model files, kept under the files' digests: without this, each call read and hashed every
policy file, and each review both model files (5-8 MB each for the demo's forests, about 13 ms of
a 90 ms review), only to find them unchanged.

A hash is kept only when the file's change time (set by the kernel on every write, and not
settable by a user, unlike the modification time) lies `RACY_NS` or more in the past when the
file is read: a file written again within the clock's granularity of that read could otherwise
keep its size and times with new bytes. Any later write gives it a newer change time, and a file
replaced by another has another inode, so a kept hash never answers for other bytes. A reader
that reads the bytes anyway (the model file, on a miss) asks `known` first and `remember`s the
digest of what it read, so a new file is read and hashed once.

A local review is a process of its own, so what one process kept is lost to the next: with a
`tools.disk_cache.DiskCache` in use (`use_disk`), each kept hash is also written there under
the file's path and the whole `stat` it was kept under, and a later process takes it from there
by the same rule. A file whose `stat` differs in any part misses the entry and is read again.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from tools.evidence_cache import content_key

if TYPE_CHECKING:
    from tools.disk_cache import DiskCache

__all__ = ["MAX_HASHED_FILES", "RACY_NS", "FileHashes"]

MAX_HASHED_FILES: Final = 10_000
"""Hashes kept by one `FileHashes`; all are dropped when it is full (they are read again)."""
RACY_NS: Final = 2_000_000_000
"""How long ago a file must have last changed for its hash to be kept."""


_HEX_DIGEST: Final = frozenset(b"0123456789abcdef")


def _stat_key(info: os.stat_result) -> tuple[int, ...]:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _disk_key(path: Path, key: tuple[int, ...]) -> str:
    return content_key("file sha256 1", str(path), ",".join(map(str, key))).hex()


class FileHashes:
    """SHA-256 of files, read again only when their `stat` changed (see the module docstring)."""

    def __init__(self) -> None:
        self._hashes: dict[str, tuple[tuple[int, ...], str]] = {}
        self._lock = threading.Lock()
        self._disk: DiskCache | None = None

    def use_disk(self, cache: DiskCache | None) -> None:
        """Keep hashes in `cache` too, for later processes (None: in this process only)."""
        self._disk = cache

    def known(self, path: Path, info: os.stat_result) -> str | None:
        """The kept hex SHA-256 of the file at `path` if its `stat` is still `info`, else None."""
        key = _stat_key(info)
        with self._lock:
            known = self._hashes.get(str(path))
        if known is not None and known[0] == key:
            return known[1]
        disk = self._disk
        payload = disk.get(_disk_key(path, key)) if disk is not None else None
        if payload is None or len(payload) != 64 or not set(payload) <= _HEX_DIGEST:
            return None
        digest = payload.decode()
        self._keep(str(path), key, digest)
        return digest

    def _keep(self, path: str, key: tuple[int, ...], digest: str) -> None:
        with self._lock:
            if len(self._hashes) >= MAX_HASHED_FILES:
                self._hashes.clear()
            self._hashes[path] = (key, digest)

    def remember(self, path: Path, info: os.stat_result, digest: str) -> None:
        """Keep `digest`, the SHA-256 of bytes read from `path` after it was stat-ed as `info`;
        kept only when the file had settled then and is stat-ed alike now (no write in between).
        """
        key = _stat_key(info)
        settled = time.time_ns() - max(info.st_mtime_ns, info.st_ctime_ns) >= RACY_NS
        try:
            unchanged = _stat_key(path.stat()) == key
        except OSError:
            return
        if settled and unchanged:
            self._keep(str(path), key, digest)
            if self._disk is not None:
                self._disk.put(_disk_key(path, key), digest.encode())

    def digest(self, path: Path, info: os.stat_result) -> str:
        """The hex SHA-256 of the regular file at `path`, whose `stat` is `info`; read only when
        no hash is kept for that `stat`.

        Raises:
            OSError: The file cannot be read, or is not a regular file when opened.
        """
        known = self.known(path, info)
        if known is not None:
            return known
        # Non-blocking, so a FIFO put in the file's place cannot hold the open; checked on the
        # open file, so what is hashed is what was checked.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(descriptor, "rb") as file:
            opened = os.fstat(file.fileno())
            if not stat.S_ISREG(opened.st_mode):
                raise OSError(f"{str(path)!r} is not a regular file")
            digest = hashlib.file_digest(file, "sha256").hexdigest()
        if _stat_key(opened) == _stat_key(info):
            self.remember(path, info, digest)
        return digest
