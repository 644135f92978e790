"""One gathering reads each run, version and logged model once (`tools.read_once`, real store)."""

from __future__ import annotations

from typing import Any

import pytest

from tools.collector import collect_version
from tools.read_once import READS_KEPT, ReadOnceClient, read_once

MODEL = "credit-risk"


def test_a_repeated_read_is_answered_from_the_first(mlflow_store: Any, client: Any) -> None:
    run_id = mlflow_store.versions[1].run_id
    kept = ReadOnceClient(client)
    first = kept.get_run(run_id)
    again = kept.get_run(run_id)
    assert (kept.calls, kept.repeats) == (1, 1)
    assert again.to_dictionary() == first.to_dictionary() == client.get_run(run_id).to_dictionary()
    # Other arguments are another read.
    kept.get_run(mlflow_store.versions[2].run_id)
    assert kept.calls == 2


def test_what_a_caller_changes_does_not_reach_the_next_caller(
    mlflow_store: Any, client: Any
) -> None:
    run_id = mlflow_store.versions[1].run_id
    kept = ReadOnceClient(client)
    first = kept.get_run(run_id)
    first.data.params["tampered"] = "yes"
    first.data.tags.clear()
    again = kept.get_run(run_id)
    assert "tampered" not in again.data.params and again.data.tags


def test_a_failure_is_not_kept(client: Any) -> None:
    from mlflow.exceptions import MlflowException

    kept = ReadOnceClient(client)
    for _ in range(2):
        with pytest.raises(MlflowException):
            kept.get_run("0" * 32)
    assert (kept.calls, kept.repeats) == (0, 0)


@pytest.mark.parametrize(
    ("name", "kept_read"),
    [("get_run", True), ("download_artifacts", False), ("set_tag", False)],
    ids=["metadata-read", "download", "write"],
)
def test_only_metadata_reads_are_kept(name: str, kept_read: bool) -> None:
    assert (name in READS_KEPT) is kept_read


def test_arguments_that_cannot_be_a_key_go_straight_to_the_client(
    mlflow_store: Any, client: Any
) -> None:
    experiment = client.get_run(mlflow_store.versions[1].run_id).info.experiment_id
    from mlflow.exceptions import MlflowException

    kept = ReadOnceClient(client)
    unhashable: Any = {frozenset({"x"}): [set()]}  # a set inside: no key can be made of it
    # Passed to MLflow as given (which refuses it), and neither kept nor counted.
    with pytest.raises(MlflowException, match="order_by"):
        kept.search_runs([experiment], max_results=1, order_by=unhashable)
    assert (kept.calls, kept.repeats) == (0, 0)
    for _ in range(2):
        kept.search_runs([experiment], max_results=5)
    assert (kept.calls, kept.repeats) == (1, 1)


def test_a_version_read_through_it_is_the_version_read_directly(
    mlflow_store: Any, client: Any
) -> None:
    direct = collect_version(client, MODEL, 1)
    through = collect_version(read_once(client), MODEL, 1)
    assert through.model_dump() == direct.model_dump()


def test_a_version_read_by_alias_answers_its_read_by_number(client: Any) -> None:
    kept = ReadOnceClient(client)
    by_alias = kept.get_model_version_by_alias(MODEL, "champion")
    by_number = kept.get_model_version(MODEL, str(by_alias.version))
    assert (kept.calls, kept.repeats) == (1, 1)
    direct = client.get_model_version(MODEL, str(by_alias.version))
    assert by_number.to_proto() == by_alias.to_proto() == direct.to_proto()
    assert "champion" in by_number.aliases
    # Another version, or the number given as an int, is another read.
    kept.get_model_version(MODEL, str(int(by_alias.version) + 1))
    kept.get_model_version(MODEL, int(by_alias.version))
    assert kept.calls == 3


def test_a_kept_metric_history_is_copied_as_deepcopy_copies_it(
    mlflow_store: Any, client: Any
) -> None:
    import copy

    from mlflow.store.entities.paged_list import PagedList

    run_id = mlflow_store.versions[1].run_id
    key = next(iter(client.get_run(run_id).data.metrics))
    kept = ReadOnceClient(client)
    first = kept.get_metric_history(run_id, key)
    assert first, "the fixture run logged this metric"
    reference = copy.deepcopy(first)
    again = kept.get_metric_history(run_id, key)
    assert type(again) is type(reference) is PagedList
    assert again.token == reference.token
    assert [vars(p) for p in again] == [vars(p) for p in reference]
    assert all(a is not b for a, b in zip(again, first, strict=True))
    # What one caller changes in a point does not reach the next.
    first[0]._value = -1.0
    first.clear()
    assert [vars(p) for p in kept.get_metric_history(run_id, key)] == [vars(p) for p in reference]
