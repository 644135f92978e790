"""Comparability (same eval dataset, train/eval overlap) and required-evidence checks."""

from __future__ import annotations

from typing import Any

import pytest

from policies.evaluator import evaluate_policies
from policies.schema import EVIDENCE_KINDS
from tools.evidence import ArtifactFile, DatasetInput, LoggedModelEvidence, LoggedModelMetric


def _ds(
    name: str, digest: str, context: str, source: str | None = None, source_type: str = "code"
) -> DatasetInput:
    return DatasetInput(
        name=name, digest=digest, context=context, source=source, source_type=source_type
    )


TRAIN = _ds("train", "t1", "training")
EVAL_A = _ds("eval", "e1", "evaluation")
EVAL_B = _ds("eval-new", "e2", "evaluation")

# (mode, candidate datasets, baseline datasets (None: no baseline), status)
SAME_EVAL_CASES: list[tuple[str, list[DatasetInput], list[DatasetInput] | None, str]] = [
    ("required", [TRAIN, EVAL_A], [TRAIN, EVAL_A], "pass"),
    ("required", [TRAIN, EVAL_B], [TRAIN, EVAL_A], "fail"),
    ("warn", [TRAIN, EVAL_B], [TRAIN, EVAL_A], "warn"),
    ("required", [TRAIN], [TRAIN, EVAL_A], "error"),
    ("warn", [TRAIN], [TRAIN, EVAL_A], "warn"),
    ("required", [TRAIN, EVAL_A], None, "warn"),
]


@pytest.mark.parametrize(
    ("mode", "cand", "base", "expected"),
    SAME_EVAL_CASES,
    ids=[
        "same-digest-pass",
        "other-digest-required-fail",
        "other-digest-warn-mode-warn",
        "no-eval-dataset-required-error",
        "no-eval-dataset-warn-mode-warn",
        "no-baseline-on-missing-warn",
    ],
)
def test_same_eval_dataset(
    kit: Any, mode: str, cand: list[DatasetInput], base: list[DatasetInput] | None, expected: str
) -> None:
    policy = kit.policy(comparability={"same_eval_dataset": mode, "train_eval_overlap": "off"})
    baseline = kit.version(1, datasets=base) if base is not None else None
    verdict = evaluate_policies([policy], kit.bundle(kit.version(2, datasets=cand), baseline))
    result = kit.check(verdict, "comparability.same_eval_dataset")
    assert result.status == expected, result.message
    assert result.kind == "comparability"


def test_different_eval_dataset_names_both_digests(kit: Any) -> None:
    policy = kit.policy(
        comparability={"same_eval_dataset": "required", "train_eval_overlap": "off"}
    )
    bundle = kit.bundle(
        kit.version(2, datasets=[TRAIN, EVAL_B]), kit.version(1, datasets=[TRAIN, EVAL_A])
    )
    verdict = evaluate_policies([policy], bundle)
    result = kit.check(verdict, "comparability.same_eval_dataset")
    assert (result.observed, result.baseline) == ("e2", "e1")
    assert "not comparable" in result.message and "e2" in result.message and "e1" in result.message
    assert result.evidence == ["dataset:e1", "dataset:e2"]
    assert verdict.verdict == "block"


def test_logged_model_metric_digests_are_compared(kit: Any) -> None:
    def logged(version: int, digest: str) -> LoggedModelEvidence:
        return LoggedModelEvidence(
            model_id=f"m-{version}",
            metrics=[LoggedModelMetric(key="roc_auc", value=0.8, dataset_digest=digest)],
        )

    policy = kit.policy(
        metrics=[{"name": "roc_auc"}],
        comparability={"same_eval_dataset": "required", "train_eval_overlap": "off"},
    )
    for cand_digest, expected in (("d1", "pass"), ("d2", "fail")):
        bundle = kit.bundle(
            kit.version(2, datasets=[], logged_model=logged(2, cand_digest)),
            kit.version(1, datasets=[], logged_model=logged(1, "d1")),
        )
        result = kit.check(evaluate_policies([policy], bundle), "comparability.same_eval_dataset")
        assert result.status == expected, result.message
        assert result.details["compared"] == ["logged-model metric 'roc_auc'"]


def test_eval_tables_over_different_rows_are_not_comparable(kit: Any, eval_data: Any) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand_full = kit.table(eval_data, kit.scores(eval_data, seed=3, rho=0.85))
    cand = cand_full.model_copy(update={"rows": cand_full.rows[100:]})
    policy = kit.policy(
        comparability={"same_eval_dataset": "required", "train_eval_overlap": "off"}
    )
    bundle = kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))
    result = kit.check(evaluate_policies([policy], bundle), "comparability.same_eval_dataset")
    assert result.status == "fail"
    assert "0 only in credit-risk/2, 100 only in credit-risk/1" in result.message


