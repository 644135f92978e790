"""What an investigator returns, and the protocol both investigators (offline and LLM) follow."""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from comparison import Comparison
from policies.decision import Finding, LlmUsage, QuestionAnswer
from policies.result import PolicyVerdict
from tools.evidence import EvidenceBundle

__all__ = ["Investigation", "Investigator", "Recommendation"]

Recommendation = Literal["approve", "block", "escalate"]


class Investigation(BaseModel):
    """The investigator's structured review: findings, the question/answer log, a recommendation.

    The recommendation is advice. The verdict is computed by code from the policy verdict: an
    investigator may add blockers or escalate, never clear a failed or errored check.
    """

    model_config = ConfigDict(extra="forbid")

    recommendation: Recommendation
    summary: str
    findings: list[Finding] = Field(default_factory=list)
    questions: list[QuestionAnswer] = Field(default_factory=list)
    blockers: list[str] = Field(
        default_factory=list, description="Reasons the investigator adds to block the promotion."
    )
    usage: LlmUsage = Field(default_factory=LlmUsage)
    investigator: Literal["offline", "llm"] = "offline"


class Investigator(Protocol):
    """Asks diagnostic questions about a reviewed candidate and answers them with evidence."""

    name: str

    def investigate(
        self,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        *,
        comparison: Comparison | None = None,
    ) -> Investigation:
        """Investigate the failing or suspicious checks of `verdict` on `bundle`.

        `comparison` holds the facts the policies already computed for this review; an
        investigator reads the same ones (a new comparison of `bundle` when None).
        """
        ...
