"""What every pipeline rule family shares: the evidence of both sides, the config diff, the
check constructor and the checks of unreadable config files."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from comparison.comparison import Comparison
from comparison.pipeline import PipelineEvidence
from policies._pipeline_schema import (
    HOW_TO_LOG_PIPELINE,
    PipelineRules,
)
from policies.result import CheckResult, CheckStatus
from tools.pipeline_config import (
    ConfigValue,
    PipelineConfig,
    key_matches,
)
from tools.pipeline_diff import (
    ChangeClass,
    PipelineDiff,
    classify_key,
    diff_pipeline_configs,
)

__all__ = ["PipelineRuleBase", "values_matching"]


class PipelineRuleBase:
    """Builds the pipeline checks of one policy over candidate/baseline pipeline evidence."""

    def __init__(
        self,
        policy: str,
        rules: PipelineRules,
        candidate: PipelineEvidence,
        baseline: PipelineEvidence | None,
        static: bool,
        facts: Comparison | None = None,
    ) -> None:
        self.policy = policy
        self.rules = rules
        self.candidate = candidate
        self.baseline = baseline
        self.static = static
        self.facts = facts
        self._diff: PipelineDiff | None = None

    @property
    def diff(self) -> PipelineDiff:
        if self._diff is None:
            assert self.baseline is not None
            self._diff = diff_pipeline_configs(
                self.baseline.config, self.candidate.config, extra_patterns=self.rules.classes
            )
        return self._diff

    def check(self, id: str, status: CheckStatus, message: str, **fields: Any) -> CheckResult:
        return CheckResult(
            id=f"pipeline.{id}",
            policy=self.policy,
            kind="pipeline",
            status=status,
            message=message,
            **fields,
        )

    # missing evidence ---------------------------------------------------------------------------

    def _why_missing(self, side: PipelineEvidence) -> str:
        if side.config.problems:
            parts = [f"no readable pipeline config for {side.ref}"]
            parts += [f"{p.location}: {p.message}" for p in side.config.problems]
        else:
            parts = [
                f"no readable pipeline config for {side.ref} (no config file under pipeline/, "
                "params.yaml, dvc.yaml or MLproject, and no run params)"
            ]
        parts += side.gaps
        return "; ".join(parts)

    def missing_config(self, id: str, side: PipelineEvidence, needed_for: str) -> CheckResult:
        return self.check(
            id,
            "error",
            f"{needed_for} cannot be checked: {self._why_missing(side)}",
            evidence=[f"version:{side.ref}/artifacts"],
            details={"problems": [p.model_dump() for p in side.config.problems]},
            how_to_fix=HOW_TO_LOG_PIPELINE,
        )

    def problem_checks(self) -> list[CheckResult]:
        sides = [("", self.candidate)]
        diff_rules = (
            self.rules.forbid_changes
            or self.rules.evaluation_set_changed != "off"
            or (self.rules.dependencies is not None and self.rules.dependencies.forbid_changes)
        )
        if self.baseline is not None and diff_rules:
            sides.append(("baseline.", self.baseline))
        out: list[CheckResult] = []
        for prefix, side in sides:
            for problem in side.config.problems:
                # A broken file blocks only where a rule reads config; otherwise it is a warning.
                status: CheckStatus = "error" if self.rules.needs_config or prefix else "warn"
                if problem.origin == "logged_model" and self.rules.dependencies is None:
                    status = "warn"
                out.append(
                    self.check(
                        f"config.{prefix}{problem.source}",
                        status,
                        f"{side.ref}: {problem.location}: {problem.message}",
                        evidence=[problem.ref],
                        details={
                            "kind": problem.kind,
                            "file": problem.source,
                            "line": problem.line,
                        },
                        how_to_fix=f"fix {problem.source!r} and log it again",
                    )
                )
        return out

    def _no_baseline(self, id: str, what: str) -> CheckResult:
        return self.check(
            id, "skip", f"{what}: there is no baseline to compare with (first version)"
        )

    def diff_class(self, key: str) -> ChangeClass:
        return classify_key(key, self.rules.classes)


def values_matching(
    config: PipelineConfig, patterns: Iterable[str], exclude: Iterable[str] = ()
) -> list[ConfigValue]:
    excluded = tuple(exclude)
    return [
        v
        for key, v in sorted(config.values.items())
        if v.format != "datasets"
        and any(key_matches(p, key) for p in patterns)
        and not any(key_matches(p, key) for p in excluded)
        and isinstance(v.value, str)
    ]
