"""The table and dataset read from real ``mlflow.genai.evaluate`` runs."""

from __future__ import annotations

from typing import Any

import pytest
from mlflow import MlflowClient
from support.genai_registry import FAQ_BOT, QUESTIONS, SUPPORT_BOT, GenaiRegistry

from tools._genai_eval import (
    GENAI_TABLE_PATH,
    _verdict,
    examples_dataset,
    genai_inputs_with_outputs,
    is_genai_evaluation,
    read_genai_table,
)

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("yes", True),
        (" No ", False),
        ("PASS", True),
        ("fail", False),
        (1, None),
        (0.5, None),
        ("maybe", None),
        (None, None),
    ],
    ids=["true", "false", "yes", "no-spaced", "pass", "fail", "int", "float", "text", "none"],
)
def test_verdicts(value: Any, expected: bool | None) -> None:
    assert _verdict(value) is expected


def _read(registry: GenaiRegistry, model: str, version: int) -> Any:
    client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    run = client.get_run(registry.run_ids[(model, version)])
    found = read_genai_table(client, run.info.run_id, run.info.experiment_id)
    assert found is not None
    return client, run, found


@pytest.mark.parametrize(
    ("model", "version", "passed"),
    [(SUPPORT_BOT, 1, 9), (SUPPORT_BOT, 3, 5), (FAQ_BOT, 2, 11)],
    ids=["predict-fn-v1", "predict-fn-v3", "outputs-v2"],
)
def test_one_row_per_example_from_the_traces(
    genai_registry: GenaiRegistry, model: str, version: int, passed: int
) -> None:
    _, run, found = _read(genai_registry, model, version)
    table = found.table
    assert is_genai_evaluation(run.data.tags)
    assert table.path == GENAI_TABLE_PATH
    assert len(table.rows) == len(QUESTIONS) == found.traces
    assert found.scorers == ["concise", "exact_match", "word_overlap"]
    # word_overlap is a number, not a verdict: it is a column, not part of the prediction.
    assert found.pass_fail == ["concise", "exact_match"]
    assert found.expectations == ["expected_response"]
    assert set(table.column("label")) == {1}
    assert sum(table.column("prediction")) == passed
    assert sum(table.column("exact_match")) == passed
    assert sorted(table.column("expected_response")) == sorted(QUESTIONS.values())
    metrics = genai_registry.metrics[(model, version)]
    assert sum(table.column("word_overlap")) / len(table.rows) == pytest.approx(
        metrics["word_overlap/mean"]
    )


def test_row_ids_pair_the_same_examples_across_versions(genai_registry: GenaiRegistry) -> None:
    ids = {
        key: sorted(_read(genai_registry, *key)[2].table.column("row_id"))
        for key in ((SUPPORT_BOT, 1), (SUPPORT_BOT, 3), (FAQ_BOT, 1))
    }
    assert len(set(ids[(SUPPORT_BOT, 1)])) == len(QUESTIONS)
    # Same inputs, same ids: whether a predict_fn ran or outputs were given.
    assert ids[(SUPPORT_BOT, 1)] == ids[(SUPPORT_BOT, 3)] == ids[(FAQ_BOT, 1)]


def test_examples_dataset_ignores_precomputed_outputs(genai_registry: GenaiRegistry) -> None:
    _, run1, found1 = _read(genai_registry, FAQ_BOT, 1)
    _, run2, found2 = _read(genai_registry, FAQ_BOT, 2)
    logged = [{i.dataset.digest for i in run.inputs.dataset_inputs} for run in (run1, run2)]
    assert logged[0] != logged[1]  # the answers are part of MLflow's digest
    assert genai_inputs_with_outputs(run1) == logged[0]
    first = examples_dataset(found1, run1.info.run_id, "dataset")
    second = examples_dataset(found2, run2.info.run_id, "dataset")
    assert first.digest == second.digest
    assert first.context == "evaluation" and first.num_rows == len(QUESTIONS)
    _, predict_run, _ = _read(genai_registry, SUPPORT_BOT, 1)
    assert genai_inputs_with_outputs(predict_run) == set()
