"""Targets: parsing their text forms, the HTTP protocols over real loopback servers, and how
failures are classified for the runner. The pyfunc target is exercised against a real registered
model in test_support_assistant.py."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from benchmarks.runner_throughput import LoopbackEndpoint
from evals.errors import TargetError
from evals.suite import Case
from evals.targets import (
    SUPPORTED_TARGET_FORMS,
    InvocationsTarget,
    OpenAIChatTarget,
    Target,
    TargetRequestError,
    TargetTimeoutError,
    TargetUnreachableError,
    parse_target,
    response_text,
)

CASE = Case(id="c1", prompt="Where is my order?")
CASE_WITH_CONTEXT = Case(id="c2", prompt="Summarize this.", context="Review: great tent.")


@pytest.fixture
def endpoint() -> Iterator[LoopbackEndpoint]:
    with LoopbackEndpoint(responder=lambda r: f"answer to: {r.prompt}") as server:
        yield server


def respond(
    target: Target, case: Case, *, system_prompt: str | None = None, timeout_s: float = 5
) -> str:
    async def go() -> str:
        try:
            return await target.respond(case, system_prompt=system_prompt, timeout_s=timeout_s)
        finally:
            await target.close()

    return asyncio.run(go())


@pytest.mark.parametrize(
    ("spec", "kind", "name"),
    [
        (
            "openai:gpt-4o-mini@http://127.0.0.1:8000/v1",
            OpenAIChatTarget,
            "openai:gpt-4o-mini@http://127.0.0.1:8000/v1",
        ),
        (
            "openai:llama3@https://gateway.example/v1/",
            OpenAIChatTarget,
            "openai:llama3@https://gateway.example/v1",
        ),
        (
            "http://127.0.0.1:5001/invocations",
            InvocationsTarget,
            "http://127.0.0.1:5001/invocations",
        ),
        (
            "https://serving.example/models/x/invocations",
            InvocationsTarget,
            "https://serving.example/models/x/invocations",
        ),
    ],
    ids=["openai-local", "openai-https-trailing-slash", "invocations", "invocations-https"],
)
def test_parse_target_http_forms(spec: str, kind: type, name: str) -> None:
    target = parse_target(spec)
    assert isinstance(target, kind)
    assert target.name == name


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("gpt-4o", "supported forms"),
        ("openai:gpt-4o", "openai:<model>@<base_url>"),
        ("openai:gpt-4o@localhost:8000", "openai:<model>@<base_url>"),
        ("http://127.0.0.1:5001/predict", "not an MLflow /invocations endpoint"),
        ("models:/support-assistant/1", "needs an MLflow tracking URI"),
        ("s3://bucket/model", "supported forms"),
    ],
    ids=[
        "bare-name",
        "openai-no-url",
        "openai-no-scheme",
        "http-not-invocations",
        "models-no-uri",
        "s3",
    ],
)
def test_parse_target_rejects_unsupported_forms(spec: str, message: str) -> None:
    with pytest.raises(TargetError, match=message) as info:
        parse_target(spec)
    assert repr(spec) in str(info.value)


def test_the_unsupported_form_error_lists_every_supported_form() -> None:
    with pytest.raises(TargetError) as info:
        parse_target("ftp://x")
    for form in SUPPORTED_TARGET_FORMS:
        assert form in str(info.value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        (["first", "second"], "first"),
        ({"predictions": ["p"]}, "p"),
        ({"predictions": [{"response": "r", "score": 1}]}, "r"),
        ({"predictions": {"answer": ["a"]}}, "a"),
        (pd.DataFrame({"response": ["df"]}), "df"),
        (pd.Series(["series"]), "series"),
        ({"outputs": "only-key"}, "only-key"),
    ],
    ids=[
        "str",
        "list",
        "predictions-list",
        "records",
        "columns",
        "dataframe",
        "series",
        "single-key",
    ],
)
def test_response_text_finds_the_first_prediction(value: Any, text: str) -> None:
    assert response_text(value) == text


@pytest.mark.parametrize(
    "value",
    [[], {"a": 1, "b": 2}, {"predictions": []}, 42, None],
    ids=["empty-list", "ambiguous-dict", "empty-predictions", "number", "none"],
)
def test_response_text_without_text_is_a_non_retryable_error(value: Any) -> None:
    with pytest.raises(TargetRequestError) as info:
        response_text(value)
    assert info.value.retryable is False


def test_openai_target_sends_system_prompt_context_and_key(endpoint: LoopbackEndpoint) -> None:
    target = OpenAIChatTarget(
        "demo-model", endpoint.base_url, api_key="secret-token", temperature=0.2, max_tokens=64
    )
    assert target.parameters == {"temperature": 0.2, "max_tokens": 64}
    text = respond(target, CASE_WITH_CONTEXT, system_prompt="Be brief.")
    request = endpoint.requests[-1]
    assert request.authorization == "Bearer secret-token"
    assert request.system_prompt == "Be brief."
    assert "Review: great tent." in request.prompt and "Summarize this." in request.prompt
    assert request.body["model"] == "demo-model"
    assert request.body["temperature"] == 0.2 and request.body["max_tokens"] == 64
    assert text == f"answer to: {request.prompt}"


def test_invocations_target_sends_dataframe_records(endpoint: LoopbackEndpoint) -> None:
    target = parse_target(endpoint.invocations_url)
    text = respond(target, CASE_WITH_CONTEXT, system_prompt="sys")
    request = endpoint.requests[-1]
    assert request.body == {
        "dataframe_records": [
            {"prompt": "Summarize this.", "context": "Review: great tent.", "system_prompt": "sys"}
        ]
    }
    assert text == "answer to: Summarize this."


@pytest.mark.parametrize(
    ("status", "retry_after", "kind", "retryable"),
    [
        (429, 2.0, TargetRequestError, True),
        (500, None, TargetRequestError, True),
        (503, None, TargetRequestError, True),
        (400, None, TargetRequestError, False),
        (401, None, TargetRequestError, False),
        (404, None, TargetUnreachableError, False),
    ],
    ids=["429", "500", "503", "400", "401", "404"],
)
def test_http_failures_are_classified(
    endpoint: LoopbackEndpoint,
    status: int,
    retry_after: float | None,
    kind: type[TargetRequestError],
    retryable: bool,
) -> None:
    endpoint.fail_next(status, retry_after_s=retry_after)
    with pytest.raises(kind) as info:
        respond(OpenAIChatTarget("m", endpoint.base_url), CASE)
    assert info.value.retryable is retryable
    assert f"HTTP {status}" in str(info.value)
    if retry_after is not None:
        assert info.value.retry_after_s == pytest.approx(retry_after)


def test_a_wrong_path_is_unreachable(endpoint: LoopbackEndpoint) -> None:
    target = InvocationsTarget(f"http://127.0.0.1:{endpoint.port}/v2/predict")
    with pytest.raises(TargetUnreachableError, match="HTTP 404"):
        respond(target, CASE)


def test_a_slow_endpoint_times_out(endpoint: LoopbackEndpoint) -> None:
    endpoint.latency_s = 1.0
    with pytest.raises(TargetTimeoutError, match=r"did not answer within 0\.1 s") as info:
        respond(OpenAIChatTarget("m", endpoint.base_url), CASE, timeout_s=0.1)
    assert info.value.retryable is True


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TargetUnreachableError, match="cannot connect") as info:
        respond(parse_target(f"http://127.0.0.1:{port}/invocations"), CASE)
    assert info.value.retryable is True  # a restart may bring it back: the runner retries


def test_a_malformed_chat_response_is_a_non_retryable_error(endpoint: LoopbackEndpoint) -> None:
    # An /invocations body sent to a chat client lacks `choices`.
    target = OpenAIChatTarget("m", endpoint.base_url)
    target.url = endpoint.invocations_url
    with pytest.raises(TargetRequestError, match="choices") as info:
        respond(target, CASE)
    assert info.value.retryable is False
