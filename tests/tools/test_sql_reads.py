"""The point reads `SqlReadClient` answers without MLflow's ORM give what MLflow's own client
gives, on real MLflow stores (SQLite, and PostgreSQL in a schema of its own), and anything out of
the plain case is MLflow's own answer or error."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    LoggedModelInput,
    LoggedModelOutput,
    Metric,
    Param,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from support.postgres_schema import postgres_schema

from tools._sql_reads import (
    SqlReadClient,
    _read_history,
    _read_logged_model,
    _read_run,
    _read_version,
    _search_logged_models,
    _search_runs,
    _search_versions,
)
from tools.client import make_client

MODEL = "lean-reads"
EVAL_TARGET = "promogate.eval_target"
QUOTED = "o'brien-churn"


@dataclass(frozen=True)
class World:
    """A store holding every shape the lean reads must map, read by both clients."""

    mlflow: MlflowClient
    lean: SqlReadClient
    runs: dict[str, str]


def _dataset(name: str, digest: str) -> Dataset:
    return Dataset(
        name=name,
        digest=digest,
        source_type="local",
        source='{"uri": "file:///data/' + name + '.parquet"}',
        schema='{"mlflow_colspec": []}',
        profile='{"num_rows": 100}',
    )


def _build(uri: str, artifacts: str) -> World:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("lean", artifact_location=artifacts)
    full = client.create_run(experiment, run_name="full-run", tags={"team": "risk"})
    run_id = full.info.run_id
    client.log_batch(
        run_id,
        metrics=[
            Metric("roc_auc", 0.81, 1_000, 0),
            Metric("roc_auc", 0.84, 2_000, 1),
            Metric("roc_auc", 0.83, 2_000, 1),
            Metric("loss", 0.9, 1_000, 0),
            Metric("loss", float("nan"), 1_500, 1),
            Metric("loss", float("inf"), 1_600, 2),
            Metric("loss", 0.5, 1_700, 3),
            Metric("late", 1.0, 5_000, 7),
            Metric("late", 2.0, 4_000, 3),
        ],
        params=[Param("max_depth", "6"), Param("features", "a,b,c")],
        tags=[RunTag("mlflow.source.name", "train.py"), RunTag("empty", "")],
    )
    client.log_inputs(
        run_id,
        datasets=[
            DatasetInput(
                _dataset("train", "d1"),
                [InputTag("mlflow.data.context", "training"), InputTag("split", "a")],
            ),
            DatasetInput(_dataset("eval", "d2"), [InputTag("mlflow.data.context", "eval")]),
            DatasetInput(_dataset("bare", "d3"), []),
        ],
    )
    model = client.create_logged_model(experiment, name="model", source_run_id=run_id)
    used = client.create_logged_model(experiment, name="base")
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, 3)])
    client.log_inputs(run_id, models=[LoggedModelInput(used.model_id)])
    client.set_terminated(run_id, "FINISHED", end_time=9_000)
    # A run named only by its tag, as older MLflow clients left them.
    tagged = client.create_run(experiment, tags={"mlflow.runName": "named-by-tag"})
    deleted = client.create_run(experiment, run_name="deleted")
    client.delete_run(deleted.info.run_id)
    # Evaluation runs as `promogate eval run` links them, two started at the same moment.
    other = client.create_experiment("lean-other", artifact_location=artifacts)
    for target, start, where in (
        ("lean-reads/1", 5_000, experiment),
        ("lean-reads/1", 5_000, experiment),
        ("lean-reads/2", 6_000, experiment),
        ("Lean-Reads/1", 7_000, experiment),
        ("lean-reads/1", 8_000, other),
        (f"{QUOTED}/1", 9_000, experiment),
    ):
        linked = client.create_run(where, start_time=start, tags={EVAL_TARGET: target})
        client.log_batch(linked.info.run_id, metrics=[Metric("pass_rate", 0.9, start, 0)])

    client.create_registered_model(MODEL)
    first = client.create_model_version(MODEL, f"{artifacts}/m1", run_id, tags={"stage": "qa"})
    client.create_model_version(MODEL, f"{artifacts}/m2", tagged.info.run_id, description="v2")
    client.create_model_version(MODEL, f"{artifacts}/m3")
    client.set_model_version_tag(MODEL, first.version, "reviewed", "yes")
    client.set_registered_model_alias(MODEL, "champion", first.version)
    client.set_registered_model_alias(MODEL, "prod", first.version)
    client.set_registered_model_alias(MODEL, "next", "2")
    client.set_registered_model_alias(MODEL, "gone", "3")
    client.delete_model_version(MODEL, "3")
    client.create_registered_model(QUOTED)
    client.create_model_version(QUOTED, f"{artifacts}/q1", run_id)
    client.set_registered_model_alias(QUOTED, "champion", "1")
    client.register_prompt(name="a-prompt", template="Answer {{question}}")
    client.set_logged_model_tags(model.model_id, {"flavor": "sklearn", "note": ""})
    client.log_model_params(model.model_id, {"alpha": "0.1"})
    points = (("auc", 0.84, "eval"), ("auc", 0.79, "holdout"), ("f1", 0.6, None))
    for offset, (key, value, dataset) in enumerate(points):
        client.log_metric(
            run_id,
            key,
            value,
            timestamp=7_000 + offset,
            step=3,
            dataset_name=dataset,
            dataset_digest=None if dataset is None else f"digest-{dataset}",
            model_id=model.model_id,
        )
    gone = client.create_logged_model(experiment, name="gone")
    client.delete_logged_model(gone.model_id)
    runs = {
        "experiment": experiment,
        "other": other,
        "full": run_id,
        "tagged": tagged.info.run_id,
        "deleted": deleted.info.run_id,
        "model": model.model_id,
        "bare-model": used.model_id,
        "gone-model": gone.model_id,
    }
    return World(client, SqlReadClient(uri, uri), runs)


def _dispose(world: World) -> None:
    for client in (world.mlflow, world.lean):
        client._get_registry_client().store.engine.dispose()
        client._tracking_client.store.engine.dispose()


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root: Path = tmp_path_factory.mktemp("sql-reads")
    return _build(f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri())


@pytest.fixture(scope="module")
def postgresql_world(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    root: Path = tmp_path_factory.mktemp("sql-reads-pg")
    with postgres_schema(postgres_url, "promogate_reads") as url:
        world = _build(url, (root / "artifacts").as_uri())
        try:
            yield world
        finally:
            # The schema is dropped next: the stores' pooled connections go first.
            _dispose(world)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> World:
    found: World = request.getfixturevalue(f"{request.param}_world")
    return found


def _proto(entity: Any) -> Any:
    if isinstance(entity, list):
        return [_proto(item) for item in entity]
    return entity.to_proto()


def _outcome(read: Callable[[], Any]) -> tuple[str, Any]:
    """What a read gives: its entities' protos, or its error's type, code and message."""
    try:
        return "ok", _proto(read())
    except MlflowException as exc:
        return type(exc).__name__, (exc.error_code, str(exc))


Read = Callable[[MlflowClient, dict[str, str]], Any]

READS: list[Any] = [
    pytest.param(lambda c, r: c.get_run(r["full"]), id="run-full"),
    pytest.param(lambda c, r: c.get_run(r["tagged"]), id="run-named-by-tag"),
    pytest.param(lambda c, r: c.get_run(r["deleted"]), id="run-deleted"),
    pytest.param(lambda c, r: c.get_run("0" * 32), id="run-unknown"),
    pytest.param(lambda c, r: c.get_run("not a run id!"), id="run-invalid-id"),
    pytest.param(lambda c, r: c.get_metric_history(r["full"], "roc_auc"), id="history"),
    pytest.param(lambda c, r: c.get_metric_history(r["full"], "loss"), id="history-nan-inf"),
    pytest.param(lambda c, r: c.get_metric_history(r["full"], "late"), id="history-out-of-order"),
    pytest.param(lambda c, r: c.get_metric_history(r["full"], "absent"), id="history-no-key"),
    pytest.param(lambda c, r: c.get_metric_history("0" * 32, "loss"), id="history-unknown-run"),
    pytest.param(lambda c, r: c.get_logged_model(r["model"]), id="logged-model"),
    pytest.param(lambda c, r: c.get_logged_model(r["bare-model"]), id="logged-model-bare"),
    pytest.param(lambda c, r: c.get_logged_model(r["gone-model"]), id="logged-model-deleted"),
    pytest.param(lambda c, r: c.get_logged_model("m-unknown"), id="logged-model-unknown"),
    pytest.param(lambda c, r: c.get_logged_model(""), id="logged-model-empty-id"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, "1"), id="version-tags-aliases"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, 2), id="version-int-number"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, "3"), id="version-deleted"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, "9"), id="version-unknown"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, "x"), id="version-not-a-number"),
    pytest.param(lambda c, r: c.get_model_version("nobody", "1"), id="version-unknown-model"),
    pytest.param(lambda c, r: c.get_model_version(QUOTED, "1"), id="version-quoted-name"),
    pytest.param(lambda c, r: c.get_model_version("a-prompt", "1"), id="version-of-a-prompt"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "champion"), id="alias"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "next"), id="alias-other"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "gone"), id="alias-deleted"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "none"), id="alias-unknown"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "latest"), id="alias-latest"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "LATEST"), id="alias-LATEST"),
    pytest.param(lambda c, r: c.get_model_version_by_alias("nobody", "x"), id="alias-no-model"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(QUOTED, "champion"), id="alias-quote"),
]


def _search(
    filter_string: str = "",
    view: int = ViewType.ACTIVE_ONLY,
    max_results: int = 1000,
    order_by: list[str] | None = None,
    both: bool = False,
) -> Read:
    """A `search_runs` in the world's first experiment (both of its experiments with `both`),
    answered with its page token."""

    def read(client: MlflowClient, runs: dict[str, str]) -> Any:
        experiments = [runs["experiment"], runs["other"]] if both else [runs["experiment"]]
        found = client.search_runs(experiments, filter_string, view, max_results, order_by)
        return _Page(list(found), found.token)

    return read


@dataclass(frozen=True)
class _Page:
    runs: list[Any]
    token: str | None

    def to_proto(self) -> Any:
        return [run.to_proto() for run in self.runs], self.token


def _versions(
    filter_string: str | None = None, max_results: int = 10_000, order_by: list[str] | None = None
) -> Read:
    """A `search_model_versions`, answered with its page token."""

    def read(client: MlflowClient, runs: dict[str, str]) -> Any:
        found = client.search_model_versions(filter_string, max_results, order_by)
        return _Page(list(found), found.token)

    return read


def _models(
    filter_string: str | None = None,
    max_results: int | None = None,
    both: bool = False,
    **more: Any,
) -> Read:
    """A `search_logged_models` in the world's first experiment (both with `both`)."""

    def read(client: MlflowClient, runs: dict[str, str]) -> Any:
        experiments = [runs["experiment"], runs["other"]] if both else [runs["experiment"]]
        found = client.search_logged_models(
            experiments,
            filter_string.format(**runs) if filter_string else None,
            max_results=max_results,
            **more,
        )
        return _Page(list(found), found.token)

    return read


