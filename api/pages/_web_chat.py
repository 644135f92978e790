"""The chat page's conversations: the grounded chat of `promogate chat`, kept on the server.

Each page login has one conversation. It remembers the model and version under discussion, so a
follow-up question ("is that drop significant?") is about the same version; naming another version
("and v4?") or model moves the context. A conversation idle longer than its time to live is
forgotten. Answers come from `agents.chat.ChatSession` (offline intent routing, or the LangChain
agent with its tools and budget when an LLM is configured) and are streamed to the page as
server-sent events: the context, progress, the answer's text in small pieces, then its citations
as links. Text from MLflow reaches the page as JSON data and is inserted as text, never as HTML.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from api.pages._links import Link, MlflowLinks, check_anchor, decision_path, model_path
from policies.decision import Decision
from policies.result import CheckResult

if TYPE_CHECKING:
    # langchain loads on the first chat question, not when the app starts.
    from agents.chat import ChatAnswer, ChatSession
    from api.dependencies import AppState

__all__ = [
    "ChatContext",
    "ChatStore",
    "Conversation",
    "answer_events",
    "cite",
    "resolve_context",
    "sse",
]

logger = logging.getLogger("promogate.api")

_VERSION_IN_TEXT = re.compile(r"\b(?:v|version\s*#?\s*)(\d{1,9})\b", re.IGNORECASE)
_MAX_CITED_CHECKS = 6
_MAX_CITED_RUNS = 4
_STATUS_RANK = {"fail": 0, "error": 1, "warn": 2, "pass": 3, "skip": 4}


@dataclass(frozen=True)
class ChatContext:
    """What a conversation is about: a model version and, optionally, one of its decisions."""

    model: str
    version: int
    decision_id: str | None = None


@dataclass
class Conversation:
    """One login's conversation: its context and the chat sessions opened for it."""

    id: str
    context: ChatContext | None = None
    last_used: float = 0.0
    sessions: dict[ChatContext, ChatSession] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ChatStore:
    """The conversations of one app, in memory, forgotten after `ttl_s` seconds idle.

    Args:
        ttl_s: Idle time after which a conversation is dropped.
        clock: Monotonic seconds.
        max_conversations: Least recently used conversations are dropped beyond this many.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_conversations: int = 1000,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_conversations
        self._conversations: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def get(self, conversation_id: str) -> Conversation:
        """The live conversation with this id, a new one if it expired or never existed."""
        now = self._clock()
        with self._lock:
            for key in [
                k for k, c in self._conversations.items() if now - c.last_used > self.ttl_s
            ]:
                del self._conversations[key]
            conversation = self._conversations.get(conversation_id)
            if conversation is None:
                while len(self._conversations) >= self._max:
                    oldest = min(self._conversations.values(), key=lambda c: c.last_used)
                    del self._conversations[oldest.id]
                conversation = Conversation(id=conversation_id)
                self._conversations[conversation_id] = conversation
            conversation.last_used = now
            return conversation

    def end(self, conversation_id: str) -> None:
        """Forget a conversation (logout)."""
        with self._lock:
            self._conversations.pop(conversation_id, None)


def resolve_context(
    question: str,
    current: ChatContext | None,
    *,
    known_models: list[str],
    model: str | None = None,
    version: int | None = None,
    decision_id: str | None = None,
) -> ChatContext | None:
    """The context a question is about: explicit fields first, then names in the question.

    Args:
        question: The engineer's question.
        current: The conversation's context so far.
        known_models: Registered model names a question may mention.
        model: A model chosen on the page.
        version: A version chosen on the page.
        decision_id: A decision the page was opened from.
    """
    named = next(
        (m for m in sorted(known_models, key=len, reverse=True) if m and m in question), None
    )
    chosen_model = model or named or (current.model if current else None)
    mentioned = _VERSION_IN_TEXT.search(question)
    chosen_version = version or (int(mentioned.group(1)) if mentioned else None)
    if chosen_version is None and current is not None and chosen_model == current.model:
        chosen_version = current.version
    if chosen_model is None or chosen_version is None:
        return None
    same = current is not None and (current.model, current.version) == (
        chosen_model,
        chosen_version,
    )
    keep_decision = decision_id or (current.decision_id if same and current else None)
    return ChatContext(model=chosen_model, version=chosen_version, decision_id=keep_decision)


def sse(event: str, data: Any) -> str:
    """One server-sent event; the data is JSON on one line, with no raw markup characters."""
    text = json.dumps(data, separators=(",", ":"))
    # Markup characters as JSON escapes: the stream stays inert even if something sniffs it.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"event: {event}\ndata: {text}\n\n"


def _ranked_checks(answer: ChatAnswer, checks: list[CheckResult]) -> list[CheckResult]:
    cited = set(answer.evidence)
    picked = [c for c in checks if c.id in answer.answer or cited.intersection(c.evidence)]
    if answer.topic == "segments":
        picked += [c for c in checks if c.kind == "segment" and c.status != "pass"]
    unique = list({c.id: c for c in picked}.values())
    # Cite what explains the answer: the failing or warning checks, when any are among them.
    concerning = [c for c in unique if c.status not in ("pass", "skip")]
    unique = concerning or unique
    unique.sort(key=lambda c: (_STATUS_RANK.get(c.status, 9), c.id))
    return unique[:_MAX_CITED_CHECKS]


def cite(
    answer: ChatAnswer,
    context: ChatContext,
    decision: Decision | None,
    checks: list[CheckResult],
    links: MlflowLinks,
) -> list[Link]:
    """The answer's citations as links: checks and the decision, the version, runs and evidence.

    Args:
        answer: The chat's answer.
        context: The version it is about.
        decision: The decision the conversation is about, when one is recorded.
        checks: The checks that can be cited (the decision's, else the policies' verdict).
        links: Links into the MLflow UI.
    """
    out: list[Link] = []
    for check in _ranked_checks(answer, checks):
        href = (
            f"{decision_path(decision.id)}#{check_anchor(check.id)}"
            if decision is not None
            else None
        )
        out.append(Link(kind="check", label=f"{check.id} ({check.status})", href=href))
    if decision is not None:
        out.append(
            Link(
                kind="decision",
                label=f"decision {decision.id} ({decision.verdict})",
                href=decision_path(decision.id),
            )
        )
    out.append(
        Link(
            kind="version",
            label=f"{context.model} v{context.version}",
            href=f"{model_path(context.model)}?version={context.version}",
        )
    )
    runs: list[Link] = []
    rest: list[Link] = []
    for ref in answer.evidence:
        link = links.evidence(ref)
        target = runs if link.kind in ("run", "artifact") else rest
        target.append(link)
    out += runs[:_MAX_CITED_RUNS] + rest[:_MAX_CITED_RUNS]
    return out


def _open_session(state: AppState, context: ChatContext) -> ChatSession:
    """A chat session over the version's current evidence and its decision."""
    from agents.chat import ChatSession

    settings = state.settings
    evidence = state.reviews.gather(context.model, context.version)
    decision: Decision | None = None
    if context.decision_id is not None:
        decision = state.ledger.get_decision(context.decision_id)
    else:
        found = state.ledger.list_decisions(context.model, context.version, limit=1)
        decision = found[0] if found else None
    if settings.llm == "offline":
        return ChatSession(
            evidence.bundle, evidence.verdict, decision=decision, client=state.reviews.client
        )
    from agents.chat_model import build_chat_model, parse_model_spec

    spec = parse_model_spec(settings.llm)
    chat_model = build_chat_model(
        spec, api_key=settings.openai_api_key, base_url=settings.openai_base_url
    )
    return ChatSession(
        evidence.bundle,
        evidence.verdict,
        decision=decision,
        chat_model=chat_model,
        model_name=spec.model,
        client=state.reviews.client,
    )


