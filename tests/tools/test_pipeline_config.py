"""Loading pipeline configs into the flat view: every format, from real files in the fixtures."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest
from support.pipeline_fixtures import FIXTURES, tree

from tools.errors import ToolError
from tools.evidence import ArtifactFile, DatasetInput, RunEvidence, VersionEvidence
from tools.pipeline_config import (
    PARSED_CONFIGS,
    PARSED_CONFIGS_BYTES,
    SUPPORTED_FORMATS,
    ConfigData,
    ConfigValue,
    PipelineConfigError,
    UnsupportedConfigFormatError,
    detect_format,
    duration_days,
    key_matches,
    load_config_files,
    load_pipeline_config,
    numeric_value,
    parse_config_text,
    value_text,
)


def fixture_text(relative: str) -> str:
    return (FIXTURES / relative).read_text()


# format dir, key -> (value, source, line), expected file formats
LOADED = [
    (
        "yaml",
        {
            "data.window": ("90d", "pipeline/pipeline.yaml", 3),
            "split.eval_fraction": (0.05, "pipeline/pipeline.yaml", 6),
            "features.include": (["tenure", "monthly_charges", "contract"], None, 9),
            "features.pii_email": (True, None, 10),
            "train.learning_rate": (0.3, None, 12),
        },
        {"pipeline/pipeline.yaml": "yaml"},
    ),
    (
        "json",
        {
            "data.window_days": (90, "pipeline/pipeline.json", 4),
            "model.random_state": (11, None, 10),
            "features.drop_columns": (["customer_id", "region"], None, 12),
        },
        {"pipeline/pipeline.json": "json"},
    ),
    (
        "dvc",
        {
            "prepare.window": ("90d", "params.yaml", 2),
            "train.seed": (42, "params.yaml", 5),
            "stages.prepare.deps": (["src/prepare.py", "data/raw/events_2025.csv"], "dvc.yaml", 4),
            "stages.train.params": (["train"], "dvc.yaml", 17),
            "stages.evaluate.metrics": (["metrics.json"], "dvc.yaml", 27),
        },
        {"dvc.yaml": "dvc", "params.yaml": "dvc_params"},
    ),
    (
        "mlproject",
        {
            "entry_points.main.parameters.data_window": ("90d", "MLproject", 9),
            "entry_points.main.parameters.seed": (None, "MLproject", 10),
            "entry_points.main.parameters.learning_rate": (0.1, "MLproject", 11),
            "docker_env.image": ("registry.example.com/churn-train:1.5", "MLproject", 4),
        },
        {"MLproject": "mlproject"},
    ),
    (
        "kubeflow",
        {
            "parameters.data_window": ("90d", "pipeline/pipeline.yaml", 103),
            "parameters.eval_fraction": (0.05, None, 107),
            "parameters.seed": (42.0, None, 111),
            "executors.exec-train-model.image": ("python:3.12", None, 60),
            "tasks.train-model.inputs.n_estimators": (200.0, None, 95),
            "tasks.prepare-data.inputs.seed": ("{{pipeline.seed}}", None, 77),
            "tasks.train-model.component": ("comp-train-model", None, 85),
            "tasks.train-model.after": (["prepare-data"], None, 87),
            "components.comp-train-model.executor": ("exec-train-model", None, 25),
            "pipeline.name": ("churn-training", None, 62),
            "pipeline.sdk_version": ("kfp-2.7.0", None, 115),
        },
        {"pipeline/pipeline.yaml": "kubeflow"},
    ),
    (
        "hydra",
        {
            "data.window": ("90d", "pipeline/data/window90.yaml", 2),
            "data.source": (
                "s3://warehouse/churn/events_v3.parquet",
                "pipeline/data/window90.yaml",
                1,
            ),
            "model.n_estimators": (200, "pipeline/model/gbm.yaml", 1),
            "seed": (42, "pipeline/config.yaml", 6),
            "defaults.data": ("window90", "pipeline/config.yaml", 2),
            # ${model.objective} resolved from the composed config.
            "evaluation.metric": ("roc_auc", "pipeline/config.yaml", 9),
        },
        {"pipeline/config.yaml": "hydra"},
    ),
    (
        "deps",
        {
            "dependencies.pip.scikit-learn": ("scikit-learn==1.6.1", "requirements.txt", 2),
            "dependencies.pip.pandas": ("pandas", "requirements.txt", 3),
            "dependencies.python": ("3.11.9", "conda.yaml", 4),
            "dependencies.conda.libgomp": ("libgomp", "conda.yaml", 6),
            "dependencies.build.setuptools": ("setuptools", "python_env.yaml", 4),
            "dependencies.channels": (["conda-forge"], "conda.yaml", 2),
        },
        {
            "requirements.txt": "requirements",
            "conda.yaml": "conda",
            "python_env.yaml": "python_env",
        },
    ),
]


@pytest.mark.parametrize(("fmt", "expected", "formats"), LOADED, ids=[c[0] for c in LOADED])
def test_each_format_loads_into_the_flat_view_with_file_and_line(
    fmt: str, expected: dict[str, tuple[ConfigData, str | None, int]], formats: dict[str, str]
) -> None:
    config = load_config_files(tree(fmt, "new"))

    assert config.problems == []
    assert {f.path: f.format for f in config.files} == formats
    for key, (value, source, line) in expected.items():
        got = config.values[key]
        assert got.value == value, key
        assert got.line == line, key
        if source is not None:
            assert got.source == source, key
        assert got.ref == f"file:{got.source}:{line}"


def test_hydra_group_files_are_composed_not_loaded_on_their_own() -> None:
    config = load_config_files(tree("hydra", "new"))

    (primary,) = config.files
    assert primary.includes == ["pipeline/data/window90.yaml", "pipeline/model/gbm.yaml"]
    # The unused option window365.yaml must not leak a top-level `window` key.
    assert "window" not in config.values
    assert "source" not in config.values


HYDRA_CASES = [
    (
        "self-first-then-group-overrides",
        {
            "conf/config.yaml": (
                "defaults:\n  - _self_\n  - data: small\nsize: 1\ndata:\n  rows: 5\n"
            ),
            "conf/data/small.yaml": "rows: 100\n",
        },
        {"data.rows": (100, "conf/data/small.yaml"), "size": (1, "conf/config.yaml")},
    ),
    (
        "self-last-by-default",
        {
            "conf/config.yaml": "defaults:\n  - data: small\ndata:\n  rows: 5\n",
            "conf/data/small.yaml": "rows: 100\n",
        },
        {"data.rows": (5, "conf/config.yaml")},
    ),
    (
        "override-nested-default",
        {
            "conf/config.yaml": "defaults:\n  - model: gbm\n  - override model/optim: sgd\n",
            "conf/model/gbm.yaml": "defaults:\n  - optim: adam\ndepth: 3\n",
            "conf/model/optim/adam.yaml": "lr: 0.001\n",
            "conf/model/optim/sgd.yaml": "lr: 0.1\n",
        },
        {"model.optim.lr": (0.1, "conf/model/optim/sgd.yaml"), "model.depth": (3, None)},
    ),
    (
        "package-header-global",
        {
            "conf/config.yaml": "defaults:\n  - env: prod\n",
            "conf/env/prod.yaml": "# @package _global_\nseed: 7\n",
        },
        {"seed": (7, "conf/env/prod.yaml")},
    ),
    (
        "group-at-package",
        {
            "conf/config.yaml": "defaults:\n  - data@train_data: small\n  - data@eval_data: big\n",
            "conf/data/small.yaml": "rows: 100\n",
            "conf/data/big.yaml": "rows: 900\n",
        },
        {"train_data.rows": (100, None), "eval_data.rows": (900, None)},
    ),
    (
        "optional-missing-and-null-and-list",
        {
            "conf/config.yaml": (
                "defaults:\n  - optional extra: none\n  - db: null\n  - aug: [flip, crop]\n"
            ),
            "conf/aug/flip.yaml": "flip: true\n",
            "conf/aug/crop.yaml": "crop: 0.8\n",
        },
        {"aug.flip": (True, None), "aug.crop": (0.8, None), "defaults.db": (None, None)},
    ),
    (
        "list-replaced-whole",
        {
            "conf/config.yaml": "defaults:\n  - base\nsteps:\n  - {name: b}\n",
            "conf/base.yaml": "steps:\n  - {name: a}\n  - {name: z}\n",
        },
        {"steps.0.name": ("b", "conf/config.yaml")},
    ),
]


@pytest.mark.parametrize(
    ("files", "expected"), [c[1:] for c in HYDRA_CASES], ids=[c[0] for c in HYDRA_CASES]
)
def test_hydra_composition_semantics(
    files: dict[str, str], expected: dict[str, tuple[ConfigData, str | None]]
) -> None:
    config = load_config_files(files)

    assert config.problems == []
    for key, (value, source) in expected.items():
        assert config.values[key].value == value, key
        if source is not None:
            assert config.values[key].source == source, key
    assert "steps.1.name" not in config.values


def test_hydra_primary_without_its_group_files_reads_the_defaults_list_when_lenient() -> None:
    text = fixture_text("hydra/new/config.yaml")

    values, includes = parse_config_text(text, path="pipeline/config.yaml", strict_includes=False)

    keys = {v.key: v.value for v in values}
    assert keys["defaults.data"] == "window90"
    assert keys["seed"] == 42
    assert includes == []
    with pytest.raises(PipelineConfigError) as err:
        parse_config_text(text, path="pipeline/config.yaml")
    assert err.value.line == 2


def test_kubeflow_pipeline_job_json_runtime_config_overrides_defaults() -> None:
    text = """{
  "pipelineSpec": {
    "pipelineInfo": {"name": "p"},
    "root": {"inputDefinitions": {"parameters": {
      "window": {"parameterType": "STRING", "defaultValue": "365d"}}}}
  },
  "runtimeConfig": {"parameterValues": {"window": "30d"}}
}
"""
    assert detect_format("job.json", text) == "kubeflow"
    values, _ = parse_config_text(text, path="pipeline/job.json")

    by_key = {v.key: v for v in values}
    assert by_key["parameters.window"].value == "30d"
    assert by_key["parameters.window"].line == 7
    assert by_key["pipeline.name"].value == "p"


MALFORMED = [
    ("bad_indent.yaml", "malformed", 4, "malformed YAML"),
    ("bad.json", "malformed", 4, "malformed JSON"),
    ("requirements.txt", "malformed", 2, "invalid requirement 'scikit-learn=1.5.2'"),
    ("pipeline.ini", "unsupported_format", None, "supported: plain YAML"),
    ("hydra_missing/config.yaml", "missing_include", 2, "window30.yaml"),
]


@pytest.mark.parametrize(("name", "kind", "line", "text"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_bad_file_is_a_problem_naming_file_and_line_and_others_still_load(
    name: str, kind: str, line: int | None, text: str
) -> None:
    files = {name: fixture_text(f"malformed/{name}"), "good.yaml": "seed: 1\n"}

    config = load_config_files(files)

    (problem,) = config.problems
    assert (problem.source, problem.kind, problem.line) == (name, kind, line)
    assert text in problem.message
    assert config.values["seed"].value == 1


@pytest.mark.parametrize(
    ("name", "line"), [("bad_indent.yaml", 4), ("bad.json", 4)], ids=["yaml", "json"]
)
def test_parse_raises_a_typed_error_naming_file_and_line(name: str, line: int) -> None:
    with pytest.raises(PipelineConfigError) as err:
        parse_config_text(fixture_text(f"malformed/{name}"), path=f"pipeline/{name}")

    assert isinstance(err.value, ToolError)
    assert err.value.line == line
    assert str(err.value).startswith(f"pipeline/{name}:{line}: malformed")


def test_unknown_format_error_lists_every_supported_format() -> None:
    with pytest.raises(UnsupportedConfigFormatError) as err:
        detect_format("pipeline/train.toml")

    for description in SUPPORTED_FORMATS.values():
        assert description in str(err.value)


DETECT = [
    ("pipeline/a.yaml", "seed: 1\n", "yaml"),
    ("pipeline/a.yml", None, "yaml"),
    ("pipeline/a.json", '{"a": 1}', "json"),
    ("dvc.yaml", "stages: {}\n", "dvc"),
    ("params.yaml", "a: 1\n", "dvc_params"),
    ("MLproject", "name: x\n", "mlproject"),
    ("requirements.txt", "x\n", "requirements"),
    ("dev-requirements.txt", "x\n", "requirements"),
    ("conda.yaml", "dependencies: []\n", "conda"),
    ("environment.yml", None, "conda"),
    ("python_env.yaml", "python: 3.11\n", "python_env"),
    ("pipeline/kfp.yaml", "pipelineInfo:\n  name: x\nroot:\n  dag: {}\n", "kubeflow"),
    ("pipeline/config.yaml", "defaults:\n  - data: a\n", "hydra"),
]


@pytest.mark.parametrize(("path", "text", "fmt"), DETECT, ids=[d[0] + "-" + d[2] for d in DETECT])
def test_detect_format(path: str, text: str | None, fmt: str) -> None:
    assert detect_format(path, text) == fmt


KEY_MATCHES = [
    ("seed", "seed", True),
    ("seed", "train.seed", True),
    ("seed", "random_seed", True),
    ("seed", "reseed", False),
    ("data.source", "raw.data.source", True),
    ("data.source", "metadata.source", False),
    ("features.pii_*", "features.pii_email", True),
    ("features.pii_*", "pipeline.features.pii_email", True),
    ("features.pii_*", "features.age", False),
    ("*window*", "parameters.data_window", True),
    ("SEED", "Train.Seed", True),
    ("*lr", "optimizer.lr", True),
    ("*lr", "lr.schedule", False),
    ("stages.*.cmd", "stages.train.cmd", True),
    ("stages.*.cmd", "pipeline.stages.train.cmd", True),
    ("stages.*.cmd", "stages.train.cmds", False),
    ("*_eval*", "x_eval", True),
    ("a*a", "a", False),
    ("a*a", "aa", True),
    ("feature_?", "feature_a", True),
    ("feature_[ab]", "model.feature_b", True),
    ("feature_[ab]", "feature_c", False),
]


@pytest.mark.parametrize(
    ("pattern", "key", "expected"), KEY_MATCHES, ids=[f"{p}~{k}" for p, k, _ in KEY_MATCHES]
)
def test_key_matches(pattern: str, key: str, expected: bool) -> None:
    assert key_matches(pattern, key) is expected


# Keys cut from the same few characters, so pieces overlap, repeat and fall at either end.
_GLOB_KEYS = ["", "a", "b", ".", "ab", "ba", "a.b", "aab", "aba", "ab.ab", "b.a.b", "a\nb", "a*b"]
_GLOB_PATTERNS = [
    "*",
    "**",
    "a*",
    "*a",
    "*a*",
    "a*b",
    "*ab*",
    "ab*ab",
    "a*a*b",
    "*.*",
    "a.*",
    "*b*a*",
]


@pytest.mark.parametrize("pattern", _GLOB_PATTERNS, ids=_GLOB_PATTERNS)
def test_key_matches_a_star_glob_as_fnmatch_does(pattern: str) -> None:
    # Star-only globs are matched without fnmatch's regular expressions; the answer is fnmatch's.
    for key in _GLOB_KEYS:
        expected = fnmatchcase(key, pattern) or fnmatchcase(key, "*." + pattern)
        assert key_matches(pattern, key) is expected, key


NUMBERS = [
    (0.2, 0.2),
    ("0.2", 0.2),
    ("20%", 0.2),
    ("90d", 90.0),
    ("2w", 14.0),
    ("1y", 365.25),
    ("36h", 1.5),
    ("6 months", 6 * 30.4375),
    ("6m", None),
    (True, None),
    (["a"], None),
    ("abc", None),
    ("nan", None),
    (float("inf"), None),
    (None, None),
]


@pytest.mark.parametrize(("value", "expected"), NUMBERS, ids=[repr(n[0]) for n in NUMBERS])
def test_numeric_value(value: ConfigData, expected: float | None) -> None:
    got = numeric_value(value)
    assert got == pytest.approx(expected) if expected is not None else got is None


def test_duration_days_only_reads_durations() -> None:
    assert duration_days("90d") == 90.0
    assert duration_days(90) is None
    assert duration_days("0.2") is None


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        ("True", "true"),
        (42.0, "42"),
        (None, "null"),
        ("None", "null"),
        (["a", "b"], "[a, b]"),
        ("['a', 'b']", "[a, b]"),
    ],
    ids=["bool", "bool-param", "int-float", "none", "none-param", "list", "list-param"],
)
def test_value_text_reads_yaml_and_mlflow_params_alike(value: ConfigData, text: str) -> None:
    assert value_text(value) == text


def _version(
    artifacts: list[ArtifactFile],
    *,
    params: dict[str, str] | None = None,
    datasets: list[DatasetInput] | None = None,
) -> VersionEvidence:
    return VersionEvidence(
        model="churn",
        version=2,
        run_id="r2",
        model_id="m-2",
        run=RunEvidence(run_id="r2", experiment_id="1", status="FINISHED", params=params or {}),
        datasets=datasets or [],
        artifacts=artifacts,
    )


def test_load_pipeline_config_merges_files_params_datasets_and_environment() -> None:
    artifacts = [
        ArtifactFile(path=p, owner="run", content=t) for p, t in tree("yaml", "new").items()
    ]
    artifacts += [
        ArtifactFile(path=p, owner="logged_model", content=t)
        for p, t in tree("deps", "new").items()
    ]
    artifacts += [
        ArtifactFile(path="MLmodel", owner="logged_model", content="flavors: {}\n"),
        ArtifactFile(path="pipeline/README.md", owner="run", content="# notes\n"),
        ArtifactFile(path="eval/predictions.json", owner="run", content="{}"),
    ]
    version = _version(
        artifacts,
        params={"data.window": "90d", "epochs": "20"},
        datasets=[
            DatasetInput(name="train", digest="d1", context="training", num_rows=3000),
            DatasetInput(
                name="eval",
                digest="d2",
                context="evaluation",
                source_type="code",
                source='{"tags": {}}',
            ),
        ],
    )

    config = load_pipeline_config(version)

    assert config.problems == []
    assert config.has_config and config.has_dependencies
    window = config.values["data.window"]
    # The file wins over the param of the same key: it has a line to point at.
    assert (window.source, window.line, window.ref) == (
        "pipeline/pipeline.yaml",
        3,
        "artifact:pipeline/pipeline.yaml:3",
    )
    epochs = config.values["epochs"]
    assert (epochs.value, epochs.format, epochs.ref) == ("20", "run_params", "run:r2/params/epochs")
    assert epochs.location == "run param epochs"
    assert config.values["datasets.training.digest"].value == "d1"
    assert config.values["datasets.training.num_rows"].value == 3000
    assert "datasets.evaluation.source" not in config.values  # code sources say nothing
    sklearn = config.values["dependencies.pip.scikit-learn"]
    assert (sklearn.origin, sklearn.ref) == ("logged_model", "logged_model:m-2/requirements.txt:2")
    assert sklearn.location == "logged model requirements.txt:2"
    assert sorted(f.path for f in config.files) == [
        "conda.yaml",
        "pipeline/pipeline.yaml",
        "python_env.yaml",
        "requirements.txt",
    ]


def test_version_without_any_config_has_no_config() -> None:
    config = load_pipeline_config(_version([]))

    assert not config.has_config
    assert not config.has_dependencies
    assert config.values == {}


def test_malformed_artifact_is_recorded_with_its_artifact_ref() -> None:
    bad = ArtifactFile(
        path="pipeline/pipeline.yaml",
        owner="run",
        content=fixture_text("malformed/bad_indent.yaml"),
    )

    config = load_pipeline_config(_version([bad], params={"seed": "1"}))

    (problem,) = config.problems
    assert problem.ref == "artifact:pipeline/pipeline.yaml:4"
    assert config.has_config  # the run params still count
    assert "data.window" not in config.values


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)
HOSTILE = [
    ("alias-bomb", "p.yaml", BOMB, "too many or too deeply nested"),
    ("recursive-alias", "p.yaml", "a: &a\n  b: *a\n", "too many or too deeply nested"),
    ("deep-json", "p.json", "[" * 5000 + "]" * 5000, "JSON nests too deeply"),
    ("python-tag", "p.yaml", "a: !!python/object/apply:os.system ['true']\n", "malformed YAML"),
]


@pytest.mark.parametrize(
    ("path", "content", "message"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE]
)
def test_hostile_config_files_are_problems_not_crashes(
    path: str, content: str, message: str
) -> None:
    config = load_config_files({path: content})

    (problem,) = config.problems
    assert message in problem.message
    assert config.values == {}


def _parse(**kwargs: Any) -> tuple[list[ConfigValue], list[str]]:
    arguments: dict[str, Any] = {
        "text": "train:\n  seed: 1\n  lr: 0.1\n",
        "path": "pipeline/train.yaml",
        **kwargs,
    }
    return parse_config_text(**arguments)


def _uncached(**kwargs: Any) -> tuple[list[ConfigValue], list[str]]:
    PARSED_CONFIGS.resize(0)
    try:
        return _parse(**kwargs)
    finally:
        PARSED_CONFIGS.resize(PARSED_CONFIGS_BYTES)


def test_a_config_parsed_again_is_answered_from_the_cache_with_the_same_values() -> None:
    PARSED_CONFIGS.clear()
    first = _parse()
    again = _parse()
    assert PARSED_CONFIGS.stats().hits == 1
    assert again == first == _uncached()
    # Each caller gets lists of its own.
    again[0].clear()
    assert _parse() == first


_HYDRA = tree("hydra", "new")
_HYDRA_PRIMARY = "pipeline/config.yaml"


@pytest.mark.parametrize(
    "change",
    [
        {"text": "train:\n  seed: 2\n  lr: 0.1\n"},
        {"path": "pipeline/other.yaml"},
        {"ref_prefix": "artifact:credit-risk/3/"},
        {"origin": "run"},
        {"fmt": "dvc_params"},
    ],
    ids=["text", "path", "ref-prefix", "origin", "format"],
)
def test_whatever_a_config_was_parsed_with_is_part_of_what_it_is_kept_under(
    change: dict[str, Any],
) -> None:
    PARSED_CONFIGS.clear()
    base = _parse()
    changed = _parse(**change)
    assert changed != base
    assert changed == _uncached(**change)


def test_a_hydra_primary_is_parsed_again_when_a_group_file_changes() -> None:
    PARSED_CONFIGS.clear()
    group = "pipeline/data/window90.yaml"
    edited = {**_HYDRA, group: _HYDRA[group] + "extra_setting: 7\n"}
    arguments = {"text": _HYDRA[_HYDRA_PRIMARY], "path": _HYDRA_PRIMARY}
    before, _ = _parse(**arguments, files=_HYDRA)
    after, _ = _parse(**arguments, files=edited)
    assert "data.extra_setting" not in {v.key for v in before}
    assert "data.extra_setting" in {v.key for v in after}
    assert PARSED_CONFIGS.stats().hits == 0


def test_a_config_that_fails_to_parse_is_not_kept() -> None:
    PARSED_CONFIGS.clear()
    for _ in range(2):
        with pytest.raises(PipelineConfigError):
            _parse(text="train:\n  seed: [1\n")
    assert PARSED_CONFIGS.stats().entries == 0
