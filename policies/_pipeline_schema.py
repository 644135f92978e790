"""The ``pipeline:`` section of a policy: which config keys are required, frozen or bounded,
dependency pinning, convergence, train/eval overlap and evaluation-set rules."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from comparison.convergence import (
    ConvergenceCriteria,
)
from tools.pipeline_config import (
    numeric_value,
)
from tools.pipeline_diff import (
    ChangeClass,
)

__all__ = [
    "DEFAULT_EVAL_FRACTION_KEYS",
    "DEFAULT_TRAIN_FRACTION_KEYS",
    "HOW_TO_LOG_PIPELINE",
    "ConvergenceRule",
    "DependencyRules",
    "PipelineRules",
    "RangeRule",
    "RuleMode",
]

RuleMode = Literal["forbid", "warn", "off"]

HOW_TO_LOG_PIPELINE = (
    "log the pipeline config on the source run, e.g. "
    "mlflow.log_artifact('pipeline.yaml', artifact_path='pipeline') (YAML, JSON, DVC "
    "params.yaml/dvc.yaml, MLproject, a compiled Kubeflow spec or a Hydra config directory), "
    "or log its values as run params with mlflow.log_params(...)"
)
_HOW_TO_LOG_ENV = (
    "log the model with its environment, e.g. mlflow.sklearn.log_model(model, name='model', "
    "pip_requirements=['scikit-learn==1.5.2', ...]), which writes requirements.txt and conda.yaml"
)
_HOW_TO_LOG_DATASETS = (
    "log both datasets with mlflow.log_input(dataset, context='training') and "
    "mlflow.log_input(dataset, context='evaluation')"
)

DEFAULT_EVAL_FRACTION_KEYS: tuple[str, ...] = (
    "*eval_fraction",
    "*eval_size",
    "*eval_split",
    "split.eval",
    "*test_fraction",
    "*test_size",
    "*test_split",
    "split.test",
    "*holdout_fraction",
    "*holdout_size",
    "*validation_fraction",
    "*validation_size",
    "*val_fraction",
    "*val_size",
    "*valid_size",
)
DEFAULT_TRAIN_FRACTION_KEYS: tuple[str, ...] = ("*train_fraction", "*train_size", "split.train")

# Keys whose values name a dataset (for overlap and evaluation-set identity).
_TRAIN_DATA_KEYS = (
    "*train*path*",
    "*train*uri*",
    "*train*source*",
    "*train*table*",
    "data.source",
    "data.path",
    "data.uri",
    "data.table",
)
_EVAL_DATA_KEYS = (
    "*eval*path*",
    "*eval*uri*",
    "*eval*source*",
    "*eval*table*",
    "*eval*dataset*",
    "*test*path*",
    "*test*uri*",
    "*test*table*",
    "*test_data*",
)
_EVAL_SET_IDENTITY = (
    "*path*",
    "*uri*",
    "*url*",
    "*source*",
    "*dataset*",
    "*table*",
    "*query*",
    "*digest*",
    "*file*",
    "*snapshot*",
    "*version*",
)
_BUILD_TOOLS = ("pip", "setuptools", "wheel")


class RangeRule(BaseModel):
    """Allowed range of a config value. Bounds may be numbers or durations (``180d``, ``26w``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min: float | str | None = None
    max: float | str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range needs min, max or both")
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None and numeric_value(bound) is None:
                raise ValueError(f"range {name} {bound!r} is neither a number nor a duration")
        low, high = self.low, self.high
        if low is not None and high is not None and low > high:
            raise ValueError(f"range min {self.min!r} is above max {self.max!r}")
        return self

    @property
    def low(self) -> float | None:
        return None if self.min is None else numeric_value(self.min)

    @property
    def high(self) -> float | None:
        return None if self.max is None else numeric_value(self.max)


class DependencyRules(BaseModel):
    """Rules on the logged model's requirements.txt / conda.yaml / python_env.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    require_pinned: bool = False
    forbid_changes: bool = False
    ignore: list[str] = Field(
        default_factory=lambda: list(_BUILD_TOOLS),
        description="Package names never required to be pinned (build tools by default).",
    )


class ConvergenceRule(ConvergenceCriteria):
    """Did training converge? Judged on the candidate's metric history of `metric`.

    Diverged: a non-finite value, a last value above the first, or a rebound from the best value
    of more than `max_rebound` of the total improvement. Still falling: over the last
    `tail_fraction` of the points, the fitted (least-squares) drop is more than
    `max_tail_improvement` of the total improvement.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    on_still_falling: Literal["fail", "warn"] = "warn"
    on_diverged: Literal["fail", "warn"] = "fail"


class PipelineRules(BaseModel):
    """Rules on the training pipeline's configuration (the ``pipeline:`` section of a policy)."""

    model_config = ConfigDict(extra="forbid")

    require: list[str] = Field(
        default_factory=list,
        description="Keys that must exist with a value: globs, where `seed` matches any key "
        "ending in seed; a change-class name (`seed`) also matches every key of that class.",
    )
    forbid_changes: list[str] = Field(
        default_factory=list,
        description="Key globs (data.source, features.pii_*) or change classes (data_window).",
    )
    ranges: dict[str, RangeRule] = Field(default_factory=dict)
    min_eval_fraction: float | None = Field(default=None, gt=0.0, lt=1.0)
    eval_fraction_keys: list[str] = Field(default_factory=lambda: list(DEFAULT_EVAL_FRACTION_KEYS))
    train_eval_overlap: RuleMode = "off"
    dependencies: DependencyRules | None = None
    convergence: ConvergenceRule | None = None
    evaluation_set_changed: RuleMode = "off"
    classes: dict[ChangeClass, list[str]] = Field(
        default_factory=dict, description="Extra key patterns per change class, tried first."
    )

    @field_validator("train_eval_overlap", "evaluation_set_changed", mode="before")
    @classmethod
    def _mode_from_bool(cls, value: object) -> object:
        if value is True:
            return "forbid"
        if value is False:
            return "off"
        return value

    @property
    def needs_config(self) -> bool:
        """Whether any rule reads the pipeline config itself (not only datasets or histories)."""
        return bool(
            self.require or self.forbid_changes or self.ranges or self.min_eval_fraction is not None
        )

    @property
    def is_empty(self) -> bool:
        return not (
            self.needs_config
            or self.train_eval_overlap != "off"
            or self.evaluation_set_changed != "off"
            or self.dependencies is not None
            or self.convergence is not None
        )
