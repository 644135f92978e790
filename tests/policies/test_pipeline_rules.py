"""The `pipeline:` policy rules: pass, fail and error paths of each, on real fixture configs."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError
from support.pipeline_fixtures import FIXTURES, artifacts, curve

from policies.pipeline_rules import (
    ConvergenceRule,
    PipelineRules,
    assess_convergence,
    evaluate_pipeline,
    is_pinned,
)
from policies.result import CheckResult, CheckStatus
from tools.evidence import (
    ArtifactFile,
    DatasetInput,
    EvidenceBundle,
    LoggedModelEvidence,
    LoggedModelMetric,
    MetricPoint,
    RunEvidence,
    VersionEvidence,
)
from tools.pipeline_config import ConfigValue

CONVERGED = [1.0 * math.exp(-i / 4) + 0.1 for i in range(40)]
STILL_FALLING = [1.0 - 0.02 * i for i in range(40)]
DIVERGING = [1.0 - 0.05 * i for i in range(10)] + [0.5 + 0.1 * i for i in range(10)]

TRAIN = DatasetInput(
    name="train",
    digest="t1",
    context="training",
    source_type="s3",
    source="s3://b/train.parquet",
    num_rows=8000,
)
EVAL = DatasetInput(
    name="eval",
    digest="e1",
    context="evaluation",
    source_type="s3",
    source="s3://b/eval.parquet",
    num_rows=2000,
)


def version(
    number: int,
    fmts: list[tuple[str, str]],
    *,
    params: dict[str, str] | None = None,
    datasets: list[DatasetInput] | None = None,
    histories: dict[str, list[MetricPoint]] | None = None,
    extra: list[ArtifactFile] | None = None,
) -> VersionEvidence:
    files = [a for fmt, rev in fmts for a in artifacts(fmt, rev)] + (extra or [])
    return VersionEvidence(
        model="churn",
        version=number,
        run_id=f"r{number}",
        model_id=f"m-{number}",
        run=RunEvidence(
            run_id=f"r{number}", experiment_id="1", status="FINISHED", params=params or {}
        ),
        datasets=[TRAIN, EVAL] if datasets is None else datasets,
        metric_histories={"train_loss": curve(CONVERGED)} if histories is None else histories,
        artifacts=files,
    )


def bundle(candidate: VersionEvidence, baseline: VersionEvidence | None) -> EvidenceBundle:
    return EvidenceBundle(candidate=candidate, baseline=baseline)


BASE = version(1, [("yaml", "old"), ("deps", "old")])
CAND = version(2, [("yaml", "new"), ("deps", "new")])
SAME = version(2, [("yaml", "old"), ("deps", "old")])
EMPTY = version(2, [], datasets=[], histories={})
BAD_FILE = ArtifactFile(
    path="pipeline/pipeline.yaml",
    owner="run",
    content=(FIXTURES / "malformed" / "bad_indent.yaml").read_text(),
)
OVERLAP = DatasetInput(
    name="eval",
    digest="t1",
    context="evaluation",
    source_type="s3",
    source="s3://b/other.parquet",
    num_rows=2000,
)
SAME_SOURCE = DatasetInput(
    name="eval",
    digest="e9",
    context="evaluation",
    source_type="s3",
    source="s3://b/train.parquet",
    num_rows=2000,
)

# id, rules, candidate, baseline, expected {check id: status}
CASES: list[
    tuple[str, dict[str, Any], VersionEvidence, VersionEvidence | None, dict[str, CheckStatus]]
] = [
    # require
    ("require-pass", {"require": ["seed"]}, SAME, BASE, {"pipeline.require.seed": "pass"}),
    ("require-fail-removed", {"require": ["seed"]}, CAND, BASE, {"pipeline.require.seed": "fail"}),
    (
        "require-pass-from-param",
        {"require": ["seed"]},
        version(2, [("yaml", "new")], params={"random_seed": "7"}),
        None,
        {"pipeline.require.seed": "pass"},
    ),
    (
        "require-pass-by-class",
        {"require": ["seed"]},
        version(2, [("json", "new")]),
        None,
        {"pipeline.require.seed": "pass"},
    ),
    (
        "require-pass-kubeflow",
        {"require": ["seed", "data_window"]},
        version(2, [("kubeflow", "new")]),
        None,
        {"pipeline.require.seed": "pass", "pipeline.require.data_window": "pass"},
    ),
    (
        "require-pass-dvc",
        {"require": ["seed", "train.seed"]},
        version(2, [("dvc", "new")]),
        None,
        {"pipeline.require.seed": "pass", "pipeline.require.train.seed": "pass"},
    ),
    (
        "hydra-composed-window",
        {"require": ["seed"], "ranges": {"data.window": {"min": "180d"}}},
        version(2, [("hydra", "new")]),
        None,
        {"pipeline.require.seed": "pass", "pipeline.ranges.data.window": "fail"},
    ),
    (
        "require-fail-empty",
        {"require": ["seed"]},
        version(2, [("mlproject", "new")]),
        None,
        {"pipeline.require.seed": "fail"},
    ),
    (
        "require-error-no-config",
        {"require": ["seed"]},
        EMPTY,
        BASE,
        {"pipeline.require.seed": "error"},
    ),
    (
        "require-error-malformed",
        {"require": ["seed"]},
        version(2, [], extra=[BAD_FILE]),
        BASE,
        {"pipeline.config.pipeline/pipeline.yaml": "error", "pipeline.require.seed": "error"},
    ),
    # forbid_changes
    (
        "forbid-pass",
        {"forbid_changes": ["data.source", "data_window"]},
        SAME,
        BASE,
        {
            "pipeline.forbid_changes.data.source": "pass",
            "pipeline.forbid_changes.data_window": "pass",
        },
    ),
    (
        "forbid-fail",
        {"forbid_changes": ["data.source", "data_window", "features.pii_*"]},
        CAND,
        BASE,
        {
            "pipeline.forbid_changes.data.source": "fail",
            "pipeline.forbid_changes.data_window": "fail",
            "pipeline.forbid_changes.features.pii_*": "fail",
        },
    ),
    (
        "forbid-fail-dependency-class",
        {"forbid_changes": ["dependency"]},
        CAND,
        BASE,
        {"pipeline.forbid_changes.dependency": "fail"},
    ),
    (
        "forbid-skip-no-baseline",
        {"forbid_changes": ["data_window"]},
        CAND,
        None,
        {"pipeline.forbid_changes.data_window": "skip"},
    ),
    (
        "forbid-error-baseline-no-config",
        {"forbid_changes": ["data_window"]},
        CAND,
        EMPTY,
        {"pipeline.forbid_changes.data_window": "error"},
    ),
    (
        "forbid-error-baseline-malformed",
        {"forbid_changes": ["data_window"]},
        CAND,
        version(1, [], extra=[BAD_FILE]),
        {
            "pipeline.config.baseline.pipeline/pipeline.yaml": "error",
            "pipeline.forbid_changes.data_window": "error",
        },
    ),
    # ranges
    (
        "range-pass",
        {"ranges": {"data.window": {"min": "180d"}, "learning_rate": {"max": 0.5}}},
        SAME,
        BASE,
        {"pipeline.ranges.data.window": "pass", "pipeline.ranges.learning_rate": "pass"},
    ),
    (
        "range-fail",
        {"ranges": {"data.window": {"min": "180d"}, "learning_rate": {"max": 0.2}}},
        CAND,
        BASE,
        {"pipeline.ranges.data.window": "fail", "pipeline.ranges.learning_rate": "fail"},
    ),
    (
        "range-error-not-a-number",
        {"ranges": {"data.source": {"min": 1}}},
        CAND,
        BASE,
        {"pipeline.ranges.data.source": "error"},
    ),
    (
        "range-error-nan",
        {"ranges": {"seed": {"min": 0}}},
        version(2, [], params={"seed": "nan"}),
        None,
        {"pipeline.ranges.seed": "error"},
    ),
    (
        "range-error-no-config",
        {"ranges": {"data.window": {"min": "180d"}}},
        EMPTY,
        BASE,
        {"pipeline.ranges.data.window": "error"},
    ),
    (
        "range-skip-absent-key",
        {"ranges": {"epochs": {"max": 10}}},
        CAND,
        BASE,
        {"pipeline.ranges.epochs": "skip"},
    ),
    # min_eval_fraction
    (
        "eval-fraction-pass",
        {"min_eval_fraction": 0.15},
        SAME,
        BASE,
        {"pipeline.min_eval_fraction": "pass"},
    ),
    (
        "eval-fraction-fail",
        {"min_eval_fraction": 0.15},
        CAND,
        BASE,
        {"pipeline.min_eval_fraction": "fail"},
    ),
    (
        "eval-fraction-pass-from-datasets",
        {"min_eval_fraction": 0.15},
        version(2, [("dvc", "new")], params={}),
        None,
        {"pipeline.min_eval_fraction": "pass"},
    ),
    (
        "eval-fraction-fail-from-datasets",
        {"min_eval_fraction": 0.25},
        version(2, [], params={"epochs": "3"}),
        None,
        {"pipeline.min_eval_fraction": "fail"},
    ),
    (
        "eval-fraction-error",
        {"min_eval_fraction": 0.15},
        EMPTY,
        BASE,
        {"pipeline.min_eval_fraction": "error"},
    ),
    # train_eval_overlap
    (
        "overlap-pass",
        {"train_eval_overlap": "forbid"},
        CAND,
        BASE,
        {"pipeline.train_eval_overlap": "pass"},
    ),
    (
        "overlap-fail-digest",
        {"train_eval_overlap": True},
        version(2, [("yaml", "new")], datasets=[TRAIN, OVERLAP]),
        BASE,
        {"pipeline.train_eval_overlap": "fail"},
    ),
    (
        "overlap-fail-source",
        {"train_eval_overlap": "forbid"},
        version(2, [("yaml", "new")], datasets=[TRAIN, SAME_SOURCE]),
        BASE,
        {"pipeline.train_eval_overlap": "fail"},
    ),
    (
        "overlap-warn",
        {"train_eval_overlap": "warn"},
        version(2, [("yaml", "new")], datasets=[TRAIN, OVERLAP]),
        BASE,
        {"pipeline.train_eval_overlap": "warn"},
    ),
    (
        "overlap-error",
        {"train_eval_overlap": "forbid"},
        EMPTY,
        BASE,
        {"pipeline.train_eval_overlap": "error", "pipeline.config": "skip"},
    ),
    # dependencies
    (
        "pinned-pass",
        {"dependencies": {"require_pinned": True}},
        SAME,
        BASE,
        {"pipeline.dependencies.require_pinned": "pass"},
    ),
    (
        "pinned-fail",
        {"dependencies": {"require_pinned": True}},
        CAND,
        BASE,
        {"pipeline.dependencies.require_pinned": "fail"},
    ),
    (
        "pinned-error",
        {"dependencies": {"require_pinned": True}},
        version(2, [("yaml", "new")]),
        BASE,
        {"pipeline.dependencies.require_pinned": "error"},
    ),
    (
        "dep-changes-pass",
        {"dependencies": {"forbid_changes": True}},
        SAME,
        BASE,
        {"pipeline.dependencies.forbid_changes": "pass"},
    ),
    (
        "dep-changes-fail",
        {"dependencies": {"forbid_changes": True}},
        CAND,
        BASE,
        {"pipeline.dependencies.forbid_changes": "fail"},
    ),
    (
        "dep-changes-error",
        {"dependencies": {"forbid_changes": True}},
        CAND,
        version(1, [("yaml", "old")]),
        {"pipeline.dependencies.forbid_changes": "error"},
    ),
    (
        "dep-changes-skip",
        {"dependencies": {"forbid_changes": True}},
        CAND,
        None,
        {"pipeline.dependencies.forbid_changes": "skip"},
    ),
    # convergence
    (
        "convergence-pass",
        {"convergence": {"metric": "train_loss"}},
        CAND,
        BASE,
        {"pipeline.convergence.train_loss": "pass"},
    ),
    (
        "convergence-warn-still-falling",
        {"convergence": {}},
        version(2, [("yaml", "new")], histories={"train_loss": curve(STILL_FALLING)}),
        BASE,
        {"pipeline.convergence.train_loss": "warn"},
    ),
    (
        "convergence-fail-still-falling",
        {"convergence": {"on_still_falling": "fail"}},
        version(2, [("yaml", "new")], histories={"train_loss": curve(STILL_FALLING)}),
        BASE,
        {"pipeline.convergence.train_loss": "fail"},
    ),
    (
        "convergence-fail-diverged",
        {"convergence": {"metric": "val_loss"}},
        version(2, [("yaml", "new")], histories={"val_loss": curve(DIVERGING)}),
        BASE,
        {"pipeline.convergence.val_loss": "fail"},
    ),
    (
        "convergence-error-no-history",
        {"convergence": {}},
        EMPTY,
        BASE,
        {"pipeline.convergence.train_loss": "error", "pipeline.config": "skip"},
    ),
    (
        "convergence-error-short",
        {"convergence": {}},
        version(2, [("yaml", "new")], histories={"train_loss": curve([1.0, 0.5])}),
        BASE,
        {"pipeline.convergence.train_loss": "error"},
    ),
    # evaluation_set_changed
    (
        "eval-set-pass",
        {"evaluation_set_changed": "forbid"},
        SAME,
        BASE,
        {"pipeline.evaluation_set_changed": "pass"},
    ),
    (
        "eval-set-fail-config",
        {"evaluation_set_changed": "forbid"},
        CAND,
        BASE,
        {"pipeline.evaluation_set_changed": "fail"},
    ),
    (
        "eval-set-warn-digest",
        {"evaluation_set_changed": "warn"},
        version(2, [("yaml", "old")], datasets=[TRAIN, SAME_SOURCE]),
        BASE,
        {"pipeline.evaluation_set_changed": "warn"},
    ),
    (
        "eval-set-skip-no-baseline",
        {"evaluation_set_changed": "forbid"},
        CAND,
        None,
        {"pipeline.evaluation_set_changed": "skip"},
    ),
    (
        "eval-set-error-unknown",
        {"evaluation_set_changed": "forbid"},
        version(2, [("json", "new")], datasets=[]),
        version(1, [("json", "old")], datasets=[]),
        {"pipeline.evaluation_set_changed": "error"},
    ),
]


@pytest.mark.parametrize(
    ("rules", "candidate", "baseline", "expected"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_pipeline_rule_outcomes(
    rules: dict[str, Any],
    candidate: VersionEvidence,
    baseline: VersionEvidence | None,
    expected: dict[str, CheckStatus],
) -> None:
    checks = evaluate_pipeline(
        "prod", PipelineRules.model_validate(rules), bundle(candidate, baseline)
    )

    assert {c.id: c.status for c in checks} == expected
    for check in checks:
        assert check.kind == "pipeline"
        assert check.policy == "prod"
        if check.status in ("fail", "error"):
            assert check.how_to_fix, check.id


def _one(
    rules: dict[str, Any], candidate: VersionEvidence, baseline: VersionEvidence | None
) -> CheckResult:
    (check,) = evaluate_pipeline(
        "prod", PipelineRules.model_validate(rules), bundle(candidate, baseline)
    )
    return check


def test_forbidden_window_change_names_values_and_line() -> None:
    check = _one({"forbid_changes": ["data_window"]}, CAND, BASE)

    assert "365d to 90d" in check.message
    assert "pipeline/pipeline.yaml:3" in check.message
    # The candidate's file as `artifact:<path>:<line>`; the baseline's names its version.
    assert check.evidence == [
        "artifact:pipeline/pipeline.yaml:3",
        "artifact:churn/1/pipeline/pipeline.yaml:3",
    ]
    assert check.details["changes"][0]["key"] == "data.window"


def test_missing_seed_points_at_the_baseline_value() -> None:
    check = _one({"require": ["seed"]}, CAND, BASE)

    assert "train.seed=42 (pipeline/pipeline.yaml:12)" in check.message


def test_missing_config_says_what_is_missing_and_how_to_log_it() -> None:
    check = _one({"require": ["seed"]}, EMPTY, BASE)

    assert "no readable pipeline config for churn/2" in check.message
    assert check.how_to_fix is not None and "mlflow.log_artifact" in check.how_to_fix


def test_malformed_file_check_names_file_and_line() -> None:
    checks = evaluate_pipeline(
        "prod", PipelineRules(require=["seed"]), bundle(version(2, [], extra=[BAD_FILE]), None)
    )

    config_check = next(c for c in checks if c.id.startswith("pipeline.config."))
    assert "pipeline/pipeline.yaml:4" in config_check.message
    assert config_check.evidence == ["artifact:pipeline/pipeline.yaml:4"]


def test_malformed_file_only_warns_when_no_rule_reads_config() -> None:
    checks = evaluate_pipeline(
        "prod",
        PipelineRules(convergence=ConvergenceRule()),
        bundle(version(2, [], extra=[BAD_FILE]), None),
    )

    assert {c.id: c.status for c in checks} == {
        "pipeline.config.pipeline/pipeline.yaml": "warn",
        "pipeline.config": "skip",
        "pipeline.convergence.train_loss": "pass",
    }


def test_unpinned_dependencies_are_listed_with_their_lines() -> None:
    check = _one({"dependencies": {"require_pinned": True}}, CAND, BASE)

    assert check.details["unpinned"] == ["libgomp", "lightgbm>=4.0", "pandas"]
    assert "pandas (logged model requirements.txt:3)" in check.message
    assert check.observed == 3


def test_overlap_by_config_paths() -> None:
    text = "data:\n  train_path: s3://b/all.parquet\n  eval_path: s3://b/all.parquet\n"
    cand = version(
        2, [], datasets=[], extra=[ArtifactFile(path="pipeline/p.yaml", owner="run", content=text)]
    )

    check = _one({"train_eval_overlap": "forbid"}, cand, None)

    assert check.status == "fail"
    assert (
        "data.train_path (pipeline/p.yaml:2) and data.eval_path (pipeline/p.yaml:3)"
        in check.message
    )


def test_evaluation_set_change_from_logged_model_digests() -> None:
    def with_metric_digest(number: int, digest: str) -> VersionEvidence:
        v = version(number, [("json", "old")], datasets=[])
        lm = LoggedModelEvidence(
            model_id=f"m-{number}",
            metrics=[LoggedModelMetric(key="roc_auc", value=0.9, dataset_digest=digest)],
        )
        return v.model_copy(update={"logged_model": lm})

    check = _one(
        {"evaluation_set_changed": "forbid"},
        with_metric_digest(2, "aaa"),
        with_metric_digest(1, "bbb"),
    )

    assert check.status == "fail"
    assert "aaa" in check.message and "bbb" in check.message


def test_empty_rules_give_no_checks() -> None:
    assert evaluate_pipeline("prod", PipelineRules(), bundle(CAND, BASE)) == []


def test_extra_class_patterns_apply_to_forbid_changes() -> None:
    rules = {"forbid_changes": ["data_window"], "classes": {"data_window": ["output_dir"]}}

    check = _one(rules, CAND, BASE)

    assert [c["key"] for c in check.details["changes"]] == ["data.window", "output_dir"]


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ({"unknown": 1}, "Extra inputs are not permitted"),
        ({"ranges": {"x": {}}}, "a range needs min, max or both"),
        ({"ranges": {"x": {"min": 5, "max": 1}}}, "above max"),
        ({"ranges": {"x": {"min": "soon"}}}, "neither a number nor a duration"),
        ({"min_eval_fraction": 1.5}, "less than 1"),
        ({"evaluation_set_changed": "sometimes"}, "'forbid', 'warn' or 'off'"),
        ({"classes": {"colour": ["x"]}}, "Input should be"),
        ({"convergence": {"metric": "loss", "tail_fraction": 0.9}}, "less than or equal to 0.5"),
    ],
    ids=[
        "extra",
        "empty-range",
        "inverted-range",
        "bad-bound",
        "fraction",
        "mode",
        "class",
        "tail",
    ],
)
def test_invalid_rules_are_rejected(rules: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        PipelineRules.model_validate(rules)


def test_bool_modes_are_accepted() -> None:
    rules = PipelineRules.model_validate(
        {"train_eval_overlap": True, "evaluation_set_changed": False}
    )

    assert (rules.train_eval_overlap, rules.evaluation_set_changed) == ("forbid", "off")


CONVERGENCE = [
    ("converged", CONVERGED, "converged"),
    ("still-falling", STILL_FALLING, "still_falling"),
    ("rebound", DIVERGING, "diverged"),
    ("ends-above-start", [1.0, 0.9, 0.95, 1.0, 1.2], "diverged"),
    ("nan", [1.0, 0.8, float("nan"), 0.5, 0.4], "diverged"),
    ("inf", [1.0, 0.8, float("inf"), 0.5, 0.4], "diverged"),
    ("flat", [0.5] * 10, "converged"),
    ("too-short", [1.0, 0.5, 0.4], "insufficient"),
    ("noisy-plateau", [1.0, 0.5, 0.3] + [0.2 + 0.01 * ((-1) ** i) for i in range(30)], "converged"),
]


@pytest.mark.parametrize(
    ("values", "state"), [c[1:] for c in CONVERGENCE], ids=[c[0] for c in CONVERGENCE]
)
def test_assess_convergence(values: list[float], state: str) -> None:
    result = assess_convergence(curve(values), ConvergenceRule())

    assert result.state == state
    assert result.points == len(values)


def test_assess_convergence_sorts_by_step() -> None:
    points = list(reversed(curve(CONVERGED)))

    assert assess_convergence(points, ConvergenceRule()).state == "converged"


PINNED = [
    ("dependencies.pip.x", "scikit-learn==1.5.2", True),
    ("dependencies.pip.x", "scikit-learn===1.5.2", True),
    ("dependencies.pip.x", "scikit-learn==1.5.*", False),
    ("dependencies.pip.x", "scikit-learn>=1.5", False),
    ("dependencies.pip.x", "scikit-learn", False),
    ("dependencies.pip.x", "scikit-learn>=1.5,<1.6", False),
    ("dependencies.pip.x", "pkg @ git+https://g/x.git@" + "a" * 40, True),
    ("dependencies.pip.x", "pkg @ https://files/x.whl", False),
    ("dependencies.conda.numpy", "numpy=1.26.4", True),
    ("dependencies.conda.numpy", "conda-forge::numpy==1.26.4", True),
    ("dependencies.conda.numpy", "numpy>=1.26", False),
    ("dependencies.conda.numpy", "numpy=1.26.*", False),
    ("dependencies.conda.numpy", "numpy", False),
]


@pytest.mark.parametrize(("key", "text", "pinned"), PINNED, ids=[p[1] for p in PINNED])
def test_is_pinned(key: str, text: str, pinned: bool) -> None:
    value = ConfigValue(
        key=key, value=text, source="requirements.txt", format="requirements", ref="x"
    )

    assert is_pinned(value) is pinned