TARGET = f"tags.`{EVAL_TARGET}`"
READS += [
    pytest.param(_search(), id="search-every-active-run"),
    pytest.param(_search(view=ViewType.ALL), id="search-every-run"),
    pytest.param(_search(view=ViewType.DELETED_ONLY), id="search-deleted-runs"),
    pytest.param(_search(both=True), id="search-two-experiments"),
    pytest.param(
        lambda c, r: _search(
            f"attributes.run_id IN ('{r['full']}', '{r['deleted']}', '{r['tagged']}')",
            ViewType.ALL,
            max_results=3,
        )(c, r),
        id="search-by-ids-deleted-too",
    ),
    pytest.param(
        lambda c, r: _search(f"attributes.run_id IN ('{r['full']}', '{r['deleted']}')")(c, r),
        id="search-by-ids-active",
    ),
    pytest.param(
        _search(
            f"{TARGET} = 'lean-reads/1'",
            max_results=50,
            order_by=["attributes.start_time DESC"],
        ),
        id="search-linked-runs",
    ),
    pytest.param(_search(f"{TARGET} = 'lean-reads/9'"), id="search-linked-none"),
    pytest.param(_search(f'{TARGET} = "{QUOTED}/1"'), id="search-linked-quoted"),
    pytest.param(_search(f"{TARGET} LIKE 'lean-reads/%'", both=True), id="search-like"),
    pytest.param(_search(f"{TARGET} ILIKE 'lean-reads/%'"), id="search-ilike"),
    pytest.param(_search(f"{TARGET} != 'lean-reads/1'"), id="search-not-equal"),
    pytest.param(_search("params.max_depth = '6'"), id="search-param"),
    pytest.param(_search("metrics.pass_rate > 0.5"), id="search-metric"),
    pytest.param(_search("attributes.run_name = 'full-run'"), id="search-run-name"),
    pytest.param(_search("datasets.name = 'train'"), id="search-dataset"),
    pytest.param(_search(order_by=["metrics.loss ASC"]), id="search-order-by-metric"),
    pytest.param(_search(order_by=["tags.team DESC", "start_time"]), id="search-order-by-tag"),
    pytest.param(_search(f"{TARGET} LIKE 'lean-reads/%'", max_results=1), id="search-paged"),
    pytest.param(_search("metrics.pass_rate >"), id="search-bad-filter"),
    pytest.param(_search(order_by=["nothing.at all"]), id="search-bad-order"),
    pytest.param(_search(max_results=60_000), id="search-too-many"),
    pytest.param(
        lambda c, r: c.search_runs(r["experiment"], f"{TARGET} = 'lean-reads/1'"),
        id="search-one-experiment-as-a-string",
    ),
    pytest.param(_models(), id="models-all"),
    pytest.param(_models(both=True), id="models-two-experiments"),
    pytest.param(_models("source_run_id = '{full}'"), id="models-of-a-run"),
    pytest.param(
        _models("attributes.model_id IN ('{model}', '{bare-model}', '{gone-model}')", 3),
        id="models-by-ids",
    ),
    pytest.param(_models("name = 'model'"), id="models-by-name"),
    pytest.param(_models("tags.flavor = 'sklearn'"), id="models-by-tag"),
    pytest.param(_models("params.alpha = '0.1'"), id="models-by-param"),
    pytest.param(_models("metrics.auc > 0.5"), id="models-by-metric"),
    pytest.param(_models(max_results=1), id="models-paged"),
    pytest.param(_models("name = "), id="models-bad-filter"),
    pytest.param(_models(datasets=[{"dataset_name": "eval"}]), id="models-by-dataset-mlflows-own"),
    pytest.param(
        _models(order_by=[{"field_name": "name", "ascending": True}]),
        id="models-ordered-mlflows-own",
    ),
    pytest.param(_versions(), id="versions-all"),
    pytest.param(_versions(f"name = '{MODEL}'"), id="versions-of-a-model"),
    pytest.param(
        _versions(
            f"name = '{MODEL}' AND version_number < 3",
            max_results=50,
            order_by=["version_number DESC"],
        ),
        id="versions-before-a-version",
    ),
    pytest.param(
        _versions(f"name = '{MODEL}'", max_results=1, order_by=["version_number DESC"]),
        id="versions-latest",
    ),
    pytest.param(_versions(f"name != '{MODEL}'"), id="versions-of-other-models"),
    pytest.param(
        _versions(f"name = '{MODEL}' AND version_number >= 2", order_by=["creation_timestamp"]),
        id="versions-from-a-number-by-creation",
    ),
    pytest.param(_versions(f'name = "{QUOTED}"'), id="versions-quoted-name"),
    pytest.param(lambda c, r: _versions(f"run_id = '{r['full']}'")(c, r), id="versions-of-a-run"),
    pytest.param(_versions("tags.stage = 'qa'"), id="versions-by-tag"),
    pytest.param(_versions("name = 'a-prompt'"), id="versions-of-a-prompt"),
    pytest.param(_versions("name LIKE 'lean%'"), id="versions-like"),
    pytest.param(_versions(f"name = '{MODEL}'", max_results=1), id="versions-paged"),
    pytest.param(_versions(order_by=["name DESC", "version_number ASC"]), id="versions-order"),
    pytest.param(_versions("name = "), id="versions-bad-filter"),
    pytest.param(_versions(order_by=["colour DESC"]), id="versions-bad-order"),
    pytest.param(_versions(max_results=0), id="versions-no-results-asked"),
]


