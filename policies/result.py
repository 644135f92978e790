"""Results of evaluating policies against an evidence bundle."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "STATUS_ORDER",
    "CheckKind",
    "CheckResult",
    "CheckStatus",
    "PolicyOutcome",
    "PolicyRef",
    "PolicyVerdict",
    "Verdict",
    "strictest",
]

CheckStatus = Literal["pass", "fail", "warn", "error", "skip"]
Verdict = Literal["approve", "block", "escalate"]
CheckKind = Literal[
    "metric",
    "segment",
    "comparability",
    "evidence",
    "pipeline",
    "eval",
    "baseline",
    "match",
    "security",
    "untrusted_text",
    "plausibility",
    "watch",
]

STATUS_ORDER: dict[CheckStatus, int] = {"skip": 0, "pass": 1, "warn": 2, "error": 3, "fail": 4}
_VERDICT_ORDER: dict[Verdict, int] = {"approve": 0, "escalate": 1, "block": 2}


def strictest(verdicts: list[Verdict]) -> Verdict:
    """The strictest of several verdicts; an empty list blocks (deny by default)."""
    if not verdicts:
        return "block"
    return max(verdicts, key=lambda v: _VERDICT_ORDER[v])


class CheckResult(BaseModel):
    """One check of one policy, with the numbers behind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(description="Stable id, e.g. 'metrics.roc_auc.max_drop'.")
    policy: str
    kind: CheckKind
    status: CheckStatus
    message: str
    observed: float | str | None = None
    threshold: float | str | None = None
    baseline: float | str | None = None
    delta: float | None = None
    p_value: float | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    evidence: list[str] = Field(
        default_factory=list,
        description="References to the evidence it rests on, e.g. 'run:<id>/metrics/roc_auc'.",
    )
    how_to_fix: str | None = None
    overridable: bool = True


class PolicyRef(BaseModel):
    """What a decision records of a policy it applied."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    revision: int
    sha256: str
    path: str | None = None


class PolicyOutcome(BaseModel):
    """One policy's checks and the verdict they imply on their own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: PolicyRef
    mode: Literal["enforce", "audit"]
    verdict: Verdict
    checks: list[CheckResult]
    agent_may_approve: bool = True
    agent_may_block: bool = True
    on_error: Literal["block", "escalate"] = "block"
    untrusted_text: Literal["report", "escalate", "block"] = "report"


class PolicyVerdict(BaseModel):
    """All matching policies evaluated; the strictest verdict wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: Verdict
    outcomes: list[PolicyOutcome]
    reasons: list[str] = Field(default_factory=list)

    @property
    def checks(self) -> list[CheckResult]:
        return [c for o in self.outcomes for c in o.checks]

    @property
    def agent_may_approve(self) -> bool:
        return all(o.agent_may_approve for o in self.outcomes)

    @property
    def on_error(self) -> Literal["block", "escalate"]:
        """How an error outside the checks (e.g. the LLM failing) ends: block unless every
        applied policy says escalate."""
        if self.outcomes and all(o.on_error == "escalate" for o in self.outcomes):
            return "escalate"
        return "block"
