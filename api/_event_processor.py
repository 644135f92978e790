"""Work done for MLflow events, as background jobs: reviews of new versions, alias and tag checks.

The receiver (`api.routers.mlflow_webhook`) answers MLflow at once and hands the verified, parsed
event here. Jobs run on a small thread pool in the API process:

- ``model_version.created``: one review per target alias the matching policies name. A version,
  alias pair already queued, or already decided, is not reviewed again, so a burst of duplicate
  deliveries gives one review.
- ``model_version_alias.created``: the alias guard checks the alias (it reads the alias from MLflow
  itself; the event's version is only a hint).
- ``model_version_tag.set`` / ``.deleted`` on ``promogate.*``: a verdict or decision tag that no
  recorded decision backs is reported. The guard never reads these tags, so they cannot approve.
- ``model_version_tag.set`` of ``promogate.watch.latest_window``: a monitoring window was logged
  for the version; the post-promotion watch runs for the aliases it holds (`api._watch_service`).

A job that fails because MLflow or the ledger is down is retried with backoff; after the last
attempt it is logged and counted, and the reconciler finds the alias on its next pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from fnmatch import fnmatchcase
from functools import partial
from typing import TYPE_CHECKING, Final

from api._notifications import Notification
from api.mlflow_events import (
    AliasCreated,
    AliasDeleted,
    MlflowEvent,
    OtherEvent,
    TagDeleted,
    TagSet,
    VersionCreated,
)
from ledger.errors import LedgerError, RecordNotFoundError
from policies.errors import PolicyError
from policies.loader import LoadedPolicy
from policies.schema import VersionRange
from review.alias_guard import AliasGuard, GuardOutcome
from tools.client import call_mlflow
from tools.errors import ToolError
from watch import LATEST_WINDOW_TAG

if TYPE_CHECKING:
    from review.service import ReviewService

__all__ = ["EventProcessor", "review_aliases"]

logger = logging.getLogger("promogate.api")

_GLOB_CHARS: Final = frozenset("*?[")
_DECISION_TAGS: Final = frozenset({"promogate.verdict", "promogate.decision_id"})
MONITORING_TAG: Final = LATEST_WINDOW_TAG
"""A monitoring window was logged for the version (see `api._watch_service`)."""


def review_aliases(
    policies: list[LoadedPolicy], model: str, version: int, default_alias: str
) -> list[str]:
    """The target aliases the policies name for a new version, deduplicated, in policy order.

    A policy whose ``match.target_alias`` is a glob (or unset) stands for the default alias when
    the glob matches it.

    Args:
        policies: The trusted policies.
        model: Registered model name.
        version: The new version.
        default_alias: The service's target alias.
    """
    aliases: list[str] = []
    for loaded in policies:
        match = loaded.policy.match
        if not fnmatchcase(model, match.model):
            continue
        if match.versions is not None and version not in VersionRange(match.versions):
            continue
        target = match.target_alias
        if target is None or _GLOB_CHARS & set(target):
            if target is not None and not fnmatchcase(default_alias, target):
                continue
            target = default_alias
        if target not in aliases:
            aliases.append(target)
    return aliases


class EventProcessor:
    """Runs the jobs MLflow events ask for.

    Args:
        reviews: The review service (policies, ledger, MLflow client).
        guard: The alias guard.
        notify: Sends a notification (never raises).
        default_alias: The service's target alias.
        attempts: Tries per job when MLflow or the ledger is down.
        backoff_s: First pause between tries; doubles each time.
        concurrency: Jobs run at once.
        on_job: Called with the event name and the job's outcome (metrics).
        on_guard: Called with every guard outcome (metrics).
    """

    def __init__(
        self,
        reviews: ReviewService,
        guard: AliasGuard,
        *,
        notify: Callable[[Notification], object],
        default_alias: str = "champion",
        attempts: int = 3,
        backoff_s: float = 2.0,
        concurrency: int = 2,
        on_job: Callable[[str, str], None] | None = None,
        on_guard: Callable[[GuardOutcome], None] | None = None,
    ) -> None:
        self.reviews = reviews
        self.guard = guard
        self.notify = notify
        self.default_alias = default_alias
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.on_job = on_job
        self.on_guard = on_guard
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="promogate-ev")
        self._lock = threading.Lock()
        self._in_flight: set[tuple[str, int, str]] = set()
        self._pending: set[Future[str]] = set()
        self.watch_job: Callable[[str, int], str] | None = None
        """Runs the post-promotion watch for a version a monitoring window was logged for."""

    def submit(self, event: MlflowEvent, delivery_id: str) -> list[str]:
        """Queue the jobs the event asks for; returns what was queued (``review m/v@a``, ...).

        Raises:
            RuntimeError: The processor is closed (the receiver answers 503).
        """
        queued: list[str] = []
        if isinstance(event, VersionCreated):
            try:
                aliases = review_aliases(
                    self.reviews.policies(), event.name, event.version, self.default_alias
                )
            except PolicyError as exc:
                # Reviewing with no policies records a deny-by-default block with the reason.
                logger.warning("policies unreadable for a new version: %s", exc)
                aliases = [self.default_alias]
            for alias in aliases:
                key = (event.name, event.version, alias)
                with self._lock:
                    if key in self._in_flight:
                        continue
                    self._in_flight.add(key)
                self._start(event.event, partial(self._review, key))
                queued.append(f"review {event.name}/{event.version}@{alias}")
        elif isinstance(event, AliasCreated):
            self._start(
                event.event,
                lambda: self._check_alias(event.name, event.alias, delivery_id),
            )
            queued.append(f"check {event.name}@{event.alias}")
        elif isinstance(event, TagSet | TagDeleted) and event.key in _DECISION_TAGS:
            self._start(event.event, lambda: self._check_tag(event))
            queued.append(f"check tag {event.key} on {event.name}/{event.version}")
        elif (
            isinstance(event, TagSet) and event.key == MONITORING_TAG and self.watch_job is not None
        ):
            watch_job = self.watch_job
            self._start(event.event, lambda: watch_job(event.name, event.version))
            queued.append(f"watch {event.name}/{event.version}")
        elif isinstance(event, AliasDeleted | OtherEvent | TagSet | TagDeleted):
            logger.info("MLflow event %s: nothing to do", event.event)
        return queued

    def _start(self, event: str, job: Callable[[], str]) -> None:
        future = self._pool.submit(self._run, event, job)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[str]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _run(self, event: str, job: Callable[[], str]) -> str:
        pause = self.backoff_s
        outcome = "failed"
        for attempt in range(1, self.attempts + 1):
            try:
                outcome = job()
            except (LedgerError, ToolError) as exc:
                logger.warning("event job %s failed (attempt %d): %s", event, attempt, exc)
                outcome = "failed"
            except Exception:
                logger.exception("event job %s raised", event)
                outcome = "failed"
                break
            if outcome != "failed":
                break
            if attempt < self.attempts:
                time.sleep(pause)
                pause *= 2
        if self.on_job is not None:
            self.on_job(event, outcome)
        return outcome

    def _review(self, key: tuple[str, int, str]) -> str:
        model, version, alias = key
        try:
            for decision in self.reviews.ledger.list_decisions(model, version, limit=50):
                if decision.target_alias == alias and decision.error is None:
                    logger.info("new version %s/%s@%s already decided", model, version, alias)
                    return "duplicate"
            outcome = self.reviews.review(model, version, target_alias=alias)
            return "error" if outcome.decision.error is not None else outcome.decision.verdict
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _check_alias(self, model: str, alias: str, delivery_id: str) -> str:
        outcome = self.guard.check_alias(model, alias, source="webhook", delivery_id=delivery_id)
        if self.on_guard is not None:
            self.on_guard(outcome)
        return outcome.action

    def _check_tag(self, event: TagSet | TagDeleted) -> str:
        ledger = self.reviews.ledger
        decisions = ledger.list_decisions(event.name, event.version, limit=1)
        latest = decisions[0] if decisions else None
        problem: str | None = None
        if isinstance(event, TagDeleted):
            if latest is not None:
                problem = f"{event.key} was removed from a version promogate decided on"
        elif event.key == "promogate.verdict":
            if latest is None or latest.verdict != event.value:
                named = self._tagged_decision_verdict(event.name, event.version)
                if named != event.value:
                    problem = (
                        f"promogate.verdict={event.value!r} is not a decision: the ledger's "
                        f"latest decision on this version is "
                        f"{latest.verdict if latest else 'none'!r}"
                    )
        else:
            try:
                decision = ledger.get_decision(event.value)
            except RecordNotFoundError:
                problem = f"promogate.decision_id={event.value!r} names no recorded decision"
            else:
                if (decision.model, decision.version) != (event.name, event.version):
                    problem = (
                        f"promogate.decision_id={event.value!r} is a decision about "
                        f"{decision.model!r} v{decision.version}"
                    )
        if problem is None:
            return "consistent"
        logger.warning("hand-written tag on %s v%s: %s", event.name, event.version, problem)
        self.notify(
            Notification(
                kind="forged_tag",
                model=event.name,
                version=event.version,
                summary="A promogate tag was written by hand; it is not a decision and "
                "approves nothing.",
                reasons=[problem],
                record_id=latest.id if latest is not None else None,
            )
        )
        return "reported"

    def _tagged_decision_verdict(self, model: str, version: int) -> str | None:
        """The verdict of the decision the version's current ``promogate.decision_id`` names."""
        client = self.reviews.client
        mv = call_mlflow(
            lambda: client.get_model_version(model, str(version)),
            f"get_model_version({model!r}, {version!r})",
        )
        decision_id = (getattr(mv, "tags", None) or {}).get("promogate.decision_id")
        if not decision_id:
            return None
        try:
            decision = self.reviews.ledger.get_decision(str(decision_id))
        except RecordNotFoundError:
            return None
        if (decision.model, decision.version) != (model, version):
            return None
        return decision.verdict

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for queued jobs to finish (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._pending)
            remaining = deadline - time.monotonic()
            if not pending or remaining <= 0:
                return
            pending[0].exception(timeout=remaining)

    def close(self) -> None:
        """Stop taking jobs; running ones finish."""
        self._pool.shutdown(wait=False, cancel_futures=True)
