"""Every fact that compares a candidate with its baseline, computed once per review.

Between `tools/` (the evidence) and `policies/` (the thresholds): table pairing, the paired
bootstrap overall and per segment, evaluation digests and same-dataset, train/eval overlap,
segment metrics, label agreement and changed label and metric definitions, pipeline evidence and
diff, convergence, metric values with their canonical
evidence references. Each fact is a typed result or `Unavailable` with the reason.
"""

from comparison._definitions import (
    DefinitionAspect,
    DefinitionChange,
    LabelAgreement,
    definition_aspect,
    label_agreement,
    label_changes,
    metric_definition_changes,
    metric_name_qualifiers,
)
from comparison._metrics import MetricValue, all_metrics, metric_value
from comparison._plausibility import GainFact, InputChange, InputChanges
from comparison._refs import (
    artifact_ref,
    dataset_inputs_ref,
    dataset_ref,
    metric_history_ref,
    metric_ref,
    safety_ref,
    version_ref,
)
from comparison._tables import PairedTables, pair_eval_tables
from comparison.comparison import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, Comparison, Side
from comparison.convergence import (
    ConvergenceAssessment,
    ConvergenceCriteria,
    ConvergenceState,
    assess_convergence,
)
from comparison.datasets import (
    DatasetOverlap,
    SameDataset,
    TrainEvalOverlap,
    dataset_overlaps,
    evaluation_digests,
    input_digests,
    metric_dataset_digests,
    train_eval_overlap,
)
from comparison.pipeline import PipelineEvidence, pipeline_evidence
from comparison.unavailable import Fact, Unavailable

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "Comparison",
    "ConvergenceAssessment",
    "ConvergenceCriteria",
    "ConvergenceState",
    "DatasetOverlap",
    "DefinitionAspect",
    "DefinitionChange",
    "Fact",
    "GainFact",
    "InputChange",
    "InputChanges",
    "LabelAgreement",
    "MetricValue",
    "PairedTables",
    "PipelineEvidence",
    "SameDataset",
    "Side",
    "TrainEvalOverlap",
    "Unavailable",
    "all_metrics",
    "artifact_ref",
    "assess_convergence",
    "dataset_inputs_ref",
    "dataset_overlaps",
    "dataset_ref",
    "definition_aspect",
    "evaluation_digests",
    "input_digests",
    "label_agreement",
    "label_changes",
    "metric_dataset_digests",
    "metric_definition_changes",
    "metric_history_ref",
    "metric_name_qualifiers",
    "metric_ref",
    "metric_value",
    "pair_eval_tables",
    "pipeline_evidence",
    "safety_ref",
    "train_eval_overlap",
    "version_ref",
]
