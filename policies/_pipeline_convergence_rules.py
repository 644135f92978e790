"""The pipeline rule on training: `convergence` of the candidate's loss history."""

from __future__ import annotations

from typing import Any

from comparison import metric_history_ref
from comparison.unavailable import Unavailable
from policies._pipeline_rule_base import PipelineRuleBase
from policies._pipeline_schema import (
    ConvergenceRule,
)
from policies.result import CheckResult

__all__ = ["ConvergenceChecks"]


class ConvergenceChecks(PipelineRuleBase):
    """Did training converge? Judged on the candidate's metric history."""

    # convergence -------------------------------------------------------------------------------

    def convergence(self, rule: ConvergenceRule) -> CheckResult:
        id = f"convergence.{rule.metric}"
        if self.static:
            return self.check(
                id,
                "skip",
                "convergence needs a training run's metric history; none in a config review",
            )
        history = self.candidate.metric_histories.get(rule.metric, [])
        ref = metric_history_ref(self.candidate, rule.metric)
        how = (
            f"log the loss every epoch or iteration: mlflow.log_metric({rule.metric!r}, value, "
            "step=epoch)"
        )
        if not history:
            known = ", ".join(sorted(self.candidate.metric_histories)) or "none"
            return self.check(
                id,
                "error",
                f"{self.candidate.ref} has no metric history for {rule.metric!r} "
                f"(histories read: {known})",
                how_to_fix=how,
            )
        if self.facts is None:
            return self.check(
                id,
                "error",
                "convergence is judged on the review's comparison, and none was given",
                how_to_fix="evaluate the pipeline rules with evaluate_pipeline on the review's "
                "comparison",
            )
        result = self.facts.convergence(rule)
        if isinstance(result, Unavailable):
            return self.check(id, "error", result.reason, how_to_fix=how)
        details = result.model_dump(exclude={"message"})
        fields: dict[str, Any] = {
            "observed": result.last,
            "details": details,
            "evidence": [ref],
        }
        if result.state == "insufficient":
            return self.check(id, "error", result.message, how_to_fix=how, **fields)
        if result.state == "diverged":
            return self.check(
                id,
                rule.on_diverged,
                result.message,
                how_to_fix="lower the learning rate or fix the data; a diverged model is not a "
                "candidate",
                **fields,
            )
        if result.state == "still_falling":
            return self.check(
                id,
                rule.on_still_falling,
                result.message,
                threshold=rule.max_tail_improvement,
                how_to_fix="train longer (more epochs/estimators) or use early stopping on a "
                "validation loss",
                **fields,
            )
        return self.check(id, "pass", result.message, threshold=rule.max_tail_improvement, **fields)
