"""The per-review budget of an LLM review: LLM calls, tool calls, tokens and wall clock.

A review that runs out of budget is not an error of the gate: the deterministic investigator
finishes it and the decision records why (`LlmUsage.fallback_reason`). The meter is shared by the
model and tool calls of one review, which the agent may run on several threads at once.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict, Field

from agents.chat_model import LlmUnavailableError, RetryPolicy, call_with_retries
from agents.errors import BudgetExceededError, BudgetResource
from agents.tracing import ReviewTrace

__all__ = [
    "DEFAULT_PRICES",
    "BudgetExceededError",
    "BudgetMiddleware",
    "BudgetResource",
    "ReviewBudget",
    "TokenPrice",
    "UsageMeter",
    "UsageSnapshot",
    "price_for",
]


class ReviewBudget(BaseModel):
    """How much one LLM review may spend before the deterministic investigator takes over."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_llm_calls: int = Field(default=12, ge=1, description="Model requests per review.")
    max_tool_calls: int = Field(default=24, ge=0, description="Tool calls per review.")
    max_tokens: int = Field(
        default=150_000, ge=1, description="Prompt plus completion tokens per review."
    )
    max_seconds: float = Field(default=180.0, gt=0, description="Wall clock per review.")


class TokenPrice(BaseModel):
    """USD per million tokens, used to estimate what a review cost."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_per_million: float = Field(default=0.0, ge=0)
    completion_per_million: float = Field(default=0.0, ge=0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Estimated cost in USD of the given token counts."""
        return (
            prompt_tokens * self.prompt_per_million
            + completion_tokens * self.completion_per_million
        ) / 1_000_000


# List prices of common OpenAI models (USD per million tokens). Estimates only: a deployment with
# other prices, or a self-hosted model, passes its own `TokenPrice`.
DEFAULT_PRICES: dict[str, TokenPrice] = {
    "gpt-4o": TokenPrice(prompt_per_million=2.50, completion_per_million=10.00),
    "gpt-4o-mini": TokenPrice(prompt_per_million=0.15, completion_per_million=0.60),
    "gpt-4.1": TokenPrice(prompt_per_million=2.00, completion_per_million=8.00),
    "gpt-4.1-mini": TokenPrice(prompt_per_million=0.40, completion_per_million=1.60),
    "gpt-4.1-nano": TokenPrice(prompt_per_million=0.10, completion_per_million=0.40),
}


def price_for(model: str) -> TokenPrice:
    """The list price of `model`, or zero for a model without a known price.

    Args:
        model: The model name, e.g. ``gpt-4o-mini``.
    """
    return DEFAULT_PRICES.get(model, TokenPrice())


class UsageSnapshot(BaseModel):
    """What a review spent so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    llm_calls: int
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    elapsed_s: float
    tools_called: list[str]

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class UsageMeter:
    """Counts one review's spending and refuses the call that would exceed its budget.

    Checks happen before a call, so a review never starts a model request after its budget is
    spent; tokens are only known after a call, so the call that crosses the token limit completes
    and the next one is refused.
    """

    def __init__(self, budget: ReviewBudget, *, clock: Callable[[], float] = time.monotonic):
        self.budget = budget
        self._clock = clock
        self._started = clock()
        self._lock = threading.Lock()
        self._llm_calls = 0
        self._tool_calls = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._tools_called: list[str] = []

    def elapsed_s(self) -> float:
        """Seconds since the review started."""
        return self._clock() - self._started

    def remaining_s(self) -> float:
        """Seconds of wall clock left (never negative)."""
        return max(0.0, self.budget.max_seconds - self.elapsed_s())

    def _check_clock(self) -> None:
        elapsed = self.elapsed_s()
        if elapsed >= self.budget.max_seconds:
            raise BudgetExceededError("wall_clock", round(elapsed, 3), self.budget.max_seconds)

    def start_llm_call(self) -> None:
        """Account for one model request, or raise when the budget does not allow it.

        Raises:
            BudgetExceededError: No LLM calls, tokens or time left.
        """
        with self._lock:
            self._check_clock()
            if self._llm_calls >= self.budget.max_llm_calls:
                raise BudgetExceededError("llm_calls", self._llm_calls, self.budget.max_llm_calls)
            tokens = self._prompt_tokens + self._completion_tokens
            if tokens >= self.budget.max_tokens:
                raise BudgetExceededError("tokens", tokens, self.budget.max_tokens)
            self._llm_calls += 1

    def record_tokens(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add the token usage a model response reported."""
        with self._lock:
            self._prompt_tokens += max(0, prompt_tokens)
            self._completion_tokens += max(0, completion_tokens)

    def start_tool_call(self, name: str) -> int:
        """Account for one tool call and return how many remain after it.

        Args:
            name: The tool's name, recorded for the review's usage.

        Raises:
            BudgetExceededError: No tool calls or time left.
        """
        with self._lock:
            self._check_clock()
            if self._tool_calls >= self.budget.max_tool_calls:
                raise BudgetExceededError(
                    "tool_calls", self._tool_calls + 1, self.budget.max_tool_calls
                )
            self._tool_calls += 1
            self._tools_called.append(name)
            return self.budget.max_tool_calls - self._tool_calls

    def snapshot(self) -> UsageSnapshot:
        """The review's spending so far."""
        with self._lock:
            return UsageSnapshot(
                llm_calls=self._llm_calls,
                tool_calls=self._tool_calls,
                prompt_tokens=self._prompt_tokens,
                completion_tokens=self._completion_tokens,
                elapsed_s=round(self.elapsed_s(), 6),
                tools_called=list(self._tools_called),
            )


