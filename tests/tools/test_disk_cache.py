"""The on-disk cache answers with what was written under a key, or misses: a corrupt,
unreadable or foreign entry is never an answer nor an error, and the directory stays bounded."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import BaseModel

from tools.disk_cache import DiskCache, default_cache_dir, producer_fingerprint

KEY = hashlib.sha256(b"one").hexdigest()
OTHER = hashlib.sha256(b"two").hexdigest()
PAYLOAD = b'{"shares": {"a": 0.25, "b": 0.75}}'


def _entry(cache: DiskCache, key: str = KEY) -> Path:
    return cache.directory / f"{key}.entry"


def test_a_written_payload_is_read_back(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c")
    assert cache.get(KEY) is None
    cache.put(KEY, PAYLOAD)
    assert cache.get(KEY) == PAYLOAD
    assert cache.get(OTHER) is None
    assert cache.stats().model_dump() == {"hits": 1, "misses": 2, "writes": 1, "discarded": 0}
    # Written through a temporary file renamed into place: nothing else is left behind.
    assert sorted(p.name for p in cache.directory.iterdir()) == [f"{KEY}.entry"]
    # The cache may hold what reviews read: only its owner reads the directory.
    assert cache.directory.stat().st_mode & 0o777 == 0o700


def _flip_payload_byte(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[-3] ^= 0x01  # "0.25" becomes "0.24"-like: still valid JSON, a wrong answer if served
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda p: p.write_bytes(b""),
        lambda p: p.write_bytes(p.read_bytes()[:-5]),
        _flip_payload_byte,
        lambda p: p.write_bytes(b"junk" + p.read_bytes()),
        lambda p: p.write_bytes(p.read_bytes().replace(KEY.encode(), OTHER.encode())),
        lambda p: p.write_bytes(p.read_bytes().split(b"\n", 2)[0]),
    ],
    ids=["empty", "truncated", "payload-bit-flipped", "bad-magic", "other-key", "no-checksum"],
)
def test_a_corrupt_entry_is_a_miss_and_is_removed(
    tmp_path: Path, corrupt: Callable[[Path], None]
) -> None:
    cache = DiskCache(tmp_path / "c")
    cache.put(KEY, PAYLOAD)
    corrupt(_entry(cache))
    assert cache.get(KEY) is None
    assert cache.stats().discarded == 1
    assert not _entry(cache).exists()
    # The next write repairs it.
    cache.put(KEY, PAYLOAD)
    assert cache.get(KEY) == PAYLOAD


def test_an_entry_copied_under_another_key_is_a_miss(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "c")
    cache.put(KEY, PAYLOAD)
    _entry(cache, OTHER).write_bytes(_entry(cache).read_bytes())
    assert cache.get(OTHER) is None
    assert cache.get(KEY) == PAYLOAD


def _file_in_the_way(directory: Path) -> None:
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.write_bytes(b"a file, not a directory")


def _read_only(directory: Path) -> None:
    directory.mkdir(parents=True)
    directory.chmod(0o500)


@pytest.mark.parametrize(
    ("block", "root_writes_anyway"),
    [(_file_in_the_way, False), (_read_only, True)],
    ids=["directory-is-a-file", "directory-read-only"],
)
def test_an_unusable_directory_is_a_miss_and_a_skipped_write(
    tmp_path: Path, block: Callable[[Path], None], root_writes_anyway: bool
) -> None:
    if root_writes_anyway and os.geteuid() == 0:
        pytest.skip("permissions do not stop root")
    directory = tmp_path / "c"
    block(directory)
    cache = DiskCache(directory)
    cache.put(KEY, PAYLOAD)  # no error
    assert cache.get(KEY) is None
    assert cache.stats().writes == 0


def _writable_by_group(directory: Path) -> None:
    directory.chmod(0o770)


def _writable_by_anyone(directory: Path) -> None:
    directory.chmod(0o1777)


def _owned_by_another_user(directory: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("only root can give a directory to another user")
    os.chown(directory, os.geteuid() + 4242, -1)


@pytest.mark.parametrize(
    "share",
    [_writable_by_group, _writable_by_anyone, _owned_by_another_user],
    ids=["group-writable", "world-writable", "another-users"],
)
def test_a_directory_others_can_write_in_is_neither_read_nor_written(
    tmp_path: Path, share: Callable[[Path], None], caplog: pytest.LogCaptureFixture
) -> None:
    planted = DiskCache(tmp_path / "c")
    planted.put(KEY, PAYLOAD)
    share(planted.directory)
    cache = DiskCache(planted.directory)
    assert cache.get(KEY) is None
    cache.put(OTHER, PAYLOAD)
    assert not _entry(cache, OTHER).exists()
    assert cache.stats().writes == 0
    assert cache.get(KEY) is None
    warnings = [r for r in caplog.records if "not using the cache directory" in r.getMessage()]
    assert len(warnings) == 1, "one warning per cache, not one per lookup"


def test_a_new_directory_is_created_owner_only(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path / "a" / "c")
    cache.put(KEY, PAYLOAD)
    assert cache.directory.stat().st_mode & 0o777 == 0o700
    assert cache.get(KEY) == PAYLOAD


def test_the_directory_stays_within_its_bound_least_recently_used_first(tmp_path: Path) -> None:
    payload = b"x" * 400
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(4)]
    # Room for two entries (each is the payload plus a header of about 150 bytes).
    cache = DiskCache(tmp_path / "c", max_bytes=1300)
    for age, key in enumerate(keys[:2]):
        cache.put(key, payload)
        os.utime(_entry(cache, key), (1000 + age, 1000 + age))
    assert cache.get(keys[0]) == payload  # now the most recently used
    cache.put(keys[2], payload)
    assert cache.get(keys[1]) is None  # the least recently used went first
    assert cache.get(keys[0]) == payload
    assert cache.get(keys[2]) == payload
    total = sum(p.stat().st_size for p in cache.directory.iterdir())
    assert total <= 1300
    # A payload larger than the whole bound is not kept.
    cache.put(keys[3], b"y" * 2000)
    assert cache.get(keys[3]) is None


@pytest.mark.parametrize(
    "key", ["", "ABC", KEY.upper(), KEY[:-1], "../" + KEY[3:]], ids=str.__len__
)
def test_keys_are_hex_digests_only(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="SHA-256 hex digest"):
        DiskCache(tmp_path).get(key)


@pytest.mark.parametrize(
    ("xdg", "expected"),
    [
        ("/var/cache/me", Path("/var/cache/me/promogate")),
        ("", Path.home() / ".cache" / "promogate"),
        ("relative/dir", Path.home() / ".cache" / "promogate"),
    ],
    ids=["xdg-set", "xdg-unset", "xdg-relative"],
)
def test_the_default_directory_follows_xdg(
    monkeypatch: pytest.MonkeyPatch, xdg: str, expected: Path
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", xdg)
    assert default_cache_dir() == expected


class _Shares(BaseModel):
    shares: dict[str, float]


def test_a_model_is_read_back_as_written_and_anything_else_is_a_miss(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = DiskCache(tmp_path / "c")
    value = _Shares(shares={"a": 0.25, "b": 0.75})
    cache.put_model(KEY, value)
    assert cache.get(KEY) == PAYLOAD.replace(b" ", b"")
    assert cache.get_model(KEY, _Shares) == value
    cache.put(OTHER, b'{"shares": "none"}')
    assert cache.get_model(OTHER, _Shares) is None
    assert "ignoring a cached _Shares that does not parse" in caplog.text


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "producer.py"
    path.write_text("def produce(): ...\n")
    return path


_BEFORE: tuple[int, dict[str, str]] = (1, {"pydantic": "2.0"})


def _edited(source: Path) -> tuple[int, dict[str, str]]:
    source.write_text("def produce(): return 1\n")
    return _BEFORE


@pytest.mark.parametrize(
    "change",
    [
        lambda source: (2, {"pydantic": "2.0"}),
        lambda source: (1, {"pydantic": "2.1"}),
        lambda source: (1, {"pydantic": "2.0", "numpy": "2.0"}),
        _edited,
    ],
    ids=["form", "package-version", "package-added", "source-edited"],
)
def test_every_part_of_a_producer_changes_its_fingerprint(
    source: Path, change: Callable[[Path], tuple[int, dict[str, str]]]
) -> None:
    before = producer_fingerprint(_BEFORE[0], [source], _BEFORE[1])
    assert producer_fingerprint(_BEFORE[0], [source], _BEFORE[1]) == before
    form, versions = change(source)
    assert producer_fingerprint(form, [source], versions) != before


def test_an_unreadable_source_raises(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        producer_fingerprint(1, [tmp_path / "missing.py"], {})
