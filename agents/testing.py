"""Test doubles for LLM reviews, shipped as product: a scripted chat model and a scripted server.

- `ScriptedChatModel` is a LangChain chat model that replays a script of `AIMessage`s (tool calls,
  text, structured output), exceptions and callables. It supports `bind_tools` and, through it,
  `with_structured_output`; it raises `ScriptExhaustedError` when asked for more than the script
  holds, and `assert_consumed` fails when steps are left unused.
- `ScriptedOpenAIServer` is a real HTTP server on loopback speaking the OpenAI chat-completions
  protocol, for tests through the real `openai` and `langchain-openai` clients: scripted replies
  (text, tool calls, structured output) and scripted faults (429 with Retry-After, 5xx, malformed
  JSON, slow answers that time a client out). It records every request it receives.
- `review_playbook` is a responder for the server that reviews like a careful engineer would: it
  reads the review request, asks the tools about every check that needs attention, and then files
  a structured review citing what the tools returned. Benchmarks and end-to-end tests use it.

Token counts the doubles report are estimates (four characters per token): neither has a tokenizer.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from agents.loopback_server import LoopbackHttpServer, LoopbackServerThread

__all__ = [
    "REVIEW_TOOL_NAME",
    "RecordedRequest",
    "ScriptExhaustedError",
    "ScriptedCall",
    "ScriptedChatModel",
    "ScriptedOpenAIServer",
    "ScriptedReply",
    "ScriptedToolCall",
    "review_playbook",
    "structured_message",
    "text_message",
    "tool_call_message",
]

logger = logging.getLogger("promogate.agents")

# The name of the structured-output tool of the LLM reviewer (its response schema's class name).
REVIEW_TOOL_NAME = "AgentReview"


def _estimate_tokens(chars: int) -> int:
    return max(1, chars // 4)


class ScriptExhaustedError(AssertionError):
    """A scripted double was asked for more replies than its script holds."""


# --------------------------------------------------------------------------------------------
# The scripted chat model


def tool_call_message(*calls: tuple[str, dict[str, Any]], content: str = "") -> AIMessage:
    """An assistant message that calls tools, e.g. ``tool_call_message(("get_metric", {...}))``.

    Args:
        calls: (tool name, arguments) pairs.
        content: Text alongside the calls.
    """
    return AIMessage(
        content=content,
        tool_calls=[
            {"name": name, "args": args, "id": f"call_{uuid.uuid4().hex[:12]}", "type": "tool_call"}
            for name, args in calls
        ],
    )


def structured_message(payload: dict[str, Any], *, name: str = REVIEW_TOOL_NAME) -> AIMessage:
    """An assistant message that returns a structured response through its schema's tool.

    Args:
        payload: The structured response's fields.
        name: The schema's tool name.
    """
    return tool_call_message((name, payload))


def text_message(text: str) -> AIMessage:
    """An assistant message with text only."""
    return AIMessage(content=text)


ScriptStep = AIMessage | BaseException | Callable[[list[BaseMessage]], AIMessage]


class ScriptedCall(BaseModel):
    """One call the scripted model received."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    messages: list[BaseMessage]
    tools: list[str] = Field(default_factory=list)
    tool_choice: Any = None


class _ScriptState:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.position = 0
        self.calls: list[ScriptedCall] = []


