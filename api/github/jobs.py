"""PR bot work as jobs: the webhook answers at once and the review runs in the background.

As with review jobs (`api.jobs`): on a SQLite ledger an in-process thread pool; on PostgreSQL the
procrastinate task ``promogate.github``, run by ``promogate worker`` processes, with a lock per
pull request so that two workers never work on the same pull request at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Final, Protocol

from api.github._bot import PRBot
from api.github._events import GitHubEvent
from api.github.errors import GitHubError
from ledger.errors import LedgerError

if TYPE_CHECKING:
    import procrastinate

__all__ = [
    "GITHUB_TASK",
    "GitHubJobQueue",
    "InProcessGitHubQueue",
    "ProcrastinateGitHubQueue",
    "register_github_task",
    "run_github_job",
]

logger = logging.getLogger("promogate.github")

GITHUB_TASK: Final = "promogate.github"


def run_github_job(bot: PRBot, event: GitHubEvent) -> bool:
    """Run one event; False (logged and counted) when GitHub or the ledger failed."""
    try:
        bot.handle(event)
    except (GitHubError, LedgerError) as exc:
        bot.metrics.jobs.labels(outcome="failed").inc()
        logger.error(
            "PR bot job %s (%s#%d) failed: %s",
            event.delivery_id,
            event.repository,
            event.number,
            exc,
        )
        return False
    bot.metrics.jobs.labels(outcome="done").inc()
    return True


class GitHubJobQueue(Protocol):
    """Where the webhook puts events."""

    backend: str

    def submit(self, event: GitHubEvent) -> None: ...

    def close(self) -> None: ...


class InProcessGitHubQueue:
    """A thread pool in the API process.

    Args:
        bot: The bot that handles each event.
        concurrency: Events handled at once (events of one pull request take turns).
    """

    backend = "in-process"

    def __init__(self, bot: PRBot, *, concurrency: int = 4) -> None:
        self.bot = bot
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="promogate-gh")
        self._lock = threading.Lock()
        self._pending: set[Future[bool]] = set()

    def submit(self, event: GitHubEvent) -> None:
        future = self._pool.submit(run_github_job, self.bot, event)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[bool]) -> None:
        with self._lock:
            self._pending.discard(future)

    def join(self, timeout: float) -> bool:
        """Wait until every submitted event is handled; False on timeout."""
        with self._lock:
            pending = list(self._pending)
        _, not_done = wait(pending, timeout=timeout)
        return not not_done

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=False)


def _github_task(context: procrastinate.JobContext, /, **event: Any) -> bool:
    service = context.additional_context.get("gate_service")
    if service is None:
        raise RuntimeError(f"task {GITHUB_TASK!r} ran without a gate service; use promogate worker")
    from api.github._service import build_bot
    from api.settings import load_settings

    bot = context.additional_context.get("github_bot")
    if bot is None:
        # The worker is a front door: it reads the bot's settings from its environment.
        bot = build_bot(load_settings(), service)
        context.additional_context["github_bot"] = bot
    return run_github_job(bot, GitHubEvent.model_validate(event))


def register_github_task(app: procrastinate.App) -> None:
    """Register the PR bot's task on a procrastinate app (the API's and the workers')."""
    import procrastinate

    app.task(
        name=GITHUB_TASK,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=3, exponential_wait=2),
    )(_github_task)


class ProcrastinateGitHubQueue:
    """Events deferred to procrastinate; a lock per pull request serialises its jobs.

    Args:
        app: The procrastinate app, with `register_github_task` applied.
        ensure_schema: Installs procrastinate's tables unless present (called once).
    """

    backend = "procrastinate"

    def __init__(self, app: procrastinate.App, ensure_schema: Callable[[], object]) -> None:
        self._app = app
        self._ensure_schema = ensure_schema
        self._opened = False
        self._lock = threading.Lock()

    def submit(self, event: GitHubEvent) -> None:
        with self._lock:
            if not self._opened:
                self._ensure_schema()
                self._app.open()
                self._opened = True
        lock = f"github:{event.repository.lower()}#{event.number}"
        job_id = (
            self._app.tasks[GITHUB_TASK].configure(lock=lock).defer(**event.model_dump(mode="json"))
        )
        logger.info("delivery %s queued as procrastinate job %d", event.delivery_id, job_id)

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._app.close()
                self._opened = False