@pytest.mark.parametrize("read", READS)
def test_a_read_gives_what_mlflow_gives(world: World, read: Read) -> None:
    expected = _outcome(lambda: read(world.mlflow, world.runs))
    assert _outcome(lambda: read(world.lean, world.runs)) == expected
    # Again: a search's statement is kept from the first.
    assert _outcome(lambda: read(world.lean, world.runs)) == expected


# The reads a review makes, as it makes them (`tools.registry`, `tools.runs`, `tools._safety`,
# `tools.version_history`, `tools.artifacts`).
REVIEW_READS = [
    pytest.param(lambda c, r: c.get_run(r["full"]), id="run"),
    pytest.param(lambda c, r: c.get_metric_history(r["full"], "loss"), id="history"),
    pytest.param(lambda c, r: c.get_logged_model(r["model"]), id="logged-model"),
    pytest.param(lambda c, r: c.get_model_version(MODEL, "1"), id="version"),
    pytest.param(lambda c, r: c.get_model_version_by_alias(MODEL, "champion"), id="alias"),
    pytest.param(
        _search(
            f"{TARGET} = 'lean-reads/1'", max_results=50, order_by=["attributes.start_time DESC"]
        ),
        id="linked-runs",
    ),
    pytest.param(
        lambda c, r: _search(
            f"attributes.run_id IN ('{r['full']}', '{r['deleted']}')", ViewType.ALL, 2
        )(c, r),
        id="runs-by-ids",
    ),
    pytest.param(_models("source_run_id = '{full}'"), id="models-of-a-run"),
    pytest.param(
        _versions(f"name = '{MODEL}' AND version_number < 3", 5, ["version_number DESC"]),
        id="versions-before",
    ),
]


