"""The post-promotion watch at the front door: notifications, the periodic loop, the event hook.

`build_watcher(settings, gate, notifier)` gives every front door (the CLI, the API, workers) a
`review.watch_runner.Watcher` whose notices go through the events' notification channel.
`install_watch(app, state, events)` adds to an API app:

- the watch gauges (`api._watch_metrics.WatchCollector`) in its ``/metrics``;
- a periodic pass over every watched alias every ``PROMOGATE_WATCH_INTERVAL_S`` seconds (0, the
  default, leaves it to ``promogate worker`` with ``PROMOGATE_WATCH_CRON``, or to cron);
- the MLflow event hook: a ``model_version_tag.set`` of `MONITORING_TAG` on a version (what
  `promogate monitor log` writes after logging a window) runs a pass for every watched alias
  that version holds. MLflow 3 sends no event for a new run, so the tag is the signal.
"""

from __future__ import annotations

import logging
import threading
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from api._event_processor import MONITORING_TAG
from api._notifications import Notification, Notifier
from api._watch_metrics import WatchCollector
from api.settings import Settings
from ledger.errors import LedgerError
from policies.errors import PolicyError
from review.watch_runner import Watcher, WatchNotice, WatchPass
from tools.errors import ToolError
from tools.registry import registered_aliases

if TYPE_CHECKING:
    from fastapi import FastAPI

    from api.dependencies import AppState
    from api.mlflow_events_service import MlflowEvents
    from review.gate import GateService

__all__ = [
    "MONITORING_TAG",
    "WatchLoop",
    "build_watcher",
    "install_watch",
    "notice_notification",
    "watch_version",
]

logger = logging.getLogger("promogate.api")


def notice_notification(notice: WatchNotice) -> Notification:
    """The notification of a watch notice."""
    return Notification(
        kind=notice.kind,
        model=notice.model,
        version=notice.version,
        alias=notice.alias,
        summary=notice.summary,
        reasons=notice.reasons[:10],
        record_id=notice.record_id,
    )


def build_watcher(settings: Settings, gate: GateService, notifier: Notifier | None) -> Watcher:
    """The watcher `settings` describe, notifying through `notifier` (None: log only).

    Args:
        settings: The configuration, read once at the edge.
        gate: The gate service (MLflow, ledger, policies, promote).
        notifier: The notification channel of the MLflow events.
    """

    def notify(notice: WatchNotice) -> None:
        logger.warning("watch %s@%s: %s", notice.model, notice.alias, notice.summary)
        if notifier is not None:
            notifier.notify(notice_notification(notice))

    return Watcher(gate, notify=notify, score_rollback=settings.watch_score_rollback)


def watch_version(watcher: Watcher, model: str, version: int) -> list[WatchPass]:
    """A pass for every watched alias `version` of `model` holds (a new window was logged for it).

    Args:
        watcher: The watcher.
        model: Registered model name.
        version: The version a monitoring window was logged for.
    """
    policies = watcher.gate.reviews.policies()
    default = watcher.gate.config.target_alias
    held = [a for a, v in registered_aliases(watcher.client, model).items() if v == version]
    watched = [
        alias
        for alias in held
        if any(
            p.policy.watch is not None
            and fnmatchcase(model, p.policy.match.model)
            and fnmatchcase(alias, p.policy.match.target_alias or default)
            for p in policies
        )
    ]
    if not watched:
        logger.info("monitoring window for %s v%s: no watched alias holds it", model, version)
    return [watcher.watch(model, alias) for alias in watched]


class WatchLoop:
    """Runs `Watcher.watch_all` every `interval_s` seconds on a daemon thread.

    Args:
        watcher: The watcher.
        interval_s: Seconds between passes (0: never started).
        deadline_s: Longest one pass over every alias may keep starting passes.
    """

    def __init__(self, watcher: Watcher, interval_s: float, deadline_s: float) -> None:
        self.watcher = watcher
        self.interval_s = interval_s
        self.deadline_s = deadline_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> list[WatchPass]:
        """One pass over every watched alias."""
        passes = self.watcher.watch_all(deadline_s=self.deadline_s)
        for result in passes:
            if result.errors:
                logger.warning(
                    "watch %s@%s: %s", result.model, result.alias, "; ".join(result.errors)
                )
        return passes

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except LedgerError as exc:
                logger.warning("watch pass failed: %s", exc)

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="promogate-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None


def install_watch(app: FastAPI, state: AppState, events: MlflowEvents) -> WatchLoop:
    """Add the watch to an API app: gauges, the periodic loop and the MLflow event hook.

    Args:
        app: The API app.
        state: Its state.
        events: Its MLflow event front door (notifier and event processor).
    """
    settings = state.settings
    watcher = build_watcher(settings, state.gate, events.notifier)
    state.metrics.registry.register(WatchCollector(state.ledger))

    def on_window(model: str, version: int) -> str:
        try:
            passes = watch_version(watcher, model, version)
        except (PolicyError, ToolError) as exc:
            logger.warning("watch for %s v%s could not start: %s", model, version, exc)
            return "failed"
        if not passes:
            return "unwatched"
        return max((p.level for p in passes), key=["ok", "skip", "watch", "alert", "error"].index)

    events.processor.watch_job = on_window
    loop = WatchLoop(watcher, settings.watch_interval_s, settings.watch_deadline_s)
    app.state.promogate_watch = loop
    return loop