OVERLAP_CASES: list[tuple[str, list[DatasetInput], str]] = [
    ("forbid", [TRAIN, EVAL_A], "pass"),
    ("forbid", [TRAIN, _ds("eval", "t1", "evaluation")], "fail"),
    ("warn", [TRAIN, _ds("eval", "t1", "evaluation")], "warn"),
    (
        "forbid",
        [
            _ds("train", "t1", "training", "s3://bucket/credit.csv", "s3"),
            _ds("eval", "e1", "evaluation", "s3://bucket/credit.csv", "s3"),
        ],
        "fail",
    ),
    (
        "forbid",
        [
            _ds("train", "t1", "training", '{"mlflow.source.name": "train.py"}'),
            _ds("eval", "e1", "evaluation", '{"mlflow.source.name": "train.py"}'),
        ],
        "pass",
    ),
    ("forbid", [EVAL_A], "error"),
    ("forbid", [TRAIN], "error"),
    ("warn", [TRAIN], "warn"),
]


@pytest.mark.parametrize(
    ("mode", "datasets", "expected"),
    OVERLAP_CASES,
    ids=[
        "distinct-pass",
        "same-digest-fail",
        "same-digest-warn-mode-warn",
        "same-source-fail",
        "same-code-source-is-not-overlap",
        "no-training-dataset-error",
        "no-eval-dataset-error",
        "missing-warn-mode-warn",
    ],
)
def test_train_eval_overlap(
    kit: Any, mode: str, datasets: list[DatasetInput], expected: str
) -> None:
    policy = kit.policy(comparability={"same_eval_dataset": "off", "train_eval_overlap": mode})
    verdict = evaluate_policies([policy], kit.bundle(kit.version(2, datasets=datasets)))
    result = kit.check(verdict, "comparability.train_eval_overlap")
    assert result.status == expected, result.message
    if expected == "error":
        assert result.how_to_fix is not None and "mlflow.log_input" in result.how_to_fix


def test_overlap_message_names_datasets(kit: Any) -> None:
    policy = kit.policy(comparability={"same_eval_dataset": "off", "train_eval_overlap": "forbid"})
    bundle = kit.bundle(kit.version(2, datasets=[TRAIN, _ds("holdout", "t1", "evaluation")]))
    result = kit.check(evaluate_policies([policy], bundle), "comparability.train_eval_overlap")
    assert "training 'train' and evaluation 'holdout' have the same digest" in result.message
    assert result.details["overlaps"] == [
        {"training": "train", "evaluation": "holdout", "same": "digest"}
    ]


def _with_all_evidence(kit: Any, eval_data: Any) -> Any:
    table = kit.table(eval_data, kit.scores(eval_data, seed=100))
    logged = LoggedModelEvidence(
        model_id="m-0002",
        signature={"inputs": "[...]", "outputs": "[...]"},
        metrics=[LoggedModelMetric(key="roc_auc", value=0.8, dataset_digest="e1")],
    )
    return kit.version(
        2,
        table=table,
        logged_model=logged,
        datasets=[TRAIN, EVAL_A],
        artifact_paths=["model/requirements.txt", "pipeline/pipeline.yaml"],
    )


@pytest.mark.parametrize("kind", EVIDENCE_KINDS, ids=list(EVIDENCE_KINDS))
def test_required_evidence_present_passes(kit: Any, eval_data: Any, kind: str) -> None:
    policy = kit.policy(evidence={"require": [kind]})
    verdict = evaluate_policies([policy], kit.bundle(_with_all_evidence(kit, eval_data)))
    result = kit.check(verdict, f"evidence.{kind}")
    assert result.status == "pass", result.message
    assert result.evidence


@pytest.mark.parametrize("kind", EVIDENCE_KINDS, ids=list(EVIDENCE_KINDS))
def test_required_evidence_missing_is_an_error_that_blocks(kit: Any, kind: str) -> None:
    policy = kit.policy(evidence={"require": [kind]})
    verdict = evaluate_policies([policy], kit.bundle(kit.version(2, datasets=[])))
    result = kit.check(verdict, f"evidence.{kind}")
    assert result.status == "error"
    assert repr(kind) in result.message
    assert result.how_to_fix
    assert verdict.verdict == "block"


def test_signature_found_in_mlmodel_artifact(kit: Any) -> None:
    version = kit.version(2).model_copy(
        update={
            "artifacts": [
                ArtifactFile(
                    path="MLmodel",
                    owner="logged_model",
                    content="flavors: {}\nsignature:\n  inputs: '[]'\n",
                )
            ]
        }
    )
    policy = kit.policy(evidence={"require": ["signature"]})
    result = kit.check(evaluate_policies([policy], kit.bundle(version)), "evidence.signature")
    assert result.status == "pass"