@pytest.mark.parametrize("read", REVIEW_READS)
def test_a_review_read_of_a_sqlite_store_builds_no_mlflow_client(
    sqlite_world: World, read: Read
) -> None:
    """MLflow's client, with the store it builds, is left unbuilt: what a local review spent
    most of its own time on."""
    uri = sqlite_world.mlflow.tracking_uri
    client = SqlReadClient(uri, uri)
    assert _outcome(lambda: read(client, sqlite_world.runs)) == _outcome(
        lambda: read(sqlite_world.mlflow, sqlite_world.runs)
    )
    assert "_mlflow_started" not in vars(client)


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(_search("params.max_depth = '6'"), id="search-by-param"),
        pytest.param(lambda c, r: c.get_run("0" * 32), id="unknown-run"),
        pytest.param(lambda c, r: c.get_experiment(r["experiment"]), id="another-method"),
    ],
)
def test_anything_else_builds_mlflows_client_on_first_need(sqlite_world: World, read: Read) -> None:
    uri = sqlite_world.mlflow.tracking_uri
    client = SqlReadClient(uri, uri)
    assert _outcome(lambda: read(client, sqlite_world.runs)) == _outcome(
        lambda: read(sqlite_world.mlflow, sqlite_world.runs)
    )
    assert "_mlflow_started" in vars(client)
    assert client.tracking_uri == sqlite_world.mlflow.tracking_uri


