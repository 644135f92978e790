"""The chat page's conversations: context across questions, expiry, citations, and the LLM path."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.page_client import login

from agents.chat import ChatAnswer
from agents.testing import ScriptedOpenAIServer, ScriptedReply
from api.auth import ANONYMOUS
from api.pages._links import MlflowLinks
from api.pages._web_chat import ChatContext, ChatStore, cite, resolve_context
from api.pages._web_session import WebSessionStore
from policies.result import CheckResult

MODELS = ["credit-risk", "credit-risk-eu", "support-assistant"]
CURRENT = ChatContext(model="credit-risk", version=3, decision_id="d-3")


@pytest.mark.parametrize(
    ("question", "current", "fields", "expected"),
    [
        ("which segment got worse?", None, {}, None),
        ("which segment got worse?", CURRENT, {}, CURRENT),
        ("and v4?", CURRENT, {}, ChatContext("credit-risk", 4)),
        ("what about version 5 of credit-risk-eu", CURRENT, {}, ChatContext("credit-risk-eu", 5)),
        ("why blocked?", None, {"model": "support-assistant", "version": 2}, None),
        ("is it significant?", CURRENT, {"model": "credit-risk", "version": 3}, CURRENT),
        ("why?", None, {"model": "credit-risk", "version": 2, "decision_id": "d-2"}, None),
        ("tell me about credit-risk v2", None, {}, ChatContext("credit-risk", 2)),
    ],
    ids=[
        "nothing-named",
        "follow-up-keeps-context",
        "other-version",
        "longest-model-name-wins",
        "page-fields",
        "same-fields-keep-decision",
        "decision-from-page",
        "named-in-question",
    ],
)
def test_a_question_resolves_its_context(
    question: str, current: ChatContext | None, fields: dict[str, Any], expected: Any
) -> None:
    if expected is None and fields:
        expected = ChatContext(fields["model"], fields["version"], fields.get("decision_id"))
    got = resolve_context(question, current, known_models=MODELS, **fields)
    assert got == expected


def test_conversations_expire_when_idle() -> None:
    now = [0.0]
    store = ChatStore(ttl_s=60, clock=lambda: now[0])
    first = store.get("s1")
    first.context = CURRENT
    now[0] = 59
    assert store.get("s1").context == CURRENT
    now[0] = 59 + 61
    assert store.get("s1").context is None


def test_page_sessions_expire_and_end() -> None:
    now = [0.0]
    store = WebSessionStore(ttl_s=100, clock=lambda: now[0])
    session = store.create(ANONYMOUS)
    assert store.get(session.id) is session
    assert session.csrf_matches(session.csrf_token)
    assert not session.csrf_matches("other")
    assert not session.csrf_matches(None)
    now[0] = 100
    assert store.get(session.id) is None
    again = store.create(ANONYMOUS)
    store.end(again.id)
    assert store.get(again.id) is None


def _check(id: str, status: str, evidence: list[str]) -> CheckResult:
    return CheckResult(
        id=id, policy="p", kind="segment", status=status, message="m", evidence=evidence
    )  # type: ignore[arg-type]


def test_citations_link_the_failing_check_the_decision_the_version_and_runs() -> None:
    table = "run:abc123/artifacts/eval/predictions.json"
    checks = [
        _check("segments.region.recall.west", "fail", [table]),
        _check("segments.region.recall.east", "pass", [table]),
        _check("metrics.roc_auc.min", "pass", ["run:abc123/metrics/roc_auc"]),
    ]
    answer = ChatAnswer(
        question="which segment got worse?",
        answer="recall by region: west 0.58 -> 0.26",
        mode="offline",
        topic="segments",
        evidence=[table],
    )
    decision = type("D", (), {"id": "d-3", "verdict": "block", "checks": checks})()
    links = cite(answer, CURRENT, decision, checks, MlflowLinks("http://mlflow.test:5000"))
    by_kind = {(link.kind, link.label): link.href for link in links}
    assert by_kind[("check", "segments.region.recall.west (fail)")] == (
        "/decisions/d-3#check-segments.region.recall.west"
    )
    assert ("check", "segments.region.recall.east (pass)") not in by_kind
    assert by_kind[("decision", "decision d-3 (block)")] == "/decisions/d-3"
    assert by_kind[("version", "credit-risk v3")] == "/models/credit-risk?version=3"
    assert by_kind[("artifact", table)] == (
        "http://mlflow.test:5000/#/runs/abc123/artifacts/eval/predictions.json"
    )


def _events(text: str) -> list[tuple[str, Any]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\ndata: ")[1]))
        for block in text.strip().split("\n\n")
    ]


def test_with_an_llm_the_agent_answers_and_the_conversation_keeps_its_history(
    make_api: Any,
) -> None:
    script = [
        ScriptedReply.text("Version 3 is blocked: roc_auc fell well below the champion's."),
        ScriptedReply.text("Yes, the same version 3: the drop exceeds max_drop 0.02."),
    ]
    with ScriptedOpenAIServer(script) as server:
        api = make_api(
            llm="openai:scripted-model", openai_api_key="test-key", openai_base_url=server.base_url
        )
        client = TestClient(api.client.app, raise_server_exceptions=False)
        csrf = login(client, api.tokens["viewer"])
        first = client.post(
            "/chat/messages",
            json={"question": "why was it blocked?", "model": "gate-model", "version": 3},
            headers={"X-CSRF-Token": csrf},
        )
        second = client.post(
            "/chat/messages",
            json={"question": "is that the one with the drop?"},
            headers={"X-CSRF-Token": csrf},
        )
        server.assert_consumed()
    events = _events(first.text)
    text = "".join(data["text"] for name, data in events if name == "token")
    assert text == "Version 3 is blocked: roc_auc fell well below the champion's."
    done = events[-1][1]
    assert done["mode"] == "llm" and done["fallback_reason"] is None
    follow = _events(second.text)
    assert follow[0] == ("context", {"model": "gate-model", "version": 3})
    assert "".join(d["text"] for n, d in follow if n == "token").startswith("Yes, the same")
    history = json.dumps(server.requests[1].messages)
    assert "roc_auc fell well below" in history


def test_a_failing_llm_falls_back_to_the_offline_answer_and_says_so(make_api: Any) -> None:
    with ScriptedOpenAIServer([ScriptedReply.fault(500)] * 8) as server:
        api = make_api(
            llm="openai:scripted-model", openai_api_key="test-key", openai_base_url=server.base_url
        )
        answer = api.client.post(
            "/chat/messages",
            json={"question": "why was it blocked?", "model": "gate-model", "version": 3},
            headers=api.headers("viewer"),
        )
    events = _events(answer.text)
    done = events[-1][1]
    assert done["mode"] == "offline"
    assert done["fallback_reason"].startswith("llm_unavailable")
    assert any(name == "token" for name, _ in events)
