"""The watch as jobs on the PostgreSQL job queue (procrastinate), run by `promogate worker`.

- ``promogate.watch``: one pass over ``model@alias`` (deferred by anyone, e.g. a pipeline that
  just logged a window: `defer_watch`);
- ``promogate.watch.periodic``: a pass over every watched alias, on the cron schedule of
  ``PROMOGATE_WATCH_CRON`` (procrastinate's periodic tasks: every worker schedules it, the job
  queue runs each tick once).

The worker hands its `review.watch_runner.Watcher` to the tasks through procrastinate's
additional context. Passes of one alias never overlap (the watcher holds a lease on it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from ledger.errors import LedgerError

if TYPE_CHECKING:
    import procrastinate

    from review.watch_runner import Watcher

__all__ = [
    "WATCH_PERIODIC_TASK",
    "WATCH_TASK",
    "defer_watch",
    "register_watch_tasks",
]

logger = logging.getLogger("promogate.api")

WATCH_TASK: Final = "promogate.watch"
WATCH_PERIODIC_TASK: Final = "promogate.watch.periodic"


def _watcher(context: procrastinate.JobContext) -> Watcher:
    watcher = context.additional_context.get("watcher")
    if watcher is None:
        raise RuntimeError("a watch task ran without a watcher; run it with `promogate worker`")
    return watcher  # type: ignore[no-any-return]


def _watch_task(context: procrastinate.JobContext, /, *, model: str, alias: str | None) -> str:
    result = _watcher(context).watch(model, alias)
    if result.errors:
        logger.warning("watch job %s@%s: %s", model, result.alias, "; ".join(result.errors))
    return result.level


def _periodic_task(context: procrastinate.JobContext, timestamp: int) -> dict[str, str]:
    logger.info("periodic watch pass (tick %d)", timestamp)
    passes = _watcher(context).watch_all()
    return {f"{p.model}@{p.alias}": p.level for p in passes}


def register_watch_tasks(app: procrastinate.App, *, cron: str | None = None) -> None:
    """Register the watch tasks on a procrastinate app; the periodic one only with a schedule.

    Args:
        app: The procrastinate app.
        cron: Cron schedule of the periodic pass (five fields, or six with seconds last).
    """
    import procrastinate

    retry = procrastinate.RetryStrategy(
        max_attempts=3, exponential_wait=2, retry_exceptions={LedgerError}
    )
    app.task(name=WATCH_TASK, pass_context=True, retry=retry)(_watch_task)
    if cron:
        periodic: Any = app.periodic(cron=cron, periodic_id="watch")
        periodic(
            app.task(name=WATCH_PERIODIC_TASK, pass_context=True, queueing_lock="watch-periodic")(
                _periodic_task
            )
        )


def defer_watch(app: procrastinate.App, model: str, alias: str | None = None) -> int:
    """Queue one watch pass of ``model@alias``; returns the job id.

    Args:
        app: An open procrastinate app with the watch tasks registered.
        model: Registered model name.
        alias: The alias (the worker's target alias if None).
    """
    job_id: int = app.tasks[WATCH_TASK].defer(model=model, alias=alias)
    return job_id