def test_the_full_run_is_mapped_field_by_field(world: World) -> None:
    run_id = world.runs["full"]
    lean, theirs = world.lean.get_run(run_id), world.mlflow.get_run(run_id)
    assert lean.info.run_name == "full-run"
    assert math.isnan(lean.data.metrics["loss"]) is False  # the latest point, at step 3
    assert [m.key for m in lean.data._metric_objs] == [m.key for m in theirs.data._metric_objs]
    inputs = lean.inputs.dataset_inputs
    assert sorted((i.dataset.name, len(i.tags)) for i in inputs) == [
        ("bare", 0),
        ("eval", 1),
        ("train", 2),
    ]
    assert len(lean.inputs.model_inputs) == 1
    assert [(o.step) for o in lean.outputs.model_outputs] == [3]


@pytest.mark.parametrize(
    ("name", "read"),
    [
        pytest.param("run", lambda e, r: _read_run(e, r["full"]), id="run"),
        pytest.param("run", lambda e, r: _read_run(e, r["tagged"]), id="run-named-by-tag"),
        pytest.param("history", lambda e, r: _read_history(e, r["full"], "loss"), id="history"),
        pytest.param("model", lambda e, r: _read_logged_model(e, r["model"]), id="logged-model"),
    ],
)
def test_the_tracking_reads_are_answered_without_mlflow(
    world: World, name: str, read: Callable[[Any, dict[str, str]], Any]
) -> None:
    """The plain cases are the lean reader's own answers, not a fallback's."""
    store = world.lean._store("tracking")
    assert store is not None, f"the {name} read fell back to MLflow's store"
    assert read(store, world.runs) is not None


