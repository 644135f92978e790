"""What MLflow's own threshold check catches on the demo registry, next to promogate's review.

For every candidate of the demo registry, in the same run::

    uv run python -m benchmarks.mlflow_native [--workdir DIR] [--reuse]

1. **MLflow-native**: fetch the candidate's and the champion's source runs, build MLflow
   `EvaluationResult`s from their metrics, and call `mlflow.validate_evaluation_results` with
   `MetricThreshold`s equivalent to the matching policies (`policies/examples/credit-risk.yaml`:
   ROC AUC at least 0.75 and at most 0.01 below the champion). It raises
   `ModelValidationFailedException` when a threshold fails. Two threshold sets are tried:
   ``headline`` (the policy's `metrics` rules) and ``+segments`` (also every
   `segment/region:<value>/recall` key the champion has, at most 0.03 below the champion's value).
2. **promogate**: the full review (policies, evidence, evaluation, investigation, ledger), as
   `benchmarks.review_latency.ReviewRunner` runs it.

How the policy maps onto `MetricThreshold`: MLflow's `min_absolute_change` and
`min_relative_change` must be positive and require the candidate to *beat* the baseline by that
much; they cannot allow a drop. A tolerance such as `max_drop: 0.01` is therefore folded into the
value threshold, computed from the champion's metric: `threshold = max(min, champion - max_drop)`
(for lower-is-better metrics, `min(max, champion + max_drop)`). What MLflow cannot express at all is
listed in the printed notes: evaluation-dataset comparability, train/eval overlap, required
evidence, pipeline rules, segment row minimums and significance tests.

Like `api/`, this module sits on top of the packages it measures and nothing imports it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks.review_latency import DEFAULT_POLICIES, ReviewRunner, prepare_registry
from evals.errors import EvalError
from policies.loader import LoadedPolicy, load_policy_dir
from scenarios.demo_registry import CHAMPION_ALIAS, DemoRegistry
from tools.segments import parse_segment_metric_key

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "THRESHOLD_SETS",
    "ComparisonReport",
    "ComparisonRow",
    "NativeOutcome",
    "NativeThreshold",
    "ThresholdSet",
    "compare_with_mlflow",
    "main",
    "native_thresholds",
    "render_table",
    "validate_natively",
]

logger = logging.getLogger("promogate.evals")

ThresholdSet = Literal["headline", "segments"]
THRESHOLD_SETS: Final[tuple[ThresholdSet, ...]] = ("headline", "segments")

_NOT_EXPRESSIBLE: Final = (
    "same evaluation dataset (digests)",
    "train/eval overlap",
    "required evidence (eval table, dataset inputs)",
    "pipeline rules (seed required)",
    "segment min_rows",
    "significance (paired bootstrap)",
)


class NativeThreshold(BaseModel):
    """One `MetricThreshold` derived from a policy rule, and the rule it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str
    threshold: float
    greater_is_better: bool
    rule: str = Field(description="The policy rule, e.g. 'credit-risk: roc_auc min 0.75'.")


class NativeOutcome(BaseModel):
    """The outcome of `mlflow.validate_evaluation_results` for one candidate."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    thresholds: ThresholdSet
    passed: bool
    failures: list[str] = Field(
        default_factory=list, description="MLflow's failure message, one line per failed metric."
    )
    checked: list[NativeThreshold] = Field(default_factory=list)
    observed: dict[str, float | None] = Field(
        default_factory=dict, description="The candidate's value of every checked metric."
    )
    seconds: float = Field(description="Fetching both runs, deriving thresholds and validating.")

    @property
    def failed_metrics(self) -> list[str]:
        """The metric keys named by MLflow's failure lines."""
        return sorted(
            {t.metric for t in self.checked for line in self.failures if f" {t.metric} " in line}
        )


