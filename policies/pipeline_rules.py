"""The `pipeline:` section of a policy and its checks (placeholder until the pipeline rules land)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from policies.result import CheckResult
from tools.evidence import EvidenceBundle

__all__ = ["PipelineRules", "evaluate_pipeline"]


class PipelineRules(BaseModel):
    """Rules on the training pipeline's configuration."""

    model_config = ConfigDict(extra="forbid")

    require: list[str] = Field(default_factory=list)
    forbid_changes: list[str] = Field(default_factory=list)


def evaluate_pipeline(policy: str, rules: PipelineRules, bundle: EvidenceBundle) -> list[CheckResult]:
    """Evaluate `rules` against the bundle's pipeline configs and params."""
    return []
