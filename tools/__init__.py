"""Read-only evidence from MLflow: registry, runs, metric histories, logged models, datasets,
artifacts, evaluation tables, safety results; pipeline configs and their diff; statistics.
Typed pydantic results; nothing in promogate above it.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.artifacts import (
        read_text_artifact as read_text_artifact,
    )
    from tools.client import (
        call_mlflow as call_mlflow,
    )
    from tools.client import (
        make_client as make_client,
    )
    from tools.collector import (
        collect_bundle as collect_bundle,
    )
    from tools.collector import (
        collect_version as collect_version,
    )
    from tools.errors import (
        BackendUnavailableError as BackendUnavailableError,
    )
    from tools.errors import (
        NotFoundError as NotFoundError,
    )
    from tools.errors import (
        ToolError as ToolError,
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
        MetricPoint as MetricPoint,
    )
    from tools.evidence import (
        SafetySuiteResult as SafetySuiteResult,
    )
    from tools.evidence import (
        VersionEvidence as VersionEvidence,
    )
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
    from tools.registry import (
        registered_aliases as registered_aliases,
    )
    from tools.runs import (
        read_metric_history as read_metric_history,
    )
    from tools.segments import (
        SegmentMetric as SegmentMetric,
    )
    from tools.segments import (
        TablePairing as TablePairing,
    )
    from tools.segments import (
        metric_inputs as metric_inputs,
    )
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
    from tools.significance import (
        paired_bootstrap as paired_bootstrap,
    )
    from tools.significance import (
        rate_difference_interval as rate_difference_interval,
    )
    from tools.significance import (
        wilson_interval as wilson_interval,
    )

_EXPORTS: dict[str, str] = {
    "collect_version": "tools.collector",
    "is_config_artifact": "tools.pipeline_config",
    "BackendUnavailableError": "tools.errors",
    "BootstrapResult": "tools.significance",
    "call_mlflow": "tools.client",
    "CHANGE_CLASSES": "tools.pipeline_diff",
    "ChangeClass": "tools.pipeline_diff",
    "classify_key": "tools.pipeline_diff",
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
    "SafetySuiteResult": "tools.evidence",
    "segment_metric_key": "tools.segments",
    "segment_metrics_from_keys": "tools.segments",
    "segment_metrics_from_table": "tools.segments",
    "SegmentMetric": "tools.segments",
    "table_metric_name": "tools.segments",
    "TablePairing": "tools.segments",
    "ToolError": "tools.errors",
    "value_text": "tools.pipeline_config",
    "VersionEvidence": "tools.evidence",
    "wilson_interval": "tools.significance",
}

__all__ = [
    "CHANGE_CLASSES",
    "METRIC_NAMES",
    "BackendUnavailableError",
    "BootstrapResult",
    "ChangeClass",
    "ConfigChange",
    "ConfigFormat",
    "ConfigProblem",
    "ConfigValue",
    "DatasetInput",
    "EvalTable",
    "EvidenceBundle",
    "EvidenceGap",
    "MetricName",
    "MetricPoint",
    "NotFoundError",
    "PipelineConfig",
    "PipelineDiff",
    "SafetySuiteResult",
    "SegmentMetric",
    "TablePairing",
    "ToolError",
    "VersionEvidence",
    "call_mlflow",
    "classify_key",
    "collect_bundle",
    "collect_version",
    "diff_pipeline_configs",
    "is_config_artifact",
    "key_matches",
    "load_config_files",
    "load_pipeline_config",
    "make_client",
    "metric_inputs",
    "numeric_value",
    "pair_tables",
    "paired_bootstrap",
    "parse_segment_metric_key",
    "rate_difference_interval",
    "read_metric_history",
    "read_text_artifact",
    "registered_aliases",
    "segment_metric_key",
    "segment_metrics_from_keys",
    "segment_metrics_from_table",
    "table_metric_name",
    "value_text",
    "wilson_interval",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
