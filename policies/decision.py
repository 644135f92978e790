"""The Decision: what the reviewer concluded, and everything needed to audit it later."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.result import CheckResult, PolicyRef, Verdict

__all__ = [
    "Decision",
    "Finding",
    "LlmUsage",
    "QuestionAnswer",
    "Severity",
]

Severity = Literal["info", "warning", "blocker"]


class Finding(BaseModel):
    """Something the reviewer wants a human to know, with the evidence it rests on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    detail: str
    severity: Severity = "info"
    check_id: str | None = None
    evidence: list[str] = Field(default_factory=list)


class QuestionAnswer(BaseModel):
    """One diagnostic question, the tool calls that answered it, and the answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    question: str
    answer: str
    check_id: str | None = None
    tools: list[str] = Field(default_factory=list)
    evidence: list[str] = Field(default_factory=list)
    data: dict[str, Any] = Field(default_factory=dict)


class LlmUsage(BaseModel):
    """What an LLM review cost. All zeros for the offline investigator."""

    model_config = ConfigDict(extra="forbid")

    model: str = "offline"
    llm_calls: int = 0
    tool_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_cost_usd: float = 0.0
    trace_id: str | None = None
    fallback_reason: str | None = None


class Decision(BaseModel):
    """The outcome of a review: approve, block or escalate, and why."""

    model_config = ConfigDict(extra="forbid")

    id: str
    model: str
    version: int
    baseline_version: int | None = None
    target_alias: str = "champion"
    verdict: Verdict
    policy_verdict: Verdict
    reasons: list[str] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    questions: list[QuestionAnswer] = Field(default_factory=list)
    evidence_digest: str | None = None
    policies: list[PolicyRef] = Field(default_factory=list)
    investigator: Literal["offline", "llm"] = "offline"
    usage: LlmUsage = Field(default_factory=LlmUsage)
    error: str | None = Field(default=None, description="Why the review could not complete.")
    versions: dict[str, str] = Field(
        default_factory=dict, description="promogate, mlflow and tool versions."
    )
    created_at: datetime
    duration_ms: float = 0.0
