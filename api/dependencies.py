"""What routes receive, as `Annotated` dependency aliases: the app's state, the caller, the key.

Settings are read once, when the app is created (`api.app.create_app`); routes get them and the
services built from them through `AppState`, never from the environment.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

import httpx
from fastapi import Depends, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from api._decision_reads import DecisionCache
from api._request_guard import PRINCIPAL_SCOPE_KEY
from api._warm_up import warm_up
from api.auth import Permission, Principal, authenticate_header, authorize
from api.jobs import InProcessJobQueue, JobQueue, run_review_job
from api.metrics import ApiMetrics
from api.settings import Settings
from ledger.store import Ledger
from review.gate import GateService
from review.service import ReviewService

__all__ = [
    "AppState",
    "Approver",
    "Caller",
    "Deployer",
    "Gate",
    "IdempotencyKey",
    "Promoter",
    "Reviewer",
    "State",
    "Viewer",
    "caller_dependency",
    "get_state",
    "requires",
]

logger = logging.getLogger("promogate.api")

_bearer = HTTPBearer(
    auto_error=False,
    description="A token from `promogate token create`; its role decides what it may do.",
)


@dataclass
class AppState:
    """Everything the routes share, built once per app from its settings.

    The thread pools are (re)created by `start` and shut down by `stop`, which the app's lifespan
    calls; an app served, stopped and served again gets fresh ones.
    """

    settings: Settings
    reviews: ReviewService
    gate: GateService
    metrics: ApiMetrics
    remote_jobs: JobQueue | None = None
    local_jobs: InProcessJobQueue = field(init=False)
    executor: ThreadPoolExecutor = field(init=False)
    decisions: DecisionCache = field(init=False)
    _running: bool = field(default=False, init=False)
    _warming: threading.Thread | None = field(default=None, init=False)
    _probe_http: httpx.Client | None = field(default=None, init=False)
    _probe_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        self.decisions = DecisionCache(self.settings.decision_cache_entries)
        self.ledger.tokens.cache_seconds = self.settings.token_cache_s
        self.start()

    @property
    def ledger(self) -> Ledger:
        return self.reviews.ledger

    @property
    def jobs(self) -> JobQueue:
        """Where `wait=false` reviews go: procrastinate on PostgreSQL, else this process."""
        return self.remote_jobs if self.remote_jobs is not None else self.local_jobs

    def start(self) -> None:
        """Create the thread pools unless they are running."""
        if self._running:
            return
        concurrency = self.settings.job_concurrency
        self.local_jobs = InProcessJobQueue(
            lambda job: run_review_job(self.gate, job), concurrency=concurrency
        )
        self.executor = ThreadPoolExecutor(
            max_workers=max(8, concurrency * 4), thread_name_prefix="promogate-gate"
        )
        self._running = True

    def warm_up(self, *, freeze_heap: bool = False) -> None:
        """Start doing what the first review would otherwise wait for, in a thread of its own.

        The ledger's first read checks its schema (importing the migrations), the MLflow
        client builds its store on first use, and the first model file read imports skops and
        scikit-learn: together about two seconds, which the first gate after a start used to
        pay. A step that fails is only logged: it fails again in the
        first request that needs it, which reports it. Until it ends, the app is not ready
        (`warming_up`, which `GET /readyz` reports). With `freeze_heap` (a server process of
        its own), what the process holds then is frozen out of the collector's full collections
        (`api._cli_gc.settle_heap`). Wait for it (`wait_until_warm`) before shutting down.
        """
        thread = threading.Thread(
            target=warm_up,
            args=(self.gate,),
            kwargs={"freeze_heap": freeze_heap},
            name="promogate-warm-up",
            daemon=True,
        )
        thread.start()
        self._warming = thread

    @property
    def warming_up(self) -> bool:
        """Whether the warm-up (`warm_up`) is still running: readiness waits for it."""
        return self._warming is not None and self._warming.is_alive()

    def wait_until_warm(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for the warm-up to end; whether it has (or never started)."""
        if self._warming is not None:
            self._warming.join(timeout_s)
        return not self.warming_up

    def probe_http(self) -> httpx.Client:
        """The HTTP client readiness probes ask MLflow's server through: one per app, its
        connections kept alive, since building a client (its TLS context, whatever the URL's
        scheme) costs more than the probe itself."""
        with self._probe_lock:
            if self._probe_http is None or self._probe_http.is_closed:
                self._probe_http = httpx.Client()
            return self._probe_http

    def stop(self) -> None:
        """Stop taking work; running reviews finish in the background and record their decision."""
        with self._probe_lock:
            if self._probe_http is not None:
                self._probe_http.close()
                self._probe_http = None
        if not self._running:
            return
        self._running = False
        if self.remote_jobs is not None:
            self.remote_jobs.close()
        self.local_jobs.close()
        self.executor.shutdown(wait=False, cancel_futures=True)


def get_state(request: Request) -> AppState:
    """The app's shared state."""
    state: AppState = request.app.state.promogate
    return state


# The dependencies below are coroutines: they do no blocking work, and a plain function would cost
# every request a hop to the thread pool per dependency.
async def _state(request: Request) -> AppState:
    return get_state(request)


State = Annotated[AppState, Depends(_state)]


async def _gate(state: State) -> GateService:
    return state.gate


Gate = Annotated[GateService, Depends(_gate)]


async def _caller(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    request: Request,
) -> Principal:
    # `credentials` declares the bearer scheme in the OpenAPI document; the raw header is checked
    # here so that a malformed one is a 401 that says why, not a silent anonymous call.
    del credentials
    # The request guard authenticated the caller before the body was read.
    principal = request.scope.get("state", {}).get(PRINCIPAL_SCOPE_KEY)
    if isinstance(principal, Principal):
        return principal
    # Without the guard (an app assembled without it) the token store is read off the event loop.
    return await run_in_threadpool(
        authenticate_header,
        request.headers.get("authorization"),
        state.ledger.tokens,
        allow_anonymous=state.settings.allow_anonymous,
    )


caller_dependency = _caller
"""The dependency that authenticates: routes that use it are authenticated before their body."""

Caller = Annotated[Principal, Depends(_caller)]


def requires(permission: Permission) -> object:
    """A dependency that authenticates the caller and checks the role grants `permission`.

    Args:
        permission: What the route needs.
    """

    async def dependency(caller: Caller) -> Principal:
        return authorize(caller, permission)

    return Depends(dependency)


Viewer = Annotated[Principal, requires("read")]
Reviewer = Annotated[Principal, requires("review")]
Deployer = Annotated[Principal, requires("gate")]
Promoter = Annotated[Principal, requires("promote")]
Approver = Annotated[Principal, requires("override")]

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[!-~]+$",
        description="Retrying a POST with the same key returns the first response; "
        "no second review, override or promotion is made.",
    ),
]
