"""Publishing a decision as model-version tags, on real MLflow stores (SQLite; PostgreSQL for the
one-transaction write)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from support.postgres_schema import postgres_schema

from agents.offline_investigator import OfflineInvestigator
from demo.command import EXAMPLE_POLICIES
from ledger.store import Ledger
from policies.decision import Decision
from review import ReviewConfig, ReviewService
from review._decide import error_decision
from review._publish import decision_tags, publish_decision_tags, set_version_tags
from tools._sql_reads import SqlReadClient


class _CountingClient(MlflowClient):
    """MLflow's client, counting its reads of registered models (its prompt check is one)."""

    def __init__(self, uri: str) -> None:
        super().__init__(tracking_uri=uri, registry_uri=uri)
        self.model_reads = 0

    def get_registered_model(self, name: str) -> Any:
        self.model_reads += 1
        return super().get_registered_model(name)


def _decision(model: str) -> Decision:
    from datetime import UTC, datetime

    return error_decision(
        model=model,
        version=1,
        target_alias="champion",
        error="example",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_ms=1.0,
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> _CountingClient:
    root: Path = tmp_path_factory.mktemp("publish")
    found = _CountingClient(f"sqlite:///{root / 'mlflow.db'}")
    found.create_registered_model("tagged")
    found.create_model_version("tagged", (root / "model").as_uri())
    found.register_prompt(name="a-prompt", template="Answer {{question}}")
    return found


def _promogate_tags(tags: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (tags or {}).items() if k.startswith("promogate.")}


@pytest.mark.parametrize(
    ("read_as_model", "model_reads"),
    [(False, 1), (True, 0)],
    ids=["mlflow-checks-for-a-prompt-once", "version-just-read-as-a-model"],
)
def test_every_tag_is_set_on_the_version(
    client: _CountingClient, read_as_model: bool, model_reads: int
) -> None:
    decision = _decision("tagged")
    before = client.model_reads
    publish_decision_tags(client, decision, "abc123", read_as_model=read_as_model)
    assert client.model_reads - before == model_reads
    tags = client.get_model_version("tagged", "1").tags
    assert _promogate_tags(tags) == decision_tags(decision, "abc123")


@pytest.fixture(scope="module")
def postgres_client(postgres_url: str) -> Iterator[_CountingClient]:
    """MLflow's store on the real PostgreSQL server, confined to a fresh schema dropped after."""
    with postgres_schema(postgres_url, "promogate_tags") as url:
        found = _CountingClient(url)
        try:
            found.create_registered_model("tagged")
            found.create_model_version("tagged", "file:///nowhere/model")
            yield found
        finally:
            # The schema is dropped next: the store's pooled connections go first.
            found._get_registry_client().store.engine.dispose()
            found._tracking_client.store.engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_client(request: pytest.FixtureRequest) -> _CountingClient:
    """A client of MLflow's SQL store with the version ``tagged`` 1, once per database."""
    name = "client" if request.param == "sqlite" else "postgres_client"
    found: _CountingClient = request.getfixturevalue(name)
    return found


@pytest.fixture
def writing_commits(store_client: _CountingClient) -> Iterator[list[int]]:
    """A list that grows by one at every commit of a transaction that wrote to the client's
    registry database (MLflow commits its reads too)."""
    from sqlalchemy import event

    engine = store_client._get_registry_client().store.engine
    commits: list[int] = []
    writing: set[int] = set()

    def statement(conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writing.add(id(conn))

    def commit(conn: Any) -> None:
        if id(conn) in writing:
            writing.discard(id(conn))
            commits.append(1)

    event.listen(engine, "before_cursor_execute", statement)
    event.listen(engine, "commit", commit)
    yield commits
    event.remove(engine, "before_cursor_execute", statement)
    event.remove(engine, "commit", commit)


@pytest.mark.parametrize(
    "read_as_model", [False, True], ids=["prompt-check-first", "version-just-read-as-a-model"]
)
def test_a_sql_store_takes_every_tag_in_one_transaction(
    store_client: _CountingClient, writing_commits: list[int], read_as_model: bool
) -> None:
    decision = _decision("tagged")
    publish_decision_tags(
        store_client, decision, f"one-{read_as_model}", read_as_model=read_as_model
    )
    assert len(writing_commits) == 1
    tags = store_client.get_model_version("tagged", "1").tags
    assert _promogate_tags(tags) == decision_tags(decision, f"one-{read_as_model}")


def test_a_tag_that_exists_is_overwritten_and_the_others_are_left(
    store_client: _CountingClient, writing_commits: list[int]
) -> None:
    store_client.set_model_version_tag("tagged", "1", "team", "risk")
    store_client.set_model_version_tag("tagged", "1", "promogate.verdict", "stale")
    writing_commits.clear()
    set_version_tags(
        store_client,
        "tagged",
        "1",
        {"promogate.verdict": "block", "promogate.fresh": ""},
        read_as_model=True,
    )
    assert len(writing_commits) == 1
    tags = store_client.get_model_version("tagged", "1").tags
    assert (tags["team"], tags["promogate.verdict"], tags["promogate.fresh"]) == (
        "risk",
        "block",
        "",
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("promogate.bad\nkey", "x"), ("promogate." + "k" * 250, "x"), ("promogate.none", None)],
    ids=["key-mlflow-refuses", "key-over-mlflow-s-limit", "no-value"],
)
def test_a_refused_tag_leaves_none_of_the_others(
    store_client: _CountingClient, key: str, value: Any
) -> None:
    from mlflow.exceptions import MlflowException

    tags = {"promogate.first": "written?", key: value, "promogate.last": "written?"}
    with pytest.raises(MlflowException):
        set_version_tags(store_client, "tagged", "1", tags, read_as_model=True)
    found = store_client.get_model_version("tagged", "1").tags
    assert "promogate.first" not in found and "promogate.last" not in found


def test_an_unknown_version_is_refused_and_tags_no_other(client: _CountingClient) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match="version=99"):
        set_version_tags(client, "tagged", "99", {"promogate.unknown_version": "approve"})
    assert "promogate.unknown_version" not in client.get_model_version("tagged", "1").tags


