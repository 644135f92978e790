"""The per-review budget: the meter's limits, token accounting, cost estimates, and the fallback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from agents._budget import (
    BudgetExceededError,
    ReviewBudget,
    TokenPrice,
    UsageMeter,
    price_for,
)
from agents.llm_investigator import LlmInvestigator
from agents.testing import ScriptedChatModel, tool_call_message
from review._decide import compose_decision


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_llm_calls_are_refused_past_the_limit() -> None:
    meter = UsageMeter(ReviewBudget(max_llm_calls=2))
    meter.start_llm_call()
    meter.start_llm_call()
    with pytest.raises(BudgetExceededError, match="llm_calls used 2 of 2") as info:
        meter.start_llm_call()
    assert info.value.resource == "llm_calls"
    assert meter.snapshot().llm_calls == 2


def test_tool_calls_are_counted_and_refused_past_the_limit() -> None:
    meter = UsageMeter(ReviewBudget(max_tool_calls=2))
    assert meter.start_tool_call("get_metric") == 1
    assert meter.start_tool_call("compare_datasets") == 0
    with pytest.raises(BudgetExceededError, match="tool_calls used 3 of 2"):
        meter.start_tool_call("get_check")
    assert meter.snapshot().tools_called == ["get_metric", "compare_datasets"]


def test_tokens_bind_on_the_next_call() -> None:
    meter = UsageMeter(ReviewBudget(max_tokens=1000))
    meter.start_llm_call()
    meter.record_tokens(900, 150)
    snap = meter.snapshot()
    assert (snap.prompt_tokens, snap.completion_tokens, snap.tokens) == (900, 150, 1050)
    with pytest.raises(BudgetExceededError, match="tokens used 1050 of 1000"):
        meter.start_llm_call()


def test_wall_clock_binds_llm_and_tool_calls() -> None:
    clock = FakeClock()
    meter = UsageMeter(ReviewBudget(max_seconds=30), clock=clock)
    meter.start_llm_call()
    clock.now += 29.5
    assert meter.remaining_s() == pytest.approx(0.5)
    clock.now += 1
    assert meter.remaining_s() == 0.0
    for start in (meter.start_llm_call, lambda: meter.start_tool_call("get_metric")):
        with pytest.raises(BudgetExceededError, match="wall_clock") as info:
            start()
        assert info.value.resource == "wall_clock"


@pytest.mark.parametrize(
    ("model", "prompt", "completion", "cost"),
    [
        ("gpt-4o-mini", 1_000_000, 1_000_000, 0.75),
        ("gpt-4o", 2000, 500, 0.01),
        ("llama-3-local", 50_000, 5_000, 0.0),
    ],
    ids=["mini", "4o", "unknown-model-is-free"],
)
def test_cost_estimates(model: str, prompt: int, completion: int, cost: float) -> None:
    assert price_for(model).cost(prompt, completion) == pytest.approx(cost)


def test_a_custom_price() -> None:
    price = TokenPrice(prompt_per_million=1.0, completion_per_million=3.0)
    assert price.cost(500_000, 100_000) == pytest.approx(0.8)


def _tool_loop(n: int) -> list[object]:
    return [tool_call_message(("get_check", {"check_id": "metrics.roc_auc.max_drop"}))] * n


@pytest.mark.parametrize(
    ("budget", "steps", "resource", "llm_calls", "tool_calls"),
    [
        (ReviewBudget(max_llm_calls=3), 3, "llm_calls", 3, 3),
        (ReviewBudget(max_tool_calls=2), 3, "tool_calls", 3, 2),
        (ReviewBudget(max_tokens=1600), 2, "tokens", 2, 2),
    ],
    ids=["llm-calls", "tool-calls", "tokens"],
)
def test_a_review_out_of_budget_is_finished_by_the_offline_investigator(
    kit: Any,
    scripted: Callable[..., ScriptedChatModel],
    budget: ReviewBudget,
    steps: int,
    resource: str,
    llm_calls: int,
    tool_calls: int,
) -> None:
    bundle = kit.regression()
    verdict = kit.verdict(bundle)
    model = scripted(*_tool_loop(steps))
    investigation = LlmInvestigator(model, model_name="scripted", budget=budget).investigate(
        bundle, verdict
    )
    usage = investigation.usage
    assert usage.fallback_reason is not None
    assert usage.fallback_reason.startswith(
        f"budget_exhausted: review budget exhausted: {resource}"
    )
    assert (usage.llm_calls, usage.tool_calls) == (llm_calls, tool_calls)
    assert investigation.investigator == "offline"
    # The deterministic investigator's question plan is there, and the fallback is a finding.
    assert any(q.question.startswith("Which segments regressed") for q in investigation.questions)
    assert any("deterministic investigator finished" in f.title for f in investigation.findings)
    decision = compose_decision(
        bundle=bundle,
        verdict=verdict,
        investigation=investigation,
        target_alias="champion",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_ms=1.0,
    )
    assert decision.verdict == "block"
    assert decision.usage.fallback_reason == usage.fallback_reason


def test_the_wall_clock_budget_ends_a_review(
    kit: Any, scripted: Callable[..., ScriptedChatModel]
) -> None:
    clock = FakeClock()
    bundle = kit.regression()

    def slow_step(messages: list[object]) -> object:
        del messages
        clock.now += 61
        return tool_call_message(("compare_datasets", {}))

    model = scripted(slow_step)
    investigation = LlmInvestigator(
        model, model_name="scripted", budget=ReviewBudget(max_seconds=60), clock=clock
    ).investigate(bundle, kit.verdict(bundle))
    assert investigation.usage.fallback_reason is not None
    assert "wall_clock" in investigation.usage.fallback_reason
    assert investigation.usage.tool_calls == 0
