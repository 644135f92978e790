"""The LLM investigator: a LangChain agent asking its own diagnostic questions, bounded by policy.

The agent (`langchain.agents.create_agent`) receives a bounded summary of the evidence and the
policy results, calls the read-only tools of `agents._agent_tools` to answer its questions, and
files a structured review (`AgentReview`): findings citing evidence, the question/answer log,
blockers and a recommendation. The reviewer computes the verdict from the policy verdict; the agent
can only make it stricter (`review._decide.compose_decision`).

What the agent cannot change: the deterministic findings (one per failing check, one per planted
instruction the scanner found) are always part of the investigation, whatever the model says.

Resilience: model calls are retried on 429, 5xx and timeouts; each review has a budget of model
calls, tool calls, tokens and wall clock; an invalid structured review gets one repair attempt.
When the budget runs out, the LLM fails or the review stays invalid, the deterministic investigator
finishes the review and `LlmUsage.fallback_reason` says why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from langchain.agents.structured_output import ToolStrategy
from langchain_core.messages import BaseMessage, HumanMessage
from pydantic import BaseModel, ConfigDict, Field

from agents._agent_tools import ReviewContext
from agents._budget import (
    ReviewBudget,
    TokenPrice,
    UsageSnapshot,
    price_for,
)
from agents._prompts import REPAIR_PROMPT, REVIEW_SYSTEM_PROMPT, review_request
from agents._runner import AgentRunner, Invoke
from agents.chat_model import (
    RetryPolicy,
    build_chat_model,
    parse_model_spec,
)
from agents.errors import InvalidReviewError
from agents.investigation import Investigation, Investigator, Recommendation
from agents.offline_investigator import OfflineInvestigator, check_findings
from agents.tracing import MlflowReviewTracer, NullTracer, ReviewTracer
from agents.untrusted import screen_bundle
from comparison import Comparison
from policies.decision import Finding, QuestionAnswer, Severity
from policies.result import PolicyVerdict
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from mlflow import MlflowClient

__all__ = [
    "AgentFinding",
    "AgentQuestion",
    "AgentReview",
    "InvalidReviewError",
    "LlmInvestigator",
    "make_llm_investigator",
]

logger = logging.getLogger("promogate.agents")

_MAX_BLOCKERS = 10
_MAX_TEXT = 2000


class AgentFinding(BaseModel):
    """Something the reviewer wants a human to know, with the evidence it rests on."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="One line.")
    detail: str = Field(max_length=_MAX_TEXT, description="What was found and why it matters.")
    severity: Severity = Field(description="info, warning, or blocker.")
    check_id: str | None = Field(default=None, description="The policy check it is about, if any.")
    evidence: list[str] = Field(
        min_length=1,
        description="Evidence references returned by the tools, e.g. 'run:<id>/metrics/roc_auc'.",
    )


class AgentQuestion(BaseModel):
    """One diagnostic question, its answer, and the tool calls behind it."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=_MAX_TEXT)
    check_id: str | None = Field(default=None, description="The check it is about, if any.")
    tools: list[str] = Field(default_factory=list, description="Names of the tools used.")
    evidence: list[str] = Field(default_factory=list, description="Evidence references cited.")


class AgentReview(BaseModel):
    """The structured review the agent files at the end: call this tool exactly once."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(min_length=1, max_length=_MAX_TEXT, description="Two or three sentences.")
    recommendation: Recommendation = Field(description="approve, block, or escalate.")
    findings: list[AgentFinding] = Field(default_factory=list)
    questions: list[AgentQuestion] = Field(
        default_factory=list, description="The question/answer log, in the order asked."
    )
    blockers: list[str] = Field(
        default_factory=list,
        description="Reasons to block that the failed policy checks do not already state.",
    )


class _Repair:
    """One repair attempt per review for invalid structured output."""

    def __init__(self, attempts: int) -> None:
        self.left = attempts
        self.errors: list[str] = []

    def take(self, error: str) -> bool:
        self.errors.append(error)
        if self.left <= 0:
            return False
        self.left -= 1
        return True

    def handle(self, exc: Exception) -> str:
        """`ToolStrategy.handle_errors`: a repair message the first time, then give up."""
        error = _clip(str(exc), 600)
        if not self.take(error):
            raise InvalidReviewError(
                f"the structured review was invalid after the repair attempt: {error}"
            ) from exc
        logger.info("structured review invalid; asking for a repair: %s", error)
        return REPAIR_PROMPT.format(error=error)


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _verified(refs: Iterable[str], known: set[str]) -> tuple[list[str], list[str]]:
    """Split cited references into those matching evidence read in the review, and the rest."""
    good: list[str] = []
    bad: list[str] = []
    for ref in dict.fromkeys(refs):
        if ref in known or any(k.startswith(ref) or ref.startswith(k) for k in known):
            good.append(ref)
        else:
            bad.append(ref)
    return good, bad


