"""Pipeline rules, evaluated by `policies.pipeline_rules` on the comparison."""

from __future__ import annotations

import logging

from policies._rule_base import RunBase
from policies.pipeline_rules import evaluate_pipeline
from policies.result import (
    CheckResult,
)

__all__ = ["PipelineChecks"]

logger = logging.getLogger("promogate.policies")


class PipelineChecks(RunBase):
    """Pipeline rules, evaluated by `policies.pipeline_rules` on the comparison."""

    # pipeline ----------------------------------------------------------------------------------

    def _pipeline_checks(self) -> list[CheckResult]:
        rules = self.policy.pipeline
        if rules is None:
            return []
        try:
            return evaluate_pipeline(self.policy.name, rules, self.view.facts)
        except Exception as exc:  # noqa: BLE001 - any failure of the rules is recorded as an error
            logger.warning("pipeline rules of %s raised %s", self.policy.name, type(exc).__name__)
            return [
                self.check(
                    "pipeline",
                    "pipeline",
                    "error",
                    f"the pipeline rules could not be evaluated: {type(exc).__name__}: {exc}",
                )
            ]
