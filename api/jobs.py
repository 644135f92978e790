"""Reviews as jobs: `POST /v1/reviews?wait=false` answers 202 and the review runs in the background.

Two queues, chosen by the ledger's database:

- SQLite (one process): an in-process thread pool. A job's state lives in memory; its decision goes
  to the ledger under the review id, so the outcome survives a restart even if the state does not.
- PostgreSQL (several API and worker processes): procrastinate, a PostgreSQL-based task queue. The
  API defers a job; any `promogate worker` process runs it and records the decision under the review
  id, so every API replica can answer `GET /v1/reviews/{id}`.

A review id is chosen before the job starts and becomes the decision's id. A job whose review cannot
complete still records a blocking decision with the reason (the review itself fails closed); a job
fails only when the decision cannot be recorded (the ledger is down), and procrastinate retries it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict
from sqlalchemy.engine import make_url

from api.errors import JobQueueUnavailableError
from api.schemas import ReviewState

if TYPE_CHECKING:
    import procrastinate

    from review.gate import GateService
    from review.watch_runner import Watcher

__all__ = [
    "REVIEW_TASK",
    "InProcessJobQueue",
    "JobQueue",
    "JobQueueBackend",
    "JobStatus",
    "ProcrastinateJobQueue",
    "ReviewJob",
    "ReviewRunner",
    "ensure_procrastinate_schema",
    "make_procrastinate_app",
    "postgres_conninfo",
    "run_review_job",
    "run_worker",
]

logger = logging.getLogger("promogate.api")

REVIEW_TASK: Final = "promogate.review"
JobQueueBackend = Literal["in-process", "procrastinate"]
# "promogate.jobs" in ASCII, truncated to a signed 64-bit key: serialises schema installs.
_SCHEMA_LOCK_KEY: Final = 0x70726F6D6F6A6F62
_PROCRASTINATE_STATES: Final[dict[str, ReviewState]] = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "completed",
    "failed": "failed",
    "cancelled": "failed",
    "aborting": "failed",
    "aborted": "failed",
}


class ReviewJob(BaseModel):
    """What a review job needs: the review id it records under, and what to review."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_id: str
    model: str
    ref: str
    target_alias: str | None = None
    baseline_alias: str | None = None
    requested_by: str | None = None


class JobStatus(BaseModel):
    """Where a job is; `detail` says why it failed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    review_id: str
    state: ReviewState
    detail: str | None = None


ReviewRunner = Callable[[ReviewJob], object]


class JobQueue(Protocol):
    """Runs review jobs in the background and reports their state."""

    backend: JobQueueBackend

    def submit(self, job: ReviewJob) -> None:
        """Queue the job; raises `JobQueueUnavailableError` when it cannot (the API answers 503)."""
        ...

    def status(self, review_id: str) -> JobStatus | None:
        """The job's state, or None when this queue does not know the id."""
        ...

    def check(self) -> None:
        """Raise when the queue cannot take jobs (readiness)."""
        ...

    def close(self) -> None:
        """Stop taking jobs and release resources."""
        ...


def run_review_job(service: GateService, job: ReviewJob) -> str:
    """Run one review job: review and record the decision under the job's review id.

    Args:
        service: The gate service whose review pipeline, ledger and MLflow client to use.
        job: The job.

    Returns:
        The decision's verdict.
    """
    outcome = service.reviews.review(
        job.model,
        job.ref,
        target_alias=job.target_alias,
        baseline_alias=job.baseline_alias,
        decision_id=job.review_id,
        requested_by=job.requested_by,
    )
    return outcome.decision.verdict


class InProcessJobQueue:
    """A thread pool in the API process (SQLite deployments: one process).

    Args:
        runner: Runs one job to completion (records the decision).
        concurrency: Jobs run at once.
    """

    backend: JobQueueBackend = "in-process"

    def __init__(self, runner: ReviewRunner, *, concurrency: int = 2) -> None:
        self._runner = runner
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="promogate-job")
        self._lock = threading.Lock()
        self._states: dict[str, JobStatus] = {}
        self._futures: dict[str, Future[None]] = {}
        self._closed = False

    def submit(self, job: ReviewJob) -> None:
        with self._lock:
            if self._closed:
                raise JobQueueUnavailableError("the in-process job queue is closed")
            self._states[job.review_id] = JobStatus(review_id=job.review_id, state="queued")
            future = self._pool.submit(self._run, job)
            self._futures[job.review_id] = future
        future.add_done_callback(lambda _: self._forget(job.review_id))

    def _forget(self, review_id: str) -> None:
        with self._lock:
            self._futures.pop(review_id, None)

    def wait(self, review_id: str, timeout: float) -> JobStatus | None:
        """Wait for a job submitted here to finish; its final status (None if unknown).

        Raises:
            concurrent.futures.TimeoutError: It did not finish within `timeout` seconds (it goes
                on running).
        """
        with self._lock:
            future = self._futures.get(review_id)
        if future is not None:
            future.result(timeout=timeout)
        return self.status(review_id)

    def _run(self, job: ReviewJob) -> None:
        self._set(job.review_id, "running")
        try:
            self._runner(job)
        except Exception as exc:
            logger.exception("review job %s failed", job.review_id)
            self._set(job.review_id, "failed", f"{type(exc).__name__}: {exc}")
        else:
            self._set(job.review_id, "completed")

    def _set(self, review_id: str, state: ReviewState, detail: str | None = None) -> None:
        with self._lock:
            self._states[review_id] = JobStatus(review_id=review_id, state=state, detail=detail)

    def status(self, review_id: str) -> JobStatus | None:
        with self._lock:
            return self._states.get(review_id)

    def check(self) -> None:
        if self._closed:
            raise JobQueueUnavailableError("the in-process job queue is closed")

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._pool.shutdown(wait=False, cancel_futures=True)


