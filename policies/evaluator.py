"""Evaluate policies against an evidence bundle: pure, deterministic, fail-closed.

Every check yields `pass | fail | warn | error | skip` with the numbers behind it. Evidence a policy
needs that is missing is `error`, never `pass`. No matching policy blocks; several matching policies
all apply and the strictest verdict wins.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fnmatch import fnmatchcase

from comparison import (
    Comparison,
)
from policies._comparability_rules import ComparabilityChecks
from policies._eval_rules import EvalChecks
from policies._evidence_rules import EvidenceChecks
from policies._metric_rules import MetricChecks
from policies._pipeline_checks import PipelineChecks
from policies._rule_base import DENY_BY_DEFAULT, _BundleView
from policies._segment_rules import SegmentChecks
from policies.loader import LoadedPolicy
from policies.plausibility_rules import PlausibilityChecks, escalating
from policies.result import (
    CheckResult,
    PolicyOutcome,
    PolicyVerdict,
    Verdict,
    strictest,
)
from policies.schema import Policy
from policies.security_checks import security_checks
from policies.selector import match_mismatches, select_policies
from tools.evidence import EvidenceBundle

__all__ = [
    "DENY_BY_DEFAULT",
    "evaluate_policies",
    "evaluate_policy",
    "is_overridable",
    "run_significance_tests",
]

logger = logging.getLogger("promogate.policies")


def is_overridable(check_id: str, never: Sequence[str]) -> bool:
    """False when a check id matches one of a policy's `overrides.never` globs.

    A glob also covers the ids below it: `evals.pii-leakage` covers
    `evals.pii-leakage.max_failures`.

    Args:
        check_id: The check's id.
        never: The policy's `overrides.never` globs.
    """
    return not any(
        fnmatchcase(check_id, glob) or fnmatchcase(check_id, glob + ".*") for glob in never
    )


class _PolicyRun(
    EvidenceChecks,
    MetricChecks,
    SegmentChecks,
    ComparabilityChecks,
    PipelineChecks,
    EvalChecks,
    PlausibilityChecks,
):
    """The checks of one policy against one bundle: every rule family, in the policy's order."""

    def run(self) -> list[CheckResult]:
        checks: list[CheckResult] = []
        if self._has_regression_rules():
            checks.append(self._baseline_check())
        checks += self._evidence_checks()
        for rule in self.policy.metrics:
            checks += self._metric_checks(rule)
        for segment_rule in self.policy.segments:
            checks += self._segment_checks(segment_rule)
        checks += self._comparability_checks()
        checks += self._pipeline_checks()
        for eval_rule in self.policy.evals:
            checks += self._eval_checks(eval_rule)
        checks += security_checks(self.policy, self.candidate)
        checks += self._plausibility_checks()
        never = self.policy.overrides.never
        return [
            c if is_overridable(c.id, never) else c.model_copy(update={"overridable": False})
            for c in checks
        ]

    def significance_tests(self) -> None:
        """Only the rule families that may run a paired bootstrap (metrics, segments), in the
        policy's order; their checks are dropped."""
        for rule in self.policy.metrics:
            self._metric_checks(rule)
        for segment_rule in self.policy.segments:
            self._segment_checks(segment_rule)


def _policy_verdict(policy: Policy, checks: Sequence[CheckResult]) -> Verdict:
    if policy.mode == "audit":
        return "approve"
    if any(c.status == "fail" for c in checks):
        return "block"
    if any(c.status == "error" for c in checks):
        return "block" if policy.on_error == "block" else "escalate"
    if any(escalating(c) for c in checks):
        return "escalate"
    return "approve"


def evaluate_policy(loaded: LoadedPolicy, evidence: EvidenceBundle | Comparison) -> PolicyOutcome:
    """Evaluate one policy against a bundle, whether or not its `match` selects the candidate.

    Args:
        loaded: The policy.
        evidence: The review's comparison, or the candidate's and baseline's evidence.
    """
    return _evaluate(loaded, _BundleView(Comparison.of(evidence)))


