"""A file's hash is kept under its `stat` and read again after any change to it."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tools import file_hashes
from tools.disk_cache import DiskCache
from tools.file_hashes import FileHashes


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Files count as settled 50 ms after their last change (two seconds in production); the
    fixture waits that long."""
    monkeypatch.setattr(file_hashes, "RACY_NS", 50_000_000)
    return lambda: time.sleep(0.1)


def _digest(hashes: FileHashes, path: Path) -> str:
    return hashes.digest(path, path.stat())


def _rewrite_same_size_and_times(path: Path) -> None:
    info = path.stat()
    data = bytearray(path.read_bytes())
    data[0] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _replace_by_rename(path: Path) -> None:
    other = path.with_name(path.name + ".new")
    other.write_bytes(b"revision: 2\n")
    os.replace(other, path)


CHANGES = pytest.mark.parametrize(
    "change",
    [
        lambda path: path.write_text("revision: 2\n"),
        _rewrite_same_size_and_times,
        _replace_by_rename,
    ],
    ids=["rewritten", "same-size-and-times-restored", "replaced-by-rename"],
)


def _on_disk(cache: DiskCache) -> FileHashes:
    """A new `FileHashes` on `cache`: what a later process starts with."""
    hashes = FileHashes()
    hashes.use_disk(cache)
    return hashes


def _refuse_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> int:
        raise AssertionError("read again")

    monkeypatch.setattr(file_hashes.os, "open", refused)


@CHANGES
def test_a_kept_hash_never_answers_for_changed_bytes(
    tmp_path: Path, settled: Callable[[], None], change: Callable[[Path], None]
) -> None:
    hashes = FileHashes()
    path = tmp_path / "policy.yaml"
    path.write_text("revision: 1\n")
    settled()
    first = _digest(hashes, path)
    assert str(path) in hashes._hashes, "a settled file's hash is kept"
    change(path)
    assert _digest(hashes, path) == hashlib.sha256(path.read_bytes()).hexdigest() != first


def test_a_settled_file_is_not_read_again(
    tmp_path: Path, settled: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = FileHashes()
    path = tmp_path / "model.skops"
    path.write_bytes(b"x" * 1000)
    settled()
    expected = _digest(hashes, path)
    _refuse_reads(monkeypatch)
    assert _digest(hashes, path) == expected


def test_a_later_process_takes_a_settled_files_hash_from_disk_without_reading_it(
    tmp_path: Path, settled: Callable[[], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = DiskCache(tmp_path / "cache")
    path = tmp_path / "model.skops"
    path.write_bytes(b"x" * 1000)
    settled()
    expected = _digest(_on_disk(cache), path)
    assert cache.stats().writes == 1
    _refuse_reads(monkeypatch)
    later = _on_disk(cache)
    assert later.known(path, path.stat()) == expected == hashlib.sha256(b"x" * 1000).hexdigest()
    assert _digest(later, path) == expected
    assert cache.stats().hits == 1, "the second answer came from memory"


@CHANGES
def test_a_hash_kept_on_disk_never_answers_for_changed_bytes(
    tmp_path: Path, settled: Callable[[], None], change: Callable[[Path], None]
) -> None:
    cache = DiskCache(tmp_path / "cache")
    path = tmp_path / "model.skops"
    path.write_text("revision: 1\n")
    settled()
    first = _digest(_on_disk(cache), path)
    change(path)
    later = _on_disk(cache)
    assert later.known(path, path.stat()) is None
    assert _digest(later, path) == hashlib.sha256(path.read_bytes()).hexdigest() != first


def test_a_file_changed_within_the_racy_window_is_not_kept_on_disk(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "cache")
    path = tmp_path / "model.skops"
    path.write_bytes(b"model")
    _digest(_on_disk(cache), path)
    assert cache.stats().writes == 0
    assert _on_disk(cache).known(path, path.stat()) is None


@pytest.mark.parametrize(
    "payload",
    [b"not a digest", b"A" * 64, hashlib.sha256(b"x").hexdigest().encode() + b"\n"],
    ids=["text", "upper-case", "trailing-newline"],
)
def test_an_entry_that_is_not_a_digest_is_a_miss(
    tmp_path: Path, settled: Callable[[], None], payload: bytes
) -> None:
    cache = DiskCache(tmp_path / "cache")
    path = tmp_path / "model.skops"
    path.write_bytes(b"model")
    settled()
    cache.put(file_hashes._disk_key(path, file_hashes._stat_key(path.stat())), payload)
    later = _on_disk(cache)
    assert later.known(path, path.stat()) is None
    assert _digest(later, path) == hashlib.sha256(b"model").hexdigest()


def test_a_file_changed_within_the_racy_window_is_not_kept(tmp_path: Path) -> None:
    hashes = FileHashes()
    path = tmp_path / "policy.yaml"
    path.write_text("revision: 1\n")
    assert _digest(hashes, path) == hashlib.sha256(b"revision: 1\n").hexdigest()
    assert str(path) not in hashes._hashes


def test_a_fifo_in_a_files_place_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(b"model")
    info = path.stat()
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(OSError, match="not a regular file"):
        FileHashes().digest(path, info)
