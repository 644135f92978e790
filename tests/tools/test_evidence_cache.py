"""The bounded cache behind parsed evaluation tables and paired bootstraps."""

from __future__ import annotations

import pytest

from tools.evidence_cache import ByteBoundedCache, content_key


def test_evicts_least_recently_used_past_the_byte_budget() -> None:
    cache: ByteBoundedCache[str] = ByteBoundedCache(100)
    cache.put("a", "A", 40)
    cache.put("b", "B", 40)
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", "C", 40)  # 120 > 100: b goes
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == ("A", "C")
    stats = cache.stats()
    assert (stats.entries, stats.bytes, stats.max_bytes) == (2, 80, 100)


@pytest.mark.parametrize(
    ("max_bytes", "size", "kept"),
    [(100, 100, True), (100, 101, False), (0, 1, False)],
    ids=["fits-exactly", "larger-than-the-budget", "disabled"],
)
def test_a_value_is_kept_only_within_the_budget(max_bytes: int, size: int, kept: bool) -> None:
    cache: ByteBoundedCache[str] = ByteBoundedCache(max_bytes)
    cache.put("k", "v", size)
    assert (cache.get("k") == "v") is kept
    assert cache.stats().bytes <= max_bytes


def test_get_or_compute_computes_once_and_counts() -> None:
    cache: ByteBoundedCache[list[int]] = ByteBoundedCache(1000)
    calls: list[int] = []

    def compute() -> list[int]:
        calls.append(1)
        return [1, 2]

    first = cache.get_or_compute("k", compute, len)
    second = cache.get_or_compute("k", compute, len)
    assert first is second and len(calls) == 1
    assert (cache.stats().hits, cache.stats().misses) == (1, 1)


def test_resize_evicts_down_to_the_new_budget() -> None:
    cache: ByteBoundedCache[int] = ByteBoundedCache(100)
    for i in range(5):
        cache.put(i, i, 20)
    cache.resize(40)
    assert [cache.get(i) for i in range(5)] == [None, None, None, 3, 4]


@pytest.mark.parametrize(
    ("left", "right"),
    [(("ab", "c"), ("a", "bc")), (("x", b"1"), ("x", b"2")), (("t.json",), ("t.csv",))],
    ids=["split-moves", "content-differs", "path-differs"],
)
def test_content_keys_differ_when_anything_differs(
    left: tuple[str | bytes, ...], right: tuple[str | bytes, ...]
) -> None:
    assert content_key(*left) != content_key(*right)
    assert content_key(*left) == content_key(*left)
