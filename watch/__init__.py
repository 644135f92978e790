"""Post-promotion watch: monitoring evidence in MLflow, and the pure evaluation of a window
(drift, data quality, realised metrics) against the reference the promotion decision rested on.
"""

from __future__ import annotations

from watch.errors import (
    MonitoringArtifactError,
    MonitoringRunError,
    ReferenceNotFoundError,
    WatchError,
    WindowDataError,
)
from watch.evaluate import evaluate_window
from watch.profile import DatasetProfile, profile_frame
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
    "WindowReport",
    "evaluate_window",
    "profile_frame",
]
