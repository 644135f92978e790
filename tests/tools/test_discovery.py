"""Discovery rules on their own: globs, column roles, segment-key spellings, dataset contexts."""

from __future__ import annotations

import pytest

from tools.discovery import (
    apply_metric_aliases,
    artifact_glob,
    assign_dataset_contexts,
    column_roles,
    evaluation_named_by_metrics,
    normalize_segment_keys,
    rename_columns,
)
from tools.evidence import (
    DatasetInput,
    EvalTable,
    LoggedModelEvidence,
    LoggedModelMetric,
    RunEvidence,
)
from tools.evidence_mapping import DatasetPatterns, EvidenceMapping, TableColumns


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("reports/*.csv", "reports/a.csv", True),
        ("reports/*.csv", "reports/x/a.csv", False),
        ("reports/**/*.csv", "reports/x/a.csv", True),
        ("reports/**/*.csv", "reports/a.csv", True),
        ("**/scored.parquet", "deep/er/scored.parquet", True),
        ("eval?.json", "eval1.json", True),
    ],
    ids=["star", "star-stays", "double-star", "double-star-empty", "leading", "question"],
)
def test_artifact_glob(pattern: str, path: str, matches: bool) -> None:
    assert artifact_glob(pattern, path) is matches


@pytest.mark.parametrize(
    ("columns", "mapped", "expected"),
    [
        (["label", "score"], None, {"label": "label", "score": "score"}),
        (
            ["id", "y_true", "y_score", "pred"],
            None,
            {"label": "y_true", "score": "y_score", "prediction": "pred", "row_id": "id"},
        ),
        (["Target", "Proba"], None, {"label": "Target", "score": "Proba"}),
        (
            ["is_default", "p_default"],
            TableColumns(label="is_default", score="p_default"),
            {"label": "is_default", "score": "p_default"},
        ),
    ],
    ids=["convention", "synonyms", "case", "mapped"],
)
def test_column_roles(
    columns: list[str], mapped: TableColumns | None, expected: dict[str, str]
) -> None:
    assert column_roles(columns, mapped) == expected


def test_a_mapped_column_that_is_absent_names_the_columns() -> None:
    with pytest.raises(ValueError, match=r"'truth'.*\['a', 'b'\]"):
        column_roles(["a", "b"], TableColumns(label="truth"))


def test_rename_keeps_a_column_that_already_has_a_role_name() -> None:
    table = EvalTable(path="t.csv", columns=["y", "label", "p"], rows=[[1, "x", 0.5]])
    renamed = rename_columns(table, {"label": "y", "score": "p"})
    assert renamed.columns == ["label", "label_original", "score"]


@pytest.mark.parametrize(
    ("keys", "templates", "expected"),
    [
        ({"recall/region:north": 0.8}, [], {"segment/region:north/recall": 0.8}),
        ({"region:north/recall": 0.8}, [], {"segment/region:north/recall": 0.8}),
        ({"recall_region_north": 0.8}, [], {}),
        (
            {"recall_score_region_north": 0.8, "recall_score": 0.7},
            ["{metric}_{column}_{value}"],
            {"segment/region:north/recall_score": 0.8},
        ),
        (
            {"region=south/f1": 0.5},
            ["{column}={value}/{metric}"],
            {"segment/region:south/f1": 0.5},
        ),
    ],
    ids=["metric-first", "column-first", "underscore-needs-mapping", "underscore", "equals"],
)
def test_segment_key_spellings(
    keys: dict[str, float], templates: list[str], expected: dict[str, float]
) -> None:
    mapping = EvidenceMapping(segment_keys=templates) if templates else None
    out, origins = normalize_segment_keys(keys, mapping)
    added = {k: v for k, v in out.items() if k not in keys}
    assert added == expected
    assert bool(origins) is bool(expected)


def test_a_template_without_every_field_is_refused() -> None:
    with pytest.raises(ValueError, match="must contain"):
        EvidenceMapping(segment_keys=["{metric}_{value}"])


def _ds(name: str, digest: str, context: str | None = None) -> DatasetInput:
    return DatasetInput(name=name, digest=digest, context=context)


