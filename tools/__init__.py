"""Read-only evidence from MLflow: registry, runs, metric histories, logged models, datasets,
artifacts, evaluation tables, safety results; pipeline configs and their diff; statistics.
Typed pydantic results; nothing in promogate above it.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from tools._genai_eval import GENAI_DATASET_SOURCE as GENAI_DATASET_SOURCE
    from tools._genai_eval import GENAI_TABLE_PATH as GENAI_TABLE_PATH
    from tools._genai_eval import evaluation_traces as evaluation_traces
    from tools._genai_eval import is_genai_evaluation as is_genai_evaluation
    from tools._safety import EVAL_TARGET_TAG as EVAL_TARGET_TAG
    from tools._safety import eval_target as eval_target
    from tools._safety import linked_runs_among as linked_runs_among
    from tools._safety import linked_runs_search as linked_runs_search
    from tools.artifact_manifest import ManifestTooLargeError as ManifestTooLargeError
    from tools.artifact_manifest import build_manifest as build_manifest
    from tools.artifact_scan import ArtifactScan as ArtifactScan
    from tools.artifact_scan import ScanRequest as ScanRequest
    from tools.artifact_scan import artifact_source as artifact_source
    from tools.artifact_scan import model_artifact_manifest as model_artifact_manifest
    from tools.artifact_scan import scan_model_artifacts as scan_model_artifacts
    from tools.artifacts import download_artifact as download_artifact
    from tools.artifacts import list_run_artifacts as list_run_artifacts
    from tools.artifacts import (
        read_text_artifact as read_text_artifact,
    )
    from tools.artifacts import run_logged_models as run_logged_models
    from tools.artifacts import run_logged_models_read as run_logged_models_read
    from tools.client import (
        call_mlflow as call_mlflow,
    )
    from tools.client import every_page as every_page
    from tools.client import (
        make_client as make_client,
    )
    from tools.collector import (
        collect_bundle as collect_bundle,
    )
    from tools.collector import collect_resolved as collect_resolved
    from tools.collector import (
        collect_version as collect_version,
    )
    from tools.collector import evidence_tags as evidence_tags
    from tools.collector import resolve_versions as resolve_versions
    from tools.databricks_probes import (
        skip_databricks_header_probes as skip_databricks_header_probes,
    )
    from tools.datasets import read_dataset_inputs as read_dataset_inputs
    from tools.discovery import (
        BUILTIN_METRIC_ALIASES as BUILTIN_METRIC_ALIASES,
    )
    from tools.discovery import (
        METRIC_DATASET_SOURCE as METRIC_DATASET_SOURCE,
    )
    from tools.discovery import (
        find_eval_table as find_eval_table,
    )
    from tools.disk_cache import DiskCache as DiskCache
    from tools.disk_cache import default_cache_dir as default_cache_dir
    from tools.disk_cache import producer_fingerprint as producer_fingerprint
    from tools.errors import (
        AliasNotFoundError as AliasNotFoundError,
    )
    from tools.errors import ArtifactError as ArtifactError
    from tools.errors import (
        BackendUnavailableError as BackendUnavailableError,
    )
    from tools.errors import (
        InvalidVersionRefError as InvalidVersionRefError,
    )
    from tools.errors import (
        MissingStoreError as MissingStoreError,
    )
    from tools.errors import (
        ModelNotFoundError as ModelNotFoundError,
    )
    from tools.errors import (
        NotFoundError as NotFoundError,
    )
    from tools.errors import (
        ToolError as ToolError,
    )
    from tools.errors import (
        VersionNotFoundError as VersionNotFoundError,
    )
    from tools.eval_table import parse_eval_table as parse_eval_table
    from tools.eval_table import (
        read_eval_table as read_eval_table,
    )
    from tools.evidence import (
        DatasetInput as DatasetInput,
    )
    from tools.evidence import (
        EvalTable as EvalTable,
    )
    from tools.evidence import (
        EvidenceBundle as EvidenceBundle,
    )
    from tools.evidence import (
        EvidenceGap as EvidenceGap,
    )
    from tools.evidence import (
        EvidenceOrigin as EvidenceOrigin,
    )
    from tools.evidence import (
        MetricPoint as MetricPoint,
    )
    from tools.evidence import (
        SafetySuiteResult as SafetySuiteResult,
    )
    from tools.evidence import (
        VersionEvidence as VersionEvidence,
    )
    from tools.evidence import canonical_digest as canonical_digest
    from tools.evidence_cache import ByteBoundedCache as ByteBoundedCache
    from tools.evidence_cache import content_key as content_key
    from tools.evidence_mapping import (
        EvidenceMapping as EvidenceMapping,
    )
    from tools.evidence_mapping import (
        merge_mappings as merge_mappings,
    )
    from tools.file_hashes import FileHashes as FileHashes
    from tools.importance_process import ImportanceProcess as ImportanceProcess
    from tools.installed_versions import installed_version as installed_version
    from tools.metric_direction import lower_is_better as lower_is_better
    from tools.model_importance import import_model_readers as import_model_readers
    from tools.model_importance import importance_process_in_use as importance_process_in_use
    from tools.model_importance import importance_reads_under_way as importance_reads_under_way
    from tools.model_importance import load_skops_importances as load_skops_importances
    from tools.model_importance import read_feature_importances as read_feature_importances
    from tools.model_importance import start_reading_importances as start_reading_importances
    from tools.model_importance import use_importance_disk_cache as use_importance_disk_cache
    from tools.model_importance import use_importance_process as use_importance_process
    from tools.model_signature import SIGNATURE_FILE as SIGNATURE_FILE
    from tools.model_signature import SignerSpec as SignerSpec
    from tools.model_signature import sign_model_directory as sign_model_directory
    from tools.model_signature import verify_model_directory as verify_model_directory
    from tools.names import normalize_name as normalize_name
    from tools.pickle_scan import SCANNERS as SCANNERS
    from tools.pickle_scan import ScanLimits as ScanLimits
    from tools.pickle_scan import ScannerName as ScannerName
    from tools.pickle_scan import scan_pickles as scan_pickles
    from tools.pickle_sniffer import find_pickles as find_pickles
    from tools.pipeline_config import (
        ConfigFormat as ConfigFormat,
    )
    from tools.pipeline_config import (
        ConfigProblem as ConfigProblem,
    )
    from tools.pipeline_config import (
        ConfigValue as ConfigValue,
    )
    from tools.pipeline_config import (
        PipelineConfig as PipelineConfig,
    )
    from tools.pipeline_config import (
        is_config_artifact as is_config_artifact,
    )
    from tools.pipeline_config import (
        key_matches as key_matches,
    )
    from tools.pipeline_config import (
        load_config_files as load_config_files,
    )
    from tools.pipeline_config import (
        load_pipeline_config as load_pipeline_config,
    )
    from tools.pipeline_config import (
        numeric_value as numeric_value,
    )
    from tools.pipeline_config import (
        value_text as value_text,
    )
    from tools.pipeline_diff import (
        CHANGE_CLASSES as CHANGE_CLASSES,
    )
    from tools.pipeline_diff import POSITIVE_CLASS_PATTERNS as POSITIVE_CLASS_PATTERNS
    from tools.pipeline_diff import (
        ChangeClass as ChangeClass,
    )
    from tools.pipeline_diff import (
        ConfigChange as ConfigChange,
    )
    from tools.pipeline_diff import (
        PipelineDiff as PipelineDiff,
    )
    from tools.pipeline_diff import (
        classify_key as classify_key,
    )
    from tools.pipeline_diff import (
        diff_pipeline_configs as diff_pipeline_configs,
    )
    from tools.plausibility_models import FeatureImportances as FeatureImportances
    from tools.plausibility_models import VersionHistory as VersionHistory
    from tools.quick_acks import (
        acknowledge_responses_at_once as acknowledge_responses_at_once,
    )
    from tools.read_once import answering as answering
    from tools.read_once import keep_answer as keep_answer
    from tools.redaction import install_log_redaction as install_log_redaction
    from tools.redaction import redact as redact
    from tools.registry import (
        logged_model_id_from_source as logged_model_id_from_source,
    )
    from tools.registry import (
        parse_version_ref as parse_version_ref,
    )
    from tools.registry import (
        registered_aliases as registered_aliases,
    )
    from tools.registry import (
        registered_model_names as registered_model_names,
    )
    from tools.registry import (
        resolve_version as resolve_version,
    )
    from tools.registry import (
        version_holding as version_holding,
    )
    from tools.regression_metrics import EVALUATE_NAMES as EVALUATE_NAMES
    from tools.regression_metrics import REGRESSION_METRICS as REGRESSION_METRICS
    from tools.regression_metrics import RegressionMetric as RegressionMetric
    from tools.regression_metrics import regression_metrics as regression_metrics
    from tools.regression_metrics import regression_value as regression_value
    from tools.runs import LOSS_LIKE_KEYS as LOSS_LIKE_KEYS
    from tools.runs import (
        read_metric_history as read_metric_history,
    )
    from tools.runs import read_run as read_run
    from tools.search_filter import filter_literal as filter_literal
    from tools.segments import (
        SegmentMetric as SegmentMetric,
    )
    from tools.segments import TableMetric as TableMetric
    from tools.segments import (
        TablePairing as TablePairing,
    )
    from tools.segments import classification_metric as classification_metric
    from tools.segments import is_regression_metric as is_regression_metric
    from tools.segments import label_differences as label_differences
    from tools.segments import (
        metric_inputs as metric_inputs,
    )
    from tools.segments import pair_rows as pair_rows
    from tools.segments import (
        pair_tables as pair_tables,
    )
    from tools.segments import (
        parse_segment_metric_key as parse_segment_metric_key,
    )
    from tools.segments import (
        segment_metric_key as segment_metric_key,
    )
    from tools.segments import (
        segment_metrics_from_keys as segment_metrics_from_keys,
    )
    from tools.segments import (
        segment_metrics_from_table as segment_metrics_from_table,
    )
    from tools.segments import (
        table_metric_name as table_metric_name,
    )
    from tools.significance import (
        METRIC_NAMES as METRIC_NAMES,
    )
    from tools.significance import (
        BootstrapResult as BootstrapResult,
    )
    from tools.significance import (
        MetricName as MetricName,
    )
    from tools.significance import binary_mask as binary_mask
    from tools.significance import metric_value as metric_value
    from tools.significance import numeric_array as numeric_array
    from tools.significance import (
        paired_bootstrap as paired_bootstrap,
    )
    from tools.significance import (
        rate_difference_interval as rate_difference_interval,
    )
    from tools.significance import (
        wilson_interval as wilson_interval,
    )
    from tools.sqlite_journal import journal_in_wal as journal_in_wal
    from tools.version_history import HISTORY_MAX_VERSIONS as HISTORY_MAX_VERSIONS
    from tools.version_history import read_version_history as read_version_history
    from tools.version_history import search_earlier_versions as search_earlier_versions

_EXPORTS: dict[str, str] = {
    "POSITIVE_CLASS_PATTERNS": "tools.pipeline_diff",
    "label_differences": "tools.segments",
    "pair_rows": "tools.segments",
    "FeatureImportances": "tools.plausibility_models",
    "VersionHistory": "tools.plausibility_models",
    "import_model_readers": "tools.model_importance",
    "load_skops_importances": "tools.model_importance",
    "read_feature_importances": "tools.model_importance",
    "ImportanceProcess": "tools.importance_process",
    "importance_process_in_use": "tools.model_importance",
    "importance_reads_under_way": "tools.model_importance",
    "resolve_versions": "tools.collector",
    "start_reading_importances": "tools.model_importance",
    "use_importance_process": "tools.model_importance",
    "FileHashes": "tools.file_hashes",
    "journal_in_wal": "tools.sqlite_journal",
    "every_page": "tools.client",
    "filter_literal": "tools.search_filter",
    "installed_version": "tools.installed_versions",
    "read_version_history": "tools.version_history",
    "search_earlier_versions": "tools.version_history",
    "verify_model_directory": "tools.model_signature",
    "sign_model_directory": "tools.model_signature",
    "scan_pickles": "tools.pickle_scan",
    "scan_model_artifacts": "tools.artifact_scan",
    "redact": "tools.redaction",
    "read_run": "tools.runs",
    "normalize_name": "tools.names",
    "model_artifact_manifest": "tools.artifact_scan",
    "install_log_redaction": "tools.redaction",
    "find_pickles": "tools.pickle_sniffer",
    "evidence_tags": "tools.collector",
    "ByteBoundedCache": "tools.evidence_cache",
    "DiskCache": "tools.disk_cache",
    "skip_databricks_header_probes": "tools.databricks_probes",
    "acknowledge_responses_at_once": "tools.quick_acks",
    "default_cache_dir": "tools.disk_cache",
    "use_importance_disk_cache": "tools.model_importance",
    "collect_resolved": "tools.collector",
    "build_manifest": "tools.artifact_manifest",
    "artifact_source": "tools.artifact_scan",
    "SignerSpec": "tools.model_signature",
    "ScannerName": "tools.pickle_scan",
    "ScanRequest": "tools.artifact_scan",
    "ScanLimits": "tools.pickle_scan",
    "SIGNATURE_FILE": "tools.model_signature",
    "SCANNERS": "tools.pickle_scan",
    "ManifestTooLargeError": "tools.artifact_manifest",
    "LOSS_LIKE_KEYS": "tools.runs",
    "ArtifactScan": "tools.artifact_scan",
    "AliasNotFoundError": "tools.errors",
    "BUILTIN_METRIC_ALIASES": "tools.discovery",
    "METRIC_DATASET_SOURCE": "tools.discovery",
    "GENAI_DATASET_SOURCE": "tools._genai_eval",
    "evaluation_traces": "tools._genai_eval",
    "is_genai_evaluation": "tools._genai_eval",
    "EVAL_TARGET_TAG": "tools._safety",
    "eval_target": "tools._safety",
    "linked_runs_among": "tools._safety",
    "linked_runs_search": "tools._safety",
    "keep_answer": "tools.read_once",
    "answering": "tools.read_once",
    "HISTORY_MAX_VERSIONS": "tools.version_history",
    "GENAI_TABLE_PATH": "tools._genai_eval",
    "EvidenceMapping": "tools.evidence_mapping",
    "EvidenceOrigin": "tools.evidence",
    "InvalidVersionRefError": "tools.errors",
    "MissingStoreError": "tools.errors",
    "ModelNotFoundError": "tools.errors",
    "VersionNotFoundError": "tools.errors",
    "collect_version": "tools.collector",
    "find_eval_table": "tools.discovery",
    "is_config_artifact": "tools.pipeline_config",
    "merge_mappings": "tools.evidence_mapping",
    "read_eval_table": "tools.eval_table",
    "registered_model_names": "tools.registry",
    "resolve_version": "tools.registry",
    "BackendUnavailableError": "tools.errors",
    "BootstrapResult": "tools.significance",
    "call_mlflow": "tools.client",
    "CHANGE_CLASSES": "tools.pipeline_diff",
    "ChangeClass": "tools.pipeline_diff",
    "classify_key": "tools.pipeline_diff",
    "canonical_digest": "tools.evidence",
    "content_key": "tools.evidence_cache",
    "producer_fingerprint": "tools.disk_cache",
    "collect_bundle": "tools.collector",
    "ConfigChange": "tools.pipeline_diff",
    "ConfigFormat": "tools.pipeline_config",
    "ConfigProblem": "tools.pipeline_config",
    "ConfigValue": "tools.pipeline_config",
    "DatasetInput": "tools.evidence",
    "diff_pipeline_configs": "tools.pipeline_diff",
    "EvalTable": "tools.evidence",
    "EvidenceBundle": "tools.evidence",
    "EvidenceGap": "tools.evidence",
    "key_matches": "tools.pipeline_config",
    "load_config_files": "tools.pipeline_config",
    "load_pipeline_config": "tools.pipeline_config",
    "make_client": "tools.client",
    "lower_is_better": "tools.metric_direction",
    "EVALUATE_NAMES": "tools.regression_metrics",
    "REGRESSION_METRICS": "tools.regression_metrics",
    "RegressionMetric": "tools.regression_metrics",
    "regression_metrics": "tools.regression_metrics",
    "regression_value": "tools.regression_metrics",
    "metric_inputs": "tools.segments",
    "METRIC_NAMES": "tools.significance",
    "MetricName": "tools.significance",
    "MetricPoint": "tools.evidence",
    "NotFoundError": "tools.errors",
    "numeric_value": "tools.pipeline_config",
    "pair_tables": "tools.segments",
    "paired_bootstrap": "tools.significance",
    "parse_segment_metric_key": "tools.segments",
    "PipelineConfig": "tools.pipeline_config",
    "PipelineDiff": "tools.pipeline_diff",
    "rate_difference_interval": "tools.significance",
    "read_metric_history": "tools.runs",
    "read_text_artifact": "tools.artifacts",
    "registered_aliases": "tools.registry",
    "version_holding": "tools.registry",
    "logged_model_id_from_source": "tools.registry",
    "parse_version_ref": "tools.registry",
    "SafetySuiteResult": "tools.evidence",
    "segment_metric_key": "tools.segments",
    "segment_metrics_from_keys": "tools.segments",
    "segment_metrics_from_table": "tools.segments",
    "SegmentMetric": "tools.segments",
    "table_metric_name": "tools.segments",
    "TableMetric": "tools.segments",
    "classification_metric": "tools.segments",
    "is_regression_metric": "tools.segments",
    "TablePairing": "tools.segments",
    "ToolError": "tools.errors",
    "value_text": "tools.pipeline_config",
    "VersionEvidence": "tools.evidence",
    "wilson_interval": "tools.significance",
    "ArtifactError": "tools.errors",
    "binary_mask": "tools.significance",
    "numeric_array": "tools.significance",
    "download_artifact": "tools.artifacts",
    "list_run_artifacts": "tools.artifacts",
    "run_logged_models": "tools.artifacts",
    "run_logged_models_read": "tools.artifacts",
    "metric_value": "tools.significance",
    "parse_eval_table": "tools.eval_table",
    "read_dataset_inputs": "tools.datasets",
}

__all__ = [
    "BUILTIN_METRIC_ALIASES",
    "CHANGE_CLASSES",
    "EVALUATE_NAMES",
    "EVAL_TARGET_TAG",
    "GENAI_DATASET_SOURCE",
    "GENAI_TABLE_PATH",
    "HISTORY_MAX_VERSIONS",
    "LOSS_LIKE_KEYS",
    "METRIC_DATASET_SOURCE",
    "METRIC_NAMES",
    "POSITIVE_CLASS_PATTERNS",
    "REGRESSION_METRICS",
    "SCANNERS",
    "SIGNATURE_FILE",
    "AliasNotFoundError",
    "ArtifactError",
    "ArtifactScan",
    "BackendUnavailableError",
    "BootstrapResult",
    "ByteBoundedCache",
    "ChangeClass",
    "ConfigChange",
    "ConfigFormat",
    "ConfigProblem",
    "ConfigValue",
    "DatasetInput",
    "DiskCache",
    "EvalTable",
    "EvidenceBundle",
    "EvidenceGap",
    "EvidenceMapping",
    "EvidenceOrigin",
    "FeatureImportances",
    "FileHashes",
    "ImportanceProcess",
    "InvalidVersionRefError",
    "ManifestTooLargeError",
    "MetricName",
    "MetricPoint",
    "MissingStoreError",
    "ModelNotFoundError",
    "NotFoundError",
    "PipelineConfig",
    "PipelineDiff",
    "RegressionMetric",
    "SafetySuiteResult",
    "ScanLimits",
    "ScanRequest",
    "ScannerName",
    "SegmentMetric",
    "SignerSpec",
    "TableMetric",
    "TablePairing",
    "ToolError",
    "VersionEvidence",
    "VersionHistory",
    "VersionNotFoundError",
    "acknowledge_responses_at_once",
    "answering",
    "artifact_source",
    "binary_mask",
    "build_manifest",
    "call_mlflow",
    "canonical_digest",
    "classification_metric",
    "classify_key",
    "collect_bundle",
    "collect_resolved",
    "collect_version",
    "content_key",
    "default_cache_dir",
    "diff_pipeline_configs",
    "download_artifact",
    "eval_target",
    "evaluation_traces",
    "every_page",
    "evidence_tags",
    "filter_literal",
    "find_eval_table",
    "find_pickles",
    "import_model_readers",
    "importance_process_in_use",
    "importance_reads_under_way",
    "install_log_redaction",
    "installed_version",
    "is_config_artifact",
    "is_genai_evaluation",
    "is_regression_metric",
    "journal_in_wal",
    "keep_answer",
    "key_matches",
    "label_differences",
    "linked_runs_among",
    "linked_runs_search",
    "list_run_artifacts",
    "load_config_files",
    "load_pipeline_config",
    "load_skops_importances",
    "logged_model_id_from_source",
    "lower_is_better",
    "make_client",
    "merge_mappings",
    "metric_inputs",
    "metric_value",
    "model_artifact_manifest",
    "normalize_name",
    "numeric_array",
    "numeric_value",
    "pair_rows",
    "pair_tables",
    "paired_bootstrap",
    "parse_eval_table",
    "parse_segment_metric_key",
    "parse_version_ref",
    "producer_fingerprint",
    "rate_difference_interval",
    "read_dataset_inputs",
    "read_eval_table",
    "read_feature_importances",
    "read_metric_history",
    "read_run",
    "read_text_artifact",
    "read_version_history",
    "redact",
    "registered_aliases",
    "registered_model_names",
    "regression_metrics",
    "regression_value",
    "resolve_version",
    "resolve_versions",
    "run_logged_models",
    "run_logged_models_read",
    "scan_model_artifacts",
    "scan_pickles",
    "search_earlier_versions",
    "segment_metric_key",
    "segment_metrics_from_keys",
    "segment_metrics_from_table",
    "sign_model_directory",
    "skip_databricks_header_probes",
    "start_reading_importances",
    "table_metric_name",
    "use_importance_disk_cache",
    "use_importance_process",
    "value_text",
    "verify_model_directory",
    "version_holding",
    "wilson_interval",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
