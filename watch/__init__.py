"""Post-promotion watch: monitoring evidence in MLflow, and the pure evaluation of a window
(drift, data quality, realised metrics) against the reference the promotion decision rested on.
"""

from __future__ import annotations

from watch.drift import categorical_drift, numeric_drift
from watch.errors import (
    MonitoringArtifactError,
    MonitoringRunError,
    ReferenceNotFoundError,
    WatchError,
    WindowDataError,
)
from watch.evaluate import evaluate_window
from watch.monitoring import (
    LATEST_WINDOW_TAG,
    WindowRef,
    list_windows,
    log_labels,
    log_monitoring_window,
    log_reference_profile,
    read_reference,
    read_window,
)
from watch.profile import DatasetProfile, category_counts, profile_frame
from watch.report import (
    CheckKind,
    CheckStatus,
    DriftEvidence,
    MetricEvidence,
    QualityEvidence,
    WatchCheck,
    WindowLevel,
    WindowReport,
)
from watch.window import MonitoringWindow, Reference

__all__ = [
    "LATEST_WINDOW_TAG",
    "CheckKind",
    "CheckStatus",
    "DatasetProfile",
    "DriftEvidence",
    "MetricEvidence",
    "MonitoringArtifactError",
    "MonitoringRunError",
    "MonitoringWindow",
    "QualityEvidence",
    "Reference",
    "ReferenceNotFoundError",
    "WatchCheck",
    "WatchError",
    "WindowDataError",
    "WindowLevel",
    "WindowRef",
    "WindowReport",
    "categorical_drift",
    "category_counts",
    "evaluate_window",
    "list_windows",
    "log_labels",
    "log_monitoring_window",
    "log_reference_profile",
    "numeric_drift",
    "profile_frame",
    "read_reference",
    "read_window",
]
