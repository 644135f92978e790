"""Chat about a version under review: an engineer asks, answers come from tool calls with citations.

With an LLM, a LangChain agent answers with the reviewer's read-only tools (the same ones, with the
same injected context and the same budget, retries and untrusted-data rules); the conversation is
kept for follow-up questions. Offline, a fixed set of questions is answered deterministically from
the same tools: why the decision, segments, significance, datasets, pipeline changes, missing
evidence, safety results, convergence and planted instructions. Answers explain decisions; they
cannot change them.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict, Field

from agents._agent_tools import ReviewContext, call_tool
from agents._budget import ReviewBudget, TokenPrice, price_for
from agents._comparability_tools import comparability_of
from agents._prompts import CHAT_SYSTEM_PROMPT, review_request
from agents._runner import AgentRunner, Invoke
from agents.chat_model import RetryPolicy
from agents.tracing import NullTracer, ReviewTracer
from agents.untrusted import scan_bundle, screen_bundle
from policies.decision import Decision, LlmUsage
from policies.result import PolicyVerdict
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from mlflow import MlflowClient

__all__ = ["OFFLINE_TOPICS", "ChatAnswer", "ChatSession", "OfflineTopic"]

logger = logging.getLogger("promogate.agents")

OfflineTopic = Literal[
    "verdict",
    "segments",
    "significance",
    "datasets",
    "pipeline",
    "gaps",
    "safety",
    "convergence",
    "injection",
    "help",
]

# Keywords of the questions the offline chat answers, checked in this order.
_TOPIC_PATTERNS: tuple[tuple[OfflineTopic, str], ...] = (
    ("injection", r"inject|planted|instruction|manipulat"),
    ("segments", r"segment|region|slice|subgroup|cohort"),
    ("significance", r"significan|noise|bootstrap|p-?value|confiden"),
    ("datasets", r"dataset|same data|eval(uation)? set|comparab|overlap|leak"),
    ("pipeline", r"pipeline|config|what changed|diff|hyperparam|window"),
    ("gaps", r"missing|gap|evidence|log(ged)? what|how (do|to) log"),
    ("safety", r"safety|jailbreak|pii|toxic|harm|suite"),
    ("convergence", r"converg|loss|training curve|histor|diverg"),
    ("verdict", r"why|verdict|decision|block|approv|escalat|fail|pass|summar|status"),
)
OFFLINE_TOPICS: tuple[tuple[OfflineTopic, re.Pattern[str]], ...] = tuple(
    (topic, re.compile(pattern, re.IGNORECASE)) for topic, pattern in _TOPIC_PATTERNS
)

_LOSS_KEYS = ("train_loss", "val_loss", "loss", "training_loss", "validation_loss")
_MAX_CITED = 12


class ChatAnswer(BaseModel):
    """One answer, the tools behind it and the evidence it cites."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    answer: str
    mode: Literal["llm", "offline"]
    topic: OfflineTopic | None = None
    tools: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    usage: LlmUsage = Field(default_factory=LlmUsage)
    fallback_reason: str | None = None


def _decision_text(decision: Decision | None) -> str:
    if decision is None:
        return "No decision has been recorded for this version yet."
    reasons = "; ".join(decision.reasons[:6]) or "none recorded"
    return (
        f"The recorded decision {decision.id} is {decision.verdict} (policy verdict "
        f"{decision.policy_verdict}, investigator {decision.investigator}). Reasons: {reasons}."
    )