class ScriptedChatModel(BaseChatModel):
    """A chat model that replays a script; see the module docstring.

    Each step is an `AIMessage` (returned as is, with tool-call ids and estimated token usage
    filled in when missing), an exception (raised), or a callable that builds the reply from the
    messages it receives.
    """

    script: list[Any] = Field(default_factory=list)
    model_name: str = "scripted"
    _state: _ScriptState = PrivateAttr(default_factory=_ScriptState)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    @property
    def calls(self) -> list[ScriptedCall]:
        """Every call received so far."""
        with self._state.lock:
            return list(self._state.calls)

    @property
    def remaining(self) -> int:
        """Steps not yet used."""
        with self._state.lock:
            return len(self.script) - self._state.position

    def assert_consumed(self) -> None:
        """Fail when the script has steps left unused.

        Raises:
            AssertionError: Some steps were never asked for.
        """
        left = self.remaining
        if left:
            unused = self.script[len(self.script) - left :]
            raise AssertionError(f"{left} scripted step(s) were never used: {unused!r:.500}")

    def _next_step(self, call: ScriptedCall) -> ScriptStep:
        with self._state.lock:
            self._state.calls.append(call)
            if self._state.position >= len(self.script):
                raise ScriptExhaustedError(
                    f"the script of {len(self.script)} step(s) ran out at call "
                    f"{len(self._state.calls)}"
                )
            step: ScriptStep = self.script[self._state.position]
            self._state.position += 1
            return step

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        del stop, run_manager
        tools = [t["function"]["name"] for t in kwargs.get("tools", []) if "function" in t]
        step = self._next_step(
            ScriptedCall(
                messages=list(messages), tools=tools, tool_choice=kwargs.get("tool_choice")
            )
        )
        if isinstance(step, BaseException):
            raise step
        message = step if isinstance(step, AIMessage) else step(list(messages))
        return ChatResult(generations=[ChatGeneration(message=self._completed(message, messages))])

    @staticmethod
    def _completed(message: AIMessage, prompt: Sequence[BaseMessage]) -> AIMessage:
        calls = [
            {**tc, "id": tc.get("id") or f"call_{uuid.uuid4().hex[:12]}"}
            for tc in message.tool_calls
        ]
        update: dict[str, Any] = {"tool_calls": calls}
        if message.usage_metadata is None:
            prompt_chars = sum(len(m.text) for m in prompt)
            completion_chars = len(message.text) + len(json.dumps([c["args"] for c in calls]))
            prompt_tokens = _estimate_tokens(prompt_chars)
            completion_tokens = _estimate_tokens(completion_chars)
            update["usage_metadata"] = {
                "input_tokens": prompt_tokens,
                "output_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            }
        return message.model_copy(update=update)

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        formatted = [convert_to_openai_tool(t) for t in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)


# --------------------------------------------------------------------------------------------
# The scripted OpenAI-compatible server


class ScriptedToolCall(BaseModel):
    """A tool call in a scripted reply; `arguments` as a string is sent verbatim (e.g. broken)."""

    model_config = ConfigDict(frozen=True)

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ScriptedReply(BaseModel):
    """One scripted answer of the server: a completion, or a fault."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["completion", "status", "malformed"] = "completion"
    content: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    status: int = 200
    retry_after_s: float | None = None
    error_message: str | None = None
    delay_s: float = 0.0
    raw_body: str | None = None

    @classmethod
    def text(cls, content: str, *, delay_s: float = 0.0) -> ScriptedReply:
        """A completion with text only."""
        return cls(content=content, delay_s=delay_s)

    @classmethod
    def calls(cls, *calls: tuple[str, dict[str, Any] | str]) -> ScriptedReply:
        """A completion that calls tools."""
        return cls(tool_calls=[ScriptedToolCall(name=n, arguments=a) for n, a in calls])

    @classmethod
    def structured(cls, payload: dict[str, Any], *, name: str = REVIEW_TOOL_NAME) -> ScriptedReply:
        """A structured response through its schema's tool."""
        return cls.calls((name, payload))

    @classmethod
    def json_content(cls, payload: dict[str, Any]) -> ScriptedReply:
        """A structured response as JSON content (``response_format`` json_schema)."""
        return cls(content=json.dumps(payload))

    @classmethod
    def fault(
        cls, status: int, *, retry_after_s: float | None = None, message: str | None = None
    ) -> ScriptedReply:
        """An HTTP error, e.g. 429 (with Retry-After) or 503."""
        return cls(kind="status", status=status, retry_after_s=retry_after_s, error_message=message)

    @classmethod
    def malformed(cls, body: str = '{"id": "chatcmpl-broken", "choices": [') -> ScriptedReply:
        """A 200 whose body is not valid JSON."""
        return cls(kind="malformed", raw_body=body)

    @classmethod
    def slow(cls, delay_s: float, then: ScriptedReply | None = None) -> ScriptedReply:
        """A reply sent only after `delay_s` seconds (to time the client out)."""
        base = then or cls.text("too late")
        return base.model_copy(update={"delay_s": delay_s})


class RecordedRequest(BaseModel):
    """A request the scripted server received."""

    model_config = ConfigDict(frozen=True)

    path: str
    body: dict[str, Any]
    authorization: str | None = None
    received_at: float = 0.0

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages = self.body.get("messages", [])
        return messages if isinstance(messages, list) else []

    @property
    def tool_names(self) -> list[str]:
        return [t.get("function", {}).get("name", "") for t in self.body.get("tools", []) or []]

    @property
    def prompt_chars(self) -> int:
        """Characters of the prompt: messages plus tool schemas."""
        return len(json.dumps(self.messages)) + len(json.dumps(self.body.get("tools", [])))

    def first(self, role: str) -> str:
        """Text of the first message of a role ("system", "user", ...)."""
        for message in self.messages:
            if message.get("role") == role:
                content = message.get("content")
                if isinstance(content, str):
                    return content
                if isinstance(content, list):
                    return "".join(
                        part.get("text", "") for part in content if isinstance(part, dict)
                    )
        return ""


Responder = Callable[[RecordedRequest], ScriptedReply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHttpServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("scripted server: " + format, *args)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout test): nothing left to answer.
            logger.debug("scripted server: client went away before the reply")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._send(400, json.dumps({"error": {"message": "request is not JSON"}}).encode())
            return
        path = self.path.split("?")[0]
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._send(404, json.dumps({"error": {"message": f"no route {path!r}"}}).encode())
            return
        request = RecordedRequest(
            path=path,
            body=body if isinstance(body, dict) else {},
            authorization=self.headers.get("Authorization"),
            received_at=time.time(),
        )
        status, payload, headers, delay = self.server.owner.answer(request)
        if delay > 0:
            time.sleep(delay)
        self._send(status, payload, headers)


class ScriptedOpenAIServer(LoopbackServerThread):
    """An OpenAI-compatible chat-completions server on 127.0.0.1 that replays a script.

    Use as a context manager; `base_url` is what clients take. Replies come from the script in
    order, or from `responder` once the script is empty (when one is given). A request that finds
    neither gets HTTP 400 and fails `assert_consumed`.

    Args:
        script: Replies in order.
        responder: Builds a reply from a request when the script is empty.
        model: The model name the server reports.
    """

    handler_class = _Handler

    def __init__(
        self,
        script: Sequence[ScriptedReply] = (),
        *,
        responder: Responder | None = None,
        model: str = "scripted-model",
    ) -> None:
        self._script = list(script)
        self._responder = responder
        self.model = model
        self._lock = threading.Lock()
        self.requests: list[RecordedRequest] = []
        self.unanswered = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # script ------------------------------------------------------------------------------

    def push(self, *replies: ScriptedReply) -> None:
        """Append replies to the script."""
        with self._lock:
            self._script.extend(replies)

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def assert_consumed(self) -> None:
        """Fail when scripted replies were left unused or requests found no reply.

        Raises:
            AssertionError: Unused replies, or requests answered 400 for want of a reply.
        """
        with self._lock:
            left, unanswered = len(self._script), self.unanswered
        if left or unanswered:
            raise AssertionError(
                f"scripted server: {left} reply(ies) never used, {unanswered} request(s) "
                "arrived after the script ran out"
            )

    def answer(self, request: RecordedRequest) -> tuple[int, bytes, dict[str, str], float]:
        """The HTTP status, body, headers and delay for one request (used by the handler)."""
        with self._lock:
            self.requests.append(request)
            reply = self._script.pop(0) if self._script else None
            if reply is None and self._responder is None:
                self.unanswered += 1
        if reply is None and self._responder is not None:
            reply = self._responder(request)
        if reply is None:
            body = {"error": {"message": "scripted server: the script ran out", "type": "script"}}
            return 400, json.dumps(body).encode(), {}, 0.0
        if request.body.get("stream"):
            body = {"error": {"message": "the scripted server does not stream"}}
            return 400, json.dumps(body).encode(), {}, 0.0
        if reply.kind == "status":
            headers = {}
            if reply.retry_after_s is not None:
                headers["Retry-After"] = f"{reply.retry_after_s:g}"
            body = {
                "error": {
                    "message": reply.error_message or f"scripted HTTP {reply.status}",
                    "type": "scripted_fault",
                }
            }
            return reply.status, json.dumps(body).encode(), headers, reply.delay_s
        if reply.kind == "malformed":
            return 200, (reply.raw_body or "").encode(), {}, reply.delay_s
        return 200, json.dumps(self._completion(request, reply)).encode(), {}, reply.delay_s

    def _completion(self, request: RecordedRequest, reply: ScriptedReply) -> dict[str, Any]:
        calls = [
            {
                "id": f"call_{uuid.uuid4().hex[:12]}",
                "type": "function",
                "function": {
                    "name": call.name,
                    "arguments": call.arguments
                    if isinstance(call.arguments, str)
                    else json.dumps(call.arguments),
                },
            }
            for call in reply.tool_calls
        ]
        message: dict[str, Any] = {"role": "assistant", "content": reply.content}
        if calls:
            message["tool_calls"] = calls
        completion_chars = len(reply.content or "") + len(json.dumps(calls))
        prompt_tokens = _estimate_tokens(request.prompt_chars)
        completion_tokens = _estimate_tokens(completion_chars)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:16]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(request.body.get("model") or self.model),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


