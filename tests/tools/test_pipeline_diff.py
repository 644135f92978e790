"""Diffing flat views and classifying each change, on the old/new fixture files of every format."""

from __future__ import annotations

import pytest
from support.pipeline_fixtures import tree

from tools.pipeline_config import (
    ConfigData,
    ConfigFormat,
    ConfigValue,
    PipelineConfig,
    load_config_files,
)
from tools.pipeline_diff import (
    CHANGE_CLASSES,
    ChangeClass,
    classify_key,
    diff_pipeline_configs,
    values_equal,
)


def load(fmt: str, revision: str) -> PipelineConfig:
    return load_config_files(tree(fmt, revision))


# Every change of each format's old -> new fixture: key -> (class, kind).
DIFFS: list[tuple[str, dict[str, tuple[ChangeClass, str]]]] = [
    (
        "yaml",
        {
            "data.source": ("data_source", "changed"),
            "data.window": ("data_window", "changed"),
            "data.eval_path": ("evaluation", "changed"),
            "split.eval_fraction": ("split", "changed"),
            "features.include": ("features", "changed"),
            "features.pii_email": ("features", "changed"),
            "train.seed": ("seed", "removed"),
            "train.learning_rate": ("hyperparameter", "changed"),
            "evaluation.threshold": ("evaluation", "changed"),
            "output_dir": ("other", "changed"),
        },
    ),
    (
        "json",
        {
            "data.window_days": ("data_window", "changed"),
            "model.max_depth": ("hyperparameter", "changed"),
            "model.random_state": ("seed", "changed"),
            "features.drop_columns": ("features", "changed"),
        },
    ),
    (
        "dvc",
        {
            "prepare.window": ("data_window", "changed"),
            "prepare.source": ("data_source", "changed"),
            "stages.prepare.deps": ("data_source", "changed"),
            "train.n_estimators": ("hyperparameter", "changed"),
        },
    ),
    (
        "mlproject",
        {
            "entry_points.main.parameters.data_window": ("data_window", "changed"),
            "entry_points.main.parameters.seed": ("seed", "changed"),
            "docker_env.image": ("dependency", "changed"),
        },
    ),
    (
        "kubeflow",
        {
            "parameters.data_window": ("data_window", "changed"),
            "parameters.eval_fraction": ("split", "changed"),
            "executors.exec-prepare-data.image": ("dependency", "changed"),
            "executors.exec-train-model.image": ("dependency", "changed"),
        },
    ),
    (
        "hydra",
        {
            "data.window": ("data_window", "changed"),
            "defaults.data": ("other", "changed"),
        },
    ),
    (
        "deps",
        {
            "dependencies.pip.scikit-learn": ("dependency", "changed"),
            "dependencies.pip.pandas": ("dependency", "changed"),
            "dependencies.pip.lightgbm": ("dependency", "added"),
            "dependencies.conda.libgomp": ("dependency", "added"),
        },
    ),
    (
        "label",
        {
            "data.label": ("label", "changed"),
            "data.positive_class": ("label", "changed"),
        },
    ),
]


@pytest.mark.parametrize(("fmt", "expected"), DIFFS, ids=[d[0] for d in DIFFS])
def test_each_format_diff_finds_and_classifies_every_change(
    fmt: str, expected: dict[str, tuple[ChangeClass, str]]
) -> None:
    diff = diff_pipeline_configs(load(fmt, "old"), load(fmt, "new"))

    assert {c.key: (c.change_class, c.kind) for c in diff.changes} == expected


def test_every_change_class_is_covered_by_the_fixtures() -> None:
    seen = {cls for _, changes in DIFFS for cls, _ in changes.values()}
    assert seen == set(CHANGE_CLASSES)


def test_unchanged_files_give_no_changes() -> None:
    diff = diff_pipeline_configs(load("kubeflow", "old"), load("kubeflow", "old"))

    assert diff.changes == []
    assert diff.summary() == "no pipeline config changes"


def test_change_sentences_name_class_values_and_location() -> None:
    diff = diff_pipeline_configs(load("yaml", "old"), load("yaml", "new"))
    by_key = {c.key: c for c in diff.changes}

    window = by_key["data.window"]
    assert window.describe() == "data.window changed from 365d to 90d (-75%)"
    assert window.explain() == (
        "the data window (data.window) changed from 365d to 90d (-75%) at pipeline/pipeline.yaml:3"
    )
    assert window.refs == ["file:pipeline/pipeline.yaml:3"]
    assert by_key["features.include"].describe() == "features.include changed: removed region"
    seed = by_key["train.seed"]
    assert seed.describe() == "train.seed was removed (was 42)"
    assert seed.location == "baseline pipeline/pipeline.yaml:12"
    assert diff.summary().startswith("10 pipeline config change(s): data_source 1, data_window 1")