class ChatSession:
    """A conversation about one reviewed version; see the module docstring.

    Args:
        bundle: The evidence of the version and its baseline.
        verdict: The policy verdict on it.
        decision: The recorded decision, when there is one.
        chat_model: The chat model; None answers offline.
        model_name: The model's name, recorded in usage.
        budget: Budget of each answer (model calls, tool calls, tokens, wall clock).
        retry: Retries of each model call.
        client: MLflow client for detail the bundle does not hold.
        tracer: Traces each LLM answer; none when None.
        sleep: How to wait between retries.
    """

    def __init__(
        self,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        *,
        decision: Decision | None = None,
        chat_model: BaseChatModel | None = None,
        model_name: str = "offline",
        budget: ReviewBudget | None = None,
        retry: RetryPolicy | None = None,
        client: MlflowClient | None = None,
        tracer: ReviewTracer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        price: TokenPrice | None = None,
    ) -> None:
        self.bundle = bundle
        self.verdict = verdict
        self.decision = decision
        self.chat_model = chat_model
        self.model_name = model_name if chat_model is not None else "offline"
        self.budget = budget or ReviewBudget(max_llm_calls=6, max_tool_calls=8, max_seconds=90)
        self.retry = retry or RetryPolicy()
        self.price = price or price_for(self.model_name)
        self.context = ReviewContext(bundle, verdict, client=client, caller="chat")
        self.tracer: ReviewTracer = tracer or NullTracer()
        self._sleep = sleep
        self._history: list[BaseMessage] = []

    @property
    def mode(self) -> Literal["llm", "offline"]:
        return "offline" if self.chat_model is None else "llm"

    def ask(self, question: str) -> ChatAnswer:
        """Answer one question about the version or its decision.

        Args:
            question: The engineer's question, in natural language.
        """
        question = question.strip()
        if self.chat_model is None:
            return self.answer_offline(question)
        return self._answer_llm(self.chat_model, question)

    # LLM ---------------------------------------------------------------------------------

    def _opening(self) -> SystemMessage:
        planted = screen_bundle(self.bundle, self.verdict).refs
        summary = review_request(
            self.bundle, self.verdict, budget=self.budget, planted_refs=planted
        )
        return SystemMessage(
            f"{CHAT_SYSTEM_PROMPT}\n\nThe version under discussion:\n{summary}\n\n"
            f"{_decision_text(self.decision)}"
        )

    def _answer_llm(self, chat_model: BaseChatModel, question: str) -> ChatAnswer:
        trace = self.tracer.start_review(
            "promogate.chat",
            {"model": self.bundle.candidate.model, "version": self.bundle.candidate.version},
            {"promogate.model": self.bundle.candidate.model},
        )
        before = self.context.seen_refs
        runner = AgentRunner(
            chat_model,
            model_name=self.model_name,
            budget=self.budget,
            retry=self.retry,
            price=self.price,
            sleep=self._sleep,
        )

        def drive(invoke: Invoke) -> list[BaseMessage]:
            result = invoke([*self._history, HumanMessage(question)])
            messages: list[BaseMessage] = list(result["messages"])
            return messages

        outcome = runner.run(
            drive,
            name="promogate-chat",
            system_prompt=self._opening(),
            context=self.context,
            trace=trace,
        )
        reason = outcome.reason
        text = ""
        if outcome.value is not None:
            final = outcome.value[-1]
            text = final.text if isinstance(final, AIMessage) else ""
            if text.strip():
                self._history = outcome.value
            else:
                reason = "invalid_answer: the model returned no text"
        spent = outcome.spent
        trace.end({"answered": reason is None}, error=reason)
        usage = outcome.usage.model_copy(update={"fallback_reason": reason})
        if reason is not None:
            logger.warning("chat answer fell back to the offline answers: %s", reason)
            offline = self.answer_offline(question)
            return offline.model_copy(update={"usage": usage, "fallback_reason": reason})
        cited = sorted(self.context.seen_refs - before)
        return ChatAnswer(
            question=question,
            answer=text.strip(),
            mode="llm",
            tools=list(dict.fromkeys(spent.tools_called)),
            evidence=cited[:_MAX_CITED],
            usage=usage,
        )

    # Offline -----------------------------------------------------------------------------

    def answer_offline(self, question: str) -> ChatAnswer:
        """Answer from the fixed set of questions (see `OFFLINE_TOPICS`), deterministically.

        Args:
            question: The engineer's question.
        """
        topic: OfflineTopic = "help"
        for name, pattern in OFFLINE_TOPICS:
            if pattern.search(question):
                topic = name
                break
        answer, tools, evidence = _OFFLINE[topic](self)
        return ChatAnswer(
            question=question,
            answer=answer,
            mode="offline",
            topic=topic,
            tools=tools,
            evidence=list(dict.fromkeys(evidence))[:_MAX_CITED],
        )

    def _tool(self, tool_name: str, **args: Any) -> dict[str, Any]:
        return call_tool(tool_name, self.context, **args)

    def _verdict(self) -> tuple[str, list[str], list[str]]:
        checks = self.verdict.checks
        bad = [c for c in checks if c.status in ("fail", "error")]
        warned = [c for c in checks if c.status == "warn"]
        lines = [_decision_text(self.decision), f"The policies say {self.verdict.verdict}."]
        lines += [f"{c.id} {c.status}: {c.message}" for c in bad[:8]]
        lines += [f"{c.id} warns: {c.message}" for c in warned[:4]]
        if not bad and not warned:
            lines.append(f"All {len(checks)} checks passed or were skipped with a reason.")
        evidence = [ref for c in [*bad, *warned] for ref in c.evidence]
        return " ".join(lines), ["get_check"], evidence

    def _segments(self) -> tuple[str, list[str], list[str]]:
        pairs = {
            (str(c.details.get("column") or c.id.split(".")[1]), str(c.details.get("metric", "")))
            for c in self.verdict.checks
            if c.kind == "segment" and len(c.id.split(".")) >= 3
        }
        pairs = {(col, met or "recall") for col, met in pairs}
        if not pairs:
            return "No policy check compares segments of this version.", [], []
        parts: list[str] = []
        evidence: list[str] = []
        for column, metric in sorted(pairs):
            result = self._tool("get_segment_metrics", column=column, metric=metric, limit=5)
            if "error" in result:
                parts.append(f"{metric} by {column}: {result['error']}")
                continue
            worst = [
                f"{s['segment']} {s['baseline']} -> {s['candidate']} ({s['delta']:+.3f})"
                for s in result["segments"]
                if s.get("delta") is not None
            ]
            parts.append(
                f"{metric} by {column} (from {result['source']}), worst first: "
                + "; ".join(worst[:5])
            )
            evidence += result.get("evidence", [])
        return ". ".join(parts) + ".", ["get_segment_metrics"], evidence

    def _significance(self) -> tuple[str, list[str], list[str]]:
        targets: list[dict[str, str]] = []
        for c in self.verdict.checks:
            if c.status not in ("fail", "warn", "error"):
                continue
            parts = c.id.split(".")
            if c.kind == "metric" and len(parts) >= 2:
                targets.append({"metric": parts[1]})
            elif c.kind == "segment" and len(parts) >= 4:
                targets.append(
                    {"metric": parts[2], "segment_column": parts[1], "segment_value": parts[3]}
                )
        if not targets:
            targets = [{"metric": "roc_auc"}]
        parts_out: list[str] = []
        evidence: list[str] = []
        for target in targets[:4]:
            result = self._tool("test_significance", **target)
            where = (
                f" on {target['segment_column']}={target['segment_value']}"
                if len(target) > 1
                else ""
            )
            if "error" in result:
                parts_out.append(f"{target['metric']}{where}: {result['error']}")
                continue
            verdict = "significant" if result["significant_at_0.05"] else "not significant"
            parts_out.append(
                f"{result['metric']}{where} changed by {result['delta']:+.4f} over "
                f"{result['paired_rows']} paired rows (95% CI {result['ci95'][0]:+.4f} to "
                f"{result['ci95'][1]:+.4f}, p={result['p_value_candidate_worse']:.3g}): {verdict}"
            )
            evidence += result.get("evidence", [])
        return "; ".join(parts_out) + ".", ["test_significance"], evidence

    def _datasets(self) -> tuple[str, list[str], list[str]]:
        result = self._tool("compare_datasets")
        same = result.get("same_evaluation_dataset")
        overlap = result.get("candidate_train_eval_overlap") or []
        text = {
            True: "Yes: both versions were scored on the same evaluation dataset.",
            False: "No: the versions were scored on different evaluation datasets, so their "
            "metrics are not directly comparable.",
            None: "Unknown: an evaluation dataset digest is missing for one of the versions.",
        }[same]
        if overlap:
            text += f" The candidate trains on its own evaluation data (digest {overlap[0]})."
        tools, evidence = ["compare_datasets"], list(result.get("evidence", []))
        # Same rows are not enough: a redefined label or metric makes the numbers incomparable.
        deeper = self._tool("check_comparability")
        problems = comparability_of(self.context).beyond_digest
        if problems:
            rows = "same rows, but " if same else ""
            text = f"No: the numbers are not comparable ({rows}{'; '.join(problems)})." + (
                f" {text}" if not same else ""
            )
            tools.append("check_comparability")
            evidence += [e for e in deeper.get("evidence", []) if e not in evidence]
        return text, tools, evidence

    def _pipeline(self) -> tuple[str, list[str], list[str]]:
        result = self._tool("get_pipeline_diff", limit=10)
        if "error" in result:
            return f"Cannot tell: {result['error']}.", ["get_pipeline_diff"], []
        changes = [
            f"{c['key']} ({c['class']}, {c['kind']}) at {c['location']}" for c in result["changes"]
        ]
        text = f"{result['summary'].capitalize()}." + (
            " " + "; ".join(changes) + "." if changes else ""
        )
        return text, ["get_pipeline_diff"], result.get("evidence", [])

    def _gaps(self) -> tuple[str, list[str], list[str]]:
        result = self._tool("list_evidence_gaps")
        lines = [
            f"{g['version']} {g['source']}: {g['message']}"
            + (f" (fix: {g['how_to_fix']})" if g.get("how_to_fix") else "")
            for g in result["gaps"]
        ] + [
            f"check {e['id']} errored: {e['message']}"
            + (f" (fix: {e['how_to_fix']})" if e.get("how_to_fix") else "")
            for e in result["errored_checks"]
        ]
        text = "; ".join(lines) + "." if lines else "Nothing is missing: every source was read."
        return text, ["list_evidence_gaps"], result.get("evidence", [])

    def _safety(self) -> tuple[str, list[str], list[str]]:
        result = self._tool("get_safety_results", max_cases=0)
        if "error" in result or not result.get("suites"):
            return (
                "No safety-suite results were logged for this version.",
                ["get_safety_results"],
                [],
            )
        parts = []
        for suite in result["suites"]:
            cand = suite["candidate"]
            if cand is None:
                parts.append(f"{suite['suite']}: no candidate results")
            else:
                parts.append(
                    f"{suite['suite']}: {cand['failures']} of {cand['cases']} cases failed"
                )
        return "; ".join(parts) + ".", ["get_safety_results"], result.get("evidence", [])

    def _convergence(self) -> tuple[str, list[str], list[str]]:
        keys = [k for k in _LOSS_KEYS if k in self.bundle.candidate.metric_histories]
        if not keys:
            return (
                "Unknown: no loss history was logged. Log it every epoch with "
                "mlflow.log_metric('train_loss', value, step=epoch).",
                [],
                [],
            )
        parts = []
        evidence: list[str] = []
        for key in keys[:2]:
            result = self._tool("get_metric_history", name=key, max_points=5)
            parts.append(
                f"{key}: {result['points_logged']} points from {result['first']} to "
                f"{result['last']} (min {result['min']})"
            )
            evidence += result.get("evidence", [])
        return "; ".join(parts) + ".", ["get_metric_history"], evidence

    def _injection(self) -> tuple[str, list[str], list[str]]:
        found = scan_bundle(self.bundle, self.verdict)
        if not found:
            return "No planted instructions were found in the evidence.", [], []
        refs = list(dict.fromkeys(f.evidence[0] for f in found))
        text = f"{len(found)} planted instruction(s) or false claim(s) were found and ignored: "
        return text + "; ".join(refs[:8]) + ".", [], refs

    def _help(self) -> tuple[str, list[str], list[str]]:
        topics = ", ".join(t for t, _ in OFFLINE_TOPICS)
        return (
            "Offline, I answer questions about: " + topics + ". For example: 'Why was it "
            "blocked?', 'Which segments regressed?', 'Is the drop significant?', 'What changed "
            "in the pipeline?'.",
            [],
            [],
        )


_OFFLINE: dict[OfflineTopic, Callable[[ChatSession], tuple[str, list[str], list[str]]]] = {
    "verdict": ChatSession._verdict,
    "segments": ChatSession._segments,
    "significance": ChatSession._significance,
    "datasets": ChatSession._datasets,
    "pipeline": ChatSession._pipeline,
    "gaps": ChatSession._gaps,
    "safety": ChatSession._safety,
    "convergence": ChatSession._convergence,
    "injection": ChatSession._injection,
    "help": ChatSession._help,
}
