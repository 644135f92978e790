"""One comparison per review: every fact about the candidate against its baseline, computed once.

Policies turn these facts into checks against thresholds, the LLM's tools serialise them, and the
offline investigator asks the same tools, so every reader of a review sees the same numbers and
cites the same evidence. Each fact is a typed result or `Unavailable` with the reason.

The caches live on the `Comparison`, so they last exactly one review and nothing is shared between
reviews behind the callers' backs. A `Comparison` may be read from several threads (the LLM's
tools run concurrently); each fact is computed under a lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Literal, TypeVar

from comparison._definitions import (
    DefinitionChange,
    LabelAgreement,
    label_agreement,
    label_changes,
    metric_definition_changes,
)
from comparison._metrics import MetricValue, all_metrics, metric_value
from comparison._plausibility import GainFact, InputChanges, gain_fact, input_changes
from comparison._tables import PairedTables, pair_eval_tables
from comparison.convergence import ConvergenceAssessment, ConvergenceCriteria, assess_convergence
from comparison.datasets import (
    SameDataset,
    TrainEvalOverlap,
    evaluation_digests,
    train_eval_overlap,
)
from comparison.pipeline import PipelineEvidence, pipeline_evidence
from comparison.unavailable import Unavailable
from tools.evidence import EvidenceBundle, VersionEvidence
from tools.pipeline_diff import PipelineDiff, diff_pipeline_configs
from tools.plausibility_models import FeatureImportances, VersionHistory
from tools.segments import (
    SegmentMetric,
    TableMetric,
    TablePairing,
    classification_metric,
    metric_inputs,
    pair_rows,
    segment_metrics_from_keys,
    segment_metrics_from_table,
)
from tools.significance import BootstrapResult, paired_bootstrap

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "Comparison", "Side"]

Side = Literal["candidate", "baseline"]

BOOTSTRAP_RESAMPLES = 2000
"""Resamples of the paired bootstrap the policies judge significance with."""
BOOTSTRAP_SEED = 0
"""Its seed: the same evidence always gives the same interval and p-value."""

T = TypeVar("T")


class Comparison:
    """The facts of one review, each computed on first use and kept for the rest of the review.

    Args:
        bundle: The candidate's and the baseline's evidence.
    """

    def __init__(self, bundle: EvidenceBundle) -> None:
        self.bundle = bundle
        self._lock = threading.RLock()
        self._facts: dict[tuple[object, ...], object] = {}

    @classmethod
    def of(cls, evidence: EvidenceBundle | Comparison) -> Comparison:
        """`evidence` itself when it is a comparison, else a new comparison of the bundle."""
        return evidence if isinstance(evidence, Comparison) else cls(evidence)

    @property
    def candidate(self) -> VersionEvidence:
        return self.bundle.candidate

    @property
    def baseline(self) -> VersionEvidence | None:
        return self.bundle.baseline

    def side(self, which: Side) -> VersionEvidence | None:
        """The candidate's or the baseline's evidence (None: there is no baseline)."""
        return self.bundle.candidate if which == "candidate" else self.bundle.baseline

    def _once(self, key: tuple[object, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            if key not in self._facts:
                self._facts[key] = compute()
            return self._facts[key]  # type: ignore[return-value]

    # -- tables and significance --------------------------------------------------------------

    def _row_pairing(self) -> TablePairing | None:
        """The two tables' rows paired whatever their labels, once for the bootstrap's pairing
        and the label agreement (None: a table is missing)."""
        baseline = self.baseline
        a = baseline.eval_table if baseline is not None else None
        b = self.candidate.eval_table
        if a is None or b is None:
            return None
        return self._once(("row_pairing",), lambda: pair_rows(a, b))

    def paired_tables(self) -> PairedTables | Unavailable:
        """Both evaluation tables and the pairing of their rows (baseline first)."""
        return self._once(
            ("paired_tables",), lambda: pair_eval_tables(self.bundle, self._row_pairing())
        )

    def bootstrap(
        self,
        metric: TableMetric,
        *,
        segment: tuple[str, str] | None = None,
        n_resamples: int = BOOTSTRAP_RESAMPLES,
        seed: int = BOOTSTRAP_SEED,
    ) -> BootstrapResult | Unavailable:
        """Paired bootstrap of the candidate against the baseline on the shared examples.

        Args:
            metric: A metric computable per example (accuracy, recall, precision, f1, roc_auc;
                a regressor's is unavailable: paired tests cover classification metrics).
            segment: Only the rows of one segment: (column, value).
            n_resamples: Bootstrap resamples.
            seed: Seed of the resampling.
        """
        key = ("bootstrap", metric, segment, n_resamples, seed)
        return self._once(key, lambda: self._bootstrap(metric, segment, n_resamples, seed))

    def _bootstrap(
        self, metric: TableMetric, segment: tuple[str, str] | None, n_resamples: int, seed: int
    ) -> BootstrapResult | Unavailable:
        classification = classification_metric(metric)
        if classification is None:
            return Unavailable(
                reason=f"{metric} is a regressor's metric; paired tests cover classification "
                "metrics"
            )
        paired = self.paired_tables()
        if isinstance(paired, Unavailable):
            return paired
        base_table, cand_table = paired.baseline, paired.candidate
        try:
            labels, values_a = metric_inputs(base_table, metric)
            _, values_b = metric_inputs(cand_table, metric)
        except ValueError as exc:
            return Unavailable(reason=str(exc))
        pairs = list(zip(paired.pairing.index_a, paired.pairing.index_b, strict=True))
        if segment is not None:
            column, value = segment
            if column not in base_table.columns or column not in cand_table.columns:
                return Unavailable(
                    reason=f"both evaluation tables need the segment column {column!r}"
                )
            seg_a, seg_b = base_table.column(column), cand_table.column(column)
            pairs = [(i, j) for i, j in pairs if str(seg_a[i]) == value == str(seg_b[j])]
        try:
            return paired_bootstrap(
                classification,
                [labels[i] for i, _ in pairs],
                [values_a[i] for i, _ in pairs],
                [values_b[j] for _, j in pairs],
                n_resamples=n_resamples,
                seed=seed,
            )
        except ValueError as exc:
            return Unavailable(reason=str(exc))

    # -- segments ----------------------------------------------------------------------------

    def table_segment_metrics(
        self, which: Side, column: str, metric: TableMetric, *, paired_rows: bool
    ) -> dict[str, SegmentMetric] | Unavailable:
        """Per-segment values of `metric` computed from one version's evaluation table.

        Args:
            which: The candidate or the baseline.
            column: The segment column.
            metric: A metric computable per example.
            paired_rows: Only the rows paired with the other version's table.
        """
        key = ("table_segments", which, column, metric, paired_rows)
        return self._once(key, lambda: self._table_segments(which, column, metric, paired_rows))

    def _table_segments(
        self, which: Side, column: str, metric: TableMetric, paired_rows: bool
    ) -> dict[str, SegmentMetric] | Unavailable:
        version = self.side(which)
        if version is None:
            return Unavailable(reason="there is no baseline version")
        table = version.eval_table
        if table is None:
            return Unavailable(reason=f"{version.ref} has no per-example evaluation table")
        rows: list[int] | None = None
        if paired_rows:
            paired = self.paired_tables()
            if isinstance(paired, Unavailable):
                return paired
            rows = paired.pairing.index_b if which == "candidate" else paired.pairing.index_a
        try:
            return segment_metrics_from_table(table, column, metric, rows=rows)
        except ValueError as exc:
            return Unavailable(reason=str(exc))

    def key_segment_metrics(
        self, which: Side, column: str, metric: str
    ) -> dict[str, SegmentMetric]:
        """Per-segment values logged as metric keys ``segment/<column>=<value>/<metric>``."""
        version = self.side(which)
        if version is None:
            return {}
        return segment_metrics_from_keys(self.metrics(which), column, metric)

    # -- metrics -----------------------------------------------------------------------------

    def metrics(self, which: Side) -> dict[str, float]:
        """Every metric of one version (the run's over the logged model's of the same name)."""
        version = self.side(which)
        return (
            {} if version is None else self._once(("metrics", which), lambda: all_metrics(version))
        )

    def metric(self, which: Side, name: str) -> MetricValue | Unavailable:
        """One metric of one version, with its canonical evidence reference."""
        version = self.side(which)
        if version is None:
            return Unavailable(reason="there is no baseline version")
        return metric_value(version, name)

    # -- datasets ----------------------------------------------------------------------------

    def evaluation_digests(self, which: Side) -> list[str]:
        """Digests one version was evaluated on (evaluation inputs and dataset-linked metrics)."""
        version = self.side(which)
        return [] if version is None else evaluation_digests(version)

    def same_dataset(self) -> SameDataset | Unavailable:
        """Whether both versions were evaluated on the same data, by digest."""
        if self.baseline is None:
            return Unavailable(reason="there is no baseline to compare with")
        cand = self.evaluation_digests("candidate")
        base = self.evaluation_digests("baseline")
        same = None if not cand or not base else set(cand) == set(base)
        return SameDataset(candidate_digests=cand, baseline_digests=base, same=same)

    def train_eval_overlap(self) -> TrainEvalOverlap | Unavailable:
        """Which of the candidate's training inputs are also its evaluation inputs."""
        return self._once(("overlap",), lambda: train_eval_overlap(self.candidate))

    # -- pipeline ----------------------------------------------------------------------------

    def pipeline(self, which: Side) -> PipelineEvidence | Unavailable:
        """One version's pipeline config, datasets and loss histories (read once per review)."""
        version = self.side(which)
        if version is None:
            return Unavailable(reason="there is no baseline version")
        return self._once(
            ("pipeline", which),
            lambda: pipeline_evidence(version, baseline=which == "baseline"),
        )

    def pipeline_diff(self) -> PipelineDiff | Unavailable:
        """The classified config diff of baseline to candidate.

        With no pipeline config on either side, the logged models' environments still compare:
        the diff then holds their dependency changes alone.
        """
        return self._once(("pipeline_diff",), self._pipeline_diff)

    def _pipeline_diff(self) -> PipelineDiff | Unavailable:
        base = self.pipeline("baseline")
        if isinstance(base, Unavailable):
            return Unavailable(reason="there is no baseline to compare the pipeline config with")
        cand = self.pipeline("candidate")
        assert not isinstance(cand, Unavailable)  # the candidate always exists
        if not (cand.config.has_config or base.config.has_config) and (
            cand.config.has_dependencies and base.config.has_dependencies
        ):
            return diff_pipeline_configs(base.config, cand.config)
        if not cand.config.has_config:
            return Unavailable(reason=f"no readable pipeline config was logged for {cand.ref}")
        if not base.config.has_config:
            return Unavailable(
                reason=f"no readable pipeline config was logged for the baseline {base.ref}"
            )
        return diff_pipeline_configs(base.config, cand.config)

    def convergence(self, criteria: ConvergenceCriteria) -> ConvergenceAssessment | Unavailable:
        """The candidate's loss history of `criteria.metric`, judged against `criteria`."""
        history = self.candidate.metric_histories.get(criteria.metric)
        if history is None:
            return Unavailable(
                reason=f"{self.candidate.ref} has no metric history {criteria.metric!r}"
            )
        return self._once(("convergence", criteria), lambda: assess_convergence(history, criteria))

    # -- labels and metric definitions ------------------------------------------------------

    def label_agreement(self) -> LabelAgreement | Unavailable:
        """Whether both evaluation tables hold the same labels for the same (paired) examples."""
        return self._once(
            ("label_agreement",),
            lambda: label_agreement(self.baseline, self.candidate, self._row_pairing()),
        )

    def label_changes(self) -> list[DefinitionChange] | Unavailable:
        """Label keys (column, definition, positive class) changed in the pipeline config."""
        diff = self.pipeline_diff()
        return diff if isinstance(diff, Unavailable) else label_changes(diff)

    def metric_definition_changes(self) -> list[DefinitionChange] | Unavailable:
        """Metric definitions (averaging, `k`, an evaluation threshold) that changed, read from
        the pipeline config and run params and from the metric names both versions logged."""
        return self._once(("metric_definitions",), self._metric_definitions)

    def _metric_definitions(self) -> list[DefinitionChange] | Unavailable:
        baseline = self.baseline
        if baseline is None:
            return Unavailable(reason="there is no baseline to compare metric definitions with")
        return metric_definition_changes(
            self.pipeline_diff(),
            baseline,
            self.candidate,
            self.metrics("baseline"),
            self.metrics("candidate"),
        )

    # -- plausibility --------------------------------------------------------------------------

    def version_history(self) -> VersionHistory | Unavailable:
        """The candidate's model's earlier versions and their metrics."""
        history = self.bundle.version_history
        if history is None:
            return Unavailable(reason="the model's earlier versions were not read for this review")
        return history

    def gain(self, metric: str, *, lower_is_better: bool = False) -> GainFact | Unavailable:
        """How far `metric` improved from baseline to candidate, against the model's history
        and the pipeline settings that changed.

        Args:
            metric: The metric name.
            lower_is_better: Whether a smaller value is better.
        """
        key = ("gain", metric, lower_is_better)
        return self._once(key, lambda: self._gain(metric, lower_is_better))

    def _gain(self, metric: str, lower_is_better: bool) -> GainFact | Unavailable:
        baseline = self.baseline
        if baseline is None:
            return Unavailable(reason="there is no baseline to measure a gain against")
        cand, base = self.metric("candidate", metric), self.metric("baseline", metric)
        if isinstance(cand, Unavailable):
            return cand
        if isinstance(base, Unavailable):
            return base
        history = self.bundle.version_history
        diff = self.pipeline_diff()
        return gain_fact(
            metric,
            lower_is_better=lower_is_better,
            baseline=baseline,
            candidate=self.candidate,
            base_value=base.value,
            cand_value=cand.value,
            history=history,
            diff=diff.reason if isinstance(diff, Unavailable) else diff,
            evidence=[cand.ref, base.ref],
        )

    def input_changes(self) -> InputChanges | Unavailable:
        """Inputs the candidate has that the baseline had not, by config, signature and model."""
        return self._once(("input_changes",), self._input_changes)

    def _input_changes(self) -> InputChanges | Unavailable:
        baseline = self.baseline
        if baseline is None:
            return Unavailable(reason="there is no baseline to compare the inputs with")
        diff = self.pipeline_diff()
        return input_changes(
            baseline, self.candidate, diff.reason if isinstance(diff, Unavailable) else diff
        )

    def feature_importances(self, which: Side) -> FeatureImportances | Unavailable:
        """What one version's logged model says about its inputs, read without unpickling."""
        version = self.side(which)
        if version is None:
            return Unavailable(reason="there is no baseline version")
        found = version.feature_importances
        if found is None:
            return Unavailable(reason=f"the importances of {version.ref} were not read")
        if not found.available:
            return Unavailable(reason=f"importances of {version.ref} unavailable: {found.reason}")
        return found