class ComparisonRow(BaseModel):
    """One candidate: its defect, what MLflow's check said and what promogate decided."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    title: str
    defect: str
    expected_verdict: str
    defect_checks: list[str] = Field(description="Check ids the demo expects to fail.")
    mlflow: dict[ThresholdSet, NativeOutcome]
    promogate_verdict: str
    promogate_failing: list[str] = Field(description="Check ids that failed or errored.")
    promogate_seconds: float

    @property
    def defective(self) -> bool:
        return self.expected_verdict != "approve"

    def caught_by_mlflow(self, thresholds: ThresholdSet) -> bool:
        return self.defective and not self.mlflow[thresholds].passed

    @property
    def caught_by_promogate(self) -> bool:
        return self.defective and self.promogate_verdict != "approve"


class ComparisonReport(BaseModel):
    """MLflow-native threshold validation against promogate on the same versions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    champion_version: int
    policies: list[str] = Field(description="`name@revision` of the policies thresholds came from.")
    rows: list[ComparisonRow]
    not_expressible: list[str] = Field(default_factory=lambda: list(_NOT_EXPRESSIBLE))

    @property
    def defects(self) -> int:
        return sum(1 for r in self.rows if r.defective)

    def caught_by_mlflow(self, thresholds: ThresholdSet) -> int:
        return sum(1 for r in self.rows if r.caught_by_mlflow(thresholds))

    @property
    def caught_by_promogate(self) -> int:
        return sum(1 for r in self.rows if r.caught_by_promogate)

    def false_alarms_mlflow(self, thresholds: ThresholdSet) -> int:
        return sum(1 for r in self.rows if not r.defective and not r.mlflow[thresholds].passed)

    @property
    def false_alarms_promogate(self) -> int:
        return sum(1 for r in self.rows if not r.defective and r.promogate_verdict != "approve")


def _matching(policies: Sequence[LoadedPolicy], model: str) -> list[LoadedPolicy]:
    return [p for p in policies if fnmatch.fnmatchcase(model, p.policy.match.model)]


def _stricter(current: NativeThreshold | None, new: NativeThreshold) -> NativeThreshold:
    if current is None:
        return new
    if new.greater_is_better:
        return new if new.threshold > current.threshold else current
    return new if new.threshold < current.threshold else current


def native_thresholds(
    policies: Sequence[LoadedPolicy],
    baseline_metrics: Mapping[str, float],
    *,
    segments: bool,
) -> list[NativeThreshold]:
    """The `MetricThreshold` values equivalent to the policies' metric (and segment) rules.

    A rule's absolute bound and its tolerance against the baseline become one value threshold, the
    stricter of the two; where several policies set one metric, the strictest threshold wins.

    Args:
        policies: The policies that apply to the model.
        baseline_metrics: The champion run's metrics.
        segments: Also derive per-segment thresholds from the champion's segment metric keys.
    """
    chosen: dict[str, NativeThreshold] = {}
    for loaded in policies:
        name = loaded.policy.name
        for rule in loaded.policy.metrics:
            greater = not rule.prefers_lower
            bounds: list[tuple[float, str]] = []
            bound = rule.min if greater else rule.max
            if bound is not None:
                bounds.append((bound, f"{'min' if greater else 'max'} {bound:g}"))
            base = baseline_metrics.get(rule.name)
            if base is not None and rule.max_drop is not None:
                limit = base - rule.max_drop if greater else base + rule.max_drop
                bounds.append((limit, f"champion {base:.4f} {'-' if greater else '+'} max_drop"))
            if base is not None and rule.max_relative_drop is not None:
                factor = 1 - rule.max_relative_drop if greater else 1 + rule.max_relative_drop
                limit = base * factor if base >= 0 else base / factor
                bounds.append((limit, f"champion {base:.4f} with max_relative_drop"))
            if not bounds:
                continue
            value, why = (max if greater else min)(bounds, key=lambda b: b[0])
            chosen[rule.name] = _stricter(
                chosen.get(rule.name),
                NativeThreshold(
                    metric=rule.name,
                    threshold=float(value),
                    greater_is_better=greater,
                    rule=f"{name}: {rule.name} >= {why}" if greater else f"{name}: {why}",
                ),
            )
        if not segments:
            continue
        for seg_rule in loaded.policy.segments:
            for key, base in sorted(baseline_metrics.items()):
                parsed = parse_segment_metric_key(key)
                if parsed is None or (parsed.column, parsed.metric) != (
                    seg_rule.by,
                    seg_rule.metric,
                ):
                    continue
                chosen[key] = _stricter(
                    chosen.get(key),
                    NativeThreshold(
                        metric=key,
                        threshold=float(base - seg_rule.max_drop),
                        greater_is_better=True,
                        rule=f"{name}: {key} >= champion {base:.4f} - max_drop",
                    ),
                )
    return [chosen[k] for k in sorted(chosen)]


