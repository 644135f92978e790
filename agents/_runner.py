"""One agent runner for every LLM conversation (the review investigator and chat).

It builds the LangChain agent with the read-only review tools, meters it against its budget
(model calls, tool calls, tokens, wall clock), retries model calls on 429, 5xx and timeouts
(`BudgetMiddleware`), turns every way a run can stop short into a fallback reason, and prices the
usage. A run that stops short never raises (except a test double's AssertionError): the caller
gets the reason and falls back to its deterministic answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from langchain.agents import create_agent
from langchain.agents.structured_output import StructuredOutputError
from langchain_core.messages import BaseMessage
from langgraph.errors import GraphRecursionError

from agents._agent_tools import ReviewContext, review_tools
from agents._budget import BudgetMiddleware, ReviewBudget, TokenPrice, UsageMeter, UsageSnapshot
from agents.chat_model import RetryPolicy
from agents.errors import (
    BudgetExceededError,
    InvalidReviewError,
    LlmUnavailableError,
)
from agents.tracing import ReviewTrace
from policies.decision import LlmUsage

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = ["AgentOutcome", "AgentRunner", "Invoke"]

logger = logging.getLogger("promogate.agents")

T = TypeVar("T")

Invoke = Callable[[list[BaseMessage]], dict[str, Any]]
"""Runs the agent on a conversation and returns its final state (``messages``, and
``structured_response`` when a response format was given)."""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class AgentOutcome(Generic[T]):
    """What a run produced (None when it stopped short), why it stopped short, and its usage."""

    value: T | None
    reason: str | None
    spent: UsageSnapshot
    usage: LlmUsage


class AgentRunner:
    """Runs agents on one chat model under one budget, retry policy and price.

    Args:
        chat_model: The LangChain chat model.
        model_name: The model's name, recorded in the usage.
        budget: Limits of one run.
        retry: Retries of a model call.
        price: Price per token, for the usage's estimated cost.
        sleep: Waits between retries (tests pass a no-op).
        clock: Measures the wall-clock budget.
    """

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        model_name: str,
        budget: ReviewBudget,
        retry: RetryPolicy,
        price: TokenPrice,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat_model = chat_model
        self.model_name = model_name
        self.budget = budget
        self.retry = retry
        self.price = price
        self._sleep = sleep
        self._clock = clock

    def run(
        self,
        drive: Callable[[Invoke], T],
        *,
        name: str,
        system_prompt: Any,
        context: ReviewContext,
        trace: ReviewTrace,
        response_format: Any = None,
    ) -> AgentOutcome[T]:
        """Build the agent and let `drive` converse with it through `Invoke`.

        Args:
            drive: Calls the agent (once, or again to repair a reply) and returns the result.
            name: The agent's name (in traces).
            system_prompt: The system prompt, text or a message.
            context: What the tools read.
            trace: The trace the model and tool calls are recorded in.
            response_format: The structured response the agent must file, if any.
        """
        meter = UsageMeter(self.budget, clock=self._clock)
        options: dict[str, Any] = {}
        if response_format is not None:
            options["response_format"] = response_format
        agent: Any = create_agent(
            self.chat_model,
            review_tools(),
            system_prompt=system_prompt,
            middleware=[BudgetMiddleware(meter, self.retry, trace, sleep=self._sleep)],
            context_schema=ReviewContext,
            name=name,
            **options,
        )
        config = {"recursion_limit": 4 * self.budget.max_llm_calls + 10}

        def invoke(messages: list[BaseMessage]) -> dict[str, Any]:
            result: dict[str, Any] = agent.invoke(
                {"messages": messages}, context=context, config=config
            )
            return result

        value: T | None = None
        reason: str | None = None
        try:
            value = drive(invoke)
        except BudgetExceededError as exc:
            reason = f"budget_exhausted: {exc}"
        except GraphRecursionError as exc:
            reason = f"budget_exhausted: the agent exceeded its step limit ({exc})"
        except LlmUnavailableError as exc:
            reason = f"llm_unavailable: {exc}"
        except (InvalidReviewError, StructuredOutputError) as exc:
            reason = f"invalid_structured_output: {_clip(str(exc), 600)}"
        except AssertionError:
            # Test doubles signal misuse with AssertionError; never hide it behind a fallback.
            raise
        except Exception as exc:  # recorded as the fallback reason, never as a pass
            logger.exception("agent %s failed unexpectedly", name)
            reason = f"agent_error: {type(exc).__name__}: {_clip(str(exc), 400)}"
        spent = meter.snapshot()
        return AgentOutcome(
            value=value, reason=reason, spent=spent, usage=self.usage(spent, trace, reason)
        )

    def usage(self, spent: UsageSnapshot, trace: ReviewTrace, reason: str | None) -> LlmUsage:
        """What a run spent, priced, with its trace id and fallback reason."""
        return LlmUsage(
            model=self.model_name,
            llm_calls=spent.llm_calls,
            tool_calls=spent.tool_calls,
            prompt_tokens=spent.prompt_tokens,
            completion_tokens=spent.completion_tokens,
            estimated_cost_usd=round(
                self.price.cost(spent.prompt_tokens, spent.completion_tokens), 6
            ),
            trace_id=trace.trace_id,
            fallback_reason=reason,
        )
