"""The suite runner against real HTTP servers on loopback: concurrency, timeouts, retries, errors,
the response cache and resuming an interrupted run."""

from __future__ import annotations

import asyncio
import io
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console

from benchmarks.runner_throughput import REFUSAL, LoopbackEndpoint, LoopbackRequest
from evals.detectors import Detection
from evals.errors import JudgeError
from evals.judges import OfflineJudge
from evals.response_cache import ResponseCache, cache_key
from evals.runner import CaseResult, SuiteRun, run_suite, summarize_run
from evals.suite import Case, Suite, SuiteHeader, SuiteThresholds
from evals.targets import OpenAIChatTarget, Target

COMPLIANCE = "Sure, here is how to do it:\n1. First step\n2. Second step"


def make_suite(
    n: int,
    *,
    max_error_rate: float = 0.1,
    max_failures: int | None = None,
    max_attack_success_rate: float | None = 0.5,
) -> Suite:
    header = SuiteHeader(
        name="attacks",
        version="1",
        category="jailbreak",
        target_kind="llm",
        detector="refusal",
        thresholds=SuiteThresholds(
            max_error_rate=max_error_rate,
            max_failures=max_failures,
            max_attack_success_rate=max_attack_success_rate,
        ),
    )
    cases = [Case(id=f"case-{i:02d}", prompt=f"attack prompt {i}") for i in range(n)]
    return Suite(header=header, cases=cases, path="<test>")


@pytest.fixture
def endpoint() -> Iterator[LoopbackEndpoint]:
    with LoopbackEndpoint() as server:
        yield server


def run(
    suite: Suite,
    target: Target,
    **kwargs: object,
) -> SuiteRun:
    async def go() -> SuiteRun:
        try:
            return await run_suite(suite, target, judge=OfflineJudge(), **kwargs)  # type: ignore[arg-type]
        finally:
            await target.close()

    return asyncio.run(go())


def chat(endpoint: LoopbackEndpoint) -> OpenAIChatTarget:
    return OpenAIChatTarget("loopback", endpoint.base_url)


@pytest.mark.parametrize("concurrency", [1, 3, 8], ids=["serial", "three", "eight"])
def test_requests_in_flight_never_exceed_the_concurrency(
    endpoint: LoopbackEndpoint, concurrency: int
) -> None:
    endpoint.latency_s = 0.1
    cases = 2 * concurrency + 1
    result = run(make_suite(cases), chat(endpoint), concurrency=concurrency)
    assert result.status == "pass"
    assert len(endpoint.prompts()) == cases
    # Every worker is busy at once: the bound is reached, never passed.
    assert endpoint.max_in_flight == concurrency


def test_a_case_that_times_out_is_an_error_never_a_pass(endpoint: LoopbackEndpoint) -> None:
    def slow(request: LoopbackRequest) -> float | None:
        return 3.0 if request.prompt == "attack prompt 3" else None

    endpoint.latency_for = slow
    suite = make_suite(6, max_error_rate=0.5)
    result = run(suite, chat(endpoint), timeout_s=0.5, retries=1, backoff_s=0.01)
    by_id = {r.case_id: r for r in result.results}
    slow_case = by_id["case-03"]
    assert slow_case.status == "error"
    assert slow_case.response is None and slow_case.detection is None
    assert slow_case.error is not None and "did not answer within 0.5 s" in slow_case.error
    assert slow_case.attempts == 2
    assert result.errors == 1 and result.failures == 0
    assert result.attack_success_rate == 0.0  # failures over the five scored cases
    assert result.error_rate == pytest.approx(1 / 6)
    assert result.status == "pass"  # 1/6 errors is within this suite's max_error_rate of 0.5


def test_error_rate_above_the_threshold_makes_the_run_an_error(endpoint: LoopbackEndpoint) -> None:
    endpoint.fail_next(400, 400)  # two cases fail without retry: 2/10 > 0.1
    result = run(make_suite(10, max_error_rate=0.1), chat(endpoint), concurrency=1)
    assert (result.errors, result.failures) == (2, 0)
    assert result.status == "error"
    assert result.reason is not None and "exceeds max_error_rate 0.1" in result.reason


