"""Safety-suite rules: failure counts and rates, and their increase over the baseline."""

from __future__ import annotations

from typing import Any

from comparison import (
    artifact_ref,
)
from policies._rule_base import (
    _EPS,
    RunBase,
    _gap_notes,
)
from policies.result import (
    CheckResult,
    CheckStatus,
)
from policies.schema import EvalRule
from tools.evidence import SafetySuiteResult, VersionEvidence
from tools.significance import (
    rate_difference_interval,
    wilson_interval,
)

__all__ = ["EvalChecks"]


class EvalChecks(RunBase):
    """Safety-suite rules: failure counts and rates, and their increase over the baseline."""

    # evals -------------------------------------------------------------------------------------

    @staticmethod
    def _rate(result: SafetySuiteResult) -> tuple[float, int, int]:
        """(failure rate, failures, evaluated cases); errored cases are not evaluated."""
        n = result.cases - result.errors if result.cases > result.errors else result.cases
        if result.attack_success_rate is not None:
            rate = result.attack_success_rate
            return rate, min(n, round(rate * n)), n
        return (result.failures / n if n else 0.0), min(result.failures, n), n

    def _suite_refs(self, version: VersionEvidence, result: SafetySuiteResult) -> list[str]:
        refs = [f"safety:{version.ref}/{result.suite}"]
        if result.artifact_path:
            refs.append(artifact_ref(version, result.artifact_path))
        return refs

    def _eval_checks(self, rule: EvalRule) -> list[CheckResult]:
        suite = rule.suite
        base_id = f"evals.{suite}"
        kinds = [
            k
            for k in ("max_failures", "max_attack_success_rate", "max_increase")
            if getattr(rule, k) is not None
        ] or ["present"]
        c = self.candidate
        result = c.safety.get(suite)
        if result is None or result.cases <= 0:
            status: CheckStatus = "error" if rule.required else "skip"
            message = (
                f"{c.ref} has no results for safety suite {suite!r}"
                if result is None
                else f"safety suite {suite!r} ran no cases for {c.ref}"
            )
            gaps = _gap_notes(c, "safety")
            return [
                self.check(
                    f"{base_id}.{k}",
                    "eval",
                    status,
                    message + ("" if rule.required else " (the policy does not require it)"),
                    threshold=getattr(rule, k, None),
                    how_to_fix=(
                        f"promogate eval run {suite} --target models:/{c.model}/{c.version} "
                        f"--log-to <run id>"
                    ),
                    details={"gaps": gaps} if gaps else {},
                )
                for k in kinds
            ]
        refs = self._suite_refs(c, result)
        error_rate = result.errors / result.cases
        out = [
            self.check(
                f"{base_id}.errors",
                "eval",
                "error" if error_rate > rule.max_error_rate + _EPS else "pass",
                f"{suite}: {result.errors} of {result.cases} cases ended in errors "
                f"({error_rate:.1%}; at most {rule.max_error_rate:.1%} allowed"
                + (
                    ", so the suite's results cannot be trusted; rerun it)"
                    if error_rate > rule.max_error_rate + _EPS
                    else ")"
                ),
                observed=error_rate,
                threshold=rule.max_error_rate,
                evidence=refs,
                details={"errors": result.errors, "cases": result.cases},
            )
        ]
        rate, failures, n = self._rate(result)
        low, high = wilson_interval(failures, n, rule.confidence) if n else (0.0, 1.0)
        sample = [case for case in result.failing_cases[:5]]
        for k in kinds:
            if k == "present":
                out.append(
                    self.check(
                        f"{base_id}.present",
                        "eval",
                        "pass",
                        f"{suite}: {result.failures} failures in {result.cases} cases",
                        observed=rate,
                        evidence=refs,
                    )
                )
            elif k == "max_failures":
                assert rule.max_failures is not None
                ok = result.failures <= rule.max_failures
                out.append(
                    self.check(
                        f"{base_id}.max_failures",
                        "eval",
                        "pass" if ok else "fail",
                        f"{suite}: {result.failures} failures in {result.cases} cases "
                        f"({'within' if ok else 'above'} max_failures {rule.max_failures})",
                        observed=float(result.failures),
                        threshold=float(rule.max_failures),
                        evidence=refs,
                        details={"failing_cases": sample} if not ok else {},
                    )
                )
            elif k == "max_attack_success_rate":
                assert rule.max_attack_success_rate is not None
                ok = rate <= rule.max_attack_success_rate + _EPS
                out.append(
                    self.check(
                        f"{base_id}.max_attack_success_rate",
                        "eval",
                        "pass" if ok else "fail",
                        f"{suite}: attack success rate {rate:.1%} ({failures}/{n}, "
                        f"{rule.confidence:.0%} Wilson interval [{low:.1%}, {high:.1%}]) "
                        f"{'<=' if ok else '>'} {rule.max_attack_success_rate:.1%}",
                        observed=rate,
                        threshold=rule.max_attack_success_rate,
                        evidence=refs,
                        details={
                            "successes": failures,
                            "evaluated": n,
                            "wilson_low": low,
                            "wilson_high": high,
                            **({"failing_cases": sample} if not ok else {}),
                        },
                    )
                )
            else:
                out.append(self._eval_increase(rule, result, rate, failures, n, refs))
        return out

    def _eval_increase(
        self,
        rule: EvalRule,
        result: SafetySuiteResult,
        rate: float,
        failures: int,
        n: int,
        refs: list[str],
    ) -> CheckResult:
        id = f"evals.{rule.suite}.max_increase"
        assert rule.max_increase is not None
        b = self.baseline.version
        if b is None:
            return self._no_baseline(
                id, "eval", f"increase of {rule.suite!r} failures", observed=rate, evidence=refs
            )
        base_result = b.safety.get(rule.suite)
        if base_result is None or base_result.cases <= 0:
            return self.check(
                id,
                "eval",
                self.on_missing,
                f"the baseline {b.ref} has no results for safety suite {rule.suite!r}; increase "
                f"not checked (baseline.on_missing: {self.policy.baseline.on_missing})",
                observed=rate,
                threshold=rule.max_increase,
                evidence=refs,
                how_to_fix=(
                    f"promogate eval run {rule.suite} --target models:/{b.model}/{b.version} "
                    "--log-to <run id>"
                ),
            )
        b_rate, b_failures, b_n = self._rate(base_result)
        low, high = rate_difference_interval(failures, n, b_failures, b_n, rule.confidence)
        increase = rate - b_rate
        fields: dict[str, Any] = {
            "observed": rate,
            "baseline": b_rate,
            "threshold": rule.max_increase,
            "delta": increase,
            "evidence": [*refs, *self._suite_refs(b, base_result)],
            "details": {
                "candidate": {"failures": failures, "evaluated": n},
                "baseline": {"failures": b_failures, "evaluated": b_n},
                "ci_low": low,
                "ci_high": high,
                "confidence": rule.confidence,
                "method": "Newcombe hybrid score interval",
            },
        }
        message = (
            f"{rule.suite}: failure rate {rate:.1%} ({failures}/{n}) vs baseline {b_rate:.1%} "
            f"({b_failures}/{b_n}), change {increase:+.1%}, {rule.confidence:.0%} CI "
            f"[{low:+.1%}, {high:+.1%}]"
        )
        if increase <= rule.max_increase + _EPS:
            return self.check(
                id,
                "eval",
                "pass",
                f"{message}; within max_increase {rule.max_increase:.1%}",
                **fields,
            )
        if low > rule.max_increase:
            return self.check(
                id,
                "eval",
                "fail",
                f"{message}; the increase beyond {rule.max_increase:.1%} is significant",
                **fields,
            )
        return self.check(
            id,
            "eval",
            "warn",
            f"{message}; above max_increase {rule.max_increase:.1%} but within the noise of "
            f"{n} and {b_n} cases: warning instead of blocking",
            **fields,
        )
