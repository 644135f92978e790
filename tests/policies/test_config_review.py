"""Static review of a config change between two revisions of one file (no MLflow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.config_review import review_config_change
from policies.pipeline_rules import PipelineRules
from policies.result import CheckStatus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline"


def text(relative: str) -> str:
    return (FIXTURES / relative).read_text()


def revisions(fmt: str, name: str) -> tuple[str, str]:
    return text(f"{fmt}/old/{name}"), text(f"{fmt}/new/{name}")


# id, format dir, file name (also the reviewed path), expected format, expected advisory checks
ADVISORY = [
    (
        "yaml",
        "yaml",
        "pipeline/pipeline.yaml",
        "yaml",
        {"data_source", "data_window", "split", "features", "seed", "evaluation"},
    ),
    ("json", "json", "pipeline.json", "json", {"data_window", "features", "seed"}),
    ("dvc-params", "dvc", "params.yaml", "dvc_params", {"data_window", "data_source"}),
    ("dvc-stages", "dvc", "dvc.yaml", "dvc", {"data_source"}),
    ("mlproject", "mlproject", "MLproject", "mlproject", {"data_window", "seed", "dependency"}),
    ("kubeflow", "kubeflow", "pipeline.yaml", "kubeflow", {"data_window", "split", "dependency"}),
    ("requirements", "deps", "requirements.txt", "requirements", {"dependency"}),
    ("conda", "deps", "conda.yaml", "conda", {"dependency"}),
    ("python-env-unchanged", "deps", "python_env.yaml", "python_env", set()),
]


@pytest.mark.parametrize(
    ("fmt", "name", "file_format", "classes"),
    [a[1:] for a in ADVISORY],
    ids=[a[0] for a in ADVISORY],
)
def test_without_rules_risky_changes_become_advisory_warnings(
    fmt: str, name: str, file_format: str, classes: set[str]
) -> None:
    old, new = revisions(fmt, name)

    review = review_config_change(old, new, path=name)

    assert review.format == file_format
    assert {c.id.removeprefix("pipeline.review.") for c in review.checks} == classes
    assert all(c.status == "warn" and c.kind == "pipeline" for c in review.checks)
    assert review.status == ("warn" if classes else "pass")
    assert review.problems == []


def test_hydra_review_with_group_files_sees_the_composed_window_change() -> None:
    def group_files(revision: str) -> dict[str, str]:
        root = FIXTURES / "hydra" / revision
        return {
            "conf/" + p.relative_to(root).as_posix(): p.read_text()
            for p in root.rglob("*.yaml")
            if p.name != "config.yaml"
        }

    old, new = revisions("hydra", "config.yaml")

    review = review_config_change(
        old,
        new,
        path="conf/config.yaml",
        old_files=group_files("old"),
        new_files=group_files("new"),
    )

    by_key = {c.key: c for c in review.changes}
    assert set(by_key) == {"data.window", "defaults.data"}
    assert by_key["data.window"].new is not None
    assert by_key["data.window"].new.ref == "file:conf/data/window90.yaml:2"
    assert [c.id for c in review.checks] == ["pipeline.review.data_window"]


def test_hydra_primary_alone_is_reviewed_on_its_defaults_list() -> None:
    old, new = revisions("hydra", "config.yaml")

    review = review_config_change(old, new, path="conf/config.yaml")

    assert [(c.key, c.change_class) for c in review.changes] == [("defaults.data", "other")]
    assert review.problems == []
    assert review.status == "pass"


# id, rules, file, expected {check id: status}, expected review status
RULED: list[tuple[str, dict[str, Any], str, dict[str, CheckStatus], CheckStatus]] = [
    (
        "fail-paths",
        {
            "require": ["seed"],
            "forbid_changes": ["data_window", "features.pii_*"],
            "ranges": {"learning_rate": {"max": 0.2}},
            "min_eval_fraction": 0.1,
            "evaluation_set_changed": "forbid",
        },
        "yaml:pipeline/pipeline.yaml",
        {
            "pipeline.require.seed": "fail",
            "pipeline.forbid_changes.data_window": "fail",
            "pipeline.forbid_changes.features.pii_*": "fail",
            "pipeline.ranges.learning_rate": "fail",
            "pipeline.min_eval_fraction": "fail",
            "pipeline.evaluation_set_changed": "fail",
        },
        "fail",
    ),
    (
        "pass-paths",
        {
            "require": ["seed"],
            "forbid_changes": ["data.source"],
            "ranges": {"window": {"min": "30d"}},
            "min_eval_fraction": 0.2,
            "train_eval_overlap": "forbid",
        },
        "json:pipeline.json",
        {
            "pipeline.require.seed": "pass",
            "pipeline.forbid_changes.data.source": "pass",
            "pipeline.ranges.window": "skip",
            "pipeline.min_eval_fraction": "pass",
            "pipeline.train_eval_overlap": "error",
        },
        "error",
    ),
    (
        "kubeflow-window-range",
        {"ranges": {"data_window": {"min": "180d"}}, "forbid_changes": ["dependency"]},
        "kubeflow:pipeline.yaml",
        {"pipeline.ranges.data_window": "fail", "pipeline.forbid_changes.dependency": "fail"},
        "fail",
    ),
    (
        "dependencies",
        {"dependencies": {"require_pinned": True, "forbid_changes": True}},
        "deps:requirements.txt",
        {
            "pipeline.dependencies.require_pinned": "fail",
            "pipeline.dependencies.forbid_changes": "fail",
        },
        "fail",
    ),
    (
        "run-only-rules-skip",
        {"convergence": {"metric": "train_loss"}},
        "dvc:params.yaml",
        {"pipeline.convergence.train_loss": "skip"},
        "pass",
    ),
]


@pytest.mark.parametrize(
    ("rules", "source", "expected", "status"), [r[1:] for r in RULED], ids=[r[0] for r in RULED]
)
def test_rules_apply_to_a_config_change(
    rules: dict[str, Any], source: str, expected: dict[str, CheckStatus], status: CheckStatus
) -> None:
    fmt, name = source.split(":")
    old, new = revisions(fmt, name)

    review = review_config_change(
        old, new, path=name, rules=PipelineRules.model_validate(rules), policy="prod"
    )

    assert {c.id: c.status for c in review.checks} == expected
    assert review.status == status
    assert all(c.policy == "prod" for c in review.checks)


def test_forbidden_change_points_at_the_new_line() -> None:
    old, new = revisions("yaml", "pipeline/pipeline.yaml")

    review = review_config_change(
        old, new, path="pipeline/pipeline.yaml", rules=PipelineRules(forbid_changes=["data_window"])
    )

    (check,) = review.checks
    assert "changed from 365d to 90d" in check.message
    assert check.evidence == ["file:pipeline/pipeline.yaml:3", "file@base:pipeline/pipeline.yaml:3"]
    assert review.summary.startswith("pipeline/pipeline.yaml: 10 pipeline config change(s)")
    assert "1 check(s) failed: pipeline.forbid_changes.data_window" in review.summary


@pytest.mark.parametrize(
    ("path", "bad", "line", "message"),
    [
        ("pipeline/pipeline.yaml", "malformed/bad_indent.yaml", 4, "malformed YAML"),
        ("pipeline/pipeline.json", "malformed/bad.json", 4, "malformed JSON"),
        ("requirements.txt", "malformed/requirements.txt", 2, "invalid requirement"),
    ],
    ids=["yaml", "json", "requirements"],
)
def test_malformed_new_revision_is_an_error_naming_file_and_line(
    path: str, bad: str, line: int, message: str
) -> None:
    review = review_config_change("seed: 1\n", text(bad), path=path, rules=PipelineRules())

    (check,) = review.checks
    assert (check.id, check.status) == (f"pipeline.config.{path}", "error")
    assert check.message.startswith(f"{path}:{line}: {message}")
    assert check.details["line"] == line
    assert review.status == "error"
    assert review.changes == []
    assert "the new revision cannot be read" in review.summary


def test_malformed_file_with_rules_is_reported_once() -> None:
    review = review_config_change(
        "seed: 1\n",
        text("malformed/bad_indent.yaml"),
        path="p/pipeline.yaml",
        rules=PipelineRules(require=["seed"]),
    )

    ids = [c.id for c in review.checks]
    assert ids == ["pipeline.config.p/pipeline.yaml", "pipeline.require.seed"]
    assert [c.status for c in review.checks] == ["error", "error"]


def test_unknown_format_lists_the_supported_formats() -> None:
    review = review_config_change("[a]\nx = 1\n", "[a]\nx = 2\n", path="pipeline/train.ini")

    (check,) = review.checks
    assert check.status == "error"
    assert "supported: plain YAML" in check.message
    assert "MLflow project (MLproject)" in check.message
    assert review.format is None


def test_added_file_counts_every_key_as_added() -> None:
    review = review_config_change(
        None,
        text("yaml/new/pipeline/pipeline.yaml"),
        path="pipeline/pipeline.yaml",
        rules=PipelineRules(forbid_changes=["data_window"], require=["seed"]),
    )

    assert {c.kind for c in review.changes} == {"added"}
    assert {c.id: c.status for c in review.checks} == {
        "pipeline.require.seed": "fail",
        "pipeline.forbid_changes.data_window": "fail",
    }


def test_deleted_file_is_missing_config_for_rules_that_read_it() -> None:
    review = review_config_change(
        text("yaml/old/pipeline/pipeline.yaml"),
        None,
        path="pipeline/pipeline.yaml",
        rules=PipelineRules(require=["seed"]),
    )

    assert {c.kind for c in review.changes} == {"removed"}
    (check,) = review.checks
    assert check.status == "error"
    assert "no readable pipeline config" in check.message


def test_identical_revisions_pass() -> None:
    old, _ = revisions("yaml", "pipeline/pipeline.yaml")

    review = review_config_change(
        old, old, path="pipeline/pipeline.yaml", rules=PipelineRules(forbid_changes=["data_window"])
    )

    assert review.changes == []
    assert review.status == "pass"
    assert review.summary.startswith("pipeline/pipeline.yaml: no pipeline config changes")


def test_review_round_trips_as_json() -> None:
    old, new = revisions("yaml", "pipeline/pipeline.yaml")
    review = review_config_change(old, new, path="pipeline/pipeline.yaml")

    again = type(review).model_validate_json(review.model_dump_json())

    assert again == review