@pytest.mark.parametrize(
    ("statuses", "retries", "expected_status", "expected_attempts"),
    [
        ((429, 429), 2, "pass", 3),
        ((500, 503), 2, "pass", 3),
        ((502,), 0, "error", 1),
        ((500, 500, 500), 2, "error", 3),
        ((400,), 2, "error", 1),
    ],
    ids=["429-then-ok", "5xx-then-ok", "5xx-no-retries", "5xx-exhausts-retries", "400-not-retried"],
)
def test_retries_on_429_and_5xx_only(
    endpoint: LoopbackEndpoint,
    statuses: tuple[int, ...],
    retries: int,
    expected_status: str,
    expected_attempts: int,
) -> None:
    endpoint.fail_next(*statuses)
    result = run(
        make_suite(1, max_error_rate=1.0), chat(endpoint), retries=retries, backoff_s=0.001
    )
    case = result.results[0]
    assert case.status == expected_status
    assert case.attempts == expected_attempts
    assert len(endpoint.requests) == expected_attempts
    if expected_status == "error":
        assert case.error is not None and f"HTTP {statuses[0]}" in case.error


def test_retry_after_is_honoured(endpoint: LoopbackEndpoint) -> None:
    endpoint.fail_next(429, retry_after_s=0.4)
    result = run(make_suite(1), chat(endpoint), retries=1, backoff_s=0.001)
    assert result.results[0].status == "pass"
    assert result.duration_s >= 0.4


def test_an_unreachable_target_is_an_error_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port once the probe socket is closed.
    target = OpenAIChatTarget("nobody", f"http://127.0.0.1:{port}/v1")
    result = run(make_suite(12, max_error_rate=1.0), target, retries=1, backoff_s=0.001)
    assert result.status == "error"
    assert result.reason is not None
    assert "unreachable" in result.reason and "cannot connect" in result.reason
    assert result.errors == result.cases == 12
    assert result.attack_success_rate is None
    assert all(r.status == "error" for r in result.results)
    assert any((r.error or "").startswith("not run: ") for r in result.results)


def test_failures_are_counted_apart_from_errors(endpoint: LoopbackEndpoint) -> None:
    endpoint.responder = lambda request: (
        COMPLIANCE if request.prompt.endswith(("1", "2")) else REFUSAL
    )
    endpoint.fail_next(400)
    result = run(
        make_suite(10, max_error_rate=0.2, max_attack_success_rate=0.1),
        chat(endpoint),
        concurrency=1,
    )
    assert (result.cases, result.failures, result.errors) == (10, 2, 1)
    assert result.attack_success_rate == pytest.approx(2 / 9)
    assert result.status == "fail"
    assert result.reason is not None and "max_attack_success_rate 0.1" in result.reason
    failing = {r.case_id for r in result.failing}
    assert failing <= {"case-01", "case-02"} and len(failing) == 2
    assert all(
        r.detection is not None and r.detection.label == "compliance" for r in result.failing
    )


def test_cache_hits_are_not_sent_again(endpoint: LoopbackEndpoint, tmp_path: Path) -> None:
    suite = make_suite(5)
    with ResponseCache(tmp_path / "cache.sqlite3") as cache:
        first = run(suite, chat(endpoint), cache=cache)
        assert first.cached == 0 and len(endpoint.requests) == 5
        second = run(suite, chat(endpoint), cache=cache)
        assert len(endpoint.requests) == 5  # nothing new was sent
        assert second.cached == 5 and all(r.cached for r in second.results)
        assert [r.status for r in second.results] == [r.status for r in first.results]
        # A different target (another model name) is a different key: sent again.
        third = run(suite, OpenAIChatTarget("other-model", endpoint.base_url), cache=cache)
        assert third.cached == 0 and len(endpoint.requests) == 10
        assert cache.count() == 10


def test_an_interrupted_run_resumes_with_only_the_rest(
    endpoint: LoopbackEndpoint, tmp_path: Path
) -> None:
    endpoint.latency_s = 0.02
    stall = threading.Event()
    stall.set()

    def latency(request: LoopbackRequest) -> float | None:
        # After five answers the endpoint stalls, so the run is surely cut off midway.
        return 3.0 if stall.is_set() and len(endpoint.prompts()) >= 5 else None

    endpoint.latency_for = latency
    suite = make_suite(12)
    cache_path = tmp_path / "cache.sqlite3"

    async def interrupted() -> None:
        target = chat(endpoint)
        with ResponseCache(cache_path) as cache:
            task = asyncio.create_task(
                run_suite(suite, target, judge=OfflineJudge(), concurrency=2, cache=cache)
            )
            while len(endpoint.prompts()) < 5:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        await target.close()

    asyncio.run(interrupted())
    parameters = chat(endpoint).parameters
    with ResponseCache(cache_path) as cache:
        stored = {
            c.prompt
            for c in suite.cases
            if cache.get(
                cache_key(
                    target=chat(endpoint).name, case=c, system_prompt=None, parameters=parameters
                )
            )
            is not None
        }
    assert 5 <= len(stored) < 12
    stall.clear()
    endpoint.reset()
    with ResponseCache(cache_path) as cache:
        resumed = run(suite, chat(endpoint), concurrency=2, cache=cache)
    # Only the cases without a stored response are sent again (a request the stalled endpoint
    # answers late belongs to the same set: it was never stored).
    assert set(endpoint.prompts()) == {c.prompt for c in suite.cases} - stored
    assert resumed.cached == len(stored)
    assert resumed.status == "pass" and resumed.cases == 12


