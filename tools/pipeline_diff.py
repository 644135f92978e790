"""Pipeline config diff: what changed between the baseline's and the candidate's flat views.

Every change is classified by its key, so reviewers and policies can reason about kinds of change
rather than spellings of keys. The classes, and the default key patterns that select them (first
matching class wins, in this order; patterns follow `tools.pipeline_config.key_matches`, so a glob
matches the whole key or a dotted suffix, case-insensitively):

=================  =================================================================================
``dependency``     ``dependencies.*`` (requirements.txt, conda.yaml, python_env.yaml), ``*image``,
                   ``*requirements*``, ``*python_env*``, ``*conda_env*``, ``*docker_env*``,
                   ``*python_version*``, ``*sdk_version*``
``other``          bookkeeping that does not change the model: ``*output*``, ``*log_dir*``,
                   ``*experiment*``, ``*run_name*``, ``*tracking*``, ``stages.*.cmd|outs|params``,
                   ``defaults.*`` (the Hydra option chosen; the composed keys carry the change)
``seed``           ``*seed*``, ``*random_state*``
``label``          what the model learns to predict: ``label``, ``target``, ``*label_col*``,
                   ``*target_column*``, ``*label_key*``, ``*target_definition*``, ``y_col``,
                   ``*pos_label*``, ``*positive_class*`` ... (a changed label makes the two
                   versions' metrics measure different things)
``split``          ``*split*``, ``*eval_fraction*``, ``*test_size*``, ``*val_size*``,
                   ``*train_size*``, ``*holdout*``, ``*fold*``, ``*stratify*`` ...
``data_window``    ``*window*``, ``*lookback*``, ``*start_date*``, ``*end_date*``, ``*cutoff*`` ...
``hyperparameter`` the decision threshold: ``*decision_threshold*``,
                   ``*classification_threshold*``
``evaluation``     ``eval*``, ``*.eval*``, ``*_eval*``, ``*evaluation*``, ``*metric*``,
                   ``*threshold*``, ``*test_path*``, ``datasets.evaluation.*``
``hyperparameter`` well-known names first (``*learning_rate*``, ``*n_estimators*``,
                   ``*max_depth*``, ``*max_features*``, ``*feature_fraction*`` ...), so that
                   ``max_features`` is not read as a feature-set change
``features``       ``*feature*``, ``*column*``, ``*_cols``, ``*drop_*``, ``*encoding*`` ...
``data_source``    ``data.*``, ``*dataset*``, ``datasets.training.*``, ``*source*``, ``*path``,
                   ``*uri*``, ``*url*``, ``*table*``, ``*query*``, ``*bucket*``, ``stages.*.deps``
``hyperparameter`` any key under ``model.``, ``train.``, ``training.``, ``trainer.``,
                   ``optimizer.``, ``hyperparameters.``, ``hparams.``, ``params.``
``other``          everything else
=================  =================================================================================

Teams with other spellings pass extra patterns (a policy's ``pipeline.classes``), which are tried
before the defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from tools.pipeline_config import (
    ConfigData,
    ConfigValue,
    PipelineConfig,
    duration_days,
    key_matches,
    numeric_value,
    value_text,
)

__all__ = [
    "CHANGE_CLASSES",
    "DEFAULT_CLASS_PATTERNS",
    "LABEL_PATTERNS",
    "POSITIVE_CLASS_PATTERNS",
    "ChangeClass",
    "ChangeKind",
    "ClassPatterns",
    "ConfigChange",
    "PipelineDiff",
    "classify_key",
    "diff_pipeline_configs",
    "values_equal",
]

ChangeClass = Literal[
    "data_source",
    "data_window",
    "split",
    "features",
    "seed",
    "hyperparameter",
    "dependency",
    "evaluation",
    "other",
    "label",
]
ChangeKind = Literal["added", "removed", "changed"]
ClassPatterns: TypeAlias = Mapping[ChangeClass, Sequence[str]]

CHANGE_CLASSES: tuple[ChangeClass, ...] = (
    "data_source",
    "data_window",
    "split",
    "features",
    "seed",
    "hyperparameter",
    "dependency",
    "evaluation",
    "other",
    "label",
)

LABEL_PATTERNS: tuple[str, ...] = (
    "label",
    "target",
    "y_col",
    "y_column",
    "*label_col*",
    "*label_key*",
    "*label_name*",
    "*label_field*",
    "*label_def*",
    "*label_rule*",
    "*label_horizon*",
    "*target_col*",
    "*target_key*",
    "*target_name*",
    "*target_field*",
    "*target_var*",
    "*target_def*",
    "*target_rule*",
    "*target_horizon*",
    "*outcome_col*",
    "*pos_label*",
    "*positive_class*",
    "*positive_label*",
)
"""Keys that define the label: its column, its definition and its positive class."""

POSITIVE_CLASS_PATTERNS: tuple[str, ...] = ("*pos_label*", "*positive_class*", "*positive_label*")
"""The label keys that name the positive class."""

_HYPERPARAMETER_NAMES: tuple[str, ...] = (
    "*learning_rate*",
    "*lr",
    "*n_estimators*",
    "*max_depth*",
    "*max_features*",
    "*feature_fraction*",
    "*colsample*",
    "*min_samples*",
    "*min_child*",
    "*max_leaf*",
    "*num_leaves*",
    "*subsample*",
    "*epochs*",
    "*batch_size*",
    "*dropout*",
    "*weight_decay*",
    "*momentum*",
    "*alpha*",
    "*lambda*",
    "*gamma*",
    "*penalty*",
    "*regulari*",
    "*max_iter*",
    "*early_stopping*",
    "*n_layers*",
    "*hidden*",
    "*kernel*",
    "*solver*",
    "*criterion*",
    "*loss*",
    "*estimator*",
)

DEFAULT_CLASS_PATTERNS: tuple[tuple[ChangeClass, tuple[str, ...]], ...] = (
    (
        "dependency",
        (
            "dependencies.*",
            "*image",
            "*_image*",
            "*requirements*",
            "*python_env*",
            "*conda_env*",
            "*docker_env*",
            "*python_version*",
            "*sdk_version*",
        ),
    ),
    (
        "other",
        (
            "*output*",
            "*log_dir*",
            "*experiment*",
            "*run_name*",
            "*tracking*",
            "stages.*.cmd",
            "stages.*.outs",
            "stages.*.params",
            "defaults.*",
        ),
    ),
    ("seed", ("*seed*", "*random_state*")),
    ("label", LABEL_PATTERNS),
    (
        "split",
        (
            "*split*",
            "*eval_fraction*",
            "*test_fraction*",
            "*val_fraction*",
            "*validation_fraction*",
            "*train_fraction*",
            "*test_size*",
            "*eval_size*",
            "*val_size*",
            "*valid_size*",
            "*validation_size*",
            "*train_size*",
            "*holdout*",
            "*fold*",
            "*stratify*",
        ),
    ),
    (
        "data_window",
        (
            "*window*",
            "*lookback*",
            "*start_date*",
            "*end_date*",
            "*date_from*",
            "*date_to*",
            "*history_days*",
            "*days_back*",
            "*time_range*",
            "*cutoff*",
        ),
    ),
    # The decision threshold turns scores into the model's predictions: a model setting, not an
    # evaluation one, though its name holds "threshold".
    ("hyperparameter", ("*decision_threshold*", "*classification_threshold*")),
    (
        "evaluation",
        (
            "eval*",
            "*.eval*",
            "*_eval*",
            "*evaluation*",
            "*metric*",
            "*threshold*",
            "*test_path*",
            "*test_data*",
            "*test_set*",
            "datasets.evaluation.*",
        ),
    ),
    ("hyperparameter", _HYPERPARAMETER_NAMES),
    (
        "features",
        (
            "*feature*",
            "*column*",
            "*_cols",
            "*.cols",
            "*drop_*",
            "*encoding*",
            "*embedding*",
        ),
    ),
    (
        "data_source",
        (
            "data.*",
            "*dataset*",
            "datasets.training.*",
            "*source*",
            "*path",
            "*_path*",
            "*uri*",
            "*url*",
            "*table*",
            "*query*",
            "*bucket*",
            "*snapshot*",
            "stages.*.deps",
        ),
    ),
    (
        "hyperparameter",
        (
            "model.*",
            "train.*",
            "training.*",
            "trainer.*",
            "optimizer.*",
            "hyperparameters.*",
            "hparams.*",
            "params.*",
        ),
    ),
)

_PHRASES: dict[ChangeClass, str] = {
    "data_source": "the training data source",
    "data_window": "the data window",
    "split": "the train/evaluation split",
    "features": "the feature set",
    "seed": "the random seed",
    "hyperparameter": "a hyperparameter",
    "dependency": "a dependency",
    "evaluation": "the evaluation config",
    "other": "a setting",
    "label": "the label definition",
}


def classify_key(key: str, extra_patterns: ClassPatterns | None = None) -> ChangeClass:
    """The change class of a flat-view key (see the module docstring for the default patterns).

    Args:
        key: A dotted key, e.g. ``data.window`` or ``dependencies.pip.scikit-learn``.
        extra_patterns: Patterns per class tried before the defaults, e.g.
            ``{"data_window": ["*.lookback_days"]}``.
    """
    for cls, patterns in (extra_patterns or {}).items():
        if any(key_matches(p, key) for p in patterns):
            return cls
    if len(key) > _KEPT_KEY_MAX:
        return _default_class.__wrapped__(key)
    return _default_class(key)


# Keys come from configs anyone can log: only short ones are kept, so the memo stays small.
_KEPT_KEY_MAX = 200


@functools.lru_cache(maxsize=4096)
def _default_class(key: str) -> ChangeClass:
    """The class the default patterns give `key`.

    Kept per key: the defaults are a few hundred patterns and never change, while a review
    classifies the same config keys for each of its checks, and the next review the same again.
    """
    for cls, patterns in DEFAULT_CLASS_PATTERNS:
        if any(key_matches(p, key) for p in patterns):
            return cls
    return "other"


def values_equal(a: ConfigData, b: ConfigData) -> bool:
    """Whether two values are the same setting, whatever source they were read from.

    Args:
        a: One value (e.g. a YAML ``42``).
        b: The other (e.g. a run param ``"42"``).
    """
    if a == b and type(a) is type(b):
        return True
    return value_text(a) == value_text(b)


def _short(value: ConfigData, limit: int = 80) -> str:
    text = value_text(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigChange(_Frozen):
    """One key that was added, removed or changed between baseline and candidate."""

    key: str
    change_class: ChangeClass
    kind: ChangeKind
    old: ConfigValue | None = None
    new: ConfigValue | None = None

    @property
    def refs(self) -> list[str]:
        """Evidence references, the candidate's first."""
        return list(dict.fromkeys(v.ref for v in (self.new, self.old) if v is not None))

    def as_data(self, *, with_refs: bool = False) -> dict[str, Any]:
        """The change as plain JSON data (for check details and question/answer logs)."""
        data: dict[str, Any] = {
            "key": self.key,
            "class": self.change_class,
            "kind": self.kind,
            "old": self.old.value if self.old is not None else None,
            "new": self.new.value if self.new is not None else None,
            "location": self.location,
        }
        if with_refs:
            data["evidence"] = self.refs
        return data

    @property
    def location(self) -> str:
        """Where the change is: the candidate's location, or the baseline's for a removal."""
        if self.new is not None:
            return self.new.location
        return f"baseline {self.old.location}" if self.old is not None else self.key

    @property
    def relative_change(self) -> float | None:
        """(new - old) / |old| for numbers and durations; None otherwise."""
        if self.old is None or self.new is None:
            return None
        a, b = numeric_value(self.old.value), numeric_value(self.new.value)
        if a is None or b is None or a == 0:
            return None
        if (duration_days(self.old.value) is None) != (duration_days(self.new.value) is None):
            return None
        return (b - a) / abs(a)

    def _list_delta(self) -> str | None:
        old = self.old.value if self.old is not None else None
        new = self.new.value if self.new is not None else None
        if not (isinstance(old, list) and isinstance(new, list)):
            return None
        old_text = {value_text(v) for v in old}
        new_text = {value_text(v) for v in new}
        parts = []
        gone = [value_text(v) for v in old if value_text(v) not in new_text]
        came = [value_text(v) for v in new if value_text(v) not in old_text]
        if gone:
            parts.append("removed " + ", ".join(gone))
        if came:
            parts.append("added " + ", ".join(came))
        return "; ".join(parts) if parts else None

    def _what(self) -> str:
        if self.kind == "added" and self.new is not None:
            return f"was added ({_short(self.new.value)})"
        if self.kind == "removed" and self.old is not None:
            return f"was removed (was {_short(self.old.value)})"
        assert self.old is not None and self.new is not None
        delta = self._list_delta()
        if delta is not None:
            return f"changed: {delta}"
        text = f"changed from {_short(self.old.value)} to {_short(self.new.value)}"
        # A relative change means something for sizes and windows, not for seeds.
        rel = self.relative_change if self.change_class != "seed" else None
        return text if rel is None else f"{text} ({rel:+.0%})"

    def describe(self) -> str:
        """One line a reviewer reads, e.g. ``data.window changed from 365d to 90d (-75%)``."""
        return f"{self.key} {self._what()}"

    def explain(self) -> str:
        """A sentence naming the class and the location, e.g. ``the data window (data.window)
        changed from 365d to 90d (-75%) at pipeline/pipeline.yaml:3``."""
        return f"{_PHRASES[self.change_class]} ({self.key}) {self._what()} at {self.location}"


