"""One gathering reads each run, version and logged model once (`tools.read_once`, real store)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tools.collector import collect_version
from tools.read_once import (
    READS_KEPT,
    ReadOnceClient,
    answering,
    keep_answer,
    kept_answer,
    read_once,
)

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


def _state(value: Any) -> Any:
    """Everything an answer holds, as nested plain values (for comparing two copies)."""
    if isinstance(value, list):
        return [type(value).__name__, getattr(value, "token", None), *(_state(v) for v in value)]
    if isinstance(value, dict):
        return {k: _state(v) for k, v in value.items()}
    if hasattr(value, "__dict__"):
        return [type(value).__name__, _state(vars(value))]
    return value


def _identities(value: Any) -> set[int]:
    found: set[int] = set()
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str | int | float | bool | type(None)) or id(item) in found:
            continue
        found.add(id(item))
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
        elif hasattr(item, "__dict__"):
            pending.extend(vars(item).values())
    return found


@pytest.mark.parametrize(
    "read",
    ["get_run", "get_metric_history", "search_runs", "search_logged_models", "get_model_version"],
)
def test_a_kept_answer_is_copied_as_deepcopy_copies_it(
    mlflow_store: Any, client: Any, read: str
) -> None:
    import copy

    facts = mlflow_store.versions[1]
    run = client.get_run(facts.run_id)
    key = next(iter(run.data.metrics))
    experiments = [run.info.experiment_id]
    args: dict[str, tuple[Any, ...]] = {
        "get_run": (facts.run_id,),
        "get_metric_history": (facts.run_id, key),
        "search_runs": (experiments,),
        "search_logged_models": (experiments,),
        "get_model_version": ("credit-risk", "1"),
    }
    kept = ReadOnceClient(client)
    first = getattr(kept, read)(*args[read])
    reference = copy.deepcopy(first)
    again = getattr(kept, read)(*args[read])
    assert _state(again) == _state(reference)
    # Nothing mutable is shared between two callers' answers.
    assert not (_identities(first) & _identities(again))


class _Answer:
    """An answer of plain objects, as MLflow's entities are."""

    def __init__(self, hook: Any) -> None:
        self.values = [1, 2]
        self.hook = hook


@pytest.mark.parametrize("picklable", [True, False], ids=["pickled", "deep-copied"])
def test_a_kept_answer_is_what_was_read_whatever_its_first_caller_does(picklable: bool) -> None:
    from tools.read_once import _Kept

    # A local function: pickle refuses it, deepcopy keeps it.
    answer = _Answer(hook=None if picklable else (lambda: None))
    kept = _Kept.of(answer)
    assert (kept._pickled is not None) is picklable
    answer.values.append(3)  # the first caller, who got the answer itself, changes it
    copies = [_Kept.copy_of(kept) for _ in range(2)]
    for copied in copies:
        assert copied is not answer and copied.values == [1, 2]
        assert copied.hook is answer.hook
    assert copies[0].values is not copies[1].values


def test_a_kept_answer_answers_the_read_it_stands_for_without_reading(
    mlflow_store: Any, client: Any
) -> None:
    run_id = mlflow_store.versions[1].run_id
    searched = client.get_run(run_id)
    kept: Any = ReadOnceClient(client)
    keep_answer(kept, "get_run", (run_id,), searched)
    searched.data.params["tampered"] = "yes"  # the keeper's own copy, changed afterwards
    answer = kept.get_run(run_id)
    assert (kept.calls, kept.repeats) == (0, 1)
    assert "tampered" not in answer.data.params
    assert answer.to_dictionary() == client.get_run(run_id).to_dictionary()
    # Asked for without reading: a copy of what is kept, or None for what is not.
    peeked = kept_answer(kept, "get_run", (run_id,))
    assert peeked is not None and peeked is not answer
    other = mlflow_store.versions[2].run_id
    assert kept_answer(kept, "get_run", (other,)) is None
    assert kept.calls == 0


def test_an_answer_read_first_is_never_replaced(mlflow_store: Any, client: Any) -> None:
    run_id = mlflow_store.versions[1].run_id
    kept: Any = ReadOnceClient(client)
    read = kept.get_run(run_id)
    stale = client.get_run(run_id)
    stale.data.tags["stale"] = "yes"
    keep_answer(kept, "get_run", (run_id,), stale)
    assert kept.get_run(run_id).to_dictionary() == read.to_dictionary()


@pytest.mark.parametrize(
    ("name", "error"),
    [("get_run", None), ("set_tag", ValueError), ("download_artifacts", ValueError)],
    ids=["kept-read", "write", "download"],
)
def test_only_a_kept_read_takes_an_answer(
    client: Any, name: str, error: type[Exception] | None
) -> None:
    kept: Any = ReadOnceClient(client)
    if error is None:
        keep_answer(kept, name, ("0" * 32,), "answer")
        assert kept_answer(kept, name, ("0" * 32,)) == "answer"
    else:
        with pytest.raises(error, match=repr(name)):
            keep_answer(kept, name, ("0" * 32,), "answer")