def run_significance_tests(policies: Sequence[LoadedPolicy], bundle: EvidenceBundle) -> None:
    """Run the paired bootstraps that the metric and segment rules of the policies matching the
    candidate ask for on `bundle`, and drop the checks: only the bootstraps' results are kept,
    by their inputs (`tools.significance.BOOTSTRAP_CACHE`), so the evaluation that follows on
    the same tables finds them and decides exactly as it would have.

    For a caller with a core to spare before it can evaluate: the gate, while the reader process
    still parses the model files the plausibility questions need (the bundle is then complete
    but for the importances and the artifact scan, which these rules do not read).

    Args:
        policies: Every loaded policy; selection happens here, as in `evaluate_policies`.
        bundle: The candidate's and the baseline's evidence gathered so far.
    """
    view = _BundleView(Comparison(bundle))
    for loaded in select_policies(policies, bundle.candidate, bundle.target_alias):
        _PolicyRun(loaded, view).significance_tests()


def _evaluate(loaded: LoadedPolicy, view: _BundleView) -> PolicyOutcome:
    policy = loaded.policy
    checks = _PolicyRun(loaded, view).run()
    verdict = _policy_verdict(policy, checks)
    logger.debug("policy %s: %s (%d checks)", policy.name, verdict, len(checks))
    return PolicyOutcome(
        policy=loaded.ref,
        mode=policy.mode,
        verdict=verdict,
        checks=checks,
        agent_may_approve=policy.agent.may_approve,
        agent_may_block=policy.agent.may_block,
        on_error=policy.on_error,
        untrusted_text=policy.agent.untrusted_text,
    )


def _deny_by_default(policies: Sequence[LoadedPolicy], bundle: EvidenceBundle) -> PolicyVerdict:
    c = bundle.candidate
    why = {p.name: match_mismatches(p.policy.match, c, bundle.target_alias) for p in policies}
    message = (
        f"no policy matches {c.ref} for promotion to @{bundle.target_alias} "
        f"({len(policies)} policies considered); versions without a policy are blocked"
    )
    check = CheckResult(
        id="match",
        policy=DENY_BY_DEFAULT.name,
        kind="match",
        status="fail",
        message=message,
        observed=c.ref,
        threshold=f"@{bundle.target_alias}",
        details={"not_matched": why},
        evidence=[f"registry:{c.ref}"],
        how_to_fix=f"add a policy whose match section covers model {c.model!r}, version "
        f"{c.version} and target alias {bundle.target_alias!r}",
        overridable=False,
    )
    outcome = PolicyOutcome(
        policy=DENY_BY_DEFAULT,
        mode="enforce",
        verdict="block",
        checks=[check],
        agent_may_approve=False,
        agent_may_block=True,
    )
    return PolicyVerdict(verdict="block", outcomes=[outcome], reasons=[message])


def _reasons(outcomes: Sequence[PolicyOutcome]) -> list[str]:
    reasons: list[str] = []
    for outcome in outcomes:
        name = f"{outcome.policy.name}@{outcome.policy.revision}"
        bad = [c for c in outcome.checks if c.status in ("fail", "error") or escalating(c)]
        if outcome.mode == "audit":
            reasons += [
                f"{name} (audit only, not enforced): {c.id} {c.status}: {c.message}" for c in bad
            ]
        else:
            reasons += [f"{name}: {c.id} {c.status}: {c.message}" for c in bad]
    return reasons


def evaluate_policies(
    policies: Sequence[LoadedPolicy], evidence: EvidenceBundle | Comparison
) -> PolicyVerdict:
    """Select the policies that match the candidate and evaluate them all; the strictest wins.

    Pure and deterministic: the same policies and bundle always give the same verdict. No matching
    policy blocks, with a failed `match` check that says why each policy did not match.

    Args:
        policies: Every loaded policy; selection happens here.
        evidence: The review's comparison (its facts are computed once and shared with the
            investigator), or the bundle of the candidate's and baseline's evidence.
    """
    facts = Comparison.of(evidence)
    bundle = facts.bundle
    selected = select_policies(policies, bundle.candidate, bundle.target_alias)
    if not selected:
        logger.info("no policy matches %s -> @%s", bundle.candidate.ref, bundle.target_alias)
        return _deny_by_default(policies, bundle)
    view = _BundleView(facts)
    outcomes = [_evaluate(p, view) for p in selected]
    verdict = strictest([o.verdict for o in outcomes])
    logger.info(
        "policies %s on %s: %s",
        ",".join(o.policy.name for o in outcomes),
        bundle.candidate.ref,
        verdict,
    )
    return PolicyVerdict(verdict=verdict, outcomes=outcomes, reasons=_reasons(outcomes))
