"""The verdict rules: the policy verdict bounds the investigator, errors block."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agents.investigation import Investigation, Recommendation
from policies.decision import LlmUsage
from policies.result import CheckResult, PolicyOutcome, PolicyRef, PolicyVerdict, Verdict
from review._decide import compose_decision, error_decision
from tools.evidence import EvidenceBundle, VersionEvidence

NOW = datetime(2026, 1, 1, tzinfo=UTC)
BUNDLE = EvidenceBundle(
    candidate=VersionEvidence(model="credit-risk", version=2),
    baseline=VersionEvidence(model="credit-risk", version=1),
)


def _verdict(
    verdict: Verdict, *, may_approve: bool = True, may_block: bool = True
) -> PolicyVerdict:
    status = {"approve": "pass", "block": "fail", "escalate": "error"}[verdict]
    check = CheckResult(
        id="metrics.roc_auc.min",
        policy="p",
        kind="metric",
        status=status,
        message="m",  # type: ignore[arg-type]
    )
    outcome = PolicyOutcome(
        policy=PolicyRef(name="p", revision=3, sha256="0" * 64),
        mode="enforce",
        verdict=verdict,
        checks=[check],
        agent_may_approve=may_approve,
        agent_may_block=may_block,
    )
    return PolicyVerdict(verdict=verdict, outcomes=[outcome])


def _investigation(
    recommendation: Recommendation, blockers: list[str] | None = None
) -> Investigation:
    return Investigation(
        recommendation=recommendation,
        summary="s",
        blockers=blockers or [],
        usage=LlmUsage(model="scripted", llm_calls=2),
        investigator="llm",
    )


CASES = [
    # policy verdict, may_approve, may_block, recommendation, blockers, expected
    ("approve", True, True, "approve", [], "approve"),
    ("approve", False, True, "approve", [], "escalate"),
    ("approve", True, True, "escalate", [], "escalate"),
    ("approve", True, True, "block", [], "escalate"),
    ("approve", True, True, "block", ["training diverged"], "block"),
    ("approve", True, False, "block", ["training diverged"], "escalate"),
    ("block", True, True, "approve", [], "block"),
    ("block", True, True, "escalate", [], "block"),
    ("escalate", True, True, "approve", [], "escalate"),
    ("escalate", True, True, "block", ["x"], "block"),
]
IDS = [
    "clean-approves",
    "may-approve-false-escalates",
    "agent-escalates",
    "agent-block-advice-escalates",
    "agent-blocker-blocks",
    "agent-may-not-block-escalates",
    "agent-cannot-clear-block",
    "agent-escalation-ignored-on-block",
    "agent-cannot-clear-escalation",
    "agent-blocker-on-escalation",
]


@pytest.mark.parametrize(
    ("policy", "may_approve", "may_block", "recommendation", "blockers", "expected"), CASES, ids=IDS
)
def test_policy_verdict_bounds_the_investigator(
    policy: Verdict,
    may_approve: bool,
    may_block: bool,
    recommendation: Recommendation,
    blockers: list[str],
    expected: Verdict,
) -> None:
    decision = compose_decision(
        bundle=BUNDLE,
        verdict=_verdict(policy, may_approve=may_approve, may_block=may_block),
        investigation=_investigation(recommendation, blockers),
        target_alias="champion",
        created_at=NOW,
        duration_ms=1.0,
    )
    assert decision.verdict == expected
    assert decision.policy_verdict == policy
    assert decision.evidence_digest == BUNDLE.digest
    assert decision.policies[0].revision == 3
    assert decision.baseline_version == 1
    assert decision.usage.llm_calls == 2
    assert decision.reasons


def test_error_decision_blocks_and_records_the_reason() -> None:
    decision = error_decision(
        model="credit-risk",
        version=None,
        target_alias="champion",
        error="model 'credit-riks' not found",
        created_at=NOW,
    )
    assert decision.verdict == "block"
    assert decision.error == "model 'credit-riks' not found"
    assert "credit-riks" in decision.reasons[0]
    assert decision.findings[0].severity == "blocker"


def _with_on_error(verdict: PolicyVerdict, on_error: str) -> PolicyVerdict:
    outcomes = [o.model_copy(update={"on_error": on_error}) for o in verdict.outcomes]
    return verdict.model_copy(update={"outcomes": outcomes})


@pytest.mark.parametrize(
    ("policy", "on_error", "fallback", "expected"),
    [
        ("approve", "block", "llm_unavailable: HTTP 503 after 3 attempts", "block"),
        ("approve", "escalate", "budget_exhausted: 8 tool calls", "escalate"),
        ("approve", "block", None, "approve"),
        ("block", "escalate", "agent_error: RuntimeError", "block"),
    ],
    ids=["llm-down-blocks", "policy-says-escalate", "no-failure", "block-stays-block"],
)
def test_a_failed_llm_review_is_an_error_under_on_error(
    policy: Verdict, on_error: str, fallback: str | None, expected: Verdict
) -> None:
    investigation = Investigation(
        recommendation=policy,
        summary="finished by the offline investigator" if fallback else "s",
        usage=LlmUsage(model="gpt-x", llm_calls=1, fallback_reason=fallback),
    )
    decision = compose_decision(
        bundle=BUNDLE,
        verdict=_with_on_error(_verdict(policy), on_error),
        investigation=investigation,
        target_alias="champion",
        created_at=NOW,
        duration_ms=1.0,
    )
    assert decision.verdict == expected
    if fallback is not None and policy == "approve":
        assert any(fallback in reason for reason in decision.reasons)
        # An error, so the CLI exits 3 and the gate does not reuse the decision.
        assert decision.error is not None and fallback in decision.error
    else:
        assert decision.error is None
