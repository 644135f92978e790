"""Investigate and decide: the investigator's findings bounded by the policy verdict.

The verdict is computed here, by code, from the policy verdict; the investigator (offline or an LLM)
may add blockers or escalate, never clear a failed or errored check. Any error on the way blocks,
with the reason recorded in the decision (`error_decision`).
"""

from __future__ import annotations

import functools
import logging
import time
import uuid
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING

from agents.investigation import Investigation, Investigator
from agents.untrusted import Screening, screen_bundle, untrusted_text_check
from comparison import Comparison
from policies.conclusions import draw_conclusions
from policies.decision import Conclusion, Decision, Finding
from policies.plausibility_rules import plausibility_findings
from policies.result import PolicyVerdict, Verdict
from review._evaluate import EvaluatedEvidence
from tools.evidence import EvidenceBundle
from tools.installed_versions import installed_version
from tools.redaction import redact

if TYPE_CHECKING:
    pass

__all__ = [
    "ReviewOutcome",
    "compose_decision",
    "decide",
    "error_decision",
    "package_versions",
    "version_hint",
]

logger = logging.getLogger("promogate.review")


def _now() -> datetime:
    return datetime.now(UTC)


def package_versions() -> dict[str, str]:
    """Versions of the libraries a decision depends on, recorded with it.

    Read once per process (the fingerprint records them too): the code that runs is what the
    process imported, whatever is installed later.
    """
    return dict(_installed_versions())


@functools.cache
def _installed_versions() -> tuple[tuple[str, str], ...]:
    versions: list[tuple[str, str]] = []
    for dist in ("promogate", "mlflow", "langchain", "scikit-learn"):
        try:
            versions.append((dist, installed_version(dist)))
        except metadata.PackageNotFoundError:
            continue
    return tuple(versions)


class ReviewOutcome:
    """A decision together with the evidence it was made on and its hash in the ledger's chain
    (both None when gathering failed)."""

    __slots__ = ("bundle", "decision", "record_hash")

    def __init__(
        self,
        decision: Decision,
        bundle: EvidenceBundle | None,
        record_hash: str | None = None,
    ) -> None:
        self.decision = decision
        self.bundle = bundle
        self.record_hash = record_hash


def compose_decision(
    *,
    bundle: EvidenceBundle,
    verdict: PolicyVerdict,
    investigation: Investigation,
    target_alias: str,
    created_at: datetime,
    duration_ms: float,
    decision_id: str | None = None,
    screening: Screening | None = None,
    comparison: Comparison | None = None,
) -> Decision:
    """Bound the investigator by the policy verdict and build the Decision.

    Rules: a policy block stays a block; the investigator's blockers block only where every
    applied policy lets the agent block, and otherwise escalate; an investigator recommending
    escalation turns an approval into an escalation; an LLM investigator that failed (the offline
    one finished for it) makes an approval an error, which blocks unless every applied policy
    says `on_error: escalate`; a policy that forbids agent approval turns a clean review into an
    escalation to a human.

    When several failing or warning checks share one cause (`policies.conclusions`), the
    decision opens with it: the conclusions come first among the reasons.
    """
    final: Verdict = verdict.verdict
    conclusions = draw_conclusions(verdict.checks, comparison or Comparison(bundle))
    reasons = [_conclusion_reason(c) for c in conclusions]
    reasons += list(verdict.reasons) or [
        f"{c.id} {c.status}: {c.message}" for c in verdict.checks if c.status in ("fail", "error")
    ]
    may_block = all(o.agent_may_block for o in verdict.outcomes)
    if final != "block" and investigation.blockers:
        final = "block" if may_block else "escalate"
        reasons.extend(f"investigator: {b}" for b in investigation.blockers)
    if final == "approve" and investigation.recommendation in ("escalate", "block"):
        final = "escalate"
        reasons.append(f"investigator recommends {investigation.recommendation}")
    error: str | None = None
    if final == "approve" and investigation.usage.fallback_reason is not None:
        # The LLM failed or ran out of budget and the offline investigator finished the review:
        # an error, which blocks unless every applied policy says `on_error: escalate`. Recorded
        # as the decision's error, so the gate reviews again instead of reusing it.
        final = verdict.on_error
        error = f"the LLM investigator did not finish: {investigation.usage.fallback_reason}"
        reasons.append(f"{error}; on_error: {final}")
    if final == "approve" and not verdict.agent_may_approve:
        final = "escalate"
        reasons.append(
            "a policy forbids agent approval (agent.may_approve: false): a human decides"
        )
    # Untrusted text: its findings are always reported, whatever the investigator said, and
    # the policies' agent.untrusted_text hook may escalate or block (never approve).
    screening = screening or screen_bundle(bundle, verdict)
    findings = list(investigation.findings)
    findings += [f for f in screening.findings() if f not in findings]
    # A plausibility suspicion is a finding with its evidence, whichever investigator ran.
    explained = {f.check_id for f in findings if f.check_id}
    findings += [f for f in plausibility_findings(verdict) if f.check_id not in explained]
    checks = list(verdict.checks)
    untrusted = untrusted_text_check(verdict, screening)
    if untrusted is not None:
        checks.append(untrusted)
        if untrusted.status == "fail" and final != "block":
            final = "block"
            reasons.append(f"{untrusted.id}: {untrusted.message}")
        elif final == "approve":
            final = "escalate"
            reasons.append(f"{untrusted.id}: {untrusted.message}")
    if final == "approve" and not reasons:
        reasons.append("every applied check passed")
    candidate = bundle.candidate
    return Decision(
        id=decision_id or uuid.uuid4().hex,
        model=candidate.model,
        version=candidate.version,
        baseline_version=bundle.baseline.version if bundle.baseline is not None else None,
        target_alias=target_alias,
        verdict=final,
        policy_verdict=verdict.verdict,
        reasons=reasons,
        checks=checks,
        findings=findings,
        questions=investigation.questions,
        evidence_digest=bundle.digest,
        artifact_digest=candidate.artifact_scan.digest if candidate.artifact_scan else None,
        policies=[o.policy for o in verdict.outcomes],
        investigator=investigation.investigator,
        usage=investigation.usage,
        error=error,
        versions=package_versions(),
        created_at=created_at,
        duration_ms=duration_ms,
        evidence_origins={
            v.ref: list(v.origins)
            for v in (candidate, bundle.baseline)
            if v is not None and v.origins
        },
        conclusions=conclusions,
    )