class PipelineDiff(_Frozen):
    """All changes from the baseline's pipeline config to the candidate's."""

    changes: list[ConfigChange] = Field(default_factory=list)
    baseline_has_config: bool = True
    candidate_has_config: bool = True

    def by_class(self, change_class: ChangeClass) -> list[ConfigChange]:
        return [c for c in self.changes if c.change_class == change_class]

    def matching(self, pattern: str) -> list[ConfigChange]:
        """Changes of a class named by `pattern` (``data_window`` or ``class:data_window``), or
        whose key matches it (see `key_matches`)."""
        name = pattern.removeprefix("class:")
        if name in CHANGE_CLASSES:
            return [c for c in self.changes if c.change_class == name]
        return [c for c in self.changes if key_matches(pattern, c.key)]

    @property
    def classes(self) -> dict[str, int]:
        """Number of changes per class, in the order of `CHANGE_CLASSES`."""
        counts = {cls: len(self.by_class(cls)) for cls in CHANGE_CLASSES}
        return {cls: n for cls, n in counts.items() if n}

    def summary(self) -> str:
        if not self.changes:
            return "no pipeline config changes"
        per_class = ", ".join(f"{cls} {n}" for cls, n in self.classes.items())
        return f"{len(self.changes)} pipeline config change(s): {per_class}"


def diff_pipeline_configs(
    baseline: PipelineConfig,
    candidate: PipelineConfig,
    *,
    extra_patterns: ClassPatterns | None = None,
) -> PipelineDiff:
    """Compare two flat views key by key and classify each difference.

    Values are compared by their text, so a YAML ``42`` equals a run param ``"42"``.

    Args:
        baseline: The champion's (or the old file's) flat view.
        candidate: The candidate's (or the new file's) flat view.
        extra_patterns: Class patterns tried before the defaults (see `classify_key`).
    """
    changes: list[ConfigChange] = []
    for key in sorted(set(baseline.values) | set(candidate.values)):
        old, new = baseline.values.get(key), candidate.values.get(key)
        kind: ChangeKind
        if old is None:
            kind = "added"
        elif new is None:
            kind = "removed"
        elif values_equal(old.value, new.value):
            continue
        else:
            kind = "changed"
        changes.append(
            ConfigChange(
                key=key,
                change_class=classify_key(key, extra_patterns),
                kind=kind,
                old=old,
                new=new,
            )
        )
    return PipelineDiff(
        changes=changes,
        baseline_has_config=baseline.has_config,
        candidate_has_config=candidate.has_config,
    )