def test_a_client_that_is_not_read_once_keeps_nothing(mlflow_store: Any, client: Any) -> None:
    run_id = mlflow_store.versions[1].run_id
    keep_answer(client, "get_run", (run_id,), "not a run")
    assert kept_answer(client, "get_run", (run_id,)) is None
    assert client.get_run(run_id).info.run_id == run_id


class _HeldClient:
    """The store's client, whose `get_run` waits until released (and fails first, if told)."""

    def __init__(self, client: Any, *, first_fails: bool) -> None:
        import threading

        self._client = client
        self.first_fails = first_fails
        self.started = threading.Event()
        self.release = threading.Event()
        self.reads = 0

    def get_run(self, run_id: str) -> Any:
        self.reads += 1
        self.started.set()
        assert self.release.wait(30)
        if self.first_fails and self.reads == 1:
            raise ConnectionError("the first read failed")
        return self._client.get_run(run_id)


@pytest.mark.parametrize(
    ("first_fails", "reads"),
    [(False, 1), (True, 2)],
    ids=["shared-answer", "first-read-failed"],
)
def test_a_read_under_way_is_waited_for_not_repeated(
    mlflow_store: Any, client: Any, first_fails: bool, reads: int
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    run_id = mlflow_store.versions[1].run_id
    held = _HeldClient(client, first_fails=first_fails)
    kept: Any = ReadOnceClient(held)  # type: ignore[arg-type]
    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(kept.get_run, run_id)
        assert held.started.wait(30)
        second = pool.submit(kept.get_run, run_id)
        # Time for the second caller to ask while the first read is held (without the sharing,
        # it would reach the client now and count a second read).
        time.sleep(0.2)
        held.release.set()
        if first_fails:
            with pytest.raises(ConnectionError):
                first.result(30)
        else:
            assert first.result(30).to_dictionary() == client.get_run(run_id).to_dictionary()
        answer = second.result(30)
    assert answer.to_dictionary() == client.get_run(run_id).to_dictionary()
    assert held.reads == reads
    assert (kept.calls, kept.repeats) == (1, 0 if first_fails else 1)


@pytest.mark.parametrize(
    ("answered", "reads"),
    [(True, 0), (False, 1)],
    ids=["answered-by-the-block", "left-unanswered"],
)
def test_a_read_a_block_answers_waits_for_the_block(
    mlflow_store: Any, client: Any, answered: bool, reads: int
) -> None:
    """A read declared by a block (`answering`) that another thread asks for while the block
    runs waits for it: it gets the answer the block keeps, or reads for itself after a block
    that kept none."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    run_id = mlflow_store.versions[1].run_id
    held = _HeldClient(client, first_fails=False)
    held.release.set()
    kept: Any = ReadOnceClient(held)  # type: ignore[arg-type]
    inside, leave = threading.Event(), threading.Event()

    def block() -> None:
        with answering(kept, [("get_run", (run_id,), {})]):
            inside.set()
            assert leave.wait(30)
            if answered:
                keep_answer(kept, "get_run", (run_id,), client.get_run(run_id))

    with ThreadPoolExecutor(max_workers=2) as pool:
        batch = pool.submit(block)
        assert inside.wait(30)
        waiting = pool.submit(kept.get_run, run_id)
        # Time for the read to reach the client, were it not waiting for the block.
        time.sleep(0.2)
        assert held.reads == 0 and not waiting.done()
        leave.set()
        batch.result(30)
        answer = waiting.result(30)
    assert answer.to_dictionary() == client.get_run(run_id).to_dictionary()
    assert (held.reads, kept.calls) == (reads, reads)


def test_a_block_changes_nothing_on_a_plain_client_and_takes_only_kept_reads(
    mlflow_store: Any, client: Any
) -> None:
    run_id = mlflow_store.versions[1].run_id
    with answering(client, [("get_run", (run_id,), {})]):
        assert client.get_run(run_id).info.run_id == run_id
    kept: Any = ReadOnceClient(client)
    with pytest.raises(ValueError, match="'set_tag'"), answering(kept, [("set_tag", (), {})]):
        pass
    # A read kept already, or under way, is not declared again: it answers at once.
    kept.get_run(run_id)
    with answering(kept, [("get_run", (run_id,), {}), ("get_run", (run_id,), {})]):
        assert kept.get_run(run_id).info.run_id == run_id
    assert (kept.calls, kept.repeats) == (1, 1)
