"""What the first review after a start would wait for, done as the process starts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from agents.untrusted import compile_patterns
from api._cli_gc import settle_heap
from tools import import_model_readers, importance_process_in_use

if TYPE_CHECKING:
    from review.gate import GateService

__all__ = ["warm_up"]

logger = logging.getLogger("promogate.api")


def _model_readers() -> None:
    # A process that reads model files in a child of its own never parses one itself: the
    # child imports the readers, and this process's import would only compete with it. The
    # warm-up ends when the child is ready, which readiness waits for: a first gate sent while it
    # imports (about 3 s on 2 cores) would wait for it.
    process = importance_process_in_use()
    if process is None:
        import_model_readers()
    else:
        process.wait_until_ready()


def warm_up(gate: GateService, *, freeze_heap: bool = False) -> None:
    """Build the ledger's schema check and the MLflow client, import the model file readers
    (`tools.model_importance.import_model_readers`; where a reader process reads model files,
    wait until it has imported them) and compile the screening's patterns
    (`agents.untrusted.compile_patterns`), now, not in the first review; then, with
    `freeze_heap`, freeze what the process holds (`api._cli_gc.settle_heap`).

    A step that fails is only logged: the first request that needs the part fails again and
    reports it.
    """
    for what, step in (
        ("ledger", gate.ledger.head),
        ("MLflow client", lambda: gate.client),
        ("model file readers", _model_readers),
        ("screening patterns", compile_patterns),
    ):
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - nothing is decided here
            logger.warning("warming up the %s failed: %s", what, exc)
    if freeze_heap:
        settle_heap()