def postgres_conninfo(url: str) -> str:
    """A libpq connection URI for a SQLAlchemy PostgreSQL URL (drops the ``+psycopg`` driver).

    Args:
        url: ``postgresql+psycopg://user:password@host:port/db?options=...``.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"procrastinate needs a PostgreSQL URL, got backend {parsed.drivername!r}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def _review_task(context: procrastinate.JobContext, /, **job: Any) -> str:
    service = context.additional_context.get("gate_service")
    if service is None:
        raise RuntimeError(
            f"task {REVIEW_TASK!r} ran without a gate service; run it with `promogate worker`"
        )
    return run_review_job(service, ReviewJob.model_validate(job))


def make_procrastinate_app(conninfo: str, *, watch_cron: str | None = None) -> procrastinate.App:
    """A procrastinate app on the database, with the review task registered.

    Args:
        conninfo: libpq connection URI (see `postgres_conninfo`).
        watch_cron: Schedule of the periodic watch pass (`api._watch_jobs`); None: none.
    """
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    # Retried only when the decision could not be recorded: the review itself never raises.
    app.task(
        name=REVIEW_TASK,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=3, exponential_wait=2),
    )(_review_task)
    from api.github.jobs import register_github_task

    register_github_task(app)
    from api._watch_jobs import register_watch_tasks

    register_watch_tasks(app, cron=watch_cron)
    return app


def ensure_procrastinate_schema(conninfo: str) -> bool:
    """Install procrastinate's tables unless present. Returns True when it installed them.

    Several processes may start at once: they take turns on an advisory lock.

    Args:
        conninfo: libpq connection URI.
    """
    import psycopg
    from procrastinate.schema import SchemaManager

    with psycopg.connect(conninfo, autocommit=False, connect_timeout=5) as conn:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
        row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if row is not None and row[0]:
            return False
        conn.execute(SchemaManager.get_schema())
        conn.commit()
    logger.info("installed the procrastinate job-queue schema")
    return True


class ProcrastinateJobQueue:
    """Review jobs on procrastinate (PostgreSQL); `promogate worker` processes run them.

    Args:
        conninfo: libpq connection URI of the ledger's PostgreSQL database.
    """

    backend: JobQueueBackend = "procrastinate"

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._app = make_procrastinate_app(conninfo)
        self._lock = threading.Lock()
        self._opened = False

    def _ready_app(self) -> procrastinate.App:
        with self._lock:
            if not self._opened:
                ensure_procrastinate_schema(self._conninfo)
                self._app.open()
                self._opened = True
        return self._app

    @contextmanager
    def _unavailable_as_error(self, what: str) -> Iterator[None]:
        import psycopg
        from procrastinate.exceptions import ProcrastinateException

        try:
            yield
        except (psycopg.Error, ProcrastinateException, OSError) as exc:
            raise JobQueueUnavailableError(
                f"the job queue cannot {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def submit(self, job: ReviewJob) -> None:
        with self._unavailable_as_error(f"queue review {job.review_id!r}"):
            app = self._ready_app()
            task = app.tasks[REVIEW_TASK]
            job_id = task.configure(queueing_lock=job.review_id).defer(**job.model_dump())
        logger.info("review job %s queued as procrastinate job %d", job.review_id, job_id)

    def status(self, review_id: str) -> JobStatus | None:
        with self._unavailable_as_error(f"report on review {review_id!r}"):
            app = self._ready_app()
            jobs = app.job_manager.list_jobs(task=REVIEW_TASK, queueing_lock=review_id)
        if not jobs:
            return None
        latest = max(jobs, key=lambda j: j.id or 0)
        state = _PROCRASTINATE_STATES.get(latest.status or "todo", "failed")
        detail = f"procrastinate job {latest.id} is {latest.status}" if state == "failed" else None
        return JobStatus(review_id=review_id, state=state, detail=detail)

    def check(self) -> None:
        with self._unavailable_as_error("reach its database"):
            reachable = self._ready_app().check_connection()
        if not reachable:
            raise JobQueueUnavailableError("procrastinate cannot reach its database")

    def close(self) -> None:
        with self._lock:
            if self._opened:
                self._app.close()
                self._opened = False


def run_worker(
    service: GateService,
    conninfo: str,
    *,
    concurrency: int = 2,
    name: str | None = None,
    wait: bool = True,
    watcher: Watcher | None = None,
    watch_cron: str | None = None,
) -> None:
    """Run a procrastinate worker that executes review jobs until it is stopped (SIGINT/SIGTERM).

    Args:
        service: The gate service the jobs review with.
        conninfo: libpq connection URI of the job queue's database.
        concurrency: Jobs run at once (each in a thread: reviews are synchronous).
        name: Worker name, shown in procrastinate's tables and logs.
        wait: Keep waiting for jobs; False stops once the queue is empty.
        watcher: Runs the watch jobs (`api._watch_jobs`); without one they fail.
        watch_cron: Schedule of the periodic watch pass; None: no periodic pass.
    """
    ensure_procrastinate_schema(conninfo)
    app = make_procrastinate_app(conninfo, watch_cron=watch_cron)
    logger.info("procrastinate worker %s starting (concurrency %d)", name or "worker", concurrency)
    app.run_worker(
        concurrency=concurrency,
        name=name,
        wait=wait,
        additional_context={"gate_service": service, "watcher": watcher},
        fetch_job_polling_interval=1.0,
    )