def _pieces(text: str) -> list[str]:
    # A few words per event: the page shows the answer growing without an event per character.
    words = re.findall(r"\S+\s*", text)
    return ["".join(words[i : i + 3]) for i in range(0, len(words), 3)] or [text]


async def answer_events(
    state: AppState,
    conversation: Conversation,
    question: str,
    context: ChatContext | None,
    links: MlflowLinks,
) -> AsyncIterator[str]:
    """The server-sent events of one answer: context, status, tokens, citations, done.

    Args:
        state: The app's services.
        conversation: The login's conversation (its context is updated).
        question: The question.
        context: The context the question is about, or None when it names none.
        links: Links into the MLflow UI.
    """
    if context is None:
        yield sse(
            "error",
            {
                "text": "Which model version? Choose a model and a version above, or name them "
                "in the question (for example 'credit-risk v3')."
            },
        )
        yield sse("done", {"answered": False})
        return
    yield sse("context", {"model": context.model, "version": context.version})
    if context not in conversation.sessions:
        yield sse(
            "status",
            {"text": f"Reading the evidence of {context.model} v{context.version} from MLflow…"},
        )

    def work() -> tuple[ChatSession, ChatAnswer]:
        with conversation.lock:
            current = conversation.sessions.get(context)
            if current is None:
                current = _open_session(state, context)
                conversation.sessions[context] = current
            return current, current.ask(question)

    try:
        opened, answer = await asyncio.to_thread(work)
    except Exception as exc:  # noqa: BLE001 - reported to the page, never turned into an answer
        logger.warning("chat answer failed: %s: %s", type(exc).__name__, exc)
        yield sse("error", {"text": f"No answer: {type(exc).__name__}: {exc}"})
        yield sse("done", {"answered": False})
        return
    conversation.context = context
    for piece in _pieces(answer.answer):
        yield sse("token", {"text": piece})
    decision = opened.decision
    checks = decision.checks if decision is not None else opened.verdict.checks
    citations = cite(answer, context, decision, checks, links)
    yield sse("citations", [c.model_dump() for c in citations])
    yield sse(
        "done",
        {
            "answered": True,
            "mode": answer.mode,
            "topic": answer.topic,
            "tools": answer.tools,
            "fallback_reason": answer.fallback_reason,
        },
    )