def _conclusion_reason(conclusion: Conclusion) -> str:
    return (
        f"conclusion: {conclusion.cause} This explains {len(conclusion.check_ids)} check(s): "
        f"{', '.join(conclusion.check_ids)}"
    )


def error_decision(
    *,
    model: str,
    version: int | None,
    target_alias: str,
    error: str,
    created_at: datetime,
    duration_ms: float = 0.0,
    bundle: EvidenceBundle | None = None,
    decision_id: str | None = None,
) -> Decision:
    """A block that records why the review could not complete (fail closed)."""
    # The reason is recorded for good and shown to every viewer: never with a credential in it.
    error = redact(error)
    return Decision(
        id=decision_id or uuid.uuid4().hex,
        model=model,
        version=version if version is not None else 0,
        baseline_version=(
            bundle.baseline.version if bundle is not None and bundle.baseline is not None else None
        ),
        target_alias=target_alias,
        verdict="block",
        policy_verdict="block",
        reasons=[f"review failed, so the promotion is blocked: {error}"],
        findings=[Finding(title="Review error", detail=error, severity="blocker")],
        evidence_digest=bundle.digest if bundle is not None else None,
        error=error,
        versions=package_versions(),
        created_at=created_at,
        duration_ms=duration_ms,
    )


def version_hint(ref: str | int) -> int | None:
    """The version number in `ref`, or None for an alias."""
    text = str(ref)
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    # Beyond a 32-bit version number no such version can exist (MLflow and the ledger store int32).
    return number if number <= 2_147_483_647 else None


def decide(
    evidence: EvaluatedEvidence,
    *,
    investigator: Investigator,
    target_alias: str,
    created_at: datetime,
    started: float,
    decision_id: str | None = None,
) -> Decision:
    """Investigate the evaluated evidence and compose the decision (`started`: perf_counter).

    Every untrusted text of the evidence is screened before any investigator reads it.
    """
    screening = screen_bundle(evidence.bundle, evidence.verdict)
    investigation = investigator.investigate(
        evidence.bundle, evidence.verdict, comparison=evidence.comparison
    )
    decision = compose_decision(
        bundle=evidence.bundle,
        verdict=evidence.verdict,
        investigation=investigation,
        target_alias=target_alias,
        created_at=created_at,
        duration_ms=(time.perf_counter() - started) * 1000.0,
        decision_id=decision_id,
        screening=screening,
        comparison=evidence.comparison,
    )
    logger.info(
        "reviewed %s/%s for @%s: %s (%d checks, %.0f ms)",
        decision.model,
        decision.version,
        target_alias,
        decision.verdict,
        len(decision.checks),
        decision.duration_ms,
    )
    return decision
