"""The `watch:` section of a policy: how a promoted model is watched in production.

```yaml
watch:
  sample_floor: 200              # rows a window needs before drift and quality are judged
  features: [income, age, region]   # default: every column of the reference but label/score/...
  categorical: [region]          # numeric columns to treat as categories
  segments: [region]             # drift and realised metrics are also judged per segment value
  drift:
    method: auto                 # auto | ks | wasserstein | chi2 | jensenshannon | psi
    methods: {income: psi}       # per-feature override
    p_value: 0.05                # KS / chi-squared (small references)
    distance: 0.1                # normalised Wasserstein / Jensen-Shannon (large references)
    psi: {watch: 0.1, alert: 0.2}
    small_reference_rows: 1000   # up to this many rows (reference or window): p-value tests
    correction: bonferroni       # over the features (and score) tested in one window
    dataset_share: 0.5           # share of drifted features that is dataset drift
  prediction_drift: {column: score}
  quality: {max_missing_increase: 0.05, max_unseen_share: 0.01, max_out_of_range_share: 0.05}
  performance:                   # accuracy, recall, precision, f1, roc_auc; rmse, mae, mse, r2
    - {metric: recall, max_drop: 0.05, significance: 0.05, segments: [region]}
  label_floor: 100
  levels: {feature_drift: watch, dataset_drift: alert, prediction_drift: watch, quality: watch,
           performance: alert, performance_unconfirmed: ok, error: alert}
  on_watch: [notify]
  on_alert: [notify, re_review]
  rollback: advise               # advise | automatic
```

The method defaults follow Evidently's: numeric features are tested with Kolmogorov-Smirnov when
the reference (or, unlike Evidently, the window or segment) has up to 1000 rows, and with the
Wasserstein distance normalised by the reference's standard deviation (drift at 0.1) on larger
ones; categorical features with chi-squared on small samples and the Jensen-Shannon distance
(drift at 0.1) on large ones. P-value tests drift at 0.05. Unlike Evidently, p-values are
Bonferroni-corrected over all drift tests of a window (features, score, features within
segments) by default (`correction: none` turns that off), so that a window of many stable
features does not raise a drift watch one time in two. A distance past its threshold counts
as drift only when KS (or chi-squared) is significant at the same corrected level, so that
sampling noise on windows of a few thousand rows does not.
"""

from __future__ import annotations

from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DRIFT_METHODS",
    "DriftMethod",
    "DriftRules",
    "PerformanceRule",
    "PredictionDriftRules",
    "PsiThresholds",
    "QualityRules",
    "WatchAction",
    "WatchLevel",
    "WatchLevels",
    "WatchMetric",
    "WatchRules",
]

DriftMethod = Literal["auto", "ks", "wasserstein", "chi2", "jensenshannon", "psi"]
DRIFT_METHODS: tuple[DriftMethod, ...] = (
    "auto",
    "ks",
    "wasserstein",
    "chi2",
    "jensenshannon",
    "psi",
)
WatchLevel = Literal["ok", "watch", "alert"]
WatchAction = Literal["notify", "re_review", "rollback"]
# A regressor's errors (rmse, mae, mse) are lower-is-better: their drop is a rise.
WatchMetric = Literal[
    "accuracy", "recall", "precision", "f1", "roc_auc", "rmse", "mae", "mse", "r2"
]

_NUMERIC_ONLY: frozenset[str] = frozenset({"ks", "wasserstein"})
_CATEGORICAL_ONLY: frozenset[str] = frozenset({"chi2", "jensenshannon"})