@pytest.mark.parametrize(
    ("datasets", "mapping", "expected"),
    [
        ([_ds("holdout", "d2")], None, {"holdout": "evaluation"}),
        ([_ds("train", "d1")], None, {"train": "training"}),
        ([_ds("ds", "lm")], None, {"ds": "evaluation"}),
        ([_ds("snap-a", "x")], None, {"snap-a": None}),
        (
            [_ds("snap-a", "x"), _ds("snap-b", "y")],
            EvidenceMapping(datasets=DatasetPatterns(training=["*-a"], evaluation=["*-b"])),
            {"snap-a": "training", "snap-b": "evaluation"},
        ),
        ([_ds("train", "d1", "evaluation")], None, {"train": "evaluation"}),
        # What MLflow's autologging tags: `train` is the fit data; `eval` (XGBoost's `evals`,
        # which often hold the training set itself) is not taken for the evaluation set.
        (
            [_ds("dataset", "d1", "train"), _ds("train", "d1", "eval"), _ds("x", "lm")],
            None,
            {"dataset": "training", "train": "eval", "x": "evaluation"},
        ),
        (
            [_ds("scored", "d3", "Test"), _ds("rest", "d4", "holdout")],
            None,
            {"scored": "evaluation", "rest": "evaluation"},
        ),
        # The digest the logged model names does not override a tag of its own.
        ([_ds("valid", "lm", "validation")], None, {"valid": "validation"}),
        (
            [_ds("valid-a", "d5", "eval"), _ds("fit", "d6", "training"), _ds("valid-b", "d7")],
            EvidenceMapping(datasets=DatasetPatterns(evaluation=["valid-*", "fit"])),
            {"valid-a": "eval", "fit": "training", "valid-b": "evaluation"},
        ),
    ],
    ids=[
        "name-eval",
        "name-train",
        "logged-model-digest",
        "unknown",
        "mapping",
        "tag-wins",
        "autolog-tags",
        "test-tags",
        "own-tag-kept",
        "mapping-names-untagged-only",
    ],
)
def test_dataset_contexts(
    datasets: list[DatasetInput], mapping: EvidenceMapping | None, expected: dict[str, str]
) -> None:
    logged = LoggedModelEvidence(
        model_id="m-1", metrics=[LoggedModelMetric(key="auc", value=0.8, dataset_digest="lm")]
    )
    out, origins = assign_dataset_contexts(datasets, logged, mapping)
    assert {d.name: d.context for d in out} == expected
    # Every input read otherwise than its own tag says is recorded as such, and no other.
    before = {d.name: d.context for d in datasets}
    moved = sorted(d.name for d in out if d.context != before[d.name])
    assert sorted(o.source.split("'")[1] for o in origins) == moved


@pytest.mark.parametrize(
    ("datasets", "expected"),
    [
        # No evaluation input: `mlflow.models.evaluate` ran in a run of its own.
        ([_ds("train", "d1", "training")], {"holdout": "lm"}),
        ([], {"holdout": "lm"}),
        ([_ds("scored", "d2", "evaluation")], {}),
        # Autologging links its training metrics to the fit data: that stays training data.
        ([_ds("dataset", "lm", "training")], {}),
    ],
    ids=["training-only", "no-inputs", "has-evaluation", "training-metrics-digest"],
)
def test_the_logged_models_metrics_name_an_evaluation_set_run_apart(
    datasets: list[DatasetInput], expected: dict[str, str]
) -> None:
    logged = LoggedModelEvidence(
        model_id="m-1",
        metrics=[
            LoggedModelMetric(
                key="roc_auc", value=0.8, dataset_digest="lm", dataset_name="holdout"
            ),
            LoggedModelMetric(key="recall_score", value=0.7, dataset_digest="lm"),
            LoggedModelMetric(key="accuracy_score", value=0.7),
        ],
    )
    added, origins = evaluation_named_by_metrics(datasets, logged)
    assert {d.name: d.digest for d in added} == expected
    assert all(d.context == "evaluation" for d in added)
    assert [o.kind for o in origins] == ["evaluation_dataset"] * len(expected)
    assert all("m-1" in o.detail for o in origins)


def test_an_autologged_train_tag_is_recorded_as_a_convention() -> None:
    out, origins = assign_dataset_contexts([_ds("dataset", "d1", "train")], None, None)
    assert out[0].context == "training"
    (origin,) = origins
    assert (origin.kind, origin.how) == ("training_dataset", "convention")
    assert "tagged 'train'" in origin.detail and "autologging" in origin.detail


def test_metric_aliases_fill_only_the_names_policies_use() -> None:
    run = RunEvidence(
        run_id="r",
        experiment_id="0",
        status="FINISHED",
        metrics={"recall_score": 0.7, "correctness/mean": 0.9, "acc": 0.8},
    )
    filled, origins = apply_metric_aliases(
        run,
        None,
        EvidenceMapping(metric_aliases={"accuracy": ["acc"]}),
        ["recall", "correctness"],
    )
    assert filled.metrics["recall"] == 0.7
    assert filled.metrics["correctness"] == 0.9
    assert filled.metrics["accuracy"] == 0.8
    assert "precision" not in filled.metrics and "recall_score" in filled.metrics
    assert {o.detail for o in origins} == {
        "read as 'recall'",
        "read as 'correctness'",
        "read as 'accuracy'",
    }