def validate_natively(
    client: MlflowClient,
    model: str,
    version: int,
    policies: Sequence[LoadedPolicy],
    *,
    thresholds: ThresholdSet,
    baseline_alias: str = CHAMPION_ALIAS,
) -> NativeOutcome:
    """Check one candidate with MLflow's `validate_evaluation_results` and nothing else.

    Args:
        client: MLflow client of the registry.
        model: Registered model name.
        version: Candidate version.
        policies: The policies that apply to the model (thresholds are derived from them).
        thresholds: ``headline`` (metric rules) or ``segments`` (also segment metric keys).
        baseline_alias: Alias of the version to compare against.

    Raises:
        EvalError: The candidate or the champion has no source run.
    """
    from mlflow.models import evaluation
    from mlflow.models.evaluation import validation

    # MLflow leaves these two constructors unannotated; typed as Any so strict mypy accepts them.
    metric_threshold: Any = validation.MetricThreshold
    evaluation_result: Any = evaluation.EvaluationResult

    started = time.perf_counter()
    candidate = client.get_model_version(model, str(version))
    champion = client.get_model_version_by_alias(model, baseline_alias)
    runs = []
    for side in (candidate, champion):
        if side.run_id is None:
            raise EvalError(f"{model!r} version {side.version!r} has no source run to validate")
        runs.append(client.get_run(side.run_id))
    candidate_run, champion_run = runs
    checked = native_thresholds(
        policies, champion_run.data.metrics, segments=thresholds == "segments"
    )
    failures: list[str] = []
    try:
        validation.validate_evaluation_results(
            validation_thresholds={
                t.metric: metric_threshold(
                    threshold=t.threshold, greater_is_better=t.greater_is_better
                )
                for t in checked
            },
            candidate_result=evaluation_result(
                metrics=dict(candidate_run.data.metrics),
                artifacts={},
                run_id=candidate_run.info.run_id,
            ),
            baseline_result=evaluation_result(
                metrics=dict(champion_run.data.metrics),
                artifacts={},
                run_id=champion_run.info.run_id,
            ),
        )
    except validation.ModelValidationFailedException as exc:
        failures = [line for line in str(exc.message).splitlines() if line.strip()]
    return NativeOutcome(
        thresholds=thresholds,
        passed=not failures,
        failures=failures,
        checked=checked,
        observed={t.metric: candidate_run.data.metrics.get(t.metric) for t in checked},
        seconds=time.perf_counter() - started,
    )


def compare_with_mlflow(
    registry: DemoRegistry, scratch_dir: Path, *, policies_dir: Path = DEFAULT_POLICIES
) -> ComparisonReport:
    """Run MLflow's threshold check and promogate's review on every candidate of the registry.

    Args:
        registry: The demo registry.
        scratch_dir: Directory for promogate's throwaway ledger (`mlflow-native-ledger.db`).
        policies_dir: The trusted policy directory; MLflow's thresholds come from the policies in
            it that match the model.
    """
    from tools.client import make_client

    client: Any = make_client(registry.tracking_uri, None)
    applicable = _matching(load_policy_dir(policies_dir), registry.model_name)
    ledger_path = scratch_dir / "mlflow-native-ledger.db"
    ledger_path.unlink(missing_ok=True)
    rows: list[ComparisonRow] = []
    with ReviewRunner(registry.tracking_uri, policies_dir, ledger_path) as runner:
        # One untimed pass, so that neither side pays for first-use costs (imports, connections).
        for candidate in registry.candidates[:1]:
            validate_natively(
                client, candidate.model, candidate.version, applicable, thresholds="segments"
            )
            runner.review(candidate.model, candidate.version)
        for candidate in registry.candidates:
            outcomes = {
                name: validate_natively(
                    client, candidate.model, candidate.version, applicable, thresholds=name
                )
                for name in THRESHOLD_SETS
            }
            decision, wall_ms, _ = runner.review(candidate.model, candidate.version)
            rows.append(
                ComparisonRow(
                    version=candidate.version,
                    title=candidate.title,
                    defect=candidate.defect,
                    expected_verdict=candidate.expected_verdict,
                    defect_checks=list(candidate.failing_checks),
                    mlflow=outcomes,
                    promogate_verdict=decision.verdict,
                    promogate_failing=sorted(
                        c.id for c in decision.checks if c.status in ("fail", "error")
                    ),
                    promogate_seconds=wall_ms / 1000.0,
                )
            )
    ledger_path.unlink(missing_ok=True)
    return ComparisonReport(
        model=registry.model_name,
        champion_version=registry.champion_version,
        policies=[f"{p.ref.name}@{p.ref.revision}" for p in applicable],
        rows=rows,
    )


