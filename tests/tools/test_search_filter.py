"""Names with quotes in MLflow's search filters, against a real SQLite store.

MLflow accepts a registered model named ``o'brien-churn``; every search that names a model must
find exactly that model's versions and runs, and a name no filter can express must say so rather
than read as "no versions" or "no history".
"""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from tools._safety import EVAL_TARGET_TAG, eval_target, linked_runs_search
from tools.errors import ToolError, UnsearchableValueError, VersionNotFoundError
from tools.registry import resolve_version
from tools.search_filter import filter_literal
from tools.version_history import read_version_history, search_earlier_versions

SINGLE = "o'brien-churn"
DOUBLE = 'the "new" scorer'
BOTH = 'it\'s "quoted"'
DECOYS = ("o", "brien-churn", "the", "o'brien-churn-v2")
"""Names a filter broken at a quote could match instead."""
VERSIONS = 3
METRIC = "roc_auc"


class Store(NamedTuple):
    client: Any
    experiment: str
    evaluation: str
    """The run that evaluates `SINGLE` version 2."""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("search-filter")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow_client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = mlflow_client.create_experiment("quotes", artifact_location=str(root / "art"))
    for name in (SINGLE, DOUBLE, BOTH, *DECOYS):
        mlflow_client.create_registered_model(name)
        for number in range(1, VERSIONS + 1):
            run = mlflow_client.create_run(experiment)
            mlflow_client.log_metric(run.info.run_id, METRIC, 0.7 + number / 100)
            mlflow_client.set_terminated(run.info.run_id)
            mlflow_client.create_model_version(
                name, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
            )
    tags = {EVAL_TARGET_TAG: eval_target(SINGLE, 2)}
    evaluation = mlflow_client.create_run(experiment, tags=tags)
    mlflow_client.set_terminated(evaluation.info.run_id)
    return Store(mlflow_client, experiment, evaluation.info.run_id)


@pytest.fixture(scope="module")
def client(store: Store) -> Any:
    return store.client


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("credit-risk", "'credit-risk'"),
        (SINGLE, '"o\'brien-churn"'),
        (DOUBLE, "'the \"new\" scorer'"),
        ("back\\slash %_", "'back\\slash %_'"),
        ("", "''"),
    ],
    ids=["plain", "single-quote", "double-quote", "backslash-and-wildcards", "empty"],
)
def test_a_value_is_quoted_with_the_quote_it_does_not_hold(value: str, expected: str) -> None:
    assert filter_literal(value) == expected


def test_a_value_with_both_quotes_is_refused_by_name() -> None:
    with pytest.raises(UnsearchableValueError) as caught:
        filter_literal(BOTH, "model name")
    assert caught.value.value == BOTH
    assert repr(BOTH) in str(caught.value) and "model name" in str(caught.value)
    assert isinstance(caught.value, ToolError)


@pytest.mark.parametrize("name", [SINGLE, DOUBLE, *DECOYS], ids=["single", "double", *DECOYS])
def test_the_literal_matches_exactly_its_model_in_mlflow(client: Any, name: str) -> None:
    found = client.search_model_versions(f"name = {filter_literal(name)}")
    assert {mv.name for mv in found} == {name}
    assert sorted(int(mv.version) for mv in found) == list(range(1, VERSIONS + 1))


@pytest.mark.parametrize("name", [SINGLE, DOUBLE], ids=["single", "double"])
def test_a_quoted_name_has_its_version_history(client: Any, name: str) -> None:
    earlier = search_earlier_versions(client, name, VERSIONS)
    assert [(mv.name, int(mv.version)) for mv in earlier] == [(name, 1), (name, 2)]
    history = read_version_history(client, name, VERSIONS, [METRIC])
    assert [(v.version, v.metrics) for v in history.versions] == [
        (1, {METRIC: 0.71}),
        (2, {METRIC: 0.72}),
    ]
    assert history.gaps == []


def test_a_name_no_filter_can_express_leaves_a_gap_not_an_empty_history(client: Any) -> None:
    with pytest.raises(UnsearchableValueError):
        search_earlier_versions(client, BOTH, VERSIONS)
    history = read_version_history(client, BOTH, VERSIONS, [METRIC])
    assert history.versions == []
    assert len(history.gaps) == 1 and repr(BOTH) in history.gaps[0]


@pytest.mark.parametrize(
    ("name", "existing"),
    [(SINGLE, [1, 2, 3]), (DOUBLE, [1, 2, 3]), (BOTH, [])],
    ids=["single", "double", "both"],
)
def test_an_unknown_version_of_a_quoted_name_lists_the_versions_there_are(
    client: Any, name: str, existing: list[int]
) -> None:
    with pytest.raises(VersionNotFoundError) as caught:
        resolve_version(client, name, 42)
    assert caught.value.existing == existing


@pytest.mark.parametrize("name", [SINGLE, DOUBLE], ids=["single", "double"])
def test_latest_of_a_quoted_name_is_its_highest_version(client: Any, name: str) -> None:
    assert resolve_version(client, name, "latest").version == VERSIONS


def test_latest_of_a_name_no_filter_can_express_says_why(client: Any) -> None:
    with pytest.raises(UnsearchableValueError):
        resolve_version(client, BOTH, "latest")


def test_the_evaluation_runs_of_a_quoted_name_are_found(store: Store) -> None:
    args, kwargs = linked_runs_search(store.experiment, SINGLE, 2)
    assert [r.info.run_id for r in store.client.search_runs(*args, **kwargs)] == [store.evaluation]
    args, kwargs = linked_runs_search(store.experiment, SINGLE, 3)
    assert store.client.search_runs(*args, **kwargs) == []
    with pytest.raises(UnsearchableValueError):
        linked_runs_search(store.experiment, BOTH, 2)
