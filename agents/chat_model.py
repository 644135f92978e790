"""The chat model behind an LLM review, and the retries around every call to it.

The model comes from a spec, ``openai:<model>``, through `langchain-openai` against OpenAI or any
OpenAI-compatible server (vLLM, Ollama, llama.cpp, a LiteLLM proxy) named by its base URL. The
client's own retries are switched off (``max_retries=0``): `call_with_retries` retries 429, 5xx,
timeouts and dropped connections with exponential backoff and jitter, honours ``Retry-After``, and
never sleeps past the review's deadline.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal, TypeVar

import httpx
import openai
from pydantic import BaseModel, ConfigDict, Field
from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from agents.errors import LlmConfigError, LlmUnavailableError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "OPENAI_BASE_URL",
    "ChatModelSpec",
    "LlmConfigError",
    "LlmUnavailableError",
    "RetryPolicy",
    "build_chat_model",
    "call_with_retries",
    "is_retryable",
    "parse_model_spec",
]

logger = logging.getLogger("promogate.agents")

OPENAI_BASE_URL = "https://api.openai.com/v1"
# Servers that need no key (a local vLLM or Ollama) still get a syntactically valid one.
_PLACEHOLDER_KEY = "not-needed"
_RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})

T = TypeVar("T")


class ChatModelSpec(BaseModel):
    """A parsed model spec such as ``openai:gpt-4o-mini``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["openai"]
    model: str = Field(min_length=1)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


class RetryPolicy(BaseModel):
    """Retries of one model call: attempts, backoff with jitter, per-request timeout."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    attempts: int = Field(default=4, ge=1, description="Tries per model call, the first included.")
    initial_backoff_s: float = Field(default=0.5, ge=0)
    max_backoff_s: float = Field(default=8.0, ge=0)
    jitter_s: float = Field(default=0.5, ge=0, description="Uniform random jitter added to waits.")
    request_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one request.")


def parse_model_spec(spec: str) -> ChatModelSpec:
    """Parse ``openai:<model>``.

    Args:
        spec: The model spec from settings.

    Raises:
        LlmConfigError: The spec names another provider or no model.
    """
    provider, sep, model = spec.partition(":")
    if not sep or not model.strip():
        raise LlmConfigError(f"model spec {spec!r} is not of the form 'openai:<model>'")
    if provider != "openai":
        raise LlmConfigError(
            f"model spec {spec!r} names provider {provider!r}; only 'openai' (any "
            "OpenAI-compatible server, chosen by its base URL) is supported"
        )
    return ChatModelSpec(provider="openai", model=model.strip())


def build_chat_model(
    spec: str | ChatModelSpec,
    *,
    api_key: str | None,
    base_url: str | None,
    timeout_s: float = 60.0,
    temperature: float | None = 0.0,
    max_retries: int = 0,
) -> BaseChatModel:
    """The chat model for `spec`, with the client's own retries off (see `call_with_retries`).

    Args:
        spec: ``openai:<model>`` or a parsed spec.
        api_key: The API key; may be None only for a server of your own (`base_url` set).
        base_url: An OpenAI-compatible server's base URL, e.g. ``http://127.0.0.1:8000/v1``;
            OpenAI itself when None.
        timeout_s: Timeout of one HTTP request.
        temperature: Sampling temperature; None leaves the server's default (some models
            accept no other).
        max_retries: The client's own retries, for callers that do not retry themselves (the
            safety-suite judge); the reviewer retries with `call_with_retries` instead.

    Raises:
        LlmConfigError: The spec is invalid, or OpenAI itself is used without a key.
    """
    from langchain_openai import ChatOpenAI

    parsed = spec if isinstance(spec, ChatModelSpec) else parse_model_spec(spec)
    if api_key is None and base_url is None:
        raise LlmConfigError(
            f"the LLM {str(parsed)!r} needs OPENAI_API_KEY, or OPENAI_BASE_URL for a server of "
            "your own"
        )
    # Explicit values everywhere: the client libraries would otherwise fall back to environment
    # variables, and nothing under agents/ may depend on those.
    return ChatOpenAI(
        model=parsed.model,
        api_key=api_key or _PLACEHOLDER_KEY,
        base_url=base_url or OPENAI_BASE_URL,
        timeout=timeout_s,
        max_retries=max_retries,
        temperature=temperature,
    )


def is_retryable(exc: BaseException) -> bool:
    """Whether a failed model call is worth retrying: 429, 5xx, timeouts, dropped connections.

    Args:
        exc: The exception the call raised.
    """
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code in _RETRYABLE_STATUS or exc.status_code >= 500
    # APITimeoutError is an APIConnectionError.
    if isinstance(exc, openai.APIConnectionError):
        return True
    return isinstance(exc, httpx.TimeoutException | httpx.NetworkError)


def _retry_after_s(exc: BaseException | None) -> float | None:
    if not isinstance(exc, openai.APIStatusError):
        return None
    value = exc.response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class _StopAtDeadline(stop_base):
    def __init__(self, attempts: int, remaining_s: Callable[[], float]) -> None:
        self.attempts = attempts
        self.remaining_s = remaining_s

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.attempt_number >= self.attempts or self.remaining_s() <= 0


class _BackoffWithJitter(wait_base):
    """Exponential backoff plus uniform jitter; a server's Retry-After wins when longer."""

    def __init__(
        self, policy: RetryPolicy, remaining_s: Callable[[], float], rng: random.Random
    ) -> None:
        self.policy = policy
        self.remaining_s = remaining_s
        self.rng = rng

    def __call__(self, retry_state: RetryCallState) -> float:
        exponent = max(0, retry_state.attempt_number - 1)
        backoff = min(self.policy.max_backoff_s, self.policy.initial_backoff_s * 2**exponent)
        backoff += self.rng.uniform(0, self.policy.jitter_s)
        outcome = retry_state.outcome
        retry_after = _retry_after_s(outcome.exception() if outcome is not None else None)
        if retry_after is not None:
            backoff = max(backoff, min(retry_after, self.policy.max_backoff_s))
        return float(max(0.0, min(backoff, self.remaining_s())))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code} from the LLM server"
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return "the LLM request timed out"
    if isinstance(exc, openai.APIConnectionError):
        return "the LLM server could not be reached"
    if isinstance(exc, json.JSONDecodeError):
        return f"the LLM server sent a malformed response (not JSON: {exc.msg})"
    return f"{type(exc).__name__}: {exc}"


