"""The review: resolve, gather evidence, evaluate policies, investigate, decide.

The verdict is computed here, by code, from the policy verdict; the investigator (offline or an LLM)
may add blockers or escalate, never clear a failed or errored check. Any error on the way blocks,
with the reason recorded in the decision.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from importlib import metadata
from typing import TYPE_CHECKING

from agents.decision import Decision, Finding
from agents.investigation import Investigation, Investigator
from agents.untrusted import Screening, screen_bundle, untrusted_text_check
from policies.evaluator import evaluate_policies
from policies.loader import LoadedPolicy
from policies.result import PolicyRef, PolicyVerdict, Verdict
from tools.collector import collect_bundle
from tools.errors import BackendUnavailableError, ToolError
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "EvaluatedEvidence",
    "ReviewOutcome",
    "compose_decision",
    "decide",
    "error_decision",
    "gather_evidence",
    "history_keys_for",
    "review_version",
    "version_hint",
]

logger = logging.getLogger("promogate.agents")


def _now() -> datetime:
    return datetime.now(UTC)


def _package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in ("promogate", "mlflow", "langchain", "scikit-learn"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return versions


def history_keys_for(policies: Sequence[LoadedPolicy], model: str) -> list[str]:
    """Metric histories that policies which may apply to `model` judge (convergence rules).

    Loss-like histories the run has are read anyway, and the investigator reads others through
    tools; asking for more would report absent histories as gaps.
    """
    keys = {
        loaded.policy.pipeline.convergence.metric
        for loaded in policies
        if fnmatchcase(model, loaded.policy.match.model)
        and loaded.policy.pipeline is not None
        and loaded.policy.pipeline.convergence is not None
    }
    return sorted(keys)


class ReviewOutcome:
    """A decision together with the evidence it was made on (None when gathering failed)."""

    __slots__ = ("bundle", "decision")

    def __init__(self, decision: Decision, bundle: EvidenceBundle | None) -> None:
        self.decision = decision
        self.bundle = bundle


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
) -> Decision:
    """Bound the investigator by the policy verdict and build the Decision.

    Rules: a policy block stays a block; the investigator's blockers block only where every
    applied policy lets the agent block, and otherwise escalate; an investigator recommending
    escalation turns an approval into an escalation; an LLM investigator that failed (the offline
    one finished for it) makes an approval an error, which blocks unless every applied policy
    says `on_error: escalate`; a policy that forbids agent approval turns a clean review into an
    escalation to a human.
    """
    final: Verdict = verdict.verdict
    reasons = list(verdict.reasons) or [
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
        policies=[o.policy for o in verdict.outcomes],
        investigator=investigation.investigator,
        usage=investigation.usage,
        error=error,
        versions=_package_versions(),
        created_at=created_at,
        duration_ms=duration_ms,
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
        versions=_package_versions(),
        created_at=created_at,
        duration_ms=duration_ms,
    )


def version_hint(ref: str | int) -> int | None:
    """The version number in `ref`, or None for an alias."""
    text = str(ref)
    return int(text) if text.isdigit() else None


@dataclass(frozen=True)
class EvaluatedEvidence:
    """A version's evidence and the policies' verdict on it: all a decision needs but judgement."""

    bundle: EvidenceBundle
    policies: list[LoadedPolicy]
    verdict: PolicyVerdict

    @property
    def policy_refs(self) -> list[PolicyRef]:
        """Revision and hash of every policy the verdict applied (deny-by-default included)."""
        return [o.policy for o in self.verdict.outcomes]


def gather_evidence(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policies: Sequence[LoadedPolicy],
    target_alias: str = "champion",
    baseline_alias: str | None = "champion",
    timeout_s: float = 30.0,
) -> EvaluatedEvidence:
    """Resolve the candidate and baseline, gather their evidence and evaluate the policies.

    Raises:
        ToolError: The model, version or alias is unknown, or MLflow failed or timed out while
            the evidence was read (a policy that does not need the unreadable source would
            otherwise approve without it, so nothing is decided on such evidence).
    """
    bundle = collect_bundle(
        client,
        model,
        ref,
        baseline_alias=baseline_alias,
        target_alias=target_alias,
        history_keys=history_keys_for(policies, model),
        timeout_s=timeout_s,
    )
    failed = bundle.unavailable_gaps()
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise BackendUnavailableError(
            "MLflow failed while the evidence was read, so nothing is decided on it: "
            f"{failed[0].source}: {failed[0].message}{more}"
        )
    return EvaluatedEvidence(bundle, list(policies), evaluate_policies(policies, bundle))


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
    investigation = investigator.investigate(evidence.bundle, evidence.verdict)
    decision = compose_decision(
        bundle=evidence.bundle,
        verdict=evidence.verdict,
        investigation=investigation,
        target_alias=target_alias,
        created_at=created_at,
        duration_ms=(time.perf_counter() - started) * 1000.0,
        decision_id=decision_id,
        screening=screening,
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


def review_version(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policies: Sequence[LoadedPolicy],
    investigator: Investigator,
    target_alias: str = "champion",
    baseline_alias: str | None = "champion",
    timeout_s: float = 30.0,
    clock: Callable[[], datetime] = _now,
    decision_id: str | None = None,
) -> ReviewOutcome:
    """Review `model` at `ref` (a version number or `@alias`) for promotion to `target_alias`.

    Args:
        client: MLflow client for the tracking server and registry holding the model.
        model: Registered model name.
        ref: Version number, or `@alias`.
        policies: The trusted policy set; those matching the candidate apply.
        investigator: Offline or LLM investigator.
        target_alias: The alias the promotion would move.
        baseline_alias: Alias of the version to compare against; None for no baseline.
        timeout_s: Bound on each evidence source.
        clock: Source of the decision time.
        decision_id: The id the decision gets; a new one if None.

    Returns:
        The decision and the evidence bundle it was made on. Errors never raise: they yield a
        blocking decision that records the reason.
    """
    started = time.perf_counter()
    created_at = clock()
    try:
        evidence = gather_evidence(
            client,
            model,
            ref,
            policies=policies,
            target_alias=target_alias,
            baseline_alias=baseline_alias,
            timeout_s=timeout_s,
        )
    except ToolError as exc:
        logger.warning("review of %s@%s blocked: %s", model, ref, exc)
        decision = error_decision(
            model=model,
            version=version_hint(ref),
            target_alias=target_alias,
            error=str(exc),
            created_at=created_at,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            decision_id=decision_id,
        )
        return ReviewOutcome(decision, None)
    decision = decide(
        evidence,
        investigator=investigator,
        target_alias=target_alias,
        created_at=created_at,
        started=started,
        decision_id=decision_id,
    )
    return ReviewOutcome(decision, evidence.bundle)
