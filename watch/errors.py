"""Typed errors of the post-promotion watch.

A broken or missing piece of monitoring evidence is an error whose message names what is wrong
and how to fix it; it is never read as a window without drift::

    WatchError
    ├── MonitoringArtifactError(run_id, path)   an artifact that is missing, unreadable or malformed
    ├── MonitoringRunError(run_id)              a monitoring run whose tags are missing or invalid
    ├── ReferenceNotFoundError(model, version)  nothing to compare the windows with
    └── WindowDataError                         a frame or window that cannot be evaluated
"""

from __future__ import annotations

__all__ = [
    "MonitoringArtifactError",
    "MonitoringRunError",
    "ReferenceNotFoundError",
    "WatchError",
    "WindowDataError",
]


class WatchError(Exception):
    """Base class of the watch's errors."""


class MonitoringArtifactError(WatchError):
    """A monitoring artifact is missing, unreadable or malformed."""

    def __init__(self, run_id: str, path: str, problem: str) -> None:
        self.run_id = run_id
        self.path = path
        self.problem = problem
        super().__init__(
            f"monitoring artifact {path!r} of run {run_id!r}: {problem}; log windows with "
            "watch.log_monitoring_window (or `promogate monitor log`)"
        )


class MonitoringRunError(WatchError):
    """A monitoring run's tags are missing or invalid."""

    def __init__(self, run_id: str, problem: str) -> None:
        self.run_id = run_id
        self.problem = problem
        super().__init__(f"monitoring run {run_id!r}: {problem}")


class ReferenceNotFoundError(WatchError):
    """No reference profile and no evaluation table for the version."""

    def __init__(self, model: str, version: str) -> None:
        self.model = model
        self.version = version
        super().__init__(
            f"no reference for {model!r} version {version!r}: log one with "
            "watch.log_reference_profile, or log the version's evaluation table "
            "(eval/predictions.json) with its features"
        )


class WindowDataError(WatchError):
    """A frame, profile or window that cannot be evaluated as given."""
