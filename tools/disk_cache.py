"""A bounded on-disk cache of small values whose content is fixed by their key, shared by
processes and kept between them.

A local review is a fresh process: what an earlier review derived from the same immutable
inputs (the feature importances a model file states) is lost with the process unless it is
kept on disk. This cache keeps such values as files named by their key, a digest the caller
computes over everything the value depends on, so an entry can only be stale if its key is.

It never turns into a wrong answer or an error:

- every entry carries the SHA-256 of its payload and the key it was written under; an entry
  whose checksum or key does not match (a torn, truncated or edited file) is a miss, and is
  removed;
- an unreadable directory or file is a miss, and a failed write is skipped: the caller then
  computes the value as if there were no cache;
- what is kept decides (a screening, a model file's hash), so only a directory that is this
  user's own and that no one else can write in is used: one owned by another user, or writable by
  its group or by anyone (a shared cache someone else could plant entries in), is neither read
  nor written, and a warning says so;
- writes go to a temporary file in the same directory, renamed over the entry, so a reader
  sees a whole old entry, a whole new one, or none, also with several processes at once.

Its size is bounded: past `max_bytes`, the least recently used entries (by modification time,
touched on every hit) are removed.

Values computed by code are keyed by that code too (`producer_fingerprint`), so an edited
producer never meets an entry its predecessor wrote; pydantic values are kept as their JSON
(`put_model`) and an entry that does not parse as the model is a miss (`get_model`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "DEFAULT_DISK_CACHE_BYTES",
    "DiskCache",
    "DiskCacheStats",
    "default_cache_dir",
    "producer_fingerprint",
]

logger = logging.getLogger("promogate.tools")

#: Default bound on a cache directory's total size.
DEFAULT_DISK_CACHE_BYTES = 32 * 1024 * 1024

_M = TypeVar("_M", bound=BaseModel)

_MAGIC = b"promogate-cache-1\n"
_SUFFIX = ".entry"
_HEX = frozenset("0123456789abcdef")


def default_cache_dir() -> Path:
    """`$XDG_CACHE_HOME/promogate`, or `~/.cache/promogate` when that is unset or relative."""
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "promogate"


class DiskCacheStats(BaseModel):
    """How often a disk cache answered, in this process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hits: int
    misses: int
    writes: int
    discarded: int