def test_a_prompt_is_refused_before_any_tag_is_set(client: _CountingClient) -> None:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException):
        publish_decision_tags(client, _decision("a-prompt"), "abc123")
    assert not _promogate_tags(client.get_prompt_version("a-prompt", 1).tags)


def test_a_review_of_a_prompt_tags_nothing(client: _CountingClient, tmp_path: Path) -> None:
    # The review reads the version through MLflow's client, which refuses a prompt's version:
    # the review blocks and nothing is published.
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    config = ReviewConfig(tracking_uri=client.tracking_uri, policies_dir=EXAMPLE_POLICIES)
    reviews = ReviewService(
        config, ledger=ledger, investigator=OfflineInvestigator(), client=client
    )
    outcome = reviews.review("a-prompt", "1")
    ledger.close()
    assert outcome.decision.verdict == "block" and outcome.decision.error
    assert not _promogate_tags(client.get_prompt_version("a-prompt", 1).tags)


def test_a_review_publishes_without_reading_the_registered_model(
    demo_registry: Any, tmp_path: Path
) -> None:
    # A copy of the demo's store (its artifacts stay where they are): the review writes tags.
    store = tmp_path / "mlflow.db"
    shutil.copy(demo_registry.tracking_uri.removeprefix("sqlite:///"), store)
    client = _CountingClient(f"sqlite:///{store}")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    config = ReviewConfig(tracking_uri=client.tracking_uri, policies_dir=EXAMPLE_POLICIES)
    reviews = ReviewService(
        config, ledger=ledger, investigator=OfflineInvestigator(), client=client
    )
    model, version = demo_registry.model_name, demo_registry.candidates[0].version
    unpublished = reviews.review(model, str(version), publish=False)
    reads_unpublished = client.model_reads
    published = reviews.review(model, str(version), publish=True)
    ledger.close()
    assert client.model_reads - reads_unpublished == reads_unpublished
    assert published.decision.verdict == unpublished.decision.verdict
    # Other tests may have promoted or watched this version before the copy: only the decision's
    # own tags are compared.
    tags = client.get_model_version(model, str(version)).tags
    expected = decision_tags(published.decision, published.record_hash)
    assert {key: tags.get(key) for key in expected} == expected


@pytest.fixture(scope="module")
def sqlite_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[MlflowClient, SqlReadClient]:
    """MLflow's client and a lean one on the same SQLite store, with two versions to tag."""
    root: Path = tmp_path_factory.mktemp("publish-sqlite")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    theirs = MlflowClient(tracking_uri=uri, registry_uri=uri)
    theirs.create_registered_model("lean")
    for _ in range(3):
        theirs.create_model_version("lean", (root / "model").as_uri())
    theirs.delete_model_version("lean", "3")
    return theirs, SqlReadClient(uri, uri)


def test_a_sqlite_store_is_tagged_as_mlflow_tags_it_without_building_its_client(
    sqlite_pair: tuple[MlflowClient, SqlReadClient],
) -> None:
    theirs, ours = sqlite_pair
    tags = {"promogate.verdict": "approve", "promogate.empty": "", "promogate.same": "x"}
    for key, value in tags.items():
        theirs.set_model_version_tag("lean", "1", key, value)
    theirs.set_model_version_tag("lean", "2", "promogate.verdict", "stale")
    theirs.set_model_version_tag("lean", "2", "team", "risk")
    set_version_tags(ours, "lean", "2", tags, read_as_model=True)
    assert "_mlflow_started" not in vars(ours)
    first, second = (theirs.get_model_version("lean", n) for n in ("1", "2"))
    assert second.tags == {**first.tags, "team": "risk"}
    assert (
        second.last_updated_timestamp
        == theirs.get_model_version("lean", "2").last_updated_timestamp
    )


@pytest.mark.parametrize(
    ("version", "tags", "match"),
    [
        pytest.param("3", {"promogate.deleted": "x"}, "version=3", id="deleted-version"),
        pytest.param("99", {"promogate.unknown": "x"}, "version=99", id="unknown-version"),
        pytest.param(
            "1",
            {"promogate.first": "x", "promogate.bad\nkey": "x", "promogate.last": "x"},
            "Invalid",
            id="refused-tag",
        ),
        pytest.param("one", {"promogate.first": "x"}, "one", id="not-a-number"),
    ],
)
def test_a_sqlite_store_refuses_what_mlflow_refuses_and_tags_nothing(
    sqlite_pair: tuple[MlflowClient, SqlReadClient], version: str, tags: dict[str, str], match: str
) -> None:
    from mlflow.exceptions import MlflowException

    theirs, _ = sqlite_pair
    ours = SqlReadClient(theirs.tracking_uri, theirs.tracking_uri)
    before = {n: theirs.get_model_version("lean", n).tags for n in ("1", "2")}
    with pytest.raises(MlflowException, match=match) as raised:
        set_version_tags(ours, "lean", version, tags, read_as_model=True)
    assert {n: theirs.get_model_version("lean", n).tags for n in ("1", "2")} == before
    # MLflow's own client sets one tag per call: the first it refuses gives its error.
    with pytest.raises(MlflowException) as expected:
        for key, value in tags.items():
            theirs.set_model_version_tag("lean", version, key, value)
    assert raised.value.error_code == expected.value.error_code
