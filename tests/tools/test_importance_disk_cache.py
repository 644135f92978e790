"""Importances kept on disk answer a later process exactly as loading the file would, and any
change of what they depend on (the file's bytes, the trusted types, the source, the loader, the
libraries) reads the file afresh."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from sklearn.tree import DecisionTreeClassifier

import tools.model_importance as importance
from tools.disk_cache import DiskCache
from tools.evidence_cache import IMPORTANCE_CACHE_BYTES
from tools.model_importance import IMPORTANCE_CACHE, load_skops_importances

TREE = "sklearn.tree._tree.Tree"


@pytest.fixture(scope="module")
def model_files() -> tuple[bytes, bytes]:
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.DataFrame({"a": [0, 1, 0, 1, 1, 0], "b": [1, 1, 0, 0, 1, 0]})
    first = sio.dumps(DecisionTreeClassifier(random_state=0).fit(frame, [0, 1, 0, 1, 1, 0]))
    second = sio.dumps(DecisionTreeClassifier(random_state=0).fit(frame, list(frame["b"])))
    return first, second


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[DiskCache]:
    """A disk cache in use, with the in-memory cache off so every read goes to disk."""
    cache = DiskCache(tmp_path / "importances")
    IMPORTANCE_CACHE.resize(0)
    importance.use_importance_disk_cache(cache)
    yield cache
    importance.use_importance_disk_cache(None)
    IMPORTANCE_CACHE.resize(IMPORTANCE_CACHE_BYTES)
    importance._producer_fingerprint.cache_clear()


def _read(data: bytes, trusted: list[str] | None = None, source: str = "s") -> Any:
    return load_skops_importances(
        data, trusted_types=[TREE] if trusted is None else trusted, source=source, model_file="m"
    )


def _no_loading(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("the model file was loaded although its importances were on disk")


def test_a_later_read_comes_from_disk_and_equals_a_fresh_load(
    disk: DiskCache, model_files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = model_files
    importance.use_importance_disk_cache(None)
    fresh = _read(first)
    importance.use_importance_disk_cache(disk)
    cold = _read(first)
    assert disk.stats().writes == 1
    monkeypatch.setattr(importance, "_load_skops_importances", _no_loading)
    warm = _read(first)
    assert disk.stats().hits == 1
    assert warm == cold == fresh
    assert warm.model_dump_json() == fresh.model_dump_json()
    assert warm.shares == {"a": 1.0, "b": 0.0}


def _other_bytes(files: tuple[bytes, bytes]) -> Any:
    return _read(files[1])


def _fewer_trusted_types(files: tuple[bytes, bytes]) -> Any:
    return _read(files[0], trusted=[])


def _other_source(files: tuple[bytes, bytes]) -> Any:
    return _read(files[0], source="models:/m-other")


def _newer_library(files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(importance, "installed_version", lambda name: f"{name}-99")
    importance._producer_fingerprint.cache_clear()
    return _read(files[0])


def _newer_format(files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(importance, "IMPORTANCE_FORMAT_VERSION", 99)
    importance._producer_fingerprint.cache_clear()
    return _read(files[0])


def _edited_loader(
    files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Any:
    edited = tmp_path / "model_importance.py"
    edited.write_bytes(Path(importance.__file__).read_bytes() + b"\n# edited\n")
    sources = (edited, *importance._PRODUCER_SOURCES[1:])
    monkeypatch.setattr(importance, "_PRODUCER_SOURCES", sources)
    importance._producer_fingerprint.cache_clear()
    return _read(files[0])


@pytest.mark.parametrize(
    ("change", "expected_available"),
    [
        (lambda f, m, t: _other_bytes(f), True),
        (lambda f, m, t: _fewer_trusted_types(f), False),
        (lambda f, m, t: _other_source(f), True),
        (lambda f, m, t: _newer_library(f, m), True),
        (lambda f, m, t: _newer_format(f, m), True),
        (_edited_loader, True),
    ],
    ids=[
        "model-file-replaced",
        "trusted-types-changed",
        "source-changed",
        "library-upgraded",
        "format-version-bumped",
        "loader-source-edited",
    ],
)
def test_every_change_of_input_reads_the_file_afresh(
    disk: DiskCache,
    model_files: tuple[bytes, bytes],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    change: Callable[[tuple[bytes, bytes], pytest.MonkeyPatch, Path], Any],
    expected_available: bool,
) -> None:
    original = _read(model_files[0])
    assert disk.stats().writes == 1
    changed = change(model_files, monkeypatch, tmp_path)
    # A miss: the file was loaded again and the new answer written beside the old one.
    assert disk.stats().hits == 0
    assert disk.stats().writes == 2
    assert changed.available is expected_available
    importance.use_importance_disk_cache(None)
    importance._producer_fingerprint.cache_clear()
    assert original == _read(model_files[0])


def test_a_corrupt_entry_is_a_miss_and_the_file_is_loaded_again(
    disk: DiskCache, model_files: tuple[bytes, bytes]
) -> None:
    cold = _read(model_files[0])
    (entry,) = disk.directory.iterdir()
    entry.write_bytes(entry.read_bytes().replace(b"1.0", b"0.5"))
    again = _read(model_files[0])
    assert again == cold
    assert disk.stats().discarded == 1
    assert disk.stats().writes == 2


def test_an_unparseable_entry_with_a_valid_checksum_is_a_miss(
    disk: DiskCache, model_files: tuple[bytes, bytes]
) -> None:
    cold = _read(model_files[0])
    (entry,) = disk.directory.iterdir()
    key = entry.name.removesuffix(".entry")
    disk.put(key, b'{"not": "a FeatureImportances"}')
    assert _read(model_files[0]) == cold


def test_without_a_readable_fingerprint_nothing_is_kept_on_disk(
    disk: DiskCache, model_files: tuple[bytes, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importance, "_PRODUCER_PACKAGES", ("no-such-package-here",))
    importance._producer_fingerprint.cache_clear()
    assert _read(model_files[0]).available
    assert disk.stats().writes == 0
