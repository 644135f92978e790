"""Errors of the investigators and the chat agent, in one hierarchy.

    AgentError                   what an agent could not do
    ├── LlmConfigError           the LLM configuration cannot work (unknown provider, missing
    │                            key); also a ValueError, since it is bad input
    ├── LlmUnavailableError      the LLM did not answer, after retries where retrying made sense
    ├── BudgetExceededError      a review or chat turn used up one of its budgets
    └── InvalidReviewError       the agent's structured review stayed invalid after its repair

None of these turns into an approval: an LLM investigator that raises one hands the review to the
deterministic investigator, and the decision records why (`usage.fallback_reason`).
"""

from __future__ import annotations

from typing import Literal

__all__ = [
    "AgentError",
    "BudgetExceededError",
    "BudgetResource",
    "InvalidReviewError",
    "LlmConfigError",
    "LlmUnavailableError",
]

BudgetResource = Literal["llm_calls", "tool_calls", "tokens", "wall_clock"]
"""What a budget limits."""


class AgentError(Exception):
    """Base class of the agents package's errors."""


class LlmConfigError(AgentError, ValueError):
    """The LLM configuration cannot work (unknown provider, missing key)."""


class LlmUnavailableError(AgentError):
    """The LLM could not answer, after retries where retrying made sense."""

    def __init__(self, message: str, *, attempts: int, cause: BaseException | None = None):
        self.attempts = attempts
        self.cause = cause
        super().__init__(message)


class BudgetExceededError(AgentError):
    """The review used up one of its budgets."""

    def __init__(self, resource: BudgetResource, used: float, limit: float) -> None:
        self.resource: BudgetResource = resource
        self.used = used
        self.limit = limit
        super().__init__(f"review budget exhausted: {resource} used {used!r} of {limit!r}")


class InvalidReviewError(AgentError):
    """The agent's structured review stayed invalid after its repair attempt."""
