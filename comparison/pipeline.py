"""Pipeline evidence of one version (config, datasets, loss histories) and the diff between two."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from comparison.datasets import evaluation_digests
from tools.evidence import DatasetInput, MetricPoint, VersionEvidence
from tools.pipeline_config import PipelineConfig, load_pipeline_config

__all__ = ["PipelineEvidence", "pipeline_evidence"]


class PipelineEvidence(BaseModel):
    """What the pipeline rules read of one version, or of one file revision in a config review."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(description="The version, e.g. 'churn/5', or the file revision reviewed.")
    run_id: str | None = Field(default=None, description="The version's source run, if any.")
    config: PipelineConfig
    datasets: list[DatasetInput] = Field(default_factory=list)
    metric_histories: dict[str, list[MetricPoint]] = Field(default_factory=dict)
    evaluation_digests: list[str] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list, description="Why evidence could not be read.")


def pipeline_evidence(version: VersionEvidence, *, baseline: bool = False) -> PipelineEvidence:
    """Load the pipeline evidence of one version of the bundle.

    Args:
        version: The candidate's or the baseline's evidence.
        baseline: Whether this is the baseline; its artifact references then name the version
            (``artifact:churn/1/pipeline/pipeline.yaml:3``) so they are not read as the candidate's.
    """
    return PipelineEvidence(
        ref=version.ref,
        run_id=version.run_id,
        config=load_pipeline_config(version, qualify_refs=baseline),
        datasets=list(version.datasets),
        metric_histories=dict(version.metric_histories),
        evaluation_digests=evaluation_digests(version),
        gaps=[
            f"{gap.source}: {gap.message}"
            for gap in version.gaps
            if gap.source in ("artifacts", "pipeline_config", "run", "datasets", "metric_history")
        ],
    )
