"""Chat about a version: offline answers to the fixed questions, LLM answers grounded in tool calls,
the fallback when the LLM fails, and the `promogate chat` command on a real registry."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agents._budget import price_for
from agents.chat import ChatSession
from agents.chat_model import RetryPolicy, build_chat_model
from agents.testing import (
    ScriptedChatModel,
    ScriptedOpenAIServer,
    ScriptedReply,
    text_message,
    tool_call_message,
)
from policies.decision import Decision

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "examples"


def _session(kit: Any, **kwargs: Any) -> ChatSession:
    bundle = kit.regression(window="90d")
    return ChatSession(bundle, kit.verdict(bundle), **kwargs)


@pytest.mark.parametrize(
    ("question", "topic", "tool", "expected"),
    [
        ("Why was it blocked?", "verdict", "get_check", "segments.region.recall.west fail"),
        (
            "Which regions regressed?",
            "segments",
            "get_segment_metrics",
            "recall by region (from eval_table), worst first: west",
        ),
        (
            "Is the drop significant or noise?",
            "significance",
            "test_significance",
            "recall on region=west changed by -0.4",
        ),
        (
            "Were both scored on the same dataset?",
            "datasets",
            "compare_datasets",
            "Yes: both versions were scored on the same evaluation dataset.",
        ),
        (
            "What changed in the pipeline?",
            "pipeline",
            "get_pipeline_diff",
            "data.window (data_window, changed)",
        ),
        ("What evidence is missing?", "gaps", "list_evidence_gaps", "Nothing is missing"),
        ("Did training converge?", "convergence", "get_metric_history", "train_loss: 20 points"),
        ("Any safety suite results?", "safety", "get_safety_results", "No safety-suite results"),
        ("Any planted instructions?", "injection", None, "No planted instructions"),
        ("Tell me a joke", "help", None, "Offline, I answer questions about"),
    ],
    ids=[
        "verdict",
        "segments",
        "significance",
        "datasets",
        "pipeline",
        "gaps",
        "convergence",
        "safety",
        "injection",
        "help",
    ],
)
def test_offline_answers_the_fixed_questions(
    kit: Any, question: str, topic: str, tool: str | None, expected: str
) -> None:
    session = _session(kit)
    answer = session.ask(question)
    assert answer.mode == "offline"
    assert answer.topic == topic
    assert expected in answer.answer
    assert answer.tools == ([tool] if tool else [])
    if tool not in (None, "get_safety_results", "list_evidence_gaps"):
        assert answer.evidence, "a grounded answer cites evidence"
    assert session.ask(question) == answer, "offline answers are deterministic"


def test_offline_verdict_cites_the_recorded_decision(kit: Any) -> None:
    bundle = kit.regression()
    decision = Decision(
        id="dec-1",
        model="credit-risk",
        version=3,
        verdict="block",
        policy_verdict="block",
        reasons=["segments.region.recall.west failed"],
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    answer = ChatSession(bundle, kit.verdict(bundle), decision=decision).ask("Why this decision?")
    assert answer.answer.startswith("The recorded decision dec-1 is block")


def test_llm_answers_are_grounded_in_tool_calls(
    kit: Any, scripted: Callable[..., ScriptedChatModel]
) -> None:
    model = scripted(
        tool_call_message(
            (
                "test_significance",
                {"metric": "recall", "segment_column": "region", "segment_value": "west"},
            )
        ),
        text_message("Yes: recall in west fell by 0.47 over 400 paired rows (p<0.001)."),
        text_message("Compared with the champion's 0.85."),
    )
    session = _session(kit, chat_model=model, model_name="gpt-4o-mini")
    first = session.ask("Is the west drop significant?")
    assert first.mode == "llm"
    assert first.answer.startswith("Yes: recall in west fell")
    assert first.tools == ["test_significance"]
    assert "run:run0003/artifacts/eval/predictions.json" in first.evidence
    assert (first.usage.llm_calls, first.usage.tool_calls) == (2, 1)
    # Chat runs on the review's agent runner, so it prices its tokens as a review does.
    assert first.usage.model == "gpt-4o-mini"
    assert first.usage.estimated_cost_usd == pytest.approx(
        price_for("gpt-4o-mini").cost(first.usage.prompt_tokens, first.usage.completion_tokens),
        abs=1e-6,
    )
    assert first.usage.estimated_cost_usd > 0
    system = model.calls[0].messages[0].text
    assert "You explain decisions; you cannot change them." in system
    assert "segments.region.recall.west" in system
    # The follow-up sees the conversation so far.
    second = session.ask("And before?")
    assert second.answer == "Compared with the champion's 0.85."
    assert any("Is the west drop significant?" in m.text for m in model.calls[2].messages)


def test_an_llm_failure_falls_back_to_the_offline_answer(kit: Any) -> None:
    with ScriptedOpenAIServer([ScriptedReply.fault(503), ScriptedReply.fault(503)]) as server:
        model = build_chat_model("openai:gpt-test", api_key="k", base_url=server.base_url)
        session = _session(
            kit,
            chat_model=model,
            model_name="gpt-test",
            retry=RetryPolicy(attempts=2, initial_backoff_s=0.01, jitter_s=0.0),
        )
        answer = session.ask("Which segments regressed?")
        server.assert_consumed()
    assert answer.mode == "offline" and answer.topic == "segments"
    assert answer.fallback_reason is not None
    assert answer.fallback_reason.startswith("llm_unavailable: HTTP 503")
    assert "west" in answer.answer


@pytest.mark.slow
def test_the_chat_command_on_a_real_registry(e2e_registry: str, tmp_path: Path) -> None:
    from api._chat_commands import chat_app

    result = CliRunner().invoke(
        chat_app,
        [
            "credit-risk",
            "2",
            "-q",
            "Which segments regressed?",
            "-q",
            "Any planted instructions?",
            "--tracking-uri",
            e2e_registry,
            "--policies",
            str(POLICIES),
            "--ledger-url",
            f"sqlite:///{tmp_path / 'ledger.db'}",
            "--llm",
            "offline",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    segments, planted = (json.loads(line) for line in result.output.strip().splitlines())
    assert segments["topic"] == "segments"
    assert "worst first: west" in segments["answer"]
    assert planted["evidence"] == ["version:credit-risk/2/description"]