class _BrokenJudge:
    name = "broken"

    def judge(self, case: Case, response: str, *, header: SuiteHeader) -> Detection:
        raise JudgeError(f"cannot judge {case.id!r}")


class _ExplodingTarget:
    name = "exploding"

    @property
    def parameters(self) -> dict[str, object]:
        return {}

    async def open(self) -> None:
        return None

    async def respond(self, case: Case, *, system_prompt: str | None, timeout_s: float) -> str:
        raise RuntimeError("model crashed")

    async def close(self) -> None:
        return None


def test_a_judge_failure_is_an_error_never_a_pass(endpoint: LoopbackEndpoint) -> None:
    async def go() -> SuiteRun:
        target = chat(endpoint)
        try:
            return await run_suite(make_suite(3), target, judge=_BrokenJudge())
        finally:
            await target.close()

    result = asyncio.run(go())
    assert result.errors == 3 and result.status == "error"
    assert all(r.error is not None and r.error.startswith("judge: ") for r in result.results)
    assert all(r.response == REFUSAL for r in result.results)


def test_an_unexpected_target_exception_is_an_error() -> None:
    result = run(make_suite(2), _ExplodingTarget(), retries=2)
    assert result.status == "error"
    assert all(r.error == "RuntimeError: model crashed" and r.attempts == 1 for r in result.results)


def test_progress_bar_on_a_console(endpoint: LoopbackEndpoint) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=120)
    result = run(make_suite(3), chat(endpoint), progress=console)
    assert result.status == "pass"
    assert "attacks" in buffer.getvalue() and "3/3" in buffer.getvalue()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"concurrency": 0}, "concurrency"),
        ({"timeout_s": 0.0}, "timeout_s"),
        ({"retries": -1}, "retries"),
    ],
    ids=["concurrency", "timeout", "retries"],
)
def test_invalid_run_settings_are_rejected(
    endpoint: LoopbackEndpoint, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        run(make_suite(1), chat(endpoint), **kwargs)


def _results(statuses: str) -> list[CaseResult]:
    return [
        CaseResult(case_id=f"c{i}", status={"p": "pass", "f": "fail", "e": "error"}[s])
        for i, s in enumerate(statuses)
    ]


@pytest.mark.parametrize(
    ("statuses", "thresholds", "expected"),
    [
        ("pppp", SuiteThresholds(max_failures=0), "pass"),
        ("pppf", SuiteThresholds(max_failures=0), "fail"),
        ("pppf", SuiteThresholds(max_failures=1), "pass"),
        ("ppff", SuiteThresholds(max_attack_success_rate=0.5), "pass"),
        ("pfff", SuiteThresholds(max_attack_success_rate=0.5), "fail"),
        ("pppf", SuiteThresholds(), "fail"),
        ("ppppppppe", SuiteThresholds(max_failures=0, max_error_rate=0.1), "error"),
        ("pppppppppe", SuiteThresholds(max_failures=0, max_error_rate=0.1), "pass"),
        ("eeee", SuiteThresholds(max_error_rate=1.0), "error"),
        ("", SuiteThresholds(), "error"),
    ],
    ids=[
        "clean",
        "one-failure-over-zero",
        "one-failure-within-one",
        "asr-at-limit",
        "asr-over-limit",
        "no-thresholds-tolerate-nothing",
        "error-rate-over",
        "error-rate-at-limit",
        "all-errors",
        "no-cases",
    ],
)
def test_run_status_from_counts_and_thresholds(
    statuses: str, thresholds: SuiteThresholds, expected: str
) -> None:
    header = SuiteHeader(
        name="s",
        version="1",
        category="jailbreak",
        target_kind="llm",
        detector="refusal",
        thresholds=thresholds,
    )
    result = summarize_run(
        header=header,
        target="t",
        judge="offline",
        results=_results(statuses),
        started_at=datetime.now(UTC),
        duration_s=0.0,
    )
    assert result.status == expected
    assert (result.reason is None) == (expected == "pass")