class LlmInvestigator:
    """Investigates with a LangChain agent; see the module docstring.

    Args:
        chat_model: The chat model (from `agents.chat_model.build_chat_model`, or a test double).
        model_name: The model's name, recorded in the decision's usage.
        budget: Per-review budget.
        retry: Retries of each model call.
        price: Token prices for the cost estimate; the model's list price when None.
        fallback: Finishes the review when the agent cannot; the offline investigator by default.
        client: MLflow client for detail the evidence bundle does not hold; None keeps the tools
            to the bundle.
        tracer: Traces each review; none when None.
        repair_attempts: Repair attempts for an invalid structured review.
        caller: Who runs the reviews (recorded in traces).
        sleep: How to wait between retries.
        clock: Monotonic clock of the wall-clock budget.
    """

    name = "llm"

    def __init__(
        self,
        chat_model: BaseChatModel,
        *,
        model_name: str,
        budget: ReviewBudget | None = None,
        retry: RetryPolicy | None = None,
        price: TokenPrice | None = None,
        fallback: Investigator | None = None,
        client: MlflowClient | None = None,
        tracer: ReviewTracer | None = None,
        repair_attempts: int = 1,
        caller: str = "reviewer",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.chat_model = chat_model
        self.model_name = model_name
        self.budget = budget or ReviewBudget()
        self.retry = retry or RetryPolicy()
        self.price = price or price_for(model_name)
        self.fallback = fallback or OfflineInvestigator()
        self.client = client
        self.tracer: ReviewTracer = tracer or NullTracer()
        self.repair_attempts = repair_attempts
        self.caller = caller
        self._sleep = sleep
        self._clock = clock

    def _runner(self) -> AgentRunner:
        return AgentRunner(
            self.chat_model,
            model_name=self.model_name,
            budget=self.budget,
            retry=self.retry,
            price=self.price,
            sleep=self._sleep,
            clock=self._clock,
        )

    def _drive(self, request: str, repair: _Repair) -> Callable[[Invoke], AgentReview]:
        """Ask for the review, and once more to repair a reply that filed none."""

        def drive(invoke: Invoke) -> AgentReview:
            messages: list[BaseMessage] = [HumanMessage(request)]
            while True:
                result = invoke(messages)
                review = result.get("structured_response")
                if isinstance(review, AgentReview):
                    return review
                # The model stopped without filing its review (text only, or broken arguments).
                error = "the reply did not call AgentReview with valid arguments"
                if not repair.take(error):
                    raise InvalidReviewError(
                        f"no structured review after the repair attempt: {error}"
                    )
                messages = [*result["messages"], HumanMessage(REPAIR_PROMPT.format(error=error))]

        return drive

    def investigate(
        self,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        *,
        comparison: Comparison | None = None,
    ) -> Investigation:
        """Investigate with the agent; fall back to the deterministic investigator on failure.

        Args:
            bundle: The evidence of the candidate and its baseline.
            verdict: The policy verdict.
            comparison: The review's comparison, shared with the policies (new if None).
        """
        facts = comparison if comparison is not None else Comparison(bundle)
        screening = screen_bundle(bundle, verdict)
        planted = screening.findings()
        planted_refs = screening.refs
        candidate = bundle.candidate
        trace = self.tracer.start_review(
            "promogate.review",
            {
                "model": candidate.model,
                "version": candidate.version,
                "baseline_version": bundle.baseline.version if bundle.baseline else None,
                "evidence_digest": bundle.digest,
                "policy_verdict": verdict.verdict,
                "caller": self.caller,
            },
            {
                "promogate.model": candidate.model,
                "promogate.version": str(candidate.version),
                "promogate.llm": self.model_name,
            },
        )
        ctx = ReviewContext(
            bundle, verdict, client=self.client, caller=self.caller, comparison=facts
        )
        repair = _Repair(self.repair_attempts)
        request = review_request(bundle, verdict, budget=self.budget, planted_refs=planted_refs)
        outcome = self._runner().run(
            self._drive(request, repair),
            name="promogate-reviewer",
            system_prompt=REVIEW_SYSTEM_PROMPT,
            context=ctx,
            trace=trace,
            response_format=ToolStrategy(AgentReview, handle_errors=repair.handle),
        )
        review, reason, spent = outcome.value, outcome.reason, outcome.spent
        if review is not None:
            investigation = self._from_review(review, bundle, verdict, ctx, planted, spent)
        else:
            assert reason is not None
            logger.warning("LLM review of %s fell back: %s", candidate.ref, reason)
            investigation = self._fallback(bundle, verdict, reason, facts)
        trace.end(
            {
                "recommendation": investigation.recommendation,
                "investigator": investigation.investigator,
                "findings": len(investigation.findings),
                "questions": len(investigation.questions),
            },
            attributes={
                "llm_calls": spent.llm_calls,
                "tool_calls": spent.tool_calls,
                "prompt_tokens": spent.prompt_tokens,
                "completion_tokens": spent.completion_tokens,
            },
            error=reason,
        )
        usage = outcome.usage
        logger.info(
            "LLM review of %s: %s by %s (%d model calls, %d tool calls, %d tokens, %.1f s)",
            candidate.ref,
            investigation.recommendation,
            investigation.investigator,
            spent.llm_calls,
            spent.tool_calls,
            spent.tokens,
            spent.elapsed_s,
        )
        return investigation.model_copy(update={"usage": usage})

    def _fallback(
        self, bundle: EvidenceBundle, verdict: PolicyVerdict, reason: str, facts: Comparison
    ) -> Investigation:
        base = self.fallback.investigate(bundle, verdict, comparison=facts)
        note = Finding(
            title="LLM review incomplete: the deterministic investigator finished it",
            detail=f"The LLM review stopped ({reason}). The findings and questions below come "
            "from the fixed question plan.",
            severity="warning",
        )
        return base.model_copy(
            update={"findings": [*base.findings, note], "investigator": "offline"}
        )

    def _from_review(
        self,
        review: AgentReview,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        ctx: ReviewContext,
        planted: list[Finding],
        spent: UsageSnapshot,
    ) -> Investigation:
        planted_refs = {ref for f in planted for ref in f.evidence}
        known = ctx.seen_refs | planted_refs | {ref for c in verdict.checks for ref in c.evidence}
        findings = check_findings(verdict.checks) + planted
        for item in review.findings:
            refs, dropped = _verified(item.evidence, known)
            if refs and set(refs) <= planted_refs and item.severity != "blocker":
                continue  # the scanner's finding on the same text already stands
            detail = item.detail
            if dropped:
                detail += f" [references not found in the evidence read: {', '.join(dropped[:5])}]"
            findings.append(
                Finding(
                    title=f"agent: {item.title}",
                    detail=detail,
                    severity=item.severity,
                    check_id=item.check_id,
                    evidence=refs,
                )
            )
        called = set(spent.tools_called)
        questions: list[QuestionAnswer] = []
        for q in review.questions:
            used = [t for t in q.tools if t in called]
            claimed = [t for t in q.tools if t not in called]
            refs, dropped = _verified(q.evidence, known)
            data: dict[str, Any] = {"asked_by": "llm"}
            if claimed:
                data["tools_not_called"] = claimed
            if dropped:
                data["unverified_evidence"] = dropped[:5]
            questions.append(
                QuestionAnswer(
                    question=q.question,
                    answer=q.answer,
                    check_id=q.check_id,
                    tools=used,
                    evidence=refs,
                    data=data,
                )
            )
        blockers = [_clip(b, 300) for b in review.blockers if b.strip()][:_MAX_BLOCKERS]
        return Investigation(
            recommendation=review.recommendation,
            summary=review.summary,
            findings=findings,
            questions=questions,
            blockers=blockers,
            investigator="llm",
        )


def make_llm_investigator(
    spec: str,
    *,
    api_key: str | None,
    base_url: str | None,
    budget: ReviewBudget | None = None,
    retry: RetryPolicy | None = None,
    price: TokenPrice | None = None,
    client: MlflowClient | None = None,
    tracking_uri: str | None = None,
    caller: str = "reviewer",
) -> LlmInvestigator:
    """The LLM investigator for a settings spec such as ``openai:gpt-4o-mini``.

    Args:
        spec: ``openai:<model>``.
        api_key: The API key (OPENAI_API_KEY, read by the caller).
        base_url: An OpenAI-compatible server's base URL (OPENAI_BASE_URL); OpenAI when None.
        budget: Per-review budget.
        retry: Retries and the per-request timeout.
        price: Token prices; the model's list price when None.
        client: MLflow client for detail the evidence bundle does not hold.
        tracking_uri: Trace every review into this MLflow tracking server; no tracing when None.
        caller: Who runs the reviews (recorded in traces).

    Raises:
        LlmConfigError: The spec is invalid, or OpenAI itself is used without a key.
    """
    parsed = parse_model_spec(spec)
    retry = retry or RetryPolicy()
    chat_model = build_chat_model(
        parsed, api_key=api_key, base_url=base_url, timeout_s=retry.request_timeout_s
    )
    return LlmInvestigator(
        chat_model,
        model_name=parsed.model,
        budget=budget,
        retry=retry,
        price=price,
        client=client,
        tracer=MlflowReviewTracer(tracking_uri) if tracking_uri else None,
        caller=caller,
    )