def test_seed_changes_show_no_relative_change() -> None:
    diff = diff_pipeline_configs(load("json", "old"), load("json", "new"))
    (seed,) = diff.by_class("seed")

    assert seed.describe() == "model.random_state changed from 7 to 11"


@pytest.mark.parametrize(
    ("pattern", "keys"),
    [
        ("data_window", ["data.window"]),
        ("class:seed", ["train.seed"]),
        ("data.source", ["data.source"]),
        ("features.*", ["features.include", "features.pii_email"]),
        ("train.*", ["train.learning_rate", "train.seed"]),
        ("nothing.here", []),
    ],
    ids=["class", "class-prefixed", "key", "glob", "glob-section", "no-match"],
)
def test_diff_matching_by_class_or_key_glob(pattern: str, keys: list[str]) -> None:
    diff = diff_pipeline_configs(load("yaml", "old"), load("yaml", "new"))

    assert sorted(c.key for c in diff.matching(pattern)) == keys


CLASSIFY: list[tuple[str, ChangeClass]] = [
    ("data.window", "data_window"),
    ("parameters.data_window", "data_window"),
    ("query.start_date", "data_window"),
    ("data.source", "data_source"),
    ("data.train_path", "data_source"),
    ("stages.prepare.deps", "data_source"),
    ("datasets.training.digest", "data_source"),
    ("data.eval_path", "evaluation"),
    ("datasets.evaluation.digest", "evaluation"),
    ("evaluation.threshold", "evaluation"),
    ("split.eval_fraction", "split"),
    ("data.test_size", "split"),
    ("cv.n_folds", "split"),
    ("features.include", "features"),
    ("preprocess.drop_columns", "features"),
    ("train.seed", "seed"),
    ("model.random_state", "seed"),
    ("model.max_features", "hyperparameter"),
    ("lgbm.feature_fraction", "hyperparameter"),
    ("train.learning_rate", "hyperparameter"),
    ("model.type", "hyperparameter"),
    ("dependencies.pip.mlflow-tracking", "dependency"),
    ("executors.exec-train.image", "dependency"),
    ("pipeline.sdk_version", "dependency"),
    ("output_dir", "other"),
    ("stages.train.cmd", "other"),
    ("defaults.data", "other"),
    ("owner", "other"),
    ("data.label", "label"),
    ("model.decision_threshold", "hyperparameter"),
    ("data.target", "label"),
    ("label_column", "label"),
    ("preprocess.target_col", "label"),
    ("evaluation.pos_label", "label"),
    ("positive_class", "label"),
    ("model.label_smoothing", "hyperparameter"),
]


@pytest.mark.parametrize(("key", "cls"), CLASSIFY, ids=[k for k, _ in CLASSIFY])
def test_classify_key(key: str, cls: ChangeClass) -> None:
    assert classify_key(key) == cls


def test_extra_patterns_are_tried_before_the_defaults() -> None:
    assert classify_key("etl.lookback_days") == "data_window"
    assert classify_key("etl.horizon") == "other"
    assert classify_key("etl.horizon", {"data_window": ["*.horizon"]}) == "data_window"
    assert classify_key("data.window", {"other": ["data.window"]}) == "other"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (42, "42", True),
        (0.1, "0.1", True),
        (True, "True", True),
        (["a", "b"], "['a', 'b']", True),
        (None, "None", True),
        ("90d", "365d", False),
        (1, 2, False),
    ],
    ids=["int-param", "float-param", "bool-param", "list-param", "none-param", "str", "int"],
)
def test_values_equal_across_sources(a: ConfigData, b: ConfigData, equal: bool) -> None:
    assert values_equal(a, b) is equal


def test_a_file_value_equal_to_a_param_is_no_change() -> None:
    def config(value: ConfigData, fmt: ConfigFormat) -> PipelineConfig:
        v = ConfigValue(key="seed", value=value, source="x", format=fmt, ref="x")
        return PipelineConfig(values={"seed": v})

    assert diff_pipeline_configs(config(42, "yaml"), config("42", "run_params")).changes == []


def test_classify_key_answers_long_keys_as_short_ones() -> None:
    long_key = "stage." * 60 + "random_seed"
    assert len(long_key) > 200
    assert classify_key(long_key) == classify_key("random_seed") == "seed"
