"""Evaluate policies against an evidence bundle: pure, deterministic, fail-closed.

Every check yields `pass | fail | warn | error | skip` with the numbers behind it. Evidence a policy
needs that is missing is `error`, never `pass`. No matching policy blocks; several matching policies
all apply and the strictest verdict wins.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from policies.loader import LoadedPolicy
from policies.pipeline_rules import evaluate_pipeline
from policies.result import (
    CheckKind,
    CheckResult,
    CheckStatus,
    PolicyOutcome,
    PolicyRef,
    PolicyVerdict,
    Verdict,
    strictest,
)
from policies.schema import EvalRule, EvidenceKind, MetricRule, Policy, SegmentRule
from policies.selector import match_mismatches, select_policies
from tools.evidence import EvalTable, EvidenceBundle, SafetySuiteResult, VersionEvidence
from tools.segments import (
    SegmentMetric,
    TablePairing,
    metric_inputs,
    pair_tables,
    segment_metric_key,
    segment_metrics_from_keys,
    segment_metrics_from_table,
    table_metric_name,
)
from tools.significance import (
    METRIC_NAMES,
    BootstrapResult,
    MetricName,
    paired_bootstrap,
    rate_difference_interval,
    wilson_interval,
)

__all__ = [
    "DENY_BY_DEFAULT",
    "evaluate_policies",
    "evaluate_policy",
    "is_overridable",
]

logger = logging.getLogger("promogate.policies")

#: The implicit policy that blocks a version no policy matches.
DENY_BY_DEFAULT = PolicyRef(
    name="promogate.deny-by-default",
    revision=0,
    sha256=hashlib.sha256(b"promogate: no matching policy blocks").hexdigest(),
)

_BOOTSTRAP_RESAMPLES = 2000
_BOOTSTRAP_SEED = 0
# Drops equal to the tolerance pass; this absorbs float noise such as 0.80 - 0.79 > 0.01.
_EPS = 1e-9
_REGRESSION_WHEN_MISSING: dict[str, CheckStatus] = {
    "pass": "skip",
    "warn": "warn",
    "error": "error",
}
_BASELINE_WHEN_MISSING: dict[str, CheckStatus] = {"pass": "pass", "warn": "warn", "error": "error"}
_HOW_TO_LOG_TABLE = (
    "log a per-example evaluation table for both versions with "
    "mlflow.log_table(df, artifact_file='eval/predictions.json'), columns row_id, label, "
    "prediction, score and the segment columns, scored on the same evaluation rows"
)
_HOW_TO_LOG_EVAL_DATASET = (
    "log the evaluation data on the source run of both versions with "
    "mlflow.log_input(mlflow.data.from_pandas(eval_df, name=...), context='evaluation')"
)
_HOW_TO_LOG_TRAIN_DATASET = (
    "log the training data on the source run with "
    "mlflow.log_input(mlflow.data.from_pandas(train_df, name=...), context='training')"
)
_PIPELINE_FILES = ("params.yaml", "dvc.yaml", "MLproject")


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


def _num(value: float) -> str:
    return f"{value:.4g}"


def _metric_ref(version: VersionEvidence, name: str) -> str:
    if version.run is not None and name in version.run.metrics:
        return f"run:{version.run.run_id}/metrics/{name}"
    if version.logged_model is not None and any(
        m.key == name for m in version.logged_model.metrics
    ):
        return f"logged_model:{version.logged_model.model_id}/metrics/{name}"
    return f"version:{version.ref}/metrics/{name}"


def _artifact_ref(version: VersionEvidence, path: str) -> str:
    if version.run_id:
        return f"run:{version.run_id}/artifacts/{path}"
    return f"version:{version.ref}/artifacts/{path}"


def _gap_notes(version: VersionEvidence, *sources: str) -> list[str]:
    return [g.message for g in version.gaps if g.source in sources]


def _short_digests(digests: set[str]) -> str:
    return ", ".join(sorted(d[:12] for d in digests)) or "none"


class _BundleView:
    """Per-bundle work shared by all policies: the table pairing and bootstrap results."""

    def __init__(self, bundle: EvidenceBundle) -> None:
        self.bundle = bundle
        self._pairing: TablePairing | None = None
        self._bootstraps: dict[tuple[str, str | None, str | None], BootstrapResult | str] = {}

    @property
    def candidate(self) -> VersionEvidence:
        return self.bundle.candidate

    def tables(self) -> tuple[EvalTable, EvalTable] | str:
        """(baseline table, candidate table), or why there are not both."""
        baseline = self.bundle.baseline
        if self.candidate.eval_table is None:
            return f"{self.candidate.ref} has no per-example evaluation table"
        if baseline is None:
            return "there is no baseline version"
        if baseline.eval_table is None:
            return f"the baseline {baseline.ref} has no per-example evaluation table"
        return baseline.eval_table, self.candidate.eval_table

    def pairing(self) -> TablePairing | str:
        tables = self.tables()
        if isinstance(tables, str):
            return tables
        if self._pairing is None:
            self._pairing = pair_tables(*tables)
        if not self._pairing.paired:
            return f"the two evaluation tables cannot be paired: {self._pairing.reason}"
        return self._pairing

    def bootstrap(
        self, metric: MetricName, column: str | None = None, segment: str | None = None
    ) -> BootstrapResult | str:
        """Paired bootstrap of the candidate against the baseline, or why it cannot be run."""
        key = (metric, column, segment)
        if key not in self._bootstraps:
            self._bootstraps[key] = self._run_bootstrap(metric, column, segment)
        return self._bootstraps[key]

    def _run_bootstrap(
        self, metric: MetricName, column: str | None, segment: str | None
    ) -> BootstrapResult | str:
        pairing = self.pairing()
        if isinstance(pairing, str):
            return pairing
        tables = self.tables()
        assert not isinstance(tables, str)  # pairing() succeeded, so both tables exist
        base_table, cand_table = tables
        try:
            labels, values_a = metric_inputs(base_table, metric)
            _, values_b = metric_inputs(cand_table, metric)
        except ValueError as exc:
            return str(exc)
        pairs = list(zip(pairing.index_a, pairing.index_b, strict=True))
        if column is not None:
            if column not in base_table.columns or column not in cand_table.columns:
                return f"both evaluation tables need the segment column {column!r}"
            seg_a, seg_b = base_table.column(column), cand_table.column(column)
            pairs = [(i, j) for i, j in pairs if str(seg_a[i]) == segment == str(seg_b[j])]
        try:
            return paired_bootstrap(
                metric,
                [labels[i] for i, _ in pairs],
                [values_a[i] for i, _ in pairs],
                [values_b[j] for _, j in pairs],
                n_resamples=_BOOTSTRAP_RESAMPLES,
                seed=_BOOTSTRAP_SEED,
            )
        except ValueError as exc:
            return str(exc)


@dataclass(frozen=True)
class _Baseline:
    """The baseline as this policy sees it, and what non-regression checks do without it."""

    version: VersionEvidence | None
    missing_status: CheckStatus
    reason: str | None


class _PolicyRun:
    """The checks of one policy against one bundle."""

    def __init__(self, loaded: LoadedPolicy, view: _BundleView) -> None:
        self.loaded = loaded
        self.policy: Policy = loaded.policy
        self.view = view
        self.candidate = view.candidate
        self.on_missing: CheckStatus = _REGRESSION_WHEN_MISSING[self.policy.baseline.on_missing]
        self.baseline = self._baseline()

    # -- helpers -------------------------------------------------------------------------------

    def check(
        self, id: str, kind: CheckKind, status: CheckStatus, message: str, **fields: Any
    ) -> CheckResult:
        return CheckResult(
            id=id, policy=self.policy.name, kind=kind, status=status, message=message, **fields
        )

    def _baseline(self) -> _Baseline:
        bundle = self.view.bundle
        wanted = self.policy.baseline.alias
        if bundle.baseline_alias is not None and bundle.baseline_alias != wanted:
            return _Baseline(
                None,
                "error",
                f"the evidence compares against @{bundle.baseline_alias} but policy "
                f"{self.policy.name!r} compares against @{wanted}; review with baseline @{wanted}",
            )
        if bundle.baseline is None:
            return _Baseline(
                None,
                self.on_missing,
                f"{self.candidate.model} has no @{wanted} version to compare against",
            )
        return _Baseline(bundle.baseline, self.on_missing, None)

    def _has_regression_rules(self) -> bool:
        p = self.policy
        return (
            any(r.max_drop is not None or r.max_relative_drop is not None for r in p.metrics)
            or bool(p.segments)
            or p.comparability.same_eval_dataset != "off"
            or any(r.max_increase is not None for r in p.evals)
        )

    def _judge_exceeded(
        self,
        message: str,
        significance: float | None,
        test: BootstrapResult | str | None,
        fields: dict[str, Any],
    ) -> tuple[CheckStatus, str, dict[str, Any]]:
        """Fail, or warn when a paired test says the worsening beyond tolerance may be noise."""
        if significance is None:
            return "fail", message, fields
        details = dict(fields.get("details", {}))
        if isinstance(test, BootstrapResult):
            details["bootstrap"] = test.model_dump()
            fields = {**fields, "details": details, "p_value": test.p_value}
            interval = (
                f"paired bootstrap on {test.n} examples, {test.n_resamples} resamples: "
                f"p={test.p_value:.3g}, {test.confidence:.0%} CI of the change "
                f"[{test.ci_low:+.4f}, {test.ci_high:+.4f}]"
            )
            if test.p_value < significance:
                return "fail", f"{message}; the drop is significant ({interval})", fields
            return (
                "warn",
                f"{message}; but it is not significant at {significance} ({interval}), so it "
                "may be evaluation noise: warning instead of blocking",
                fields,
            )
        reason = test or "no paired per-example results"
        details["significance_untested"] = reason
        fields = {**fields, "details": details, "how_to_fix": _HOW_TO_LOG_TABLE}
        return (
            "fail",
            f"{message}; significance could not be tested ({reason}), so the tolerance alone "
            "decides; to test it, log per-example evaluation tables for both versions",
            fields,
        )

    # -- checks --------------------------------------------------------------------------------

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
        never = self.policy.overrides.never
        return [
            c if is_overridable(c.id, never) else c.model_copy(update={"overridable": False})
            for c in checks
        ]

    def _baseline_check(self) -> CheckResult:
        alias = self.policy.baseline.alias
        if self.baseline.version is not None:
            b = self.baseline.version
            return self.check(
                "baseline.present",
                "baseline",
                "pass",
                f"comparing {self.candidate.ref} against {b.ref} (@{alias})",
                baseline=b.ref,
                evidence=[f"registry:{b.ref}"],
            )
        bundle_alias = self.view.bundle.baseline_alias
        status: CheckStatus = (
            "error"
            if bundle_alias is not None and bundle_alias != alias
            else _BASELINE_WHEN_MISSING[self.policy.baseline.on_missing]
        )
        effect = {"skip": "skipped", "warn": "warnings", "error": "errors"}.get(
            self.baseline.missing_status, self.baseline.missing_status
        )
        return self.check(
            "baseline.present",
            "baseline",
            status,
            f"{self.baseline.reason}; non-regression checks are {effect} "
            f"(baseline.on_missing: {self.policy.baseline.on_missing})",
            threshold=f"@{alias}",
            details={"on_missing": self.policy.baseline.on_missing},
        )

    def _no_baseline(self, id: str, kind: CheckKind, what: str, **fields: Any) -> CheckResult:
        status = self.baseline.missing_status
        return self.check(id, kind, status, f"{self.baseline.reason}; {what} not checked", **fields)

    # evidence ----------------------------------------------------------------------------------

    def _evidence_checks(self) -> list[CheckResult]:
        return [self._evidence_check(kind) for kind in self.policy.evidence.require]

    def _evidence_check(self, kind: EvidenceKind) -> CheckResult:
        c = self.candidate
        paths = sorted({a.path for a in c.artifacts} | set(c.artifact_paths))
        found: list[str] = []
        how = ""
        gaps: list[str] = []
        if kind == "eval_table":
            if c.eval_table is not None:
                found = [_artifact_ref(c, c.eval_table.path)]
            how = _HOW_TO_LOG_TABLE
            gaps = _gap_notes(c, "eval_table", "artifacts")
        elif kind in ("evaluation_dataset", "training_dataset"):
            context = kind.removesuffix("_dataset")
            found = [f"dataset:{d.digest}" for d in c.datasets_in(context)]
            how = _HOW_TO_LOG_EVAL_DATASET if context == "evaluation" else _HOW_TO_LOG_TRAIN_DATASET
            gaps = _gap_notes(c, "datasets")
        elif kind == "signature":
            lm = c.logged_model
            mlmodel = [a for a in c.artifacts if a.path.rsplit("/", 1)[-1] == "MLmodel"]
            if lm is not None and lm.signature:
                found = [f"logged_model:{lm.model_id}/MLmodel#signature"]
            elif any("signature:" in a.content for a in mlmodel):
                found = [f"{a.owner}:{a.path}#signature" for a in mlmodel]
            how = (
                "log the model with a signature: mlflow.<flavor>.log_model(..., "
                "signature=mlflow.models.infer_signature(X, model.predict(X))) or input_example=X"
            )
            gaps = _gap_notes(c, "logged_model", "artifacts")
        elif kind == "requirements":
            found = [p for p in paths if p.rsplit("/", 1)[-1] == "requirements.txt"]
            how = "log the model with pip_requirements=[...] so requirements.txt is saved with it"
            gaps = _gap_notes(c, "artifacts", "logged_model")
        elif kind == "pipeline_config":
            found = [
                p
                for p in paths
                if p.startswith("pipeline/") or p.rsplit("/", 1)[-1] in _PIPELINE_FILES
            ]
            how = (
                "log the pipeline config on the source run: "
                "mlflow.log_artifact('pipeline.yaml', artifact_path='pipeline')"
            )
            gaps = _gap_notes(c, "artifacts", "pipeline_config")
        else:  # logged_model_metrics
            lm = c.logged_model
            if lm is not None and lm.metrics:
                found = [f"logged_model:{lm.model_id}/metrics/{m.key}" for m in lm.metrics]
            how = (
                "log evaluation metrics on the logged model with their dataset: "
                "mlflow.log_metric(key, value, model_id=model_info.model_id, dataset=eval_dataset)"
            )
            gaps = _gap_notes(c, "logged_model")
        id = f"evidence.{kind}"
        if found:
            return self.check(id, "evidence", "pass", f"{c.ref} has {kind}", evidence=found[:20])
        details: dict[str, Any] = {"gaps": gaps} if gaps else {}
        return self.check(
            id,
            "evidence",
            "error",
            f"required evidence {kind!r} is missing for {c.ref}",
            how_to_fix=how,
            details=details,
        )

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
        ref = _metric_ref(c, name)
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
        b_ref = _metric_ref(b, name)
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
        drop = delta if rule.lower_is_better else -delta  # positive means worse
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
                "lower_is_better": rule.lower_is_better,
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
            elif rule.lower_is_better:
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
                refs.append(_artifact_ref(v, v.eval_table.path))
        return refs

    # segments ----------------------------------------------------------------------------------

    def _segment_stats(
        self, version: VersionEvidence, rule: SegmentRule, rows: list[int] | None = None
    ) -> tuple[dict[str, SegmentMetric], list[str], str | None]:
        """Per-segment values for one version: from its table, else from segment metric keys.

        Returns the values by segment, evidence refs, and (when there are none) what is missing.
        """
        problems: list[str] = []
        table = version.eval_table
        table_metric = table_metric_name(rule.metric)
        if table is not None and rule.by in table.columns and table_metric is not None:
            try:
                stats = segment_metrics_from_table(table, rule.by, table_metric, rows=rows)
            except ValueError as exc:
                problems.append(str(exc))
            else:
                return stats, [_artifact_ref(version, table.path)], None
        elif table is not None and table_metric is None:
            problems.append(f"{rule.metric!r} cannot be computed from a per-example table")
        elif table is not None:
            problems.append(f"its evaluation table has no column {rule.by!r}")
        else:
            problems.append("it has no per-example evaluation table")
        metrics: dict[str, float] = {}
        if version.logged_model is not None:
            metrics.update({m.key: m.value for m in version.logged_model.metrics})
        if version.run is not None:
            metrics.update(version.run.metrics)
        stats = segment_metrics_from_keys(metrics, rule.by, rule.metric)
        if stats:
            refs = [
                _metric_ref(version, segment_metric_key(rule.by, s, rule.metric)) for s in stats
            ]
            return stats, refs, None
        problems.append(f"no metric keys {segment_metric_key(rule.by, '<value>', rule.metric)!r}")
        return {}, [], "; ".join(problems)

    def _segment_checks(self, rule: SegmentRule) -> list[CheckResult]:
        base_id = f"segments.{rule.by}.{rule.metric}"
        c = self.candidate
        how = (
            f"{_HOW_TO_LOG_TABLE}; or log segment metrics as "
            f"mlflow.log_metric('segment/{rule.by}:<value>/{rule.metric}', v) with row counts "
            f"under 'segment/{rule.by}:<value>/rows'"
        )
        cand_stats, cand_refs, cand_problem = self._segment_stats(c, rule)
        if not cand_stats:
            return [
                self.check(
                    base_id,
                    "segment",
                    "error",
                    f"{c.ref} has no {rule.metric} per {rule.by!r} segment: {cand_problem}",
                    how_to_fix=how,
                )
            ]
        b = self.baseline.version
        if b is None:
            return [self._no_baseline(base_id, "segment", f"{rule.metric} per {rule.by!r}")]
        base_stats, base_refs, base_problem = self._segment_stats(b, rule)
        if not base_stats:
            return [
                self.check(
                    base_id,
                    "segment",
                    self.on_missing,
                    f"the baseline {b.ref} has no {rule.metric} per {rule.by!r} segment "
                    f"({base_problem}); not checked (baseline.on_missing: "
                    f"{self.policy.baseline.on_missing})",
                    how_to_fix=how,
                )
            ]
        paired = False
        pairing = self.view.pairing()
        from_tables = all(
            s.source == "eval_table" for s in [*cand_stats.values(), *base_stats.values()]
        )
        if isinstance(pairing, TablePairing) and from_tables:
            # Compare both models on the very same rows, so that the difference is the models'.
            base_stats, _, _ = self._segment_stats(b, rule, rows=pairing.index_a)
            cand_stats, _, _ = self._segment_stats(c, rule, rows=pairing.index_b)
            paired = True
        out: list[CheckResult] = []
        for seg in sorted(set(cand_stats) | set(base_stats)):
            out.append(
                self._segment_check(
                    rule,
                    seg,
                    cand_stats.get(seg),
                    base_stats.get(seg),
                    paired,
                    cand_refs + base_refs,
                )
            )
        return out

    def _segment_check(
        self,
        rule: SegmentRule,
        seg: str,
        cand: SegmentMetric | None,
        base: SegmentMetric | None,
        paired: bool,
        refs: list[str],
    ) -> CheckResult:
        id = f"segments.{rule.by}.{rule.metric}.{seg}"
        label = f"{rule.metric} for {rule.by}={seg}"
        if base is None:
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: the baseline has no value for this segment (a new segment)",
                observed=cand.value if cand else None,
                evidence=refs,
            )
        if cand is None:
            return self.check(
                id,
                "segment",
                "error",
                f"{label}: the baseline has it ({_num(base.value)}) but {self.candidate.ref} has "
                "no value for this segment",
                baseline=base.value,
                evidence=refs,
                how_to_fix="evaluate the candidate on the same segments as the baseline",
            )
        known_rows = [r for r in (cand.rows, base.rows) if r is not None]
        rows = min(known_rows) if known_rows else None
        details: dict[str, Any] = {
            "column": rule.by,
            "segment": seg,
            "rows": rows,
            "rows_candidate": cand.rows,
            "rows_baseline": base.rows,
            "positives_candidate": cand.positives,
            "positives_baseline": base.positives,
            "source_candidate": cand.source,
            "source_baseline": base.source,
            "paired": paired,
        }
        if rows is None:
            details["note"] = (
                f"row count unknown; log 'segment/{rule.by}:{seg}/rows' so min_rows can apply"
            )
        if rows is not None and rows < rule.min_rows:
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: only {rows} rows, fewer than min_rows {rule.min_rows}; "
                "too small to judge",
                observed=cand.value,
                baseline=base.value,
                threshold=rule.max_drop,
                details=details,
                evidence=refs,
            )
        if math.isnan(cand.value) or math.isnan(base.value):
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: the metric is undefined in this segment (e.g. no positive labels)",
                details=details,
                evidence=refs,
            )
        delta = cand.value - base.value
        drop = -delta
        message = (
            f"{label}: {_num(cand.value)} vs baseline {_num(base.value)}, "
            + ("unchanged" if drop == 0 else f"{'down' if drop > 0 else 'up'} {_num(abs(delta))}")
            + (f" on {rows} rows" if rows is not None else "")
        )
        fields: dict[str, Any] = {
            "observed": cand.value,
            "baseline": base.value,
            "threshold": rule.max_drop,
            "delta": delta,
            "details": details,
            "evidence": refs,
        }
        if drop <= rule.max_drop + _EPS:
            return self.check(
                id, "segment", "pass", f"{message}, within max_drop {_num(rule.max_drop)}", **fields
            )
        message = f"{message}, beyond max_drop {_num(rule.max_drop)}"
        test: BootstrapResult | str | None = None
        if rule.significance is not None:
            table_metric = table_metric_name(rule.metric)
            if not paired or table_metric is None:
                pairing = self.view.pairing()
                test = (
                    pairing
                    if isinstance(pairing, str)
                    else "the segment values come from metric keys, not paired per-example tables"
                )
            else:
                test = self.view.bootstrap(table_metric, rule.by, seg)
        status, message, fields = self._judge_exceeded(message, rule.significance, test, fields)
        return self.check(id, "segment", status, message, **fields)

    # comparability -----------------------------------------------------------------------------

    def _comparability_checks(self) -> list[CheckResult]:
        out: list[CheckResult] = []
        rules = self.policy.comparability
        if rules.same_eval_dataset != "off":
            out.append(self._same_eval_dataset(rules.same_eval_dataset == "required"))
        if rules.train_eval_overlap != "off":
            out.append(self._train_eval_overlap(rules.train_eval_overlap == "forbid"))
        return out

    def _logged_model_digests(self, version: VersionEvidence) -> dict[str, str]:
        """Dataset digest per policy metric, from the logged model's dataset-linked metrics."""
        if version.logged_model is None:
            return {}
        wanted = {r.name for r in self.policy.metrics}
        return {
            m.key: m.dataset_digest
            for m in version.logged_model.metrics
            if m.key in wanted and m.dataset_digest
        }

    def _same_eval_dataset(self, required: bool) -> CheckResult:
        id = "comparability.same_eval_dataset"
        c = self.candidate
        b = self.baseline.version
        if b is None:
            return self._no_baseline(id, "comparability", "evaluation dataset comparability")
        cand_digests = {d.digest for d in c.datasets_in("evaluation")}
        base_digests = {d.digest for d in b.datasets_in("evaluation")}
        evidence = [f"dataset:{d}" for d in sorted(cand_digests | base_digests)]
        signals: list[str] = []
        mismatches: list[str] = []
        if cand_digests and base_digests:
            signals.append("evaluation dataset inputs")
            if cand_digests != base_digests:
                mismatches.append(
                    f"evaluation datasets differ: {c.ref} used {_short_digests(cand_digests)}, "
                    f"{b.ref} used {_short_digests(base_digests)}"
                )
        lm_c, lm_b = self._logged_model_digests(c), self._logged_model_digests(b)
        for key in sorted(set(lm_c) & set(lm_b)):
            signals.append(f"logged-model metric {key!r}")
            if lm_c[key] != lm_b[key]:
                mismatches.append(
                    f"{key!r} was computed on dataset {lm_c[key][:12]} for {c.ref} but on "
                    f"{lm_b[key][:12]} for {b.ref}"
                )
        if (
            c.eval_table is not None
            and b.eval_table is not None
            and "row_id" in c.eval_table.columns
            and "row_id" in b.eval_table.columns
        ):
            signals.append("evaluation table row ids")
            ids_c = {str(v) for v in c.eval_table.column("row_id")}
            ids_b = {str(v) for v in b.eval_table.column("row_id")}
            if ids_c != ids_b:
                mismatches.append(
                    f"evaluation tables cover different rows: {len(ids_c - ids_b)} only in "
                    f"{c.ref}, {len(ids_b - ids_c)} only in {b.ref}"
                )
        details: dict[str, Any] = {
            "candidate_digests": sorted(cand_digests),
            "baseline_digests": sorted(base_digests),
            "candidate_metric_digests": lm_c,
            "baseline_metric_digests": lm_b,
            "compared": signals,
        }
        observed = ",".join(sorted(cand_digests)) or None
        baseline = ",".join(sorted(base_digests)) or None
        if not signals:
            return self.check(
                id,
                "comparability",
                "error" if required else "warn",
                f"cannot tell whether {c.ref} and {b.ref} were scored on the same evaluation data: "
                "no evaluation dataset digests for both versions",
                observed=observed,
                baseline=baseline,
                details=details,
                evidence=evidence,
                how_to_fix=_HOW_TO_LOG_EVAL_DATASET,
            )
        if mismatches:
            details["mismatches"] = mismatches
            return self.check(
                id,
                "comparability",
                "fail" if required else "warn",
                f"{c.ref} and {b.ref} were not scored on the same evaluation data, so their "
                f"metrics are not comparable: {'; '.join(mismatches)}",
                observed=observed,
                baseline=baseline,
                details=details,
                evidence=evidence,
                how_to_fix="score the candidate on the baseline's evaluation dataset",
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"{c.ref} and {b.ref} were scored on the same evaluation data "
            f"(compared: {', '.join(signals)})",
            observed=observed,
            baseline=baseline,
            details=details,
            evidence=evidence,
        )

    def _train_eval_overlap(self, forbid: bool) -> CheckResult:
        id = "comparability.train_eval_overlap"
        c = self.candidate
        train = c.datasets_in("training")
        evals = c.datasets_in("evaluation")
        evidence = [f"dataset:{d.digest}" for d in [*train, *evals]]
        if not train or not evals:
            missing = [n for n, ds in (("training", train), ("evaluation", evals)) if not ds]
            how = " and ".join(
                _HOW_TO_LOG_TRAIN_DATASET if n == "training" else _HOW_TO_LOG_EVAL_DATASET
                for n in missing
            )
            return self.check(
                id,
                "comparability",
                "error" if forbid else "warn",
                f"cannot check train/eval overlap for {c.ref}: no "
                f"{' or '.join(missing)} dataset input",
                evidence=evidence,
                how_to_fix=how,
                details={"gaps": _gap_notes(c, "datasets")},
            )
        overlaps: list[dict[str, str]] = []
        for t in train:
            for e in evals:
                if t.digest == e.digest:
                    overlaps.append({"training": t.name, "evaluation": e.name, "same": "digest"})
                elif (
                    t.source
                    and t.source == e.source
                    and (t.source_type or "").lower() not in ("code", "")
                ):
                    # Code sources name the script that built a DataFrame, not the data itself.
                    overlaps.append({"training": t.name, "evaluation": e.name, "same": "source"})
        if overlaps:
            pairs = "; ".join(
                f"training {o['training']!r} and evaluation {o['evaluation']!r} have the same "
                f"{o['same']}"
                for o in overlaps
            )
            return self.check(
                id,
                "comparability",
                "fail" if forbid else "warn",
                f"{c.ref} was evaluated on data it was trained on: {pairs}",
                evidence=evidence,
                details={"overlaps": overlaps},
                how_to_fix="evaluate on a held-out split that is disjoint from the training data",
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"training and evaluation datasets of {c.ref} are distinct "
            f"({len(train)} training, {len(evals)} evaluation inputs)",
            evidence=evidence,
        )

    # pipeline ----------------------------------------------------------------------------------

    def _pipeline_checks(self) -> list[CheckResult]:
        rules = self.policy.pipeline
        if rules is None:
            return []
        try:
            return evaluate_pipeline(self.policy.name, rules, self.view.bundle)
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
            refs.append(_artifact_ref(version, result.artifact_path))
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


