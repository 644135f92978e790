"""The scripted OpenAI-compatible server, through the real `openai` and `langchain-openai` clients.

Real HTTP on loopback: tool calls, structured output (tool calling and json_schema), 429 then
success (with Retry-After), 5xx, malformed JSON and timeouts, with the retries of
`agents.chat_model.call_with_retries`.
"""

from __future__ import annotations

import time

import openai
import pytest
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

from agents.chat_model import (
    LlmConfigError,
    LlmUnavailableError,
    RetryPolicy,
    build_chat_model,
    call_with_retries,
    is_retryable,
    parse_model_spec,
)
from agents.testing import ScriptedOpenAIServer, ScriptedReply

FAST = RetryPolicy(attempts=3, initial_backoff_s=0.01, max_backoff_s=0.05, jitter_s=0.01)


class Verdict(BaseModel):
    verdict: str
    confidence: float


def _model(server: ScriptedOpenAIServer, timeout_s: float = 5.0):  # type: ignore[no-untyped-def]
    return build_chat_model(
        "openai:gpt-test", api_key="test-key", base_url=server.base_url, timeout_s=timeout_s
    )


def test_text_reply_and_the_request_recorded() -> None:
    with ScriptedOpenAIServer([ScriptedReply.text("hello engineer")]) as server:
        reply = _model(server).invoke([HumanMessage("hi")])
        server.assert_consumed()
    assert reply.text == "hello engineer"
    assert reply.usage_metadata is not None and reply.usage_metadata["input_tokens"] > 0
    (request,) = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.body["model"] == "gpt-test"
    assert request.authorization == "Bearer test-key"
    assert request.first("user") == "hi"


def test_tool_calls_reach_the_client_with_their_arguments() -> None:
    script = [ScriptedReply.calls(("get_metric", {"name": "roc_auc"}), ("compare_datasets", {}))]
    with ScriptedOpenAIServer(script) as server:
        bound = _model(server).bind_tools(
            [
                {
                    "type": "function",
                    "function": {
                        "name": "get_metric",
                        "description": "d",
                        "parameters": {
                            "type": "object",
                            "properties": {"name": {"type": "string"}},
                        },
                    },
                }
            ]
        )
        reply = bound.invoke("which metric?")
        server.assert_consumed()
    assert [(c["name"], c["args"]) for c in reply.tool_calls] == [
        ("get_metric", {"name": "roc_auc"}),
        ("compare_datasets", {}),
    ]
    assert server.requests[0].tool_names == ["get_metric"]


@pytest.mark.parametrize(
    ("method", "reply"),
    [
        (
            "function_calling",
            ScriptedReply.structured({"verdict": "block", "confidence": 0.9}, name="Verdict"),
        ),
        ("json_schema", ScriptedReply.json_content({"verdict": "block", "confidence": 0.9})),
    ],
    ids=["tool-calling", "json-schema"],
)
def test_structured_output(method: str, reply: ScriptedReply) -> None:
    with ScriptedOpenAIServer([reply]) as server:
        out = _model(server).with_structured_output(Verdict, method=method).invoke("decide")  # type: ignore[arg-type]
        server.assert_consumed()
    assert out == Verdict(verdict="block", confidence=0.9)
    body = server.requests[0].body
    if method == "json_schema":
        assert body["response_format"]["json_schema"]["name"] == "Verdict"
    else:
        assert body["tool_choice"]["function"]["name"] == "Verdict"


def test_429_then_success_honours_retry_after() -> None:
    script = [ScriptedReply.fault(429, retry_after_s=0.2), ScriptedReply.text("after the wait")]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    with ScriptedOpenAIServer(script) as server:
        model = _model(server)
        reply = call_with_retries(
            lambda: model.invoke("x"), FAST.model_copy(update={"max_backoff_s": 1.0}), sleep=sleep
        )
        server.assert_consumed()
    assert reply.text == "after the wait"
    assert len(server.requests) == 2
    assert len(waits) == 1 and waits[0] >= 0.2