@pytest.mark.parametrize(
    ("version", "answered"),
    [
        pytest.param(1, True, id="live"),
        pytest.param(3, False, id="deleted-falls-back"),
        pytest.param(9, False, id="unknown-falls-back"),
    ],
)
def test_the_version_read_answers_only_a_live_version(
    world: World, version: int, answered: bool
) -> None:
    store = world.lean._store("registry")
    assert store is not None
    assert (_read_version(store, MODEL, version) is not None) is answered


Search = Callable[[World, int], Any]


def _runs_search(filter_string: str) -> Search:
    def search(world: World, max_results: int) -> Any:
        store = world.lean._tracking_client.store
        experiments = [world.runs["experiment"]]
        return _search_runs(
            store, experiments, filter_string, ViewType.ACTIVE_ONLY, max_results, None
        )

    return search


def _versions_search(world: World, max_results: int) -> Any:
    store = world.lean._get_registry_client().store
    return _search_versions(store, f"name = '{MODEL}'", max_results, None)


def _models_search(world: World, max_results: int) -> Any:
    store = world.lean._tracking_client.store
    return _search_logged_models(store, [world.runs["experiment"]], None, max_results)


@pytest.mark.parametrize(
    ("search", "max_results", "answered"),
    [
        pytest.param(_runs_search(f"{TARGET} = 'lean-reads/1'"), 50, True, id="linked-runs"),
        pytest.param(_runs_search(f"{TARGET} = 'lean-reads/9'"), 50, True, id="runs-none-found"),
        pytest.param(_runs_search(f"{TARGET} LIKE 'lean-reads/%'"), 1, False, id="runs-paged"),
        pytest.param(_versions_search, 50, True, id="versions"),
        pytest.param(_versions_search, 1, False, id="versions-paged"),
        pytest.param(_models_search, 10, True, id="logged-models"),
        pytest.param(_models_search, 1, False, id="logged-models-paged"),
    ],
)
def test_a_search_is_answered_without_mlflow_within_one_page(
    world: World, search: Search, max_results: int, answered: bool
) -> None:
    """A search in one page is the lean reader's own answer; a longer one is left to MLflow."""
    assert (search(world, max_results) is not None) is answered


def test_the_version_read_leaves_a_prompt_to_mlflow(world: World) -> None:
    store = world.lean._store("registry")
    assert _read_version(store, "a-prompt", 1) is None


def test_make_client_reads_a_sql_store_lean_and_a_server_mlflows_way(sqlite_world: World) -> None:
    uri = sqlite_world.mlflow.tracking_uri
    local = make_client(uri)
    assert isinstance(local, SqlReadClient)
    assert local._store("tracking") is not None
    assert local._store("registry") is not None
    # Nothing is asked of a server until a read: the REST store is built, not called.
    remote = make_client("http://127.0.0.1:9")
    assert remote._store("tracking") is None
    assert remote._store("registry") is None


