"""The garbage collector's settings for the `promogate` process, chosen by the command it runs.

A local `promogate review` or `gate` imports MLflow, SQLAlchemy, pydantic models and the review's
own modules (about 3,000 modules), reviews once and exits. With CPython's default thresholds the
collector runs thousands of young and several full collections while those modules load, each
full one walking every object imported so far, and a last pass at exit walks them all again: on
the demo that is about a third of the process's CPU. None of it frees anything that matters to a
process that ends a second later.

So a one-shot command raises the thresholds (collections still happen when a review allocates a
great deal, so memory stays bounded; the demo's review runs none), and every command freezes the
surviving objects at exit, so the interpreter's final collection does not walk what the process
imported. Long-running commands (`serve`, `worker`, `watch`) keep the default thresholds; `serve`
and `worker` freeze what they hold once they have warmed up (`settle_heap`; the warm-up imports
skops and scikit-learn), and once more after their first review (`SettleAfterFirstReview`),
which builds what reviews keep (the parsed policies, the evidence caches), since
every full collection would otherwise walk it all again: about 0.2 s on 2
cores, inside whichever request allocated past the threshold (a fresh gate that answered in
281 ms took 514 ms when one fell in it). Frozen at the start only, the objects the first review
adds keep full collections frequent, and they cost as much in all as before.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policies.decision import Decision
    from review import ReviewObserver

__all__ = [
    "ONE_SHOT_COMMANDS",
    "ONE_SHOT_THRESHOLDS",
    "SettleAfterFirstReview",
    "freeze_at_exit",
    "settle_heap",
    "tune_for_command",
]

logger = logging.getLogger("promogate.api")

#: Commands that review once and exit.
ONE_SHOT_COMMANDS = frozenset({"review", "gate"})
#: Young-generation allocations before a collection, then the older generations' ratios.
ONE_SHOT_THRESHOLDS = (100_000, 50, 1_000)


def tune_for_command(args: Sequence[str]) -> None:
    """Raise the collector's thresholds when `args` (after the program name) run a one-shot
    command; leave them as they are otherwise."""
    if args and args[0] in ONE_SHOT_COMMANDS:
        gc.set_threshold(*ONE_SHOT_THRESHOLDS)


def freeze_at_exit() -> None:
    """Move every tracked object to the permanent generation, so the interpreter's shutdown does
    not walk them again: objects freed by reference counting are still finalized, and files,
    database connections and atexit handlers close as before."""
    gc.freeze()


def settle_heap() -> int:
    """Collect, then freeze every object left; returns how many are frozen in all.

    For a long-running process once it has built what it keeps (its services, clients and their
    imports): later collections walk only what was created after. Frozen objects are still freed
    when their last reference goes; only a reference cycle among them would outlive its use.
    Call it only in a process of its own: a test's or a host's objects alive at that moment would
    be frozen with the app's.
    """
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    logger.info("%d objects frozen out of the collector's full collections", frozen)
    return frozen


class SettleAfterFirstReview:
    """A review observer that settles the heap once more, in a thread of its own, after the
    first review it sees, then passes every review on to `then` (the metrics, say).

    Args:
        then: The observer to call for every review, or None.
    """

    def __init__(self, then: ReviewObserver | None = None) -> None:
        self._then = then
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __call__(self, decision: Decision, seconds: float) -> None:
        if self._then is not None:
            self._then(decision, seconds)
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(
                target=settle_heap, name="promogate-settle-heap", daemon=True
            )
        self._thread.start()

    def wait(self, timeout_s: float = 60.0) -> bool:
        """True once the settling after the first review has finished; False when no review was
        seen yet, or when it is still running after `timeout_s`."""
        with self._lock:
            thread = self._thread
        if thread is None:
            return False
        thread.join(timeout_s)
        return not thread.is_alive()