def _chars(messages: Sequence[BaseMessage]) -> int:
    return sum(len(m.text) + len(json.dumps(getattr(m, "tool_calls", []))) for m in messages)


def _usage(request: ModelRequest[Any], result: Sequence[BaseMessage]) -> tuple[int, int, bool]:
    """(prompt tokens, completion tokens, estimated) of one model response.

    Servers that report no usage get an estimate of four characters per token, so that a budget
    still binds; the estimate is flagged in the trace.
    """
    prompt = completion = 0
    reported = False
    for message in result:
        if isinstance(message, AIMessage) and message.usage_metadata is not None:
            prompt += message.usage_metadata.get("input_tokens", 0)
            completion += message.usage_metadata.get("output_tokens", 0)
            reported = True
    if reported:
        return prompt, completion, False
    system = request.system_message.text if request.system_message is not None else ""
    tools = len(json.dumps([getattr(t, "name", str(t)) for t in request.tools]))
    prompt = (len(system) + _chars(request.messages) + tools) // 4
    completion = _chars([m for m in result if isinstance(m, AIMessage)]) // 4
    return prompt, completion, True


class BudgetMiddleware(AgentMiddleware[Any, Any, Any]):
    """Guards every model and tool call of one review: budget, retries, usage and tracing.

    Model calls are retried (`agents.chat_model.call_with_retries`) within the review's deadline;
    a call the budget does not allow raises `BudgetExceededError`, which ends the agent run.

    Args:
        meter: The review's usage meter.
        retry: Retries of one model call.
        trace: The review's trace; each call gets a child span.
        sleep: How to wait between retries.
    """

    def __init__(
        self,
        meter: UsageMeter,
        retry: RetryPolicy,
        trace: ReviewTrace,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.meter = meter
        self.retry = retry
        self.trace = trace
        self.sleep = sleep

    def wrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], ModelResponse[Any]],
    ) -> ModelResponse[Any]:
        self.meter.start_llm_call()
        span = self.trace.start_span(
            "llm", "CHAT_MODEL", {"messages": len(request.messages), "tools": len(request.tools)}
        )
        try:
            response = call_with_retries(
                lambda: handler(request),
                self.retry,
                remaining_s=self.meter.remaining_s,
                sleep=self.sleep,
            )
        except LlmUnavailableError as exc:
            self.trace.end_span(span, error=str(exc))
            raise
        prompt, completion, estimated = _usage(request, response.result)
        self.meter.record_tokens(prompt, completion)
        calls = [
            tc["name"] for m in response.result if isinstance(m, AIMessage) for tc in m.tool_calls
        ]
        self.trace.end_span(
            span,
            {"tool_calls": calls},
            attributes={
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "tokens_estimated": estimated,
            },
        )
        return response

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        name = request.tool_call["name"]
        self.meter.start_tool_call(name)
        span = self.trace.start_span(f"tool:{name}", "TOOL", {"args": request.tool_call["args"]})
        result = handler(request)
        content = result.text if isinstance(result, ToolMessage) else str(result)
        self.trace.end_span(span, {"result": content})
        return result
