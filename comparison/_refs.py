"""Canonical evidence references: one spelling for each kind of evidence, everywhere.

Checks, tool results, question/answer logs and findings cite evidence with these strings, and the
LLM's citations are checked against them, so they are built here and nowhere else.
"""

from __future__ import annotations

from typing import Protocol

from tools.evidence import VersionEvidence

__all__ = [
    "artifact_ref",
    "dataset_inputs_ref",
    "dataset_ref",
    "metric_history_ref",
    "metric_ref",
    "safety_ref",
    "version_ref",
]


def metric_ref(version: VersionEvidence, name: str) -> str:
    """Where `version`'s metric `name` was read: run, else logged model, else the version."""
    if version.run is not None and name in version.run.metrics:
        return f"run:{version.run.run_id}/metrics/{name}"
    if version.logged_model is not None and any(
        m.key == name for m in version.logged_model.metrics
    ):
        return f"logged_model:{version.logged_model.model_id}/metrics/{name}"
    return f"version:{version.ref}/metrics/{name}"


class _RunOwned(Protocol):
    @property
    def ref(self) -> str: ...
    @property
    def run_id(self) -> str | None: ...


def metric_history_ref(version: _RunOwned, name: str) -> str:
    """The full history of `version`'s metric `name` (read from its source run)."""
    owner = f"run:{version.run_id}" if version.run_id else f"version:{version.ref}"
    return f"{owner}/metric_history/{name}"


def artifact_ref(version: VersionEvidence, path: str) -> str:
    """A run artifact of `version` (an evaluation table, a safety result file)."""
    if version.run_id:
        return f"run:{version.run_id}/artifacts/{path}"
    return f"version:{version.ref}/artifacts/{path}"


def dataset_inputs_ref(version: VersionEvidence) -> str:
    """The dataset inputs logged for `version`'s source run."""
    return f"run:{version.run_id}/inputs" if version.run_id else f"version:{version.ref}/datasets"


def dataset_ref(digest: str) -> str:
    """A dataset, by its digest."""
    return f"dataset:{digest}"


def safety_ref(suite: str) -> str:
    """The results of a safety suite."""
    return f"safety:{suite}"


def version_ref(version: VersionEvidence, part: str) -> str:
    """A part of the model version's own record (``description``, ``tags/<key>``, ``datasets``)."""
    return f"version:{version.ref}/{part}"
