"""Metric rules: thresholds, regressions against the baseline, significance."""

from __future__ import annotations

import math
from typing import Any

from comparison import (
    artifact_ref,
    metric_ref,
)
from policies._rule_base import (
    _EPS,
    RunBase,
    _gap_notes,
    _num,
)
from policies.result import (
    CheckResult,
    CheckStatus,
)
from policies.schema import MetricRule
from tools.segments import (
    table_metric_name,
)
from tools.significance import (
    METRIC_NAMES,
    BootstrapResult,
)

__all__ = ["MetricChecks"]


class MetricChecks(RunBase):
    """Metric rules: thresholds, regressions against the baseline, significance."""

    # metrics -----------------------------------------------------------------------------------

    def _metric_checks(self, rule: MetricRule) -> list[CheckResult]:
        name = rule.name
        kinds = [
            k
            for k in ("min", "max", "max_drop", "max_relative_drop")
            if getattr(rule, k) is not None
        ] or ["present"]
        c = self.candidate
        value = c.metric(name)
        ref = metric_ref(c, name)
        if value is None or not math.isfinite(value):
            status: CheckStatus = "error" if rule.required else "skip"
            if value is None:
                message = f"{c.ref} has no metric {name!r}"
                evidence: list[str] = []
            else:
                message = f"{c.ref} metric {name!r} is {value!r}, not a finite number"
                evidence = [ref]
            if not rule.required:
                message += " (the policy does not require it)"
            how = (
                f"log it on the source run of {c.ref}: mlflow.log_metric({name!r}, value), or on "
                f"its logged model: mlflow.log_metric({name!r}, value, model_id=..., dataset=...)"
            )
            gaps = _gap_notes(c, "run", "logged_model")
            return [
                self.check(
                    f"metrics.{name}.{k}",
                    "metric",
                    status,
                    message,
                    observed=value,
                    threshold=getattr(rule, k, None),
                    evidence=evidence,
                    how_to_fix=how if rule.required else None,
                    details={"gaps": gaps} if gaps else {},
                )
                for k in kinds
            ]
        out: list[CheckResult] = []
        for k in kinds:
            if k == "present":
                out.append(
                    self.check(
                        f"metrics.{name}.present",
                        "metric",
                        "pass",
                        f"{name} = {_num(value)}",
                        observed=value,
                        evidence=[ref],
                    )
                )
            elif k == "min":
                assert rule.min is not None
                ok = value >= rule.min
                out.append(
                    self.check(
                        f"metrics.{name}.min",
                        "metric",
                        "pass" if ok else "fail",
                        f"{name} = {_num(value)} {'>=' if ok else '<'} minimum {_num(rule.min)}",
                        observed=value,
                        threshold=rule.min,
                        delta=value - rule.min,
                        evidence=[ref],
                    )
                )
            elif k == "max":
                assert rule.max is not None
                ok = value <= rule.max
                out.append(
                    self.check(
                        f"metrics.{name}.max",
                        "metric",
                        "pass" if ok else "fail",
                        f"{name} = {_num(value)} {'<=' if ok else '>'} maximum {_num(rule.max)}",
                        observed=value,
                        threshold=rule.max,
                        delta=value - rule.max,
                        evidence=[ref],
                    )
                )
            else:
                out.append(self._metric_regression(rule, k, value, ref))
        return out

    def _metric_regression(
        self, rule: MetricRule, kind: str, value: float, ref: str
    ) -> CheckResult:
        name = rule.name
        id = f"metrics.{name}.{kind}"
        threshold = rule.max_drop if kind == "max_drop" else rule.max_relative_drop
        assert threshold is not None
        b = self.baseline.version
        if b is None:
            return self._no_baseline(
                id,
                "metric",
                f"{kind} of {name!r}",
                observed=value,
                threshold=threshold,
                evidence=[ref],
            )
        b_value = b.metric(name)
        b_ref = metric_ref(b, name)
        if b_value is None or not math.isfinite(b_value):
            shown = "has no" if b_value is None else f"has a non-finite ({b_value!r})"
            return self.check(
                id,
                "metric",
                self.on_missing,
                f"the baseline {b.ref} {shown} metric {name!r}; {kind} not checked "
                f"(baseline.on_missing: {self.policy.baseline.on_missing})",
                observed=value,
                threshold=threshold,
                evidence=[ref],
            )
        delta = value - b_value
        drop = delta if rule.prefers_lower else -delta  # positive means worse
        if kind == "max_drop":
            measured = drop
        elif b_value != 0:
            measured = drop / abs(b_value)
        else:
            measured = math.inf if drop > 0 else 0.0
        if drop == 0:
            change = "unchanged"
        else:
            change = f"{'worse' if drop > 0 else 'better'} by {_num(abs(delta))}"
            if kind == "max_relative_drop" and math.isfinite(measured):
                change += f" ({abs(measured):.2%} of the baseline)"
        limit = _num(threshold) if kind == "max_drop" else f"{threshold:.2%} of the baseline"
        message = f"{name} {_num(value)} vs baseline {_num(b_value)} ({b.ref}): {change}"
        fields: dict[str, Any] = {
            "observed": value,
            "threshold": threshold,
            "baseline": b_value,
            "delta": delta,
            "evidence": [ref, b_ref],
            "details": {
                "drop": drop,
                "relative_drop": measured if kind == "max_relative_drop" else None,
                "lower_is_better": rule.prefers_lower,
            },
        }
        if measured <= threshold + _EPS:
            return self.check(
                id, "metric", "pass", f"{message}; within tolerance {limit}", **fields
            )
        message = f"{message}; beyond tolerance {limit}"
        test: BootstrapResult | str | None = None
        if rule.significance is not None:
            table_metric = table_metric_name(name)
            if table_metric is None:
                test = (
                    f"{name!r} cannot be computed from a per-example table "
                    f"(supported: {', '.join(METRIC_NAMES)})"
                )
            elif rule.prefers_lower:
                test = f"{name!r} is lower-is-better; paired tests cover classification metrics"
            else:
                test = self.view.bootstrap(table_metric)
                if isinstance(test, BootstrapResult):
                    fields["evidence"] = [
                        *fields["evidence"],
                        *self._table_refs(),
                    ]
        status, message, fields = self._judge_exceeded(message, rule.significance, test, fields)
        return self.check(id, "metric", status, message, **fields)

    def _table_refs(self) -> list[str]:
        refs = []
        for v in (self.candidate, self.view.bundle.baseline):
            if v is not None and v.eval_table is not None:
                refs.append(artifact_ref(v, v.eval_table.path))
        return refs
