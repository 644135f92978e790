"""The ``pipeline:`` section of a policy and its checks.

Rules read the flat view of the candidate's pipeline config (`tools.pipeline_config`), its diff
against the baseline (`tools.pipeline_diff`), the candidate's dataset inputs and its loss history::

    pipeline:
      require: [seed]                          # keys that must exist (globs; `seed` = any *seed,
                                               # and any key of the seed class: random_state)
      forbid_changes: [data.source, "features.pii_*", data_window]   # key globs or change classes
      ranges: {data.window: {min: 180d}, train.learning_rate: {max: 0.3}}
      min_eval_fraction: 0.15
      train_eval_overlap: forbid               # forbid | warn | off (true/false accepted)
      dependencies: {require_pinned: true, forbid_changes: false}
      convergence: {metric: train_loss}
      evaluation_set_changed: warn             # forbid | warn | off
      classes: {data_window: ["*.lookback_days"]}   # extra change-class patterns

Every rule yields `pass`, `fail` (or `warn` where the rule says so) and `error` when the evidence it
needs is missing or unreadable. A config that is missing entirely is an `error` only for rules that
read it; with none of those, a single `skip` check says so. Check ids: ``pipeline.require.seed``,
``pipeline.forbid_changes.data.source``, ``pipeline.ranges.data.window``,
``pipeline.min_eval_fraction``, ``pipeline.train_eval_overlap``,
``pipeline.dependencies.require_pinned``, ``pipeline.dependencies.forbid_changes``,
``pipeline.convergence.train_loss``, ``pipeline.evaluation_set_changed``, and
``pipeline.config.<file>`` for a file that cannot be read.
"""

from __future__ import annotations

import logging

from comparison.comparison import Comparison
from comparison.convergence import (
    ConvergenceAssessment,
    ConvergenceState,
    assess_convergence,
)
from comparison.pipeline import PipelineEvidence, pipeline_evidence
from comparison.unavailable import Unavailable
from policies._pipeline_convergence_rules import ConvergenceChecks
from policies._pipeline_data_rules import DataChecks
from policies._pipeline_dependency_rules import DependencyChecks, is_pinned
from policies._pipeline_key_rules import KeyChecks
from policies._pipeline_schema import (
    DEFAULT_EVAL_FRACTION_KEYS,
    DEFAULT_TRAIN_FRACTION_KEYS,
    HOW_TO_LOG_PIPELINE,
    ConvergenceRule,
    DependencyRules,
    PipelineRules,
    RangeRule,
    RuleMode,
)
from policies.result import CheckResult
from tools.evidence import EvidenceBundle

__all__ = [
    "DEFAULT_EVAL_FRACTION_KEYS",
    "DEFAULT_TRAIN_FRACTION_KEYS",
    "HOW_TO_LOG_PIPELINE",
    "ConvergenceAssessment",
    "ConvergenceRule",
    "ConvergenceState",
    "DependencyRules",
    "PipelineEvidence",
    "PipelineRules",
    "RangeRule",
    "RuleMode",
    "assess_convergence",
    "evaluate_pipeline",
    "evaluate_pipeline_evidence",
    "is_pinned",
    "pipeline_evidence",
]


logger = logging.getLogger("promogate.policies")


class _Checks(KeyChecks, DataChecks, DependencyChecks, ConvergenceChecks):
    """Builds the pipeline checks of one policy over candidate/baseline pipeline evidence."""

    # all ---------------------------------------------------------------------------------------

    def run(self) -> list[CheckResult]:
        rules = self.rules
        if rules.is_empty:
            return []
        checks = self.problem_checks()
        if not rules.needs_config and not self.candidate.config.has_config and not self.static:
            checks.append(
                self.check(
                    "config",
                    "skip",
                    f"no pipeline config was logged for {self.candidate.ref}; no rule of this "
                    "policy reads one",
                )
            )
        checks += [self.require(p) for p in rules.require]
        checks += [self.forbid_change(p) for p in rules.forbid_changes]
        checks += [self.range(p, r) for p, r in rules.ranges.items()]
        if rules.min_eval_fraction is not None:
            checks.append(self.min_eval_fraction(rules.min_eval_fraction))
        if rules.train_eval_overlap != "off":
            checks.append(self.train_eval_overlap(rules.train_eval_overlap))
        if rules.dependencies is not None:
            if rules.dependencies.require_pinned:
                checks.append(self.require_pinned(rules.dependencies))
            if rules.dependencies.forbid_changes:
                checks.append(self.dependency_changes())
        if rules.convergence is not None:
            checks.append(self.convergence(rules.convergence))
        if rules.evaluation_set_changed != "off":
            checks.append(self.evaluation_set(rules.evaluation_set_changed))
        return checks


def evaluate_pipeline_evidence(
    policy: str,
    rules: PipelineRules,
    candidate: PipelineEvidence,
    baseline: PipelineEvidence | None,
    *,
    static: bool = False,
    facts: Comparison | None = None,
) -> list[CheckResult]:
    """Evaluate `rules` on already loaded pipeline evidence (shared by reviews and config reviews).

    Args:
        policy: The policy's name, recorded on every check.
        rules: The policy's ``pipeline:`` section.
        candidate: The candidate's (or the new file's) pipeline evidence.
        baseline: The baseline's (or the old file's); None for a first version.
        static: True for a config review before training: rules that need a run (convergence)
            are skipped with a reason.
        facts: The review's comparison, whose facts (convergence) the rules read; None in a
            config review, which has no run.
    """
    return _Checks(policy, rules, candidate, baseline, static, facts).run()


def evaluate_pipeline(
    policy: str, rules: PipelineRules, evidence: EvidenceBundle | Comparison
) -> list[CheckResult]:
    """Evaluate `rules` against the pipeline configs, params, datasets and loss histories.

    Args:
        policy: The policy's name, recorded on every check.
        rules: The policy's ``pipeline:`` section.
        evidence: The review's comparison (pipeline evidence is read once per review), or the
            candidate's and the baseline's evidence.
    """
    if rules.is_empty:
        return []
    facts = Comparison.of(evidence)
    candidate = facts.pipeline("candidate")
    assert not isinstance(candidate, Unavailable)  # the candidate always exists
    found = facts.pipeline("baseline")
    baseline = None if isinstance(found, Unavailable) else found
    checks = evaluate_pipeline_evidence(policy, rules, candidate, baseline, facts=facts)
    logger.debug("pipeline rules of %s: %d checks", policy, len(checks))
    return checks
