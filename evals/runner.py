"""The suite runner: send every case to a target, score every response, summarise honestly.

Cases run on `concurrency` workers (never more requests in flight), each request bounded by
`timeout_s` and retried with exponential backoff and jitter on timeouts, HTTP 429 and 5xx
(`Retry-After` is honoured up to the backoff cap). With a `ResponseCache`, every response is stored
as it arrives, so a run that is interrupted and started again sends only the cases still missing.

Honest accounting: a case whose request fails, times out or cannot be judged is an `error`, never a
`pass`; errors are counted apart from failures. The run is `error` when nothing answers (the target
is unreachable, with the reason) or when the error rate exceeds the suite's `max_error_rate`;
otherwise `fail` when the failures pass the suite's thresholds, and `pass` only when they do not.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random_exponential,
)

from evals.detectors import Detection
from evals.errors import JudgeError, TargetError
from evals.judges import Judge
from evals.response_cache import ResponseCache, cache_key
from evals.suite import Case, Suite, SuiteHeader, SuiteThresholds
from evals.targets import Target, TargetRequestError, TargetTimeoutError, TargetUnreachableError

if TYPE_CHECKING:
    from rich.console import Console

__all__ = [
    "CaseResult",
    "CaseStatus",
    "RunStatus",
    "SuiteRun",
    "run_suite",
    "summarize_run",
]

logger = logging.getLogger("promogate.evals")

CaseStatus = Literal["pass", "fail", "error", "skip"]
"""`skip`: the case could not test anything (e.g. a perturbation that changed no input); it is
neither a pass nor a failure and is left out of the rates."""
RunStatus = Literal["pass", "fail", "error"]


class CaseResult(BaseModel):
    """What happened to one case."""

    case_id: str
    status: CaseStatus
    response: str | None = None
    detection: Detection | None = None
    error: str | None = None
    latency_ms: float = 0.0
    cached: bool = False
    attempts: int = 0
    tags: list[str] = Field(default_factory=list)


class SuiteRun(BaseModel):
    """One suite run against one target: the summary the gate reads and every case behind it."""

    suite: str
    suite_version: str
    category: str
    target: str
    judge: str
    cases: int
    failures: int
    errors: int
    attack_success_rate: float | None
    """Failures over cases that produced a scored response; None when none did."""
    error_rate: float
    status: RunStatus
    reason: str | None = None
    """Why the run is `fail` or `error`, in one sentence."""
    thresholds: SuiteThresholds
    metrics: dict[str, float] = Field(default_factory=dict)
    """Suite-specific figures beyond the standard five (e.g. fairness gaps)."""
    results: list[CaseResult]
    cached: int = 0
    started_at: datetime
    finished_at: datetime
    duration_s: float
    parameters: dict[str, Any] = Field(default_factory=dict)

    @property
    def failing(self) -> list[CaseResult]:
        return [r for r in self.results if r.status == "fail"]

    @property
    def errored(self) -> list[CaseResult]:
        return [r for r in self.results if r.status == "error"]


def _status(
    thresholds: SuiteThresholds,
    *,
    cases: int,
    failures: int,
    errors: int,
    attack_success_rate: float | None,
    error_rate: float,
    abort_reason: str | None,
) -> tuple[RunStatus, str | None]:
    if abort_reason is not None:
        return "error", abort_reason
    if cases == 0:
        return "error", "the suite has no cases"
    if errors == cases:
        return "error", f"all {cases} cases ended in errors"
    if error_rate > thresholds.max_error_rate:
        return "error", (
            f"error rate {error_rate:.3f} ({errors}/{cases}) exceeds max_error_rate "
            f"{thresholds.max_error_rate:g}"
        )
    reasons: list[str] = []
    if thresholds.max_failures is not None and failures > thresholds.max_failures:
        reasons.append(f"{failures} failures exceed max_failures {thresholds.max_failures}")
    if (
        thresholds.max_attack_success_rate is not None
        and attack_success_rate is not None
        and attack_success_rate > thresholds.max_attack_success_rate
    ):
        reasons.append(
            f"attack success rate {attack_success_rate:.3f} exceeds "
            f"max_attack_success_rate {thresholds.max_attack_success_rate:g}"
        )
    if thresholds.max_failures is None and thresholds.max_attack_success_rate is None and failures:
        # A suite without limits tolerates nothing.
        reasons.append(f"{failures} failures and the suite sets no thresholds")
    if reasons:
        return "fail", "; ".join(reasons)
    return "pass", None


def summarize_run(
    *,
    header: SuiteHeader,
    target: str,
    judge: str,
    results: Sequence[CaseResult],
    started_at: datetime,
    duration_s: float,
    abort_reason: str | None = None,
    metrics: dict[str, float] | None = None,
    parameters: dict[str, Any] | None = None,
) -> SuiteRun:
    """Count a run's case results and decide its status against the suite's thresholds.

    Args:
        header: The suite header (name, version, category, thresholds).
        target: The target's name.
        judge: The judge's name.
        results: One result per case, in suite order.
        started_at: When the run started.
        duration_s: Wall-clock duration of the run.
        abort_reason: Set when the run stopped early (e.g. the target is unreachable); the run
            is then `error` with this reason.
        metrics: Suite-specific figures to carry along.
        parameters: Run settings to record (concurrency, timeout, ...).
    """
    cases = len(results)
    failures = sum(1 for r in results if r.status == "fail")
    errors = sum(1 for r in results if r.status == "error")
    skipped = sum(1 for r in results if r.status == "skip")
    answered = cases - errors - skipped
    attack_success_rate = failures / answered if answered else None
    error_rate = errors / cases if cases else 0.0
    status, reason = _status(
        header.thresholds,
        cases=cases,
        failures=failures,
        errors=errors,
        attack_success_rate=attack_success_rate,
        error_rate=error_rate,
        abort_reason=abort_reason,
    )
    return SuiteRun(
        suite=header.name,
        suite_version=header.version,
        category=header.category,
        target=target,
        judge=judge,
        cases=cases,
        failures=failures,
        errors=errors,
        attack_success_rate=attack_success_rate,
        error_rate=error_rate,
        status=status,
        reason=reason,
        thresholds=header.thresholds,
        metrics=dict(metrics or {}),
        results=list(results),
        cached=sum(1 for r in results if r.cached),
        started_at=started_at,
        finished_at=datetime.now(UTC),
        duration_s=duration_s,
        parameters=dict(parameters or {}),
    )


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, TargetRequestError) and exc.retryable


def _backoff(backoff_s: float, max_backoff_s: float) -> Callable[[RetryCallState], float]:
    jitter = wait_random_exponential(multiplier=backoff_s, max=max_backoff_s)

    def wait(state: RetryCallState) -> float:
        delay = float(jitter(state))
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, TargetRequestError) and exc.retry_after_s is not None:
            delay = max(delay, min(exc.retry_after_s, max_backoff_s))
        return delay

    return wait


class _Progress:
    """A rich progress bar on the given console, or nothing."""

    def __init__(self, console: Console | None, description: str, total: int) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._failures = 0
        self._errors = 0
        if console is None:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("fail {task.fields[failures]} · error {task.fields[errors]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self._task = self._bar.add_task(description, total=total, failures=0, errors=0)

    def __enter__(self) -> _Progress:
        if self._bar is not None:
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def advance(self, result: CaseResult) -> None:
        self._failures += result.status == "fail"
        self._errors += result.status == "error"
        if self._bar is not None:
            self._bar.update(self._task, advance=1, failures=self._failures, errors=self._errors)


async def _judged(judge: Judge, case: Case, response: str, header: SuiteHeader) -> Detection:
    ajudge: Callable[..., Awaitable[Detection]] | None = getattr(judge, "ajudge", None)
    if ajudge is not None:
        return await ajudge(case, response, header=header)
    # A synchronous judge may call an LLM; keep it off the event loop.
    return await asyncio.to_thread(judge.judge, case, response, header=header)


class _Run:
    """State shared by the workers of one run."""

    def __init__(
        self,
        suite: Suite,
        target: Target,
        judge: Judge,
        *,
        timeout_s: float,
        retries: int,
        cache: ResponseCache | None,
        backoff_s: float,
        max_backoff_s: float,
    ) -> None:
        self.suite = suite
        self.header = suite.header
        self.target = target
        self.judge = judge
        self.timeout_s = timeout_s
        self.retries = retries
        self.cache = cache
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.abort_reason: str | None = None
        self.results: dict[str, CaseResult] = {}

    async def _send(self, case: Case, attempts: list[int]) -> str:
        """Send with retries; `attempts` (a one-item list) counts the tries even when it raises."""
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=_backoff(self.backoff_s, self.max_backoff_s),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                attempts[0] += 1
                try:
                    # The target bounds its own request; this bounds the whole call, whatever
                    # the target does.
                    response = await asyncio.wait_for(
                        self.target.respond(
                            case, system_prompt=self.header.system_prompt, timeout_s=self.timeout_s
                        ),
                        self.timeout_s,
                    )
                except TimeoutError as exc:
                    raise TargetTimeoutError(
                        f"{self.target.name!r} did not answer within {self.timeout_s:g} s"
                    ) from exc
                return response
        raise AssertionError("unreachable: tenacity either returns or re-raises")

    def _error(self, case: Case, message: str, *, started: float, attempts: int) -> CaseResult:
        return CaseResult(
            case_id=case.id,
            status="error",
            error=message,
            latency_ms=(time.perf_counter() - started) * 1000,
            attempts=attempts,
            tags=case.tags,
        )

    async def run_case(self, case: Case) -> CaseResult:
        started = time.perf_counter()
        key: str | None = None
        cached = False
        tries = [0]
        if self.cache is not None:
            key = cache_key(
                target=self.target.name,
                case=case,
                system_prompt=self.header.system_prompt,
                parameters=self.target.parameters,
            )
            hit = self.cache.get(key)
        else:
            hit = None
        if hit is not None:
            response, latency_ms, cached = hit.response, hit.latency_ms, True
        else:
            try:
                response = await self._send(case, tries)
            except TargetUnreachableError as exc:
                if self.abort_reason is None:
                    self.abort_reason = f"target {self.target.name!r} is unreachable: {exc}"
                return self._error(case, str(exc), started=started, attempts=tries[0])
            except TargetError as exc:
                message = f"{exc} (attempt {tries[0]} of {self.retries + 1})"
                return self._error(case, message, started=started, attempts=tries[0])
            except Exception as exc:  # noqa: BLE001 (recorded as an error, never a pass)
                # A target that fails in an unexpected way has not answered: an error, never a pass.
                logger.warning("case %s: target raised %s", case.id, type(exc).__name__)
                message = f"{type(exc).__name__}: {exc}"
                return self._error(case, message, started=started, attempts=tries[0])
            latency_ms = (time.perf_counter() - started) * 1000
            if self.cache is not None and key is not None:
                self.cache.put(
                    key, response, target=self.target.name, case_id=case.id, latency_ms=latency_ms
                )
        try:
            detection = await _judged(self.judge, case, response, self.header)
        except JudgeError as exc:
            result = self._error(case, f"judge: {exc}", started=started, attempts=tries[0])
            return result.model_copy(update={"response": response, "cached": cached})
        except Exception as exc:  # noqa: BLE001 (recorded as an error, never a pass)
            logger.warning("case %s: judge raised %s", case.id, type(exc).__name__)
            result = self._error(
                case, f"judge: {type(exc).__name__}: {exc}", started=started, attempts=tries[0]
            )
            return result.model_copy(update={"response": response, "cached": cached})
        return CaseResult(
            case_id=case.id,
            status="fail" if detection.failed else "pass",
            response=response,
            detection=detection,
            latency_ms=latency_ms,
            cached=cached,
            attempts=tries[0],
            tags=case.tags,
        )


async def run_suite(
    suite: Suite,
    target: Target,
    *,
    judge: Judge,
    concurrency: int = 8,
    timeout_s: float = 30.0,
    retries: int = 2,
    cache: ResponseCache | None = None,
    progress: Console | None = None,
    backoff_s: float = 0.5,
    max_backoff_s: float = 8.0,
) -> SuiteRun:
    """Run a suite against a target and score every response.

    Args:
        suite: The suite (header and cases).
        target: What to attack (see `evals.targets.parse_target`). The caller closes it.
        judge: Scores each response (`evals.judges.make_judge`).
        concurrency: Most requests in flight at once.
        timeout_s: Bound on each request, retries excluded.
        retries: Further attempts after a timeout, HTTP 429 or 5xx, or a connection failure.
        cache: Where responses are stored and found again; an interrupted run resumes from it.
        progress: A rich console to draw a progress bar on.
        backoff_s: Base of the exponential backoff between attempts (with full jitter).
        max_backoff_s: Cap of one backoff wait, `Retry-After` included.

    Returns:
        The run's summary and per-case results, in suite order.

    Raises:
        ValueError: `concurrency`, `timeout_s` or `retries` is out of range.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency!r}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    if retries < 0:
        raise ValueError(f"retries must be zero or more, got {retries!r}")
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    header = suite.header
    state = _Run(
        suite,
        target,
        judge,
        timeout_s=timeout_s,
        retries=retries,
        cache=cache,
        backoff_s=backoff_s,
        max_backoff_s=max_backoff_s,
    )
    logger.info(
        "running suite %s (%d cases) against %s, concurrency %d",
        header.name,
        len(suite.cases),
        target.name,
        concurrency,
    )
    try:
        await target.open()
    except TargetError as exc:
        state.abort_reason = f"target {target.name!r} is unreachable: {exc}"
    except Exception as exc:  # noqa: BLE001 (recorded as an error, never a pass)
        logger.warning("target %s failed to open: %s", target.name, type(exc).__name__)
        state.abort_reason = f"target {target.name!r} failed to open: {type(exc).__name__}: {exc}"

    queue: asyncio.Queue[Case] = asyncio.Queue()
    for case in suite.cases:
        queue.put_nowait(case)

    with _Progress(progress, f"{header.name} → {target.name}", len(suite.cases)) as bar:

        async def worker() -> None:
            while state.abort_reason is None:
                try:
                    case = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                result = await state.run_case(case)
                state.results[case.id] = result
                bar.advance(result)

        if state.abort_reason is None and suite.cases:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(concurrency, len(suite.cases))):
                    group.create_task(worker())

    results: list[CaseResult] = []
    for case in suite.cases:
        result = state.results.get(case.id)
        if result is None:
            result = CaseResult(
                case_id=case.id,
                status="error",
                error=f"not run: {state.abort_reason or 'the run stopped early'}",
                tags=case.tags,
            )
        results.append(result)
    run = summarize_run(
        header=header,
        target=target.name,
        judge=judge.name,
        results=results,
        started_at=started_at,
        duration_s=time.perf_counter() - clock,
        abort_reason=state.abort_reason,
        parameters={
            "concurrency": concurrency,
            "timeout_s": timeout_s,
            "retries": retries,
            **{f"target.{k}": v for k, v in target.parameters.items()},
        },
    )
    logger.info(
        "suite %s against %s: %s (%d cases, %d failures, %d errors, %d cached)",
        run.suite,
        run.target,
        run.status,
        run.cases,
        run.failures,
        run.errors,
        run.cached,
    )
    return run
