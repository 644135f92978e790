"""What the plausibility questions read beyond a version's own evidence: the model's version
history and the feature importances its logged model states. Plain data, so the evidence bundle
can carry them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FeatureImportances", "HistoricVersion", "ImportanceKind", "VersionHistory"]

ImportanceKind = Literal["feature_importances_", "coef_"]


class FeatureImportances(BaseModel):
    """What a logged model says about its inputs: each input's share of the importance, or why
    it could not be read safely."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="Where the model was read from (models:/m-... or runs:/...).")
    available: bool
    shares: dict[str, float] = Field(
        default_factory=dict,
        description="Each input's share of the total importance (non-negative, summing to 1).",
    )
    kind: ImportanceKind | None = Field(
        default=None,
        description="feature_importances_ (trees) or coef_ (linear models, absolute values).",
    )
    estimator: str | None = None
    serialization_format: str | None = None
    model_file: str | None = None
    reason: str | None = Field(default=None, description="Why importances are unavailable.")

    @property
    def top(self) -> tuple[str, float] | None:
        """The input with the largest share, and that share."""
        if not self.shares:
            return None
        name = max(self.shares, key=lambda k: (self.shares[k], k))
        return name, self.shares[name]


class HistoricVersion(BaseModel):
    """One earlier version and the metrics it was registered with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    run_id: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    evidence: list[str] = Field(default_factory=list)


class VersionHistory(BaseModel):
    """The earlier versions of the candidate's model, oldest first, and what could not be read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    before_version: int
    versions: list[HistoricVersion] = Field(default_factory=list)
    gaps: list[str] = Field(default_factory=list)

    def series(self, metric: str) -> list[tuple[int, float]]:
        """(version, value) of one metric across the earlier versions that logged it."""
        return [(v.version, v.metrics[metric]) for v in self.versions if metric in v.metrics]
