"""Thread pools kept for the life of the process, one per name, their idle threads reused.

A pool made for one review starts a thread for each read it runs, and `Thread.start` waits
until the new thread has run: while the review's other threads and the model-file reader hold
both cores, each start waited milliseconds, and a fresh gate's evidence collection started a
dozen of them. A pool kept per process starts a thread only when every one it has is busy.

A pool is keyed by the process id too: threads do not survive a fork (``promogate serve
--workers``), so a forked child gets pools of its own.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

__all__ = ["shared_pool"]

_POOLS: dict[tuple[int, str], ThreadPoolExecutor] = {}
_LOCK = threading.Lock()


def _unlock_after_fork() -> None:
    # A thread of the parent may have held the lock when it forked; the child has no such thread.
    global _LOCK
    _LOCK = threading.Lock()


os.register_at_fork(after_in_child=_unlock_after_fork)


def shared_pool(name: str, max_workers: int) -> ThreadPoolExecutor:
    """This process's pool called `name`, made on first use with `max_workers` threads at most.

    Its threads are named ``promogate-<name>``. A task that waits on another task of the same
    pool must have been submitted after it (the queue is first in, first out), or a full pool
    could wait on itself.

    Args:
        name: The pool's name; the first call's `max_workers` holds for every later one.
        max_workers: The most threads the pool runs at once.
    """
    key = (os.getpid(), name)
    with _LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = ThreadPoolExecutor(
                max_workers=max_workers, thread_name_prefix=f"promogate-{name}"
            )
            _POOLS[key] = pool
        return pool