@pytest.mark.parametrize("status", [500, 502, 503], ids=["500", "502", "503"])
def test_5xx_is_retried_until_success(status: int) -> None:
    script = [ScriptedReply.fault(status), ScriptedReply.fault(status), ScriptedReply.text("ok")]
    with ScriptedOpenAIServer(script) as server:
        model = _model(server)
        reply = call_with_retries(lambda: model.invoke("x"), FAST)
        server.assert_consumed()
    assert reply.text == "ok"
    assert len(server.requests) == 3


def test_5xx_on_every_attempt_gives_up_with_the_reason() -> None:
    with ScriptedOpenAIServer([ScriptedReply.fault(503)] * 3) as server:
        model = _model(server)
        with pytest.raises(LlmUnavailableError, match=r"HTTP 503 .*after attempt 3 of 3") as info:
            call_with_retries(lambda: model.invoke("x"), FAST)
        server.assert_consumed()
    assert info.value.attempts == 3


def test_4xx_is_not_retried() -> None:
    with ScriptedOpenAIServer([ScriptedReply.fault(401, message="bad key")]) as server:
        model = _model(server)
        with pytest.raises(LlmUnavailableError, match=r"HTTP 401 .*on attempt 1"):
            call_with_retries(lambda: model.invoke("x"), FAST)
        server.assert_consumed()
    assert len(server.requests) == 1


def test_malformed_json_is_an_llm_failure_not_a_crash() -> None:
    with ScriptedOpenAIServer([ScriptedReply.malformed()]) as server:
        model = _model(server)
        with pytest.raises(LlmUnavailableError, match="malformed response"):
            call_with_retries(lambda: model.invoke("x"), FAST)
        server.assert_consumed()


def test_timeout_then_success() -> None:
    script = [ScriptedReply.slow(1.5), ScriptedReply.text("in time")]
    with ScriptedOpenAIServer(script) as server:
        model = _model(server, timeout_s=0.3)
        started = time.perf_counter()
        reply = call_with_retries(lambda: model.invoke("x"), FAST)
        elapsed = time.perf_counter() - started
        server.assert_consumed()
    assert reply.text == "in time"
    assert elapsed < 1.4, "the client waited for the slow reply instead of timing out"


def test_no_retry_starts_past_the_deadline() -> None:
    with ScriptedOpenAIServer([ScriptedReply.fault(503)]) as server:
        model = _model(server)
        with pytest.raises(LlmUnavailableError, match="after attempt 1 of 3"):
            call_with_retries(lambda: model.invoke("x"), FAST, remaining_s=lambda: 0.0)
        server.assert_consumed()


def test_a_request_past_the_script_fails_assert_consumed() -> None:
    with ScriptedOpenAIServer([]) as server:
        with pytest.raises(openai.BadRequestError):
            _model(server).invoke("x")
        with pytest.raises(AssertionError, match="1 request"):
            server.assert_consumed()


def test_unused_replies_fail_assert_consumed() -> None:
    with (
        ScriptedOpenAIServer([ScriptedReply.text("never asked")]) as server,
        pytest.raises(AssertionError, match="1 reply"),
    ):
        server.assert_consumed()


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (openai.APITimeoutError(request=None), True),  # type: ignore[arg-type]
        (ValueError("x"), False),
    ],
    ids=["timeout", "value-error"],
)
def test_is_retryable(exc: BaseException, expected: bool) -> None:
    assert is_retryable(exc) is expected


@pytest.mark.parametrize(
    "spec",
    ["gpt-4o", "anthropic:claude", "openai:", "openai:  "],
    ids=["no-provider", "other-provider", "no-model", "blank-model"],
)
def test_invalid_specs_are_refused(spec: str) -> None:
    with pytest.raises(LlmConfigError, match=repr(spec).replace("(", r"\(")):
        parse_model_spec(spec)


def test_openai_itself_needs_a_key() -> None:
    with pytest.raises(LlmConfigError, match="OPENAI_API_KEY"):
        build_chat_model("openai:gpt-4o-mini", api_key=None, base_url=None)
