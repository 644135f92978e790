"""What one window's evaluation says: per-check results with their evidence, and the level.

Check ids:

| id | kind |
|---|---|
| `drift.feature.<feature>` | one feature's drift |
| `drift.segment.<column>=<value>.<feature>` | one feature's drift within one segment value |
| `drift.dataset` | the share of drifted features |
| `drift.prediction` | drift of the model's score (or predicted class) |
| `quality.missing.<f>`, `quality.unseen.<f>`, `quality.range.<f>` | data quality |
| `performance.<metric>`, `performance.<metric>.<column>=<value>` | realised metric vs promotion |

A check is `skip` when the window is below the sample floor (or has no labels yet), never `ok`;
one that could not be computed is `error` and raises the policy's error level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policies.watch_rules import WatchAction, WatchLevel

__all__ = [
    "CheckKind",
    "CheckStatus",
    "DriftEvidence",
    "MetricEvidence",
    "QualityEvidence",
    "WatchCheck",
    "WindowLevel",
    "WindowReport",
]

CheckStatus = Literal["ok", "watch", "alert", "skip", "error"]
CheckKind = Literal[
    "feature_drift",
    "segment_drift",
    "dataset_drift",
    "prediction_drift",
    "quality",
    "performance",
]
WindowLevel = Literal["ok", "watch", "alert", "skip"]
"""`skip`: nothing in the window could be judged (below every floor); never read as ok."""

DriftStatistic = Literal["ks", "wasserstein", "chi2", "jensenshannon", "psi", "share"]


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DriftEvidence(_Result):
    """The drift test of one column (or the drift share of the window for `drift.dataset`)."""

    feature: str
    column_kind: Literal["numeric", "categorical", "dataset"]
    method: DriftStatistic
    statistic: float = Field(description="KS D, distance, chi-squared, PSI or drifted share.")
    p_value: float | None = Field(default=None, description="Raw p-value (KS, chi-squared).")
    threshold: float = Field(description="The p-value (corrected) or distance the test used.")
    drifted: bool
    reference_rows: int
    window_rows: int
    segment: str | None = Field(default=None, description="`column=value` for segment drift.")
    approximate: bool = Field(
        default=False, description="Computed from compact profiles rather than raw samples."
    )


class MetricEvidence(_Result):
    """A realised metric compared with its value at promotion."""

    metric: str
    promotion_value: float
    realised_value: float
    delta: float = Field(
        description="realised - promotion (negative: worse, unless lower_is_better)."
    )
    ci_low: float | None = None
    ci_high: float | None = None
    p_value: float | None = Field(default=None, description="One-sided p for 'realised is worse'.")
    max_drop: float
    significance: float
    method: Literal["newcombe", "wilson", "bootstrap", "bootstrap_one_sample"]
    reference_rows: int | None = None
    window_rows: int
    segment: str | None = None
    lower_is_better: bool = Field(
        default=False, description="A rise is worse (an error: rmse, mae, mse)."
    )

    @property
    def worsening(self) -> float:
        """How much worse the realised value is than the promotion-time one (negative: better)."""
        return self.delta if self.lower_is_better else -self.delta


class QualityEvidence(_Result):
    """One data-quality measure of one feature."""

    feature: str
    measure: Literal["missing_share", "unseen_share", "out_of_range_share"]
    reference_value: float
    window_value: float
    threshold: float
    examples: list[str] = Field(default_factory=list, description="Up to 5 offending values.")


class WatchCheck(_Result):
    """One check of a window."""

    id: str
    kind: CheckKind
    status: CheckStatus
    level: WatchLevel | None = Field(
        default=None, description="The level this check raises (None when skipped)."
    )
    message: str
    drift: DriftEvidence | None = None
    metric: MetricEvidence | None = None
    quality: QualityEvidence | None = None


class WindowReport(_Result):
    """The evaluation of one monitoring window against the reference the decision rested on."""

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    run_id: str | None = None
    label_run_ids: list[str] = Field(default_factory=list)
    level: WindowLevel
    actions: list[WatchAction] = Field(
        default_factory=list, description="What the policy asks for at this level."
    )
    rollback: Literal["advise", "automatic"] = "advise"
    rows: int
    labelled_rows: int
    drifted_features: list[str] = Field(default_factory=list)
    drift_share: float | None = None
    drifted_segments: dict[str, list[str]] = Field(
        default_factory=dict, description="`column=value` -> features drifted within it."
    )
    checks: list[WatchCheck]
    reference_source: str = Field(description="Where the reference came from.")
    evidence_digest: str = Field(
        description="SHA-256 over the window's inputs, labels and reference; a new digest for an "
        "old window (late labels) means it should be evaluated again."
    )

    def failing(self) -> list[WatchCheck]:
        """Checks at watch or alert level (errors included)."""
        return [c for c in self.checks if c.level in ("watch", "alert")]