class DiskCache:
    """Values (bytes) under hex-digest keys, one file each, in `directory`.

    Args:
        directory: Where the entries live; created (owner-only) on the first write.
        max_bytes: Bound on the entries' total size; older entries are removed past it.
    """

    def __init__(self, directory: Path, *, max_bytes: int = DEFAULT_DISK_CACHE_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"a disk cache needs a positive size bound, not {max_bytes!r}")
        self.directory = directory
        self.max_bytes = max_bytes
        self._hits = 0
        self._misses = 0
        self._writes = 0
        self._discarded = 0
        self._warned = False

    def _private(self) -> bool:
        """Whether the directory is this user's and only this user's to write in."""
        try:
            info = self.directory.stat()
        except OSError:
            return False
        if info.st_uid == os.geteuid() and not info.st_mode & 0o022:
            return True
        if not self._warned:
            self._warned = True
            logger.warning(
                "not using the cache directory %r: it is not this user's own, or others can "
                "write in it (owner uid %d, mode %o)",
                str(self.directory),
                info.st_uid,
                info.st_mode & 0o777,
            )
        return False

    def _path(self, key: str) -> Path:
        if len(key) != 64 or not set(key) <= _HEX:
            raise ValueError(f"a disk cache key is a SHA-256 hex digest, not {key!r}")
        return self.directory / f"{key}{_SUFFIX}"

    def get(self, key: str) -> bytes | None:
        """The payload kept under `key`, or None (absent, unreadable or corrupt)."""
        path = self._path(key)
        try:
            raw = path.read_bytes() if self._private() else None
        except OSError:
            raw = None
        if raw is None:
            self._misses += 1
            return None
        payload = _payload(raw, key)
        if payload is None:
            logger.warning("discarding the corrupt cache entry %r", str(path))
            self._discarded += 1
            self._misses += 1
            self._remove(path)
            return None
        self._hits += 1
        # Least recently used goes first at the bound; another process may have evicted it
        # meanwhile, which leaves the payload just read whole.
        with contextlib.suppress(OSError):
            os.utime(path)
        return payload

    def put(self, key: str, payload: bytes) -> None:
        """Keep `payload` under `key`; a failed write leaves the cache as it was."""
        path = self._path(key)
        data = b"".join(
            [_MAGIC, key.encode(), b"\n", hashlib.sha256(payload).hexdigest().encode(), b"\n"]
        )
        data += payload
        if len(data) > self.max_bytes:
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not self._private():
                return
            fd, temp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.replace(temp, path)
            except BaseException:
                self._remove(Path(temp))
                raise
        except OSError as exc:
            logger.warning("could not write the cache entry %r: %s", str(path), exc)
            return
        self._writes += 1
        self._bound()

    def get_model(self, key: str, model: type[_M]) -> _M | None:
        """The `model` kept under `key`, or None (absent, corrupt, or not a `model`)."""
        payload = self.get(key)
        if payload is None:
            return None
        try:
            return model.model_validate_json(payload)
        except ValidationError as exc:
            # Checksummed and keyed by the producer's own digest: only a foreign writer gets here.
            logger.warning("ignoring a cached %s that does not parse: %s", model.__name__, exc)
            return None

    def put_model(self, key: str, value: BaseModel) -> None:
        """Keep `value` (as its JSON) under `key`; a failed write leaves the cache as it was."""
        self.put(key, value.model_dump_json().encode())

    def _bound(self) -> None:
        """Remove the least recently used entries while the directory is over its bound."""
        entries: list[tuple[float, int, Path]] = []
        try:
            with os.scandir(self.directory) as found:
                for entry in found:
                    if entry.name.endswith(_SUFFIX) and not entry.name.startswith("."):
                        stat = entry.stat()
                        entries.append((stat.st_mtime, stat.st_size, Path(entry.path)))
        except OSError:
            return
        total = sum(size for _, size, _ in entries)
        for _, size, path in sorted(entries):
            if total <= self.max_bytes:
                break
            self._remove(path)
            total -= size

    @staticmethod
    def _remove(path: Path) -> None:
        # Already gone (another process) or not ours to remove: the lookup is a miss either way.
        with contextlib.suppress(OSError):
            path.unlink()

    def stats(self) -> DiskCacheStats:
        return DiskCacheStats(
            hits=self._hits, misses=self._misses, writes=self._writes, discarded=self._discarded
        )


def producer_fingerprint(form: int, sources: Iterable[Path], versions: Mapping[str, str]) -> str:
    """What computes a kept value beyond the inputs in its key: the form of its entries (bumped by
    hand when that form changes), Python's version, the SHA-256 of each source file (hashed
    rather than trusted to a hand-kept version) and the version of each package it relies on.

    Raises:
        OSError: A source file cannot be read.
    """
    parts = [f"format {form}", f"python {sys.version}"]
    parts += [f"{path.name} {hashlib.sha256(path.read_bytes()).hexdigest()}" for path in sources]
    parts += [f"{name} {version}" for name, version in versions.items()]
    return "\n".join(parts)


def _payload(raw: bytes, key: str) -> bytes | None:
    """The payload of an entry file, or None when it is not a whole entry written under `key`."""
    if not raw.startswith(_MAGIC):
        return None
    header_key, _, rest = raw[len(_MAGIC) :].partition(b"\n")
    checksum, newline, payload = rest.partition(b"\n")
    if not newline or header_key != key.encode():
        return None
    if hashlib.sha256(payload).hexdigest().encode() != checksum:
        return None
    return payload
