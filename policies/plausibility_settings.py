"""The `plausibility:` section of a policy: when good news is too good to believe.

```yaml
plausibility:
  action: escalate              # report | escalate | block what looks implausible
  metrics:                      # the largest gain believed without a question, per metric
    - {name: roc_auc, max_gain: 0.06}
    - {name: rmse, max_gain: 0.5}   # lower-is-better by its name: a fall is the gain
  post_outcome_patterns: ["*settled*"]   # input names that mean data known only after the outcome
  max_feature_share: 0.5        # one new input carrying more of the model than this is a question
```

The section applies to every policy, written or not: every review asks whether its improvement is
plausible (`enabled: false` turns the questions off). The defaults question a gain only when it
exceeds the largest of `min_gain`, `history_factor` times the largest move between the model's
earlier versions, and what the changed settings usually move (`expected_moves`), or when it removes
more than `max_gap_closed` of the distance to a perfect score; that leaves seed retrains and
more-data retrains alone and stops the jump a leaked outcome column brings.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from tools.metric_direction import lower_is_better

__all__ = [
    "DEFAULT_EXPECTED_MOVES",
    "DEFAULT_POST_OUTCOME_PATTERNS",
    "UNEXPLAINED_MOVE",
    "GainLimit",
    "PlausibilityAction",
    "PlausibilityRules",
]

PlausibilityAction = Literal["report", "escalate", "block"]

#: What a change of each class of pipeline setting usually moves a score in [0, 1] by, at most.
#: A retrain with another seed moves ROC AUC by a few thousandths; a new or longer training data
#: window or source by up to a tenth; a genuinely strong new input by a little more; the rest in
#: between.
DEFAULT_EXPECTED_MOVES: dict[str, float] = {
    "seed": 0.02,
    "dependency": 0.01,
    "other": 0.01,
    "hyperparameter": 0.05,
    "features": 0.12,
    "split": 0.05,
    "evaluation": 0.05,
    "label": 0.10,
    "data_window": 0.10,
    "data_source": 0.10,
}
#: Without a pipeline config diff nothing explains the gain beyond this.
UNEXPLAINED_MOVE = 0.05

#: Input names that usually mean information known only after the outcome (target leakage).
#: Globs on the input's name, case-insensitive; only new or changed inputs are questioned.
DEFAULT_POST_OUTCOME_PATTERNS: tuple[str, ...] = (
    "*outcome*",
    "*chargeback*",
    "*refund*",
    "*churned*",
    "*cancelled*",
    "*canceled*",
    "*cancellation*",
    "*defaulted*",
    "*default_flag*",
    "*write_off*",
    "*writeoff*",
    "*written_off*",
    "*collections*",
    "*settled*",
    "*settlement*",
    "*resolution*",
    "*resolved*",
    "*label*",
    "*target*",
    "*ground_truth*",
    "*is_fraud*",
    "*fraud_confirmed*",
    "*confirmed_fraud*",
    "*after_*",
    "*_after",
    "*post_event*",
    "*post_outcome*",
    "*future_*",
    "*days_to_*",
    "*time_to_*",
    "*paid_off*",
    "*closed_date*",
    "*close_reason*",
    "*leak*",
)

_CLASS_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GainLimit(_Spec):
    """The largest improvement of one metric believed without a question."""

    name: str = Field(min_length=1)
    max_gain: float | None = Field(
        default=None,
        ge=0.0,
        description="Largest believable improvement, in the metric's units (0.06 ROC AUC). "
        "Unset: the history and the changed settings decide.",
    )
    lower_is_better: bool | None = Field(
        default=None,
        description="Whether a smaller value is better. Unset: by the metric's name, as for "
        "metric rules (errors and losses are).",
    )

    @property
    def prefers_lower(self) -> bool:
        """Whether a smaller value is better: as the limit says, else by the metric's name."""
        return lower_is_better(self.name, self.lower_is_better)


def _valid_moves(moves: dict[str, float]) -> dict[str, float]:
    for name, value in moves.items():
        if not _CLASS_NAME.match(name):
            raise ValueError(f"expected_moves key {name!r} is not a change class name")
        if value < 0:
            raise ValueError(f"expected_moves[{name!r}] is {value!r}; it must be >= 0")
    return moves


class PlausibilityRules(_Spec):
    """Whether the candidate's improvement is believable, and what an implausible one does."""

    enabled: bool = Field(
        default=True, description="Every review asks the questions unless this is false."
    )
    action: PlausibilityAction = Field(
        default="escalate",
        description="What a suspicion does: 'report' it as a finding, 'escalate' to a human, "
        "or 'block' (a failing check).",
    )
    metrics: list[GainLimit] = Field(
        default_factory=list,
        description="Largest believable gain per metric. Threshold-free ranking scores both "
        "versions log (roc_auc, auc, pr_auc, average_precision) are questioned as well, with "
        "derived bounds.",
    )
    min_gain: float = Field(
        default=0.02, ge=0.0, description="Gains at or below this are never questioned."
    )
    max_gap_closed: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="For scores in [0, 1]: a gain above min_gain that removes more than this "
        "share of the baseline's remaining distance to a perfect score is questioned, whatever "
        "changed (0.86 -> 0.97 removes 79%).",
    )
    history_factor: float = Field(
        default=3.0,
        gt=0.0,
        description="A gain within this many times the largest move between the model's "
        "earlier versions is ordinary for this model.",
    )
    history_versions: int = Field(
        default=20, ge=1, le=50, description="Earlier versions read from the registry."
    )
    expected_moves: Annotated[dict[str, float], AfterValidator(_valid_moves)] = Field(
        default_factory=dict,
        description="What a change of each class of pipeline setting usually moves a score by "
        "(merged over the defaults, e.g. {seed: 0.02, data_source: 0.1}).",
    )
    post_outcome_patterns: list[str] = Field(
        default_factory=list,
        description="More name globs of inputs known only after the outcome.",
    )
    default_patterns: bool = Field(
        default=True, description="Also use the built-in post-outcome name patterns."
    )
    max_feature_share: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="A new (or newly dominant) input carrying more than this share of the "
        "model's importance is a question.",
    )
    skops_trusted_types: list[str] = Field(
        default_factory=list,
        description="skops types trusted when loading a model to read its importances, used "
        "when the policy has no security section (else security.skops_trusted_types).",
    )

    @field_validator("metrics")
    @classmethod
    def _unique(cls, limits: list[GainLimit]) -> list[GainLimit]:
        names = [m.name for m in limits]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"plausibility metric {dupes[0]!r} appears twice")
        return limits

    def moves(self) -> dict[str, float]:
        """The expected move of each change class: the defaults with this policy's overrides."""
        return {**DEFAULT_EXPECTED_MOVES, **self.expected_moves}

    def patterns(self) -> list[str]:
        """The post-outcome name globs in force."""
        base = list(DEFAULT_POST_OUTCOME_PATTERNS) if self.default_patterns else []
        return base + [p for p in self.post_outcome_patterns if p not in base]