def _log_retry(state: RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome is not None else None
    logger.warning(
        "LLM call attempt %d failed (%s); retrying",
        state.attempt_number,
        _describe(failure) if failure is not None else "unknown error",
    )


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    remaining_s: Callable[[], float] = lambda: float("inf"),
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> T:
    """Run one model call, retrying what `is_retryable` allows, within the attempts and deadline.

    Args:
        call: The model call.
        policy: Attempts and backoff.
        remaining_s: Seconds left in the review; no retry starts and no wait runs past it.
        sleep: How to wait between attempts.
        rng: Source of jitter.

    Raises:
        LlmUnavailableError: The call failed with an error worth retrying on every attempt, or
            with an error of the LLM server or client that retrying cannot fix (a 4xx, a
            malformed response body).
    """
    attempts = 0

    def counted() -> T:
        nonlocal attempts
        attempts += 1
        return call()

    retrying = Retrying(
        retry=retry_if_exception(is_retryable),
        stop=_StopAtDeadline(policy.attempts, remaining_s),
        wait=_BackoffWithJitter(policy, remaining_s, rng or random.Random()),
        sleep=sleep,
        reraise=True,
        before_sleep=_log_retry,
    )
    try:
        return retrying(counted)
    # The openai client lets a 200 with a body that is not JSON escape as JSONDecodeError.
    except (openai.OpenAIError, httpx.HTTPError, json.JSONDecodeError) as exc:
        verb = "after" if is_retryable(exc) else "on"
        raise LlmUnavailableError(
            f"{_describe(exc)} ({verb} attempt {attempts} of {policy.attempts})",
            attempts=attempts,
            cause=exc,
        ) from exc