def _policy_verdict(policy: Policy, checks: Sequence[CheckResult]) -> Verdict:
    if policy.mode == "audit":
        return "approve"
    if any(c.status == "fail" for c in checks):
        return "block"
    if any(c.status == "error" for c in checks):
        return "block" if policy.on_error == "block" else "escalate"
    return "approve"


def evaluate_policy(loaded: LoadedPolicy, bundle: EvidenceBundle) -> PolicyOutcome:
    """Evaluate one policy against a bundle, whether or not its `match` selects the candidate.

    Args:
        loaded: The policy.
        bundle: The candidate's and baseline's evidence.
    """
    return _evaluate(loaded, _BundleView(bundle))


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
        bad = [c for c in outcome.checks if c.status in ("fail", "error")]
        if outcome.mode == "audit":
            reasons += [
                f"{name} (audit only, not enforced): {c.id} {c.status}: {c.message}" for c in bad
            ]
        else:
            reasons += [f"{name}: {c.id} {c.status}: {c.message}" for c in bad]
    return reasons


def evaluate_policies(policies: Sequence[LoadedPolicy], bundle: EvidenceBundle) -> PolicyVerdict:
    """Select the policies that match the candidate and evaluate them all; the strictest wins.

    Pure and deterministic: the same policies and bundle always give the same verdict. No matching
    policy blocks, with a failed `match` check that says why each policy did not match.

    Args:
        policies: Every loaded policy; selection happens here.
        bundle: The candidate's and baseline's evidence and the target alias.
    """
    selected = select_policies(policies, bundle.candidate, bundle.target_alias)
    if not selected:
        logger.info("no policy matches %s -> @%s", bundle.candidate.ref, bundle.target_alias)
        return _deny_by_default(policies, bundle)
    view = _BundleView(bundle)
    outcomes = [_evaluate(p, view) for p in selected]
    verdict = strictest([o.verdict for o in outcomes])
    logger.info(
        "policies %s on %s: %s",
        ",".join(o.policy.name for o in outcomes),
        bundle.candidate.ref,
        verdict,
    )
    return PolicyVerdict(verdict=verdict, outcomes=outcomes, reasons=_reasons(outcomes))
