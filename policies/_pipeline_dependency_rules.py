"""Pipeline rules on the logged model's dependencies: `require_pinned` and `forbid_changes`."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement

from policies._pipeline_rule_base import PipelineRuleBase
from policies._pipeline_schema import (
    _HOW_TO_LOG_ENV,
    DependencyRules,
)
from policies.result import CheckResult
from tools.pipeline_config import (
    ConfigValue,
    value_text,
)

__all__ = ["DependencyChecks", "is_pinned"]


def is_pinned(value: ConfigValue) -> bool:
    """Whether a dependency value pins one exact version.

    pip: a single ``==`` (no wildcard) or ``===`` specifier, or a direct URL with a commit or hash.
    conda: ``name=1.2.3``, ``name==1.2.3`` or ``name 1.2.3`` without wildcards or ranges.

    Args:
        value: A ``dependencies.pip.*`` or ``dependencies.conda.*`` value of the flat view.
    """
    text = value_text(value.value)
    if value.key.startswith("dependencies.conda."):
        rest = text.split("::")[-1]
        for i, ch in enumerate(rest):
            if ch in "=<>!~ ":
                version = rest[i:].strip()
                break
        else:
            return False
        if any(op in version for op in ("<", ">", "!", "~", "*", "|", ",")):
            return False
        return version.lstrip("= ").strip() != ""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return False
    if req.url:
        return "#sha256=" in req.url or any(
            len(part) == 40 and all(c in "0123456789abcdef" for c in part)
            for part in req.url.replace("#", "@").split("@")
        )
    specs = list(req.specifier)
    return len(specs) == 1 and (
        specs[0].operator == "===" or (specs[0].operator == "==" and "*" not in specs[0].version)
    )


class DependencyChecks(PipelineRuleBase):
    """Pinned dependencies, and no dependency change from the baseline."""

    # dependencies ------------------------------------------------------------------------------

    def require_pinned(self, rules: DependencyRules) -> CheckResult:
        id = "dependencies.require_pinned"
        config = self.candidate.config
        if not config.has_dependencies:
            return self.check(
                id,
                "error",
                f"{self.candidate.ref} has no requirements.txt, conda.yaml or python_env.yaml on "
                "its logged model, so its dependencies cannot be checked",
                evidence=[f"version:{self.candidate.ref}/artifacts"],
                how_to_fix=_HOW_TO_LOG_ENV,
            )
        ignored = {name.lower() for name in rules.ignore}
        deps = [
            v
            for key, v in sorted(config.values.items())
            if key.startswith(("dependencies.pip.", "dependencies.conda."))
            and key.rsplit(".", 1)[-1] not in ignored
        ]
        unpinned = [v for v in deps if not is_pinned(v)]
        if unpinned:
            return self.check(
                id,
                "fail",
                f"{len(unpinned)} of {len(deps)} dependencies of {self.candidate.ref} are not "
                "pinned to one version: "
                + ", ".join(f"{value_text(v.value)} ({v.location})" for v in unpinned),
                observed=len(unpinned),
                threshold=0,
                details={"unpinned": [value_text(v.value) for v in unpinned]},
                evidence=[v.ref for v in unpinned],
                how_to_fix="pin each requirement with ==, e.g. pip_requirements="
                "['scikit-learn==1.5.2'] in log_model",
            )
        return self.check(
            id,
            "pass",
            f"all {len(deps)} dependencies of {self.candidate.ref} are pinned",
            observed=0,
            threshold=0,
            evidence=sorted({f"{v.ref.rsplit(':', 1)[0]}" for v in deps}),
        )

    def dependency_changes(self) -> CheckResult:
        id = "dependencies.forbid_changes"
        if self.baseline is None:
            return self._no_baseline(id, "dependency changes")
        sides = (self.candidate,) if self.static else (self.candidate, self.baseline)
        for side in sides:
            if not side.config.has_dependencies:
                return self.check(
                    id,
                    "error",
                    f"dependency changes cannot be checked: {side.ref} has no requirements.txt, "
                    "conda.yaml or python_env.yaml on its logged model",
                    how_to_fix=_HOW_TO_LOG_ENV,
                )
        changes = [c for c in self.diff.changes if c.key.startswith("dependencies.")]
        if changes:
            return self.check(
                id,
                "fail",
                f"the dependencies changed from {self.baseline.ref} to {self.candidate.ref}: "
                + "; ".join(f"{c.describe()} ({c.location})" for c in changes),
                observed=f"{len(changes)} change(s)",
                details={"changes": [c.as_data() for c in changes]},
                evidence=[r for c in changes for r in c.refs],
                how_to_fix="keep the champion's dependencies, or have the policy owners allow "
                "the upgrade",
            )
        return self.check(
            id,
            "pass",
            f"the dependencies of {self.candidate.ref} match {self.baseline.ref}",
            observed="0 changes",
        )