def _mlflow_constant(name: str) -> Any:
    from mlflow.store import model_registry, tracking
    from mlflow.utils import workspace_utils
    from mlflow.utils.search_utils import SearchModelVersionUtils as versions

    return {
        "ACTIVE_ONLY": ViewType.ACTIVE_ONLY,
        "SEARCH_MAX_RESULTS_DEFAULT": tracking.SEARCH_MAX_RESULTS_DEFAULT,
        "SEARCH_MAX_RESULTS_THRESHOLD": tracking.SEARCH_MAX_RESULTS_THRESHOLD,
        "SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT": tracking.SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT,
        "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT": (
            model_registry.SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT
        ),
        "VALID_STRING_ATTRIBUTE_COMPARATORS": versions.VALID_STRING_ATTRIBUTE_COMPARATORS,
        "VALID_NUMERIC_ATTRIBUTE_COMPARATORS": versions.VALID_NUMERIC_ATTRIBUTE_COMPARATORS,
        "DEFAULT_WORKSPACE_NAME": workspace_utils.DEFAULT_WORKSPACE_NAME,
    }[name]


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("_ACTIVE_ONLY", "ACTIVE_ONLY"),
        ("_SEARCH_MAX_RESULTS_DEFAULT", "SEARCH_MAX_RESULTS_DEFAULT"),
        ("_SEARCH_MAX_RESULTS_THRESHOLD", "SEARCH_MAX_RESULTS_THRESHOLD"),
        ("_SEARCH_MODELS_DEFAULT", "SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT"),
        ("_SEARCH_VERSIONS_MAX_RESULTS_DEFAULT", "SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT"),
        ("_STRING_COMPARATORS", "VALID_STRING_ATTRIBUTE_COMPARATORS"),
        ("_NUMBER_COMPARATORS", "VALID_NUMERIC_ATTRIBUTE_COMPARATORS"),
        ("_DEFAULT_WORKSPACE", "DEFAULT_WORKSPACE_NAME"),
    ],
    ids=lambda name: name,
)
def test_a_value_written_out_is_mlflows_own(ours: str, theirs: str) -> None:
    from tools import _sql_reads

    assert getattr(_sql_reads, ours) == _mlflow_constant(theirs)


def test_the_kept_statements_stay_bounded_and_the_newest_are_kept() -> None:
    from tools import _sql_reads

    for n in range(_sql_reads._KEPT_STATEMENTS_MAX + 40):
        _sql_reads._keep_statement(("bounded-test", n), f"statement {n}")
    assert len(_sql_reads._KEPT_STATEMENTS) <= _sql_reads._KEPT_STATEMENTS_MAX
    newest = ("bounded-test", _sql_reads._KEPT_STATEMENTS_MAX + 39)
    assert _sql_reads._kept_statement(newest) == f"statement {newest[1]}"
    assert _sql_reads._kept_statement(("bounded-test", 0)) is None


@pytest.mark.parametrize(
    ("table", "read"),
    [
        pytest.param("latest_metrics", lambda c, r: c.get_run(r), id="run"),
        pytest.param("metrics", lambda c, r: c.get_metric_history(r, "loss"), id="history"),
        pytest.param("tags", lambda c, r: c.search_runs(["0"], "tags.team = 'risk'"), id="search"),
    ],
)
def test_a_database_failure_is_mlflows_error(
    tmp_path: Path, table: str, read: Callable[[MlflowClient, str], Any]
) -> None:
    import sqlite3

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    theirs = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = theirs.create_run("0").info.run_id
    ours = SqlReadClient(uri, uri)
    assert ours._store("tracking") is not None
    with sqlite3.connect(tmp_path / "mlflow.db") as conn:
        conn.execute(f"DROP TABLE {table}")
    with pytest.raises(MlflowException) as expected:
        read(theirs, run_id)
    with pytest.raises(MlflowException) as found:
        read(ours, run_id)
    assert found.value.error_code == expected.value.error_code
