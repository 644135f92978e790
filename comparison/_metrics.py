"""Metric values of one version, with where each was read (its canonical evidence reference)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from comparison._refs import metric_ref
from comparison.unavailable import Unavailable
from tools.evidence import VersionEvidence

__all__ = ["MetricValue", "all_metrics", "metric_value"]


class MetricValue(BaseModel):
    """A metric of one version: its value, where it was logged, and the dataset it was computed on
    (logged-model metrics only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: float
    source: Literal["run", "logged_model"]
    ref: str
    dataset_name: str | None = None
    dataset_digest: str | None = None


def metric_value(version: VersionEvidence, name: str) -> MetricValue | Unavailable:
    """`version`'s metric `name`: from its run, else from its logged model."""
    if version.run is not None and name in version.run.metrics:
        return MetricValue(
            name=name, value=version.run.metrics[name], source="run", ref=metric_ref(version, name)
        )
    if version.logged_model is not None:
        for m in version.logged_model.metrics:
            if m.key == name:
                return MetricValue(
                    name=name,
                    value=m.value,
                    source="logged_model",
                    ref=metric_ref(version, name),
                    dataset_name=m.dataset_name,
                    dataset_digest=m.dataset_digest,
                )
    return Unavailable(reason=f"{version.ref} logged no metric {name!r}")


def all_metrics(version: VersionEvidence) -> dict[str, float]:
    """Every metric of `version`: the logged model's, overridden by the run's of the same name."""
    metrics: dict[str, float] = {}
    if version.logged_model is not None:
        metrics.update({m.key: m.value for m in version.logged_model.metrics})
    if version.run is not None:
        metrics.update(version.run.metrics)
    return metrics
