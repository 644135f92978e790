"""Pipeline rules on config keys: `require`, `forbid_changes` and `ranges`."""

from __future__ import annotations

from policies._pipeline_rule_base import PipelineRuleBase
from policies._pipeline_schema import (
    _HOW_TO_LOG_ENV,
    RangeRule,
)
from policies.result import CheckResult
from tools.pipeline_config import (
    ConfigValue,
    PipelineConfig,
    key_matches,
    numeric_value,
    value_text,
)
from tools.pipeline_diff import (
    CHANGE_CLASSES,
    classify_key,
)

__all__ = ["KeyChecks"]


class KeyChecks(PipelineRuleBase):
    """Keys that must be set, keys and change classes that must not change, value ranges."""

    # require -----------------------------------------------------------------------------------

    def required(self, config: PipelineConfig, pattern: str) -> list[ConfigValue]:
        """Values satisfying a `require` pattern: matching keys, and for a change-class name
        (``seed``) every key of that class (``model.random_state``)."""
        cls = pattern.removeprefix("class:")
        return [
            v
            for key, v in sorted(config.values.items())
            if v.format != "datasets"
            and not key.startswith("dependencies.")
            and (
                key_matches(pattern, key)
                or (cls in CHANGE_CLASSES and classify_key(key, self.rules.classes) == cls)
            )
        ]

    def require(self, pattern: str) -> CheckResult:
        id = f"require.{pattern}"
        config = self.candidate.config
        if not config.has_config:
            return self.missing_config(id, self.candidate, f"required key {pattern!r}")
        matches = self.required(config, pattern)
        if not matches:
            note = ""
            if self.baseline is not None:
                had = self.required(self.baseline.config, pattern)
                if had:
                    note = f"; the baseline {self.baseline.ref} had " + ", ".join(
                        f"{v.key}={value_text(v.value)} ({v.location})" for v in had
                    )
            return self.check(
                id,
                "fail",
                f"required key {pattern!r} is missing from {self.candidate.ref}'s pipeline config "
                f"({len(config.values)} keys read){note}",
                threshold=pattern,
                evidence=[f"version:{self.candidate.ref}/pipeline"],
                how_to_fix=f"set {pattern!r} in the pipeline config (or log it as a run param)",
            )
        empty = [v for v in matches if v.value in (None, "", [])]
        if len(empty) == len(matches):
            return self.check(
                id,
                "fail",
                f"required key {pattern!r} is present but empty: "
                + ", ".join(f"{v.key} at {v.location}" for v in empty),
                threshold=pattern,
                evidence=[v.ref for v in empty],
                how_to_fix=f"give {empty[0].key!r} a value",
            )
        found = [v for v in matches if v not in empty]
        return self.check(
            id,
            "pass",
            f"required key {pattern!r} is set: "
            + ", ".join(f"{v.key}={value_text(v.value)} ({v.location})" for v in found),
            observed=", ".join(f"{v.key}={value_text(v.value)}" for v in found),
            threshold=pattern,
            evidence=[v.ref for v in found],
        )

    # forbid_changes ----------------------------------------------------------------------------

    def forbid_change(self, pattern: str) -> CheckResult:
        id = f"forbid_changes.{pattern}"
        if self.baseline is None:
            return self._no_baseline(id, f"changes to {pattern!r}")
        about_deps = pattern.removeprefix("class:") == "dependency" or pattern.startswith(
            "dependencies"
        )
        # In a config review an absent old revision is a new file: every key is an addition.
        sides = (self.candidate,) if self.static else (self.candidate, self.baseline)
        for side in sides:
            has = side.config.has_config or (about_deps and side.config.has_dependencies)
            if not has:
                if about_deps:
                    return self.check(
                        id,
                        "error",
                        f"changes to {pattern!r} cannot be checked: {side.ref} has no "
                        "requirements.txt, conda.yaml or python_env.yaml on its logged model",
                        how_to_fix=_HOW_TO_LOG_ENV,
                    )
                return self.missing_config(id, side, f"changes to {pattern!r}")
        changes = self.diff.matching(pattern)
        kind = "class" if pattern.removeprefix("class:") in CHANGE_CLASSES else "keys"
        if changes:
            return self.check(
                id,
                "fail",
                f"forbidden change ({kind} {pattern!r}) from {self.baseline.ref} to "
                f"{self.candidate.ref}: " + "; ".join(c.explain() for c in changes),
                observed=f"{len(changes)} change(s)",
                threshold=pattern,
                details={"changes": [c.as_data() for c in changes]},
                evidence=[r for c in changes for r in c.refs],
                how_to_fix="revert the change, or have the policy owners allow it",
            )
        return self.check(
            id,
            "pass",
            f"no change to {pattern!r} between {self.baseline.ref} and {self.candidate.ref}",
            observed="0 changes",
            threshold=pattern,
        )

    # ranges ------------------------------------------------------------------------------------

    def range(self, pattern: str, rule: RangeRule) -> CheckResult:
        id = f"ranges.{pattern}"
        bounds = " and ".join(
            part
            for part in (
                f">= {rule.min}" if rule.min is not None else "",
                f"<= {rule.max}" if rule.max is not None else "",
            )
            if part
        )
        config = self.candidate.config
        if not config.has_config:
            return self.missing_config(id, self.candidate, f"the range of {pattern!r}")
        matches = [v for v in config.matching(pattern) if v.format != "datasets"]
        if not matches:
            return self.check(
                id,
                "skip",
                f"no key matches {pattern!r} in {self.candidate.ref}'s pipeline config; add it to "
                "`require` to make it mandatory",
                threshold=bounds,
            )
        bad: list[str] = []
        unreadable: list[str] = []
        for v in matches:
            number = numeric_value(v.value)
            if number is None:
                unreadable.append(f"{v.key}={value_text(v.value)!r} ({v.location})")
            elif (rule.low is not None and number < rule.low) or (
                rule.high is not None and number > rule.high
            ):
                bad.append(f"{v.key}={value_text(v.value)} ({v.location})")
        shown = ", ".join(f"{v.key}={value_text(v.value)}" for v in matches)
        refs = [v.ref for v in matches]
        if bad:
            return self.check(
                id,
                "fail",
                f"{', '.join(bad)} outside the allowed range {bounds}",
                observed=shown,
                threshold=bounds,
                evidence=refs,
                how_to_fix=f"set {pattern!r} within {bounds}",
            )
        if unreadable:
            return self.check(
                id,
                "error",
                f"{', '.join(unreadable)} is not a number or duration; cannot check {bounds}",
                observed=shown,
                threshold=bounds,
                evidence=refs,
                how_to_fix="use a number, a percentage (20%) or a duration (90d, 12w, 6mo, 1y)",
            )
        return self.check(
            id, "pass", f"{shown} within {bounds}", observed=shown, threshold=bounds, evidence=refs
        )
