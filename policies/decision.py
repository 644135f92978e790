"""The Decision: what the reviewer concluded, and everything needed to audit it later."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.result import CheckResult, PolicyRef, Verdict
from tools.evidence import EvidenceOrigin

__all__ = [
    "CauseKind",
    "Conclusion",
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


CauseKind = Literal[
    "labels_changed",
    "metric_definition_changed",
    "evaluation_data_changed",
    "decision_threshold_moved",
]


class Conclusion(BaseModel):
    """One cause that several findings share, and the checks it explains.

    Drawn only where the evidence establishes the mechanism (the labels or a metric's definition
    changed, the evaluation data differs, the decision threshold moved), never from a change that
    merely could explain the symptoms.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: CauseKind
    cause: str = Field(description="What happened, with the numbers, in one sentence.")
    effect: str = Field(description="What it means for the grouped checks.")
    cause_check_id: str | None = Field(
        default=None, description="The check that established the cause, when one did."
    )
    check_ids: list[str] = Field(description="The symptoms: checks the cause explains.")
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
    # Left out of dumps when absent, so decisions made without a security policy (and the
    # ledger records hashed from them) are unchanged.
    artifact_digest: str | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Manifest digest of the model's artifacts, when a security policy scanned "
        "them; promote and the gate's reuse hash the artifacts again and compare.",
    )
    policies: list[PolicyRef] = Field(default_factory=list)
    investigator: Literal["offline", "llm"] = "offline"
    usage: LlmUsage = Field(default_factory=LlmUsage)
    error: str | None = Field(default=None, description="Why the review could not complete.")
    requested_by: str | None = Field(
        default=None,
        description="Who requested or triggered the review (a token name); four eyes: never "
        "an approver of its escalation or an overrider of its checks.",
    )
    versions: dict[str, str] = Field(
        default_factory=dict, description="promogate, mlflow and tool versions."
    )
    created_at: datetime
    duration_ms: float = 0.0
    evidence_origins: dict[str, list[EvidenceOrigin]] = Field(
        default_factory=dict,
        description="Per version ('model/version'): evidence read outside the convention and how "
        "promogate found it (evidence mapping or discovery).",
    )
    # Left out of dumps when empty, so decisions with nothing to group (and the ledger records
    # hashed from them) are unchanged.
    conclusions: list[Conclusion] = Field(
        default_factory=list,
        exclude_if=lambda v: not v,
        description="Causes that several failing or warning checks share, each with the checks "
        "it explains; the decision opens with them.",
    )