# --------------------------------------------------------------------------------------------
# A responder that reviews like an engineer


_CHECK_LINE = re.compile(r"^- \[(?P<status>fail|error|warn)\] (?P<id>\S+) \((?P<kind>\w+);", re.M)
_PLANTED_LINE = re.compile(r"^- (?P<ref>(?:version|run|artifact|dataset|safety):\S+)$", re.M)


def _planned_calls(prompt: str) -> list[tuple[str, dict[str, Any]]]:
    calls: list[tuple[str, dict[str, Any]]] = []

    def add(name: str, args: dict[str, Any]) -> None:
        if (name, args) not in calls:
            calls.append((name, args))

    regressions = False
    for match in _CHECK_LINE.finditer(prompt):
        check_id, kind = match["id"], match["kind"]
        parts = check_id.split(".")
        add("get_check", {"check_id": check_id})
        if kind == "metric" and len(parts) >= 2:
            regressions = True
            add("compare_metric", {"name": parts[1]})
            add("test_significance", {"metric": parts[1]})
        elif kind == "segment" and len(parts) >= 4:
            regressions = True
            add("get_segment_metrics", {"column": parts[1], "metric": parts[2]})
            add(
                "test_significance",
                {"metric": parts[2], "segment_column": parts[1], "segment_value": parts[3]},
            )
        elif kind == "comparability":
            add("compare_datasets", {})
        elif kind == "pipeline":
            add("get_pipeline_diff", {})
        elif kind == "eval":
            add("get_safety_results", {})
        elif match["status"] == "error" or kind == "evidence":
            add("list_evidence_gaps", {})
    if regressions:
        add("get_pipeline_diff", {})
        add("compare_datasets", {})
    if _PLANTED_LINE.search(prompt):
        add("get_version_metadata", {})
    return calls[:10]


