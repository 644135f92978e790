"""The version history's search: the newest versions before the candidate, whatever the number of
versions a model has and whichever of them were updated last.

A real MLflow SQLite store holding one model with 1,001 versions, more than one page of MLflow's
search answers; the oldest versions are the ones updated longest ago (their creation), except two
tagged after every version was created, so MLflow's default order (most recently updated first)
puts the oldest version last.
"""

from __future__ import annotations

from typing import Any

import pytest

from tools.read_once import ReadOnceClient
from tools.version_history import read_version_history, search_earlier_versions

MODEL = "long-lived"
VERSIONS = 1001


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("version-history")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow_client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    mlflow_client.create_registered_model(MODEL)
    for number in range(1, VERSIONS + 1):
        mlflow_client.create_model_version(MODEL, str(root / "models" / str(number)))
    for number in (2, 3):
        mlflow_client.set_model_version_tag(MODEL, str(number), "reviewed", "again")
    return mlflow_client


@pytest.mark.parametrize(
    ("before", "count", "expected"),
    [
        (VERSIONS, 3, [998, 999, 1000]),
        (5, 50, [1, 2, 3, 4]),
        (2, 50, [1]),
        (1, 50, []),
        (VERSIONS + 10, 2, [1000, 1001]),
    ],
    ids=["newest-candidate", "old-candidate", "second-version", "first-version", "unregistered"],
)
def test_the_newest_versions_before_the_candidate_are_found_in_one_search(
    client: Any, before: int, count: int, expected: list[int]
) -> None:
    counted = ReadOnceClient(client)
    found = search_earlier_versions(counted, MODEL, before, count)
    assert [int(mv.version) for mv in found] == expected
    assert counted.calls == (1 if before > 1 else 0)


def test_the_history_of_an_old_version_holds_every_version_before_it(client: Any) -> None:
    # Version 1 was updated longest ago: a page of the model's versions in MLflow's own order
    # leaves it out. Bare versions have no run: each is in the history with no metrics.
    history = read_version_history(client, MODEL, 5, ["roc_auc"], max_versions=3)
    assert [v.version for v in history.versions] == [2, 3, 4]
    history = read_version_history(client, MODEL, 5, ["roc_auc"])
    assert [v.version for v in history.versions] == [1, 2, 3, 4]
    assert history.gaps == []


class _RunSearches:
    """A client that counts the run searches sent through it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.searches = 0

    def __getattr__(self, name: str) -> Any:
        if name == "search_runs":
            self.searches += 1
        return getattr(self._client, name)


@pytest.mark.parametrize(
    ("read_first", "searches"),
    [((), 1), ((1,), 1), ((1, 2), 0)],
    ids=["nothing-read", "one-read", "all-read"],
)
def test_earlier_runs_already_read_are_not_searched_for_again(
    mlflow_store: Any, read_first: tuple[int, ...], searches: int
) -> None:
    """The session store's model: its versions 1 and 2 before version 3, in one experiment."""
    from tools.client import make_client

    store_client = make_client(mlflow_store.tracking_uri)
    model, experiment = mlflow_store.model, mlflow_store.experiment_id
    expected = read_version_history(
        store_client, model, 3, ["roc_auc", "recall"], experiment_ids=[experiment]
    )
    sent: Any = _RunSearches(store_client)
    counted = ReadOnceClient(sent)
    for number in read_first:
        counted.get_run(mlflow_store.versions[number].run_id)
    history = read_version_history(
        counted, model, 3, ["roc_auc", "recall"], experiment_ids=[experiment]
    )
    assert history == expected and [v.version for v in history.versions] == [1, 2]
    assert sent.searches == searches
