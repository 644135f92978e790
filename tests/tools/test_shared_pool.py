"""The process's named thread pools: one per name and process, idle threads reused."""

from __future__ import annotations

import threading

import pytest

from tools import shared_pool as shared_pool_module
from tools.shared_pool import shared_pool


def _pool_threads(name: str) -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith(f"promogate-{name}")}


def test_one_pool_per_name() -> None:
    first = shared_pool("test-one", 2)
    assert shared_pool("test-one", 5) is first
    assert shared_pool("test-other", 2) is not first


def test_idle_threads_are_reused() -> None:
    pool = shared_pool("test-reuse", 4)
    names = [pool.submit(lambda: threading.current_thread().name).result() for _ in range(20)]
    # One task at a time: the thread that ran the first runs every later one.
    assert set(names) == {names[0]}
    assert names[0].startswith("promogate-test-reuse")
    assert _pool_threads("test-reuse") == {names[0]}


def test_a_forked_process_gets_pools_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    parent = shared_pool("test-fork", 1)
    monkeypatch.setattr(shared_pool_module.os, "getpid", lambda: -1)
    child = shared_pool("test-fork", 1)
    assert child is not parent
    assert child.submit(lambda: 2 + 2).result() == 4


def test_a_forked_child_makes_its_pools_even_if_the_parent_held_the_lock() -> None:
    import os

    held = shared_pool_module._LOCK
    with held:
        child = os.fork()
        if child == 0:  # the child: a pool of its own, without waiting on the parent's lock
            ok = False
            try:
                ok = shared_pool("test-forked", 1).submit(lambda: 6 * 7).result(timeout=5.0) == 42
            finally:
                os._exit(0 if ok else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