Significance = Annotated[float, Field(gt=0.0, lt=1.0)]
Ratio = Annotated[float, Field(ge=0.0, le=1.0)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PsiThresholds(_Spec):
    """Population stability index bands: `watch` and above is drift, `alert` and above severe."""

    watch: float = Field(default=0.1, gt=0.0)
    alert: float = Field(default=0.2, gt=0.0)
    bins: int = Field(default=10, ge=2, le=100, description="Reference-quantile bins (numeric).")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.watch > self.alert:
            raise ValueError(f"psi watch {self.watch!r} is above psi alert {self.alert!r}")
        return self


class DriftRules(_Spec):
    """Per-feature drift: the method by data type and reference size, and its thresholds."""

    method: DriftMethod = Field(
        default="auto",
        description="auto: KS / chi-squared on small references, normalised Wasserstein / "
        "Jensen-Shannon on large ones; or one method for every feature.",
    )
    methods: dict[str, DriftMethod] = Field(
        default_factory=dict, description="Per-feature method, overriding `method`."
    )
    p_value: Significance = Field(
        default=0.05, description="P-value below which KS and chi-squared call drift."
    )
    distance: float = Field(
        default=0.1,
        gt=0.0,
        description="Normalised Wasserstein / Jensen-Shannon distance at or above which drift.",
    )
    psi: PsiThresholds = Field(default_factory=PsiThresholds)
    small_reference_rows: int = Field(
        default=1000,
        ge=1,
        description="When the reference or the window (segment) has at most this many rows, "
        "the p-value tests are used.",
    )
    correction: Literal["bonferroni", "none"] = Field(
        default="bonferroni",
        description="Multiple-testing correction of the p-values over the columns of a window.",
    )
    dataset_share: Ratio = Field(
        default=0.5, description="Share of drifted features at or above which a window drifted."
    )


class PredictionDriftRules(_Spec):
    """Drift of the model's output, judged like a feature."""

    enabled: bool = True
    column: str = Field(default="score", min_length=1, description="`score` or `prediction`.")
    method: DriftMethod = "auto"


class QualityRules(_Spec):
    """Data quality of a window against the reference."""

    max_missing_increase: Ratio = Field(
        default=0.05, description="Largest rise of a feature's missing share over the reference's."
    )
    max_unseen_share: Ratio = Field(
        default=0.01, description="Largest share of categories the reference never had."
    )
    max_out_of_range_share: Ratio = Field(
        default=0.05, description="Largest share of numeric values outside the reference's range."
    )


class PerformanceRule(_Spec):
    """A realised metric (from late labels) against its value at promotion."""

    metric: WatchMetric
    max_drop: float = Field(
        default=0.0,
        ge=0.0,
        description="Absolute drop tolerated before the comparison counts (for rmse, mae and "
        "mse: the rise tolerated).",
    )
    significance: Significance = Field(
        default=0.05,
        description="A drop beyond tolerance is an alert only when significant at this level "
        "(else `performance_unconfirmed`, ok by default).",
    )
    segments: list[str] = Field(
        default_factory=list, description="Segment columns judged value by value as well."
    )
    min_segment_rows: int = Field(default=50, ge=1, description="Smaller segments are skipped.")
    correction: Literal["bonferroni", "none"] = Field(
        default="bonferroni",
        description="Correction of the significance over the segment values of one window.",
    )


class WatchLevels(_Spec):
    """Which level each kind of finding raises."""

    feature_drift: WatchLevel = "watch"
    segment_drift: WatchLevel = "watch"
    dataset_drift: WatchLevel = "alert"
    prediction_drift: WatchLevel = "watch"
    quality: WatchLevel = "watch"
    performance: WatchLevel = "alert"
    performance_unconfirmed: WatchLevel = Field(
        default="ok",
        description="Level of a drop beyond tolerance that is not significant (after the "
        "correction over segment values). Realised metrics on a few hundred labelled rows per "
        "segment move by chance more than most tolerances, so by default such a drop is "
        "reported but raises nothing; `watch` asks to be told of it, as reviews warn.",
    )
    error: Literal["watch", "alert"] = Field(
        default="alert",
        description="Level of a check that could not be computed (never ok).",
    )


def _default_on_watch() -> list[WatchAction]:
    return ["notify"]


def _default_on_alert() -> list[WatchAction]:
    return ["notify", "re_review"]


class WatchRules(_Spec):
    """How a promoted model version is watched: thresholds, floors, levels and actions."""

    sample_floor: int = Field(
        default=200, ge=1, description="Rows a window needs for drift and quality (else skip)."
    )
    label_floor: int = Field(
        default=100, ge=1, description="Labelled rows a window needs for realised metrics."
    )
    features: list[str] | None = Field(
        default=None,
        description="Features to watch; default every reference column except label, "
        "prediction, score, row_id and the segment columns.",
    )
    categorical: list[str] = Field(
        default_factory=list, description="Numeric columns to treat as categories."
    )
    segments: list[str] = Field(
        default_factory=list,
        description="Segment columns: drift is also judged within each of their values.",
    )
    min_segment_rows: int = Field(
        default=100, ge=1, description="Rows a segment value needs in the window and reference."
    )
    drift: DriftRules = Field(default_factory=DriftRules)
    prediction_drift: PredictionDriftRules = Field(default_factory=PredictionDriftRules)
    quality: QualityRules = Field(default_factory=QualityRules)
    performance: list[PerformanceRule] = Field(default_factory=list)
    n_resamples: int = Field(
        default=1000, ge=100, le=20000, description="Bootstrap resamples (f1, roc_auc)."
    )
    seed: int = 0
    levels: WatchLevels = Field(default_factory=WatchLevels)
    on_watch: list[WatchAction] = Field(default_factory=_default_on_watch)
    on_alert: list[WatchAction] = Field(default_factory=_default_on_alert)
    rollback: Literal["advise", "automatic"] = Field(
        default="advise",
        description="advise: an alert names the rollback target; automatic: it also moves the "
        "alias back through the promote path (only where on_alert lists rollback).",
    )
    skops_trusted_types: list[str] = Field(
        default_factory=list,
        description="skops types trusted when loading the rollback target's model to score what "
        "moving back would cost, used when the policy has no security section (else "
        "security.skops_trusted_types); every other default artifact rule still applies.",
    )

    @field_validator("performance")
    @classmethod
    def _unique_metrics(cls, rules: list[PerformanceRule]) -> list[PerformanceRule]:
        seen: set[str] = set()
        for rule in rules:
            if rule.metric in seen:
                raise ValueError(f"performance metric {rule.metric!r} appears twice")
            seen.add(rule.metric)
        return rules

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        for feature, method in self.drift.methods.items():
            if feature in self.categorical and method in _NUMERIC_ONLY:
                raise ValueError(
                    f"feature {feature!r} is categorical; method {method!r} is for numeric ones"
                )
        if self.features is not None:
            for name in [*self.categorical, *self.drift.methods]:
                if name not in self.features:
                    raise ValueError(
                        f"{name!r} is not among the watched features {self.features!r}"
                    )
            overlap = sorted(set(self.features) & set(self.segments))
            if overlap:
                raise ValueError(f"{overlap!r} are segment columns and cannot also be features")
        if "rollback" in self.on_watch:
            raise ValueError("rollback cannot be an on_watch action; list it under on_alert")
        if self.rollback == "automatic" and "rollback" not in self.on_alert:
            raise ValueError("rollback: automatic needs 'rollback' in on_alert")
        return self
