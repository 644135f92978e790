"""Work a gate answer does not wait for: a decision's tags and its evidence fingerprint.

Both are written after the decision is in the ledger, and neither changes it: tags that cannot
be written are logged (the ledger is the record of truth), and a decision without a fingerprint
is found again by reading its evidence in full. On a fresh gate they were a third of the wall
time, so the answer leaves first.

What follows a decision stays visible in order to whoever asks next about the same model: a gate
call waits for the follow-ups of earlier calls on that model version (on the whole model when
asked by alias), and `Followups.drain` waits for all of them (a one-shot command before it exits,
the API when it stops).

A follow-up can be held until its answer has left (`after`): started as soon as the decision is
made, its threads would take the interpreter from the thread sending the answer, up to 40 ms of a
fresh gate answered over HTTP.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Final

__all__ = ["Followups"]

logger = logging.getLogger("promogate.review")

_WORKERS: Final = 4
#: How long a held follow-up waits for its answer to leave before it starts anyway (an answer
#: that never left, its caller gone): the ordering's bound, not a step of its own.
HOLD_S: Final = 2.0


class Followups:
    """A small executor for the work after a gate answer, keyed by model and version.

    Args:
        wait_s: How long a later call on the same model version waits for earlier follow-ups
            before going on without them (it then reads the evidence in full, as it would
            without a fingerprint).
    """

    def __init__(self, wait_s: float = 30.0) -> None:
        self._wait_s = wait_s
        self._executor: ThreadPoolExecutor | None = None
        self._pending: dict[tuple[str, int], list[Future[None]]] = {}
        self._lock = threading.Lock()

    def submit(
        self,
        model: str,
        version: int,
        what: str,
        work: Callable[[], None],
        *,
        after: threading.Event | None = None,
    ) -> None:
        """Run `work` after the answer; a failure is logged with `what`, never raised.

        Args:
            model: The model the work is about.
            version: Its version.
            what: What the work does, for the log.
            work: The work.
            after: Set once the answer has left; the work starts then (or after `HOLD_S`).
                Callers waiting for the work (`wait`, `drain`) see it from now.
        """
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=_WORKERS, thread_name_prefix="promogate-gate-followup"
                )
            future = self._executor.submit(self._run, what, work, after)
            self._pending.setdefault((model, version), []).append(future)
        future.add_done_callback(lambda done: self._forget((model, version), done))

    @staticmethod
    def _run(what: str, work: Callable[[], None], after: threading.Event | None) -> None:
        if after is not None and not after.wait(HOLD_S):
            logger.debug("after the gate answer: %s starts without its answer sent", what)
        try:
            work()
        # A follow-up never changes the decision it follows: whatever it raises is reported
        # here, and the next call that needs its result reads the evidence in full instead.
        except Exception:
            logger.warning("after the gate answer: %s failed", what, exc_info=True)

    def _forget(self, key: tuple[str, int], done: Future[None]) -> None:
        with self._lock:
            futures = self._pending.get(key)
            if futures is not None and done in futures:
                futures.remove(done)
                if not futures:
                    del self._pending[key]

    def wait(self, model: str, version: int | None) -> None:
        """Wait for the follow-ups of `model` at `version` (all its versions when None)."""
        with self._lock:
            futures = [
                f
                for (name, number), fs in self._pending.items()
                if name == model and (version is None or number == version)
                for f in fs
            ]
        self._wait_for(futures, self._wait_s)

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait for every follow-up submitted so far."""
        with self._lock:
            futures = [f for fs in self._pending.values() for f in fs]
        self._wait_for(futures, timeout_s)

    @staticmethod
    def _wait_for(futures: list[Future[None]], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for future in futures:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not _finished(future, remaining):
                logger.warning("gate follow-ups still running after %.0f s", timeout_s)
                return


def _finished(future: Future[None], timeout_s: float) -> bool:
    try:
        future.result(timeout=timeout_s)
    except TimeoutError:
        return False
    return True
