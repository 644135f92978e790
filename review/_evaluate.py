"""Evaluate: the trusted policies applied to the gathered evidence, through the review's one
comparison (whose facts the investigator reads next)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from comparison import Comparison
from policies.evaluator import evaluate_policies
from policies.loader import LoadedPolicy
from policies.result import PolicyRef, PolicyVerdict
from tools.evidence import EvidenceBundle

__all__ = ["EvaluatedEvidence", "evaluate_evidence"]


@dataclass(frozen=True)
class EvaluatedEvidence:
    """A version's evidence and the policies' verdict on it: all a decision needs but judgement.

    `comparison` holds the facts the policies computed; the investigator reads the same ones.
    """

    bundle: EvidenceBundle
    policies: list[LoadedPolicy]
    verdict: PolicyVerdict
    comparison: Comparison = field(compare=False, repr=False)

    @property
    def policy_refs(self) -> list[PolicyRef]:
        """Revision and hash of every policy the verdict applied (deny-by-default included)."""
        return [o.policy for o in self.verdict.outcomes]


def evaluate_evidence(
    bundle: EvidenceBundle, policies: Sequence[LoadedPolicy]
) -> EvaluatedEvidence:
    """Evaluate the trusted `policies` that select the candidate on `bundle`."""
    facts = Comparison(bundle)
    return EvaluatedEvidence(bundle, list(policies), evaluate_policies(policies, facts), facts)