def _native_cell(outcome: NativeOutcome) -> str:
    if outcome.passed:
        return "pass"
    limits = {t.metric: t for t in outcome.checked}
    reasons = []
    for metric in outcome.failed_metrics:
        value, limit = outcome.observed.get(metric), limits[metric]
        sign = "<" if limit.greater_is_better else ">"
        shown = "missing" if value is None else f"{value:.3f} {sign} {limit.threshold:.3f}"
        reasons.append(f"{metric} {shown}")
    return "fail: " + ("; ".join(reasons) or "; ".join(outcome.failures))


def render_table(report: ComparisonReport) -> str:
    """The comparison as a Markdown table plus the catch counts."""
    lines = [
        "| version | defect | expected | MLflow `headline` | MLflow `+segments` | promogate "
        "| MLflow time (ms) | promogate time (ms) | promogate / MLflow |",
        "|---|---|---|---|---|---|---:|---:|---:|",
    ]
    for row in report.rows:
        native_ms = row.mlflow["segments"].seconds * 1000.0
        promogate_ms = row.promogate_seconds * 1000.0
        failing = ", ".join(row.promogate_failing)
        lines.append(
            f"| v{row.version} | {row.title} | {row.expected_verdict} "
            f"| {_native_cell(row.mlflow['headline'])} | {_native_cell(row.mlflow['segments'])} "
            f"| {row.promogate_verdict}{': ' + failing if failing else ''} "
            f"| {native_ms:.0f} | {promogate_ms:.0f} | {promogate_ms / native_ms:.0f}x |"
        )
    lines.append("")
    lines.append(
        f"Defective candidates caught: MLflow `headline` {report.caught_by_mlflow('headline')}"
        f"/{report.defects}, MLflow `+segments` {report.caught_by_mlflow('segments')}"
        f"/{report.defects}, promogate {report.caught_by_promogate}/{report.defects}. "
        f"Clean candidates blocked: MLflow `headline` {report.false_alarms_mlflow('headline')}, "
        f"`+segments` {report.false_alarms_mlflow('segments')}, promogate "
        f"{report.false_alarms_promogate}."
    )
    lines.append(f"Not expressible as a MetricThreshold: {'; '.join(report.not_expressible)}.")
    return "\n".join(lines)


def _threshold_lines(report: ComparisonReport) -> list[str]:
    first = report.rows[0] if report.rows else None
    if first is None:
        return []
    return [
        f"- `{t.metric}` {'>=' if t.greater_is_better else '<='} {t.threshold:.4f} ({t.rule})"
        for t in first.mlflow["segments"].checked
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Build or reuse the demo registry, compare MLflow's check with promogate, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="directory of the demo build (default: a temporary directory, removed afterwards)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the demo registry a previous run built there"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of a new demo build")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # MLflow logs every validation at INFO; the table says the same.
    quiet_mlflow()
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="promogate-bench-")) if temporary else args.workdir
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        registry = prepare_registry(workdir, reuse=args.reuse, seed=args.seed)
        report = compare_with_mlflow(registry, workdir)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    print(render_table(report))
    sources = ", ".join(report.policies)
    print(f"\nMLflow thresholds (from {sources}, champion v{report.champion_version}):")
    print("\n".join(_threshold_lines(report)))


if __name__ == "__main__":
    main()