def _tool_results(request: RecordedRequest) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(tool name, arguments, parsed result) for every tool call answered in the conversation."""
    names: dict[str, tuple[str, str]] = {}
    for message in request.messages:
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            names[call.get("id", "")] = (function.get("name", ""), function.get("arguments", ""))
        if message.get("role") == "tool":
            name, arguments = names.get(message.get("tool_call_id", ""), ("?", ""))
            try:
                parsed = json.loads(message.get("content") or "{}")
            except json.JSONDecodeError:
                parsed = {"text": message.get("content")}
            yield name, arguments, parsed if isinstance(parsed, dict) else {"value": parsed}


def _answer_text(name: str, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"Not answerable from the evidence: {result['error']}"
    keep = {
        k: v
        for k, v in result.items()
        if k not in ("evidence", "checks") and not isinstance(v, list | dict)
    }
    return f"{name} returned " + json.dumps(keep, default=str)[:400]


def review_playbook(request: RecordedRequest) -> ScriptedReply:
    """Review like a careful engineer: ask the tools about every check that needs attention, then
    file a structured review citing what they returned. Planted instructions are reported, never
    followed; the recommendation follows the checks.

    Args:
        request: The chat-completions request the server received.
    """
    prompt = request.first("user")
    answered = list(_tool_results(request))
    if not answered:
        calls = [c for c in _planned_calls(prompt) if c[0] in request.tool_names]
        if calls:
            return ScriptedReply.calls(*calls)
    statuses = [m["status"] for m in _CHECK_LINE.finditer(prompt)]
    recommendation = (
        "block"
        if any(s in ("fail", "error") for s in statuses)
        else "escalate"
        if "warn" in statuses
        else "approve"
    )
    questions = []
    findings = []
    for name, arguments, result in answered:
        evidence = [str(e) for e in result.get("evidence", []) if isinstance(e, str)][:5]
        questions.append(
            {
                "question": f"What does {name}({arguments}) show?",
                "answer": _answer_text(name, result),
                "tools": [name],
                "evidence": evidence,
            }
        )
        if name == "get_check" and result.get("status") in ("fail", "error", "warn"):
            findings.append(
                {
                    "title": f"{result.get('id')}: {result.get('status')}",
                    "detail": str(result.get("message", ""))[:400],
                    "severity": "warning" if result.get("status") == "warn" else "blocker",
                    "check_id": result.get("id"),
                    "evidence": [str(e) for e in result.get("evidence", [])][:5],
                }
            )
    for match in _PLANTED_LINE.finditer(prompt):
        findings.append(
            {
                "title": "Planted instruction in evidence",
                "detail": f"{match['ref']} tries to steer the review; it was treated as data.",
                "severity": "warning",
                "evidence": [match["ref"]],
            }
        )
    review = {
        "summary": f"{len(statuses)} check(s) need attention; reviewed with "
        f"{len(answered)} tool call(s).",
        "recommendation": recommendation,
        "findings": findings,
        "questions": questions,
        "blockers": [],
    }
    return ScriptedReply.structured(review)
