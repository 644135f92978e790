"""An MLflow client whose reads of a SQL store skip MLflow's ORM.

MLflow's SQL store answers `get_run` with five ORM queries, and `get_model_version` with seven
(the registered model and every relationship it loads, to find the version's aliases); its
searches parse their filter and order with sqlparse and load every row into ORM objects: a
worker's review spent more of its CPU building and loading those queries than on anything of its
own, and a reused gate reading the store directly spent most of its time there. `SqlReadClient`
answers the reads a review and a fingerprint make:

- the point reads (a run, a metric's history, a logged model, a version by number and by
  alias) with plain statements on MLflow's own tables, built once and bound to each read's
  values, run in the store's own managed sessions (its SQLite pragmas, its read replica, its
  errors);
- the searches (`search_runs`, `search_model_versions`, `search_logged_models`) with the
  statement MLflow's store builds, by its own functions (filters, order, prompts left out),
  selecting only the found rows' ids or columns, then the same plain reads of what they found.
  The newest statements are kept by everything they are built from: a fingerprint and the review
  after it search alike;

and builds the same entities, in the same order, as MLflow's mappers.

On a SQLite store that `tools._sqlite_store.SqliteStore` reads (MLflow's own plain store, at
the schema `tools._mlflow_tables` describes), the point reads and the searches a review makes
(runs by id and by tag, the versions of a model, the logged models of a run) are built on those
tables without MLflow's store at all, so that MLflow's client and store are built only when
something else is asked: a local review never builds them.

It answers only the plain case. Anything else goes to MLflow's own method, so that every error
and every special case stays MLflow's: a store that is not exactly MLflow's `SqlAlchemyStore` (a
workspace-aware or other subclass scopes its queries), a row that is not found or found twice, an
alias that is missing or ``latest``, a version that carries the prompt tag, a search with a page
token or with more results than one page, a logged-model search by dataset or in an order of its
own.
"""

from __future__ import annotations

import math
import re
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Literal

from mlflow import MlflowClient

from tools._mlflow_tables import DELETED_VERSION_STAGE
from tools._sqlite_store import SqliteStore

if TYPE_CHECKING:
    from mlflow.entities import LoggedModel, Metric, Run
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.store.entities.paged_list import PagedList

__all__ = ["SqlReadClient"]

_TRACKING_STORE: Final = "mlflow.store.tracking.sqlalchemy_store"
_REGISTRY_STORE: Final = "mlflow.store.model_registry.sqlalchemy_store"
_LATEST_ALIAS: Final = "latest"
# MLflow's own defaults for `search_runs` (`ViewType.ACTIVE_ONLY`, `SEARCH_MAX_RESULTS_DEFAULT`),
# `search_model_versions` (`SEARCH_MODEL_VERSION_MAX_RESULTS_DEFAULT`) and `search_logged_models`
# (`SEARCH_LOGGED_MODEL_MAX_RESULTS_DEFAULT`), written out so that defining the client does not
# import MLflow's entities and stores.
_ACTIVE_ONLY: Final = 1
_SEARCH_MAX_RESULTS_DEFAULT: Final = 1000
_SEARCH_VERSIONS_MAX_RESULTS_DEFAULT: Final = 10_000
_SEARCH_MODELS_DEFAULT: Final = 100
# MLflow's `SEARCH_MAX_RESULTS_THRESHOLD`, and what its SQLite comparisons allow on a version's
# string and number attributes, and its single-tenant workspace (`DEFAULT_WORKSPACE_NAME`).
_SEARCH_MAX_RESULTS_THRESHOLD: Final = 50_000
_STRING_COMPARATORS: Final = frozenset({"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"})
_NUMBER_COMPARATORS: Final = frozenset({"=", "!=", "<", "<=", ">", ">="})
_DEFAULT_WORKSPACE: Final = "default"
# MLflow's order of `search_model_versions` when none is asked.
_VERSIONS_ORDER: Final = ("last_updated_timestamp DESC", "name ASC", "version_number DESC")
# The one logged-model search a review makes; a run id holds no quote.
_SOURCE_RUN_FILTER: Final = re.compile(r"source_run_id = '([0-9A-Za-z_-]+)'")


def _sql_store(store: Any, module_name: str) -> Any | None:
    """`store` when it is exactly MLflow's SQL store of `module_name` (a subclass may scope its
    queries), else None."""
    # Not imported: then no store of this process is one (and an HTTP client stays lean).
    module = sys.modules.get(module_name)
    if module is None or type(store) is not module.SqlAlchemyStore:
        return None
    return store


@contextmanager
def _connection(source: Any) -> Iterator[Any]:
    """A connection to read `source`: a `SqliteStore`'s own, or one in one of MLflow's store's
    managed sessions (its SQLite pragmas, a busy timeout and case-sensitive ``LIKE``, its read
    replica when it has one, and its translation of a database's failures into MLflow's
    errors)."""
    if isinstance(source, SqliteStore):
        with source.connect() as conn:
            yield conn
        return
    with source.ManagedSessionMaker() as session:
        yield session.connection()


class SqlReadClient(MlflowClient):
    """`MlflowClient`, whose point reads (`get_run`, `get_metric_history`, `get_logged_model`,
    `get_model_version`, `get_model_version_by_alias`) and searches (`search_runs`,
    `search_model_versions`, `search_logged_models`) skip MLflow's ORM when the store is exactly
    MLflow's SQL store; every other method, and every read out of the plain case, is MLflow's.

    On a SQLite store that `SqliteStore.open` reads, MLflow's own client and store are built
    only when a method needs them: the reads of a review, and the searches it makes, never do.

    Args:
        tracking_uri: MLflow tracking URI.
        registry_uri: Model registry URI.
    """

    def __init__(self, tracking_uri: str, registry_uri: str) -> None:
        self._uris: dict[Literal["tracking", "registry"], str] = {
            "tracking": tracking_uri,
            "registry": registry_uri,
        }
        self._stores: dict[Literal["tracking", "registry"], Any] = {}
        self._mlflow_lock = threading.RLock()
        self._sqlite: dict[Literal["tracking", "registry"], SqliteStore | None] = {
            kind: SqliteStore.open(uri) for kind, uri in self._uris.items()
        }
        if self._sqlite["tracking"] is None:
            # MLflow's client builds its tracking store at once, and says then what is wrong.
            self._start_mlflow()

    def _start_mlflow(self) -> None:
        with self._mlflow_lock:
            if "_mlflow_started" not in self.__dict__:
                super().__init__(
                    tracking_uri=self._uris["tracking"], registry_uri=self._uris["registry"]
                )
                self._mlflow_started = True

    def __getattr__(self, name: str) -> Any:
        # Reached only for an attribute not set: MLflow's own client state, built on first need.
        known = self.__dict__
        if name.startswith("__") or "_uris" not in known or "_mlflow_started" in known:
            raise AttributeError(name)
        self._start_mlflow()
        return object.__getattribute__(self, name)

    @property
    def tracking_uri(self) -> str:
        return self._uris["tracking"]

    def _store(self, kind: Literal["tracking", "registry"]) -> Any | None:
        """The tracking or registry store when it is MLflow's SQL store; None for a store read
        MLflow's way."""
        if kind not in self._stores:
            if kind == "tracking":
                store = _sql_store(self._tracking_client.store, _TRACKING_STORE)
            else:
                registry = self._get_registry_client()  # type: ignore[no-untyped-call]
                store = _sql_store(registry.store, _REGISTRY_STORE)
            self._stores[kind] = store
        return self._stores[kind]

    def sqlite_store(self, kind: Literal["tracking", "registry"]) -> SqliteStore | None:
        """The SQLite store this client reads `kind` from without MLflow's store, if any.

        Args:
            kind: ``"tracking"`` or ``"registry"``.
        """
        return self._sqlite[kind]

    def _source(self, kind: Literal["tracking", "registry"]) -> Any | None:
        """What a point read reads: the SQLite store, else MLflow's SQL store, else None."""
        return self._sqlite[kind] or self._store(kind)

    def get_run(self, run_id: str) -> Run:
        store = self._source("tracking")
        if store is not None:
            from mlflow.utils.validation import _validate_run_id

            _validate_run_id(run_id)  # type: ignore[no-untyped-call]
            run = _read_run(store, run_id)
            if run is not None:
                return run
        return super().get_run(run_id)

    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str = "",
        run_view_type: int = _ACTIVE_ONLY,
        max_results: int = _SEARCH_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        if page_token is None and isinstance(experiment_ids, list):
            found = self._searched_runs(
                experiment_ids, filter_string, run_view_type, max_results, order_by
            )
            if found is not None:
                from mlflow.store.entities.paged_list import PagedList

                return PagedList(found, None)
        return super().search_runs(
            experiment_ids, filter_string, run_view_type, max_results, order_by, page_token
        )

    def _searched_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        run_view_type: int,
        max_results: int | None,
        order_by: list[str] | None,
    ) -> list[Run] | None:
        """The runs of one page, read without MLflow's ORM (and on SQLite, without its store);
        None when MLflow answers."""
        sqlite = self._sqlite["tracking"]
        if sqlite is not None:
            statement = _sqlite_run_ids_statement(
                experiment_ids, filter_string, run_view_type, max_results, order_by
            )
            if statement is not None:
                with _connection(sqlite) as conn:
                    return _runs_found(conn, statement, max_results)
        store = self._store("tracking")
        if store is None:
            return None
        return _search_runs(
            store, experiment_ids, filter_string, run_view_type, max_results, order_by
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        store = self._source("tracking")
        if store is None:
            return super().get_metric_history(run_id, key)
        # MLflow's store does not check that the run exists either: an unknown run has no points.
        return _read_history(store, run_id, key)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        store = self._source("tracking")
        if store is not None:
            from mlflow.tracking.client import _validate_model_id_specified

            _validate_model_id_specified(model_id)
            found = _read_logged_model(store, model_id)
            if found is not None:
                return found
        return super().get_logged_model(model_id)

    def search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None = None,
        datasets: list[dict[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: list[dict[str, Any]] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        if (
            not datasets
            and order_by is None
            and page_token is None
            and isinstance(experiment_ids, list)
            and all(isinstance(e, str) for e in experiment_ids)
            and (max_results is None or max_results >= 1)
        ):
            found = self._searched_models(
                experiment_ids, filter_string, max_results or _SEARCH_MODELS_DEFAULT
            )
            if found is not None:
                from mlflow.store.entities.paged_list import PagedList

                return PagedList(found, None)
        return super().search_logged_models(
            experiment_ids, filter_string, datasets, max_results, order_by, page_token
        )

    def _searched_models(
        self, experiment_ids: list[str], filter_string: str | None, max_results: int
    ) -> list[LoggedModel] | None:
        """The logged models of one page, read as `_searched_runs` reads runs."""
        sqlite = self._sqlite["tracking"]
        if sqlite is not None:
            statement = _sqlite_models_statement(experiment_ids, filter_string, max_results)
            if statement is not None:
                with _connection(sqlite) as conn:
                    return _models_found(conn, statement, max_results)
        store = self._store("tracking")
        if store is None:
            return None
        return _search_logged_models(store, experiment_ids, filter_string, max_results)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        store = self._source("registry")
        if store is not None:
            from mlflow.utils.validation import _validate_model_name, _validate_model_version

            _validate_model_name(name)
            found = _read_version(store, name, _validate_model_version(version))  # type: ignore[no-untyped-call]
            if found is not None:
                return found
        return super().get_model_version(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = _SEARCH_VERSIONS_MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        if (
            page_token is None
            and isinstance(max_results, int)
            and 1 <= max_results <= _SEARCH_VERSIONS_MAX_RESULTS_DEFAULT
        ):
            found = self._searched_versions(filter_string, max_results, order_by)
            if found is not None:
                from mlflow.store.entities.paged_list import PagedList

                return PagedList(found, None)
        return super().search_model_versions(filter_string, max_results, order_by, page_token)

    def _searched_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str] | None
    ) -> list[ModelVersion] | None:
        """The versions of one page, read as `_searched_runs` reads runs."""
        sqlite = self._sqlite["registry"]
        if sqlite is not None:
            statement = _sqlite_versions_statement(filter_string, max_results, order_by)
            if statement is not None:
                with _connection(sqlite) as conn:
                    return _versions_found(conn, statement, max_results)
        store = self._store("registry")
        if store is None:
            return None
        return _search_versions(store, filter_string, max_results, order_by)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        store = self._source("registry")
        if store is not None and alias.lower() != _LATEST_ALIAS:
            from mlflow.utils.validation import _validate_model_alias_name, _validate_model_name

            _validate_model_name(name)
            _validate_model_alias_name(alias)  # type: ignore[no-untyped-call]
            found = _read_version(store, name, None, alias)
            if found is not None:
                return found
        return super().get_model_version_by_alias(name, alias)


def _one(rows: Sequence[Any]) -> Any | None:
    return rows[0] if len(rows) == 1 else None


@dataclass(frozen=True)
class _Statements:
    """The reads' statements on MLflow's tables, with named parameters."""

    runs: Any
    run_metrics: Any
    run_params: Any
    run_tags: Any
    run_datasets: Any
    run_model_inputs: Any
    run_model_outputs: Any
    history: Any
    logged_model: Any
    logged_model_tags: Any
    logged_model_params: Any
    logged_model_metrics: Any
    alias: Any
    version: Any
    version_tags: Any
    version_aliases: Any
    versions_tags: Any


@cache
def _statements() -> _Statements:
    """Built on first use: each statement's cache key is then computed once, not per read."""
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage

    import tools._mlflow_tables as table

    run_id: Any = sa.bindparam("run_id")
    # MLflow reads a run's metrics, params, tags, datasets and outputs with ``IN``, for
    # `get_run` (one id) as for `search_runs`; so do these, which keeps its rows' order.
    run_ids: Any = sa.bindparam("run_ids", expanding=True)
    model_id: Any = sa.bindparam("model_id")
    model_ids: Any = sa.bindparam("model_ids", expanding=True)
    name: Any = sa.bindparam("name")
    version: Any = sa.bindparam("version")
    workspace: Any = sa.bindparam("workspace")
    r, lm, mt, pm, tg = (
        table.runs.c,
        table.latest_metrics.c,
        table.metrics.c,
        table.params.c,
        table.tags.c,
    )
    inputs, datasets, input_tags = table.inputs, table.datasets, table.input_tags
    i, d, it = inputs.c, datasets.c, input_tags.c
    mo, mot, mop, mom = (
        table.logged_models.c,
        table.logged_model_tags.c,
        table.logged_model_params.c,
        table.logged_model_metrics.c,
    )
    v, vt, va = (
        table.model_versions.c,
        table.model_version_tags.c,
        table.registered_model_aliases.c,
    )
    return _Statements(
        runs=sa.select(
            r.run_uuid,
            r.name,
            r.experiment_id,
            r.user_id,
            r.status,
            r.start_time,
            r.end_time,
            r.lifecycle_stage,
            r.artifact_uri,
        ).where(r.run_uuid.in_(run_ids)),
        run_metrics=sa.select(
            lm.run_uuid, lm.key, lm.value, lm.timestamp, lm.step, lm.is_nan
        ).where(lm.run_uuid.in_(run_ids)),
        run_params=sa.select(pm.run_uuid, pm.key, pm.value).where(pm.run_uuid.in_(run_ids)),
        run_tags=sa.select(tg.run_uuid, tg.key, tg.value).where(tg.run_uuid.in_(run_ids)),
        # MLflow's join, in its shape: the same rows in the same order as its reads'.
        run_datasets=sa.select(
            i.destination_id.label("run_uuid"),
            d.dataset_uuid,
            d.name,
            d.digest,
            d.dataset_source_type,
            d.dataset_source,
            d.dataset_schema,
            d.dataset_profile,
            it.name.label("tag_name"),
            it.value.label("tag_value"),
            it.input_uuid.label("tag_input"),
        )
        .select_from(inputs)
        .join(datasets, i.source_id == d.dataset_uuid)
        .outerjoin(input_tags, it.input_uuid == i.input_uuid)
        .where(i.destination_type == "RUN", i.destination_id.in_(run_ids))
        .order_by("run_uuid"),
        run_model_inputs=sa.select(i.destination_id).where(
            i.source_type == "RUN_INPUT", i.source_id == run_id, i.destination_type == "MODEL_INPUT"
        ),
        run_model_outputs=sa.select(i.source_id, i.destination_id, i.step).where(
            i.source_type == "RUN_OUTPUT",
            i.source_id.in_(run_ids),
            i.destination_type == "MODEL_OUTPUT",
        ),
        history=sa.select(mt.key, mt.value, mt.timestamp, mt.step, mt.is_nan)
        .where(mt.run_uuid == run_id, mt.key == sa.bindparam("key"))
        .order_by(mt.timestamp, mt.step, mt.value),
        logged_model=sa.select(*_logged_model_columns(mo)).where(
            mo.model_id == model_id, mo.lifecycle_stage != LifecycleStage.DELETED
        ),
        # A model's tags, params and metrics, read with ``IN`` as MLflow's search reads them.
        logged_model_tags=sa.select(mot.model_id, mot.tag_key, mot.tag_value).where(
            mot.model_id.in_(model_ids)
        ),
        logged_model_params=sa.select(mop.model_id, mop.param_key, mop.param_value).where(
            mop.model_id.in_(model_ids)
        ),
        logged_model_metrics=sa.select(
            mom.model_id,
            mom.metric_name,
            mom.metric_value,
            mom.metric_timestamp_ms,
            mom.metric_step,
            mom.run_id,
            mom.dataset_name,
            mom.dataset_digest,
        ).where(mom.model_id.in_(model_ids)),
        alias=sa.select(va.version).where(va.name == name, va.alias == sa.bindparam("alias")),
        version=sa.select(*_version_columns(v)).where(
            v.name == name, v.version == version, v.current_stage != DELETED_VERSION_STAGE
        ),
        version_tags=sa.select(vt.key, vt.value).where(
            vt.workspace == workspace, vt.name == name, vt.version == version
        ),
        # As MLflow's eager load of the tags of the versions a search found.
        versions_tags=sa.select(vt.workspace, vt.name, vt.version, vt.key, vt.value).where(
            sa.tuple_(vt.workspace, vt.name, vt.version).in_(
                sa.bindparam("versions", expanding=True)
            )
        ),
        version_aliases=sa.select(va.alias, va.version).where(
            va.workspace == workspace, va.name == name
        ),
    )


def _metric(row: Any) -> Metric:
    from mlflow.entities import Metric

    value = math.nan if row.is_nan else row.value
    return Metric(key=row.key, value=value, timestamp=row.timestamp, step=row.step)


def _read_history(store: Any, run_id: str, key: str) -> list[Metric]:
    """Every point of `key` in the run, in the order MLflow's store pages them."""
    with _connection(store) as conn:
        rows = conn.execute(_statements().history, {"run_id": run_id, "key": key})
        return [_metric(row) for row in rows]


def _read_run(store: Any, run_id: str) -> Run | None:
    """The run as MLflow's `get_run` builds it, or None unless exactly one row has its id."""
    from mlflow.entities import LoggedModelInput

    read = _statements()
    with _connection(store) as conn:
        runs = _read_runs(conn, [run_id])
        if len(runs) != 1:
            return None
        models = conn.execute(read.run_model_inputs, {"run_id": run_id}).all()
    return _with_model_inputs(
        runs[0], [LoggedModelInput(model_id=model.destination_id) for model in models]
    )


def _with_model_inputs(run: Run, model_inputs: list[Any]) -> Run:
    from mlflow.entities import Run, RunInputs

    datasets = run.inputs.dataset_inputs if run.inputs is not None else []
    inputs = RunInputs(dataset_inputs=datasets, model_inputs=model_inputs)
    return Run(run.info, run.data, inputs, run.outputs)


def _read_runs(conn: Any, run_ids: Sequence[str]) -> list[Run]:
    """The runs of `run_ids` found, in that order, as MLflow's `search_runs` builds them (their
    dataset inputs, no model inputs)."""
    from mlflow.entities import (
        Dataset,
        DatasetInput,
        InputTag,
        LoggedModelOutput,
        Param,
        Run,
        RunData,
        RunInfo,
        RunInputs,
        RunOutputs,
        RunTag,
    )
    from mlflow.utils.mlflow_tags import _get_run_name_from_tags

    read = _statements()
    bound = {"run_ids": list(run_ids)}
    found = {row.run_uuid: row for row in conn.execute(read.runs, bound)}
    if not found:
        return []
    metrics = _grouped(conn.execute(read.run_metrics, bound))
    params = _grouped(conn.execute(read.run_params, bound))
    tags = _grouped(conn.execute(read.run_tags, bound))
    datasets = _grouped(conn.execute(read.run_datasets, bound))
    outputs = _grouped(conn.execute(read.run_model_outputs, bound), "source_id")
    runs: list[Run] = []
    for run_id in run_ids:
        row = found.get(run_id)
        if row is None:
            continue
        run_tags = [RunTag(key=tag.key, value=tag.value) for tag in tags.get(run_id, ())]
        info = RunInfo(
            run_id=row.run_uuid,
            run_name=row.name,
            experiment_id=str(row.experiment_id),
            user_id=row.user_id,
            status=row.status,
            start_time=row.start_time,
            end_time=row.end_time,
            lifecycle_stage=row.lifecycle_stage,
            artifact_uri=row.artifact_uri,
        )
        if not info.run_name and (run_name := _get_run_name_from_tags(run_tags)):  # type: ignore[no-untyped-call]
            info._set_run_name(run_name)  # type: ignore[no-untyped-call]
        data = RunData(
            metrics=[_metric(metric) for metric in metrics.get(run_id, ())],
            params=[Param(key=param.key, value=param.value) for param in params.get(run_id, ())],
            tags=run_tags,
        )
        inputs: dict[str, DatasetInput] = {}
        for dataset_row in datasets.get(run_id, ()):
            dataset_input = inputs.get(dataset_row.dataset_uuid)
            if dataset_input is None:
                dataset = Dataset(
                    name=dataset_row.name,
                    digest=dataset_row.digest,
                    source_type=dataset_row.dataset_source_type,
                    source=dataset_row.dataset_source,
                    schema=dataset_row.dataset_schema,
                    profile=dataset_row.dataset_profile,
                )
                dataset_input = DatasetInput(dataset=dataset, tags=[])
                inputs[dataset_row.dataset_uuid] = dataset_input
            if dataset_row.tag_input is not None:
                tag = InputTag(key=dataset_row.tag_name, value=dataset_row.tag_value)
                dataset_input.tags.append(tag)
        model_outputs = [
            LoggedModelOutput(model_id=output.destination_id, step=output.step)
            for output in outputs.get(run_id, ())
        ]
        runs.append(
            Run(
                info,
                data,
                RunInputs(dataset_inputs=list(inputs.values())),
                RunOutputs(model_outputs),
            )
        )
    return runs


def _search_runs(
    store: Any,
    experiment_ids: list[str],
    filter_string: str,
    run_view_type: int,
    max_results: int | None,
    order_by: list[str] | None,
) -> list[Run] | None:
    """The runs MLflow's `search_runs` answers in one page, or None when there are more.

    Which runs, and in which order, is MLflow's own statement (`_run_ids_statement`); the runs
    are then read as `_read_runs` reads them."""
    with store.ManagedSessionMaker() as session:
        statement = _run_ids_statement(
            store, session, experiment_ids, filter_string, run_view_type, max_results, order_by
        )
        return _runs_found(session.connection(), statement, max_results)


def _runs_found(conn: Any, statement: Any, max_results: int | None) -> list[Run] | None:
    """The runs a statement selecting their ids finds, read as `_read_runs` reads them; None
    when there are more than `max_results`."""
    run_ids = [row.run_uuid for row in conn.execute(statement)]
    if max_results is not None and len(run_ids) > max_results:
        return None
    return _read_runs(conn, run_ids) if run_ids else []


_KEPT_STATEMENTS: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_KEPT_STATEMENTS_MAX: Final = 256
_KEPT_STATEMENTS_LOCK = threading.Lock()


def _run_ids_statement(
    store: Any,
    session: Any,
    experiment_ids: list[str],
    filter_string: str,
    run_view_type: int,
    max_results: int | None,
    order_by: list[str] | None,
) -> Any:
    """MLflow's `search_runs` statement, built by its store's own functions, selecting the ids.

    Parsing the filter and the order (with sqlparse) cost more than running the search; a
    gate's fingerprint and the review after it search alike, so the newest statements are kept,
    by everything they are built from."""
    key = _runs_key(
        store._get_dialect(), experiment_ids, filter_string, run_view_type, max_results, order_by
    )
    kept = _kept_statement(key)
    if kept is not None:
        return kept
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage
    from mlflow.store.tracking import sqlalchemy_store
    from mlflow.store.tracking.dbmodels.models import SqlRun
    from mlflow.utils.search_utils import SearchUtils

    # MLflow's store module and search helpers are untyped.
    mlflow_sql: Any = sqlalchemy_store
    search: Any = SearchUtils

    store._validate_max_results_param(max_results, allow_null=True)
    stages = set(LifecycleStage.view_type_to_stages(run_view_type))
    parsed = search.parse_search_filter(filter_string)
    cases, ordering, sorting_joins = mlflow_sql._get_orderby_clauses(order_by, session)
    # The columns it orders by are selected too, as DISTINCT needs on PostgreSQL.
    statement = sa.select(SqlRun.run_uuid, SqlRun.start_time, *cases)
    attributes, joined, dataset_joins = mlflow_sql._get_sqlalchemy_filter_clauses(
        parsed, session, store._get_dialect()
    )
    for clause in joined:
        statement = statement.join(clause)
    for clause in dataset_joins:
        statement = statement.join(clause, SqlRun.run_uuid == clause.c.destination_id)
    for clause in sorting_joins:
        statement = statement.outerjoin(clause)
    ids = store._filter_experiment_ids(session, mlflow_sql._parse_experiment_ids(experiment_ids))
    statement = (
        statement.distinct()
        .filter(SqlRun.experiment_id.in_(ids), SqlRun.lifecycle_stage.in_(stages), *attributes)
        .order_by(*ordering)
    )
    if max_results is not None:
        statement = statement.limit(max_results + 1)
    return _keep_statement(key, statement)


def _runs_key(
    dialect: str,
    experiment_ids: list[str],
    filter_string: str,
    run_view_type: int,
    max_results: int | None,
    order_by: list[str] | None,
) -> tuple[Any, ...]:
    """What a kept `search_runs` statement is kept by: everything it is built from."""
    ordered = tuple(order_by) if order_by is not None else None
    return (
        "runs",
        dialect,
        filter_string,
        ordered,
        run_view_type,
        tuple(experiment_ids),
        max_results,
    )


def _versions_key(
    dialect: str, filter_string: str | None, max_results: int, order_by: list[str] | None
) -> tuple[Any, ...]:
    """What a kept `search_model_versions` statement is kept by."""
    ordered = tuple(order_by) if order_by is not None else None
    return ("versions", dialect, filter_string, ordered, max_results)


def _kept_statement(key: tuple[Any, ...]) -> Any | None:
    with _KEPT_STATEMENTS_LOCK:
        kept = _KEPT_STATEMENTS.get(key)
        if kept is not None:
            _KEPT_STATEMENTS.move_to_end(key)
        return kept


def _keep_statement(key: tuple[Any, ...], statement: Any) -> Any:
    with _KEPT_STATEMENTS_LOCK:
        _KEPT_STATEMENTS[key] = statement
        while len(_KEPT_STATEMENTS) > _KEPT_STATEMENTS_MAX:
            _KEPT_STATEMENTS.popitem(last=False)
    return statement


def _sqlite_run_ids_statement(
    experiment_ids: list[str],
    filter_string: str,
    run_view_type: int,
    max_results: int | None,
    order_by: list[str] | None,
) -> Any | None:
    """MLflow's `search_runs` statement on SQLite for the searches a review makes, built as its
    store builds it (`_run_ids_statement`) without the store: by run id (``=``, ``IN``) and by
    tag (``=``, ``!=``, ``LIKE``, ``ILIKE``), in MLflow's own order or by start time. None for
    any other search, or one MLflow refuses: its store builds that one, or says what is wrong."""
    if max_results is None or not 1 <= max_results <= _SEARCH_MAX_RESULTS_THRESHOLD:
        return None
    # Kept apart from the statements MLflow's store builds for SQLite (on its ORM's tables).
    key = _runs_key(
        "sqlite-tables", experiment_ids, filter_string, run_view_type, max_results, order_by
    )
    kept = _kept_statement(key)
    if kept is not None:
        return kept
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils
    from mlflow.utils.validation import _parse_experiment_ids

    import tools._mlflow_tables as table

    search: Any = SearchUtils
    try:
        parsed = search.parse_search_filter(filter_string)
        ordered = [search.parse_order_by_for_search_runs(clause) for clause in order_by or []]
        stages = set(LifecycleStage.view_type_to_stages(run_view_type))
        ids = _parse_experiment_ids(experiment_ids)  # type: ignore[arg-type]
    except MlflowException:
        return None
    r = table.runs.c
    columns: list[Any] = [r.run_uuid, r.start_time]
    ordering: list[Any] = []
    if ordered:
        if len(ordered) > 1:
            return None
        key_type, order_key, ascending = ordered[0]
        if key_type != "attribute" or search.translate_key_alias(order_key) != "start_time":
            return None
        # As MLflow's: the runs without a start time last, by a CASE it selects.
        missing = sa.case((r.start_time.is_(None), 1), else_=0).label("clause_1")
        columns.append(missing)
        ordering = [missing, r.start_time if ascending else r.start_time.desc()]
    else:
        ordering = [r.start_time.desc()]
    statement = sa.select(*columns)
    attributes: list[Any] = []
    for term in parsed:
        comparator = str(term["comparator"]).upper()
        name = search.translate_key_alias(term["key"])
        compare = search.get_sql_comparison_func(comparator, "sqlite")
        if term["type"] == "attribute" and name == "run_id" and comparator in ("=", "IN"):
            attributes.append(compare(r.run_uuid, term["value"]))
        elif term["type"] == "tag" and comparator in ("=", "!=", "LIKE", "ILIKE"):
            t = table.tags.c
            equal = search.get_sql_comparison_func("=", "sqlite")
            tagged = (
                sa.select(table.tags)
                .where(equal(t.key, name), compare(t.value, term["value"]))
                .subquery()
            )
            statement = statement.join(tagged, tagged.c.run_uuid == r.run_uuid)
        else:
            return None
    statement = (
        statement.distinct()
        .where(r.experiment_id.in_(ids), r.lifecycle_stage.in_(stages), *attributes)
        .order_by(*ordering, r.run_uuid)
        .limit(max_results + 1)
    )
    return _keep_statement(key, statement)


def _sqlite_versions_statement(
    filter_string: str | None, max_results: int, order_by: list[str] | None
) -> Any | None:
    """MLflow's `search_model_versions` statement on SQLite for the searches a review makes,
    built as its store builds it (`_versions_statement`) without the store: by name and run id
    (MLflow's string comparisons) and by version number (its numeric ones), prompts left out, in
    MLflow's order or by name, number and times. None for any other search, or one MLflow
    refuses."""
    key = _versions_key("sqlite-tables", filter_string, max_results, order_by)
    kept = _kept_statement(key)
    if kept is not None:
        return kept
    import sqlalchemy as sa
    from mlflow.exceptions import MlflowException
    from mlflow.prompt.constants import IS_PROMPT_TAG_KEY
    from mlflow.utils.search_utils import SearchModelVersionUtils, SearchUtils

    import tools._mlflow_tables as table

    search: Any = SearchModelVersionUtils
    try:
        parsed = search.parse_search_filter(filter_string)
        ordered = [
            search.parse_order_by_for_search_model_versions(clause)
            for clause in order_by or _VERSIONS_ORDER
        ]
    except MlflowException:
        return None
    v, vt = table.model_versions.c, table.model_version_tags.c
    fields = {
        "name": v.name,
        "version_number": v.version,
        "creation_timestamp": v.creation_time,
        "last_updated_timestamp": v.last_updated_time,
    }
    filters: list[Any] = [v.workspace == _DEFAULT_WORKSPACE]
    for term in parsed:
        comparator, value = term["comparator"], term["value"]
        compare: Any = SearchUtils.get_sql_comparison_func(comparator, "sqlite")  # type: ignore[no-untyped-call]
        if term["type"] != "attribute":
            return None
        if term["key"] in ("name", "run_id") and comparator in _STRING_COMPARATORS:
            filters.append(compare(v.name if term["key"] == "name" else v.run_id, value))
        elif (
            term["key"] == "version_number"
            and comparator in _NUMBER_COMPARATORS
            and type(value) is int
        ):
            filters.append(compare(v.version, value))
        else:
            return None
    clauses: list[Any] = []
    observed: set[str] = set()
    for _, order_key, ascending in ordered:
        field = fields.get(order_key)
        if field is None or field.key in observed:
            return None
        observed.add(field.key)
        clauses.append(field.asc() if ascending else field.desc())
    clauses += [] if "name" in observed else [v.name.asc()]
    clauses += [] if "version" in observed else [v.version.desc()]
    # MLflow's anti-join: no version of a model whose versions carry the prompt tag.
    prompts = (
        sa.select(vt.workspace, vt.name)
        .where(vt.key == IS_PROMPT_TAG_KEY, vt.value == "true", vt.workspace == _DEFAULT_WORKSPACE)
        .group_by(vt.workspace, vt.name)
        .subquery()
    )
    statement = (
        sa.select(*_version_columns(v))
        .select_from(
            table.model_versions.outerjoin(
                prompts, sa.and_(v.workspace == prompts.c.workspace, v.name == prompts.c.name)
            )
        )
        .where(*filters, prompts.c.name.is_(None), v.current_stage != DELETED_VERSION_STAGE)
        .order_by(*clauses)
        .limit(max_results + 1)
    )
    return _keep_statement(key, statement)


def _sqlite_models_statement(
    experiment_ids: list[str], filter_string: str | None, max_results: int
) -> Any | None:
    """MLflow's `search_logged_models` statement on SQLite for the search a review makes (the
    models one run logged, `source_run_id = '<run id>'`, in MLflow's own order), built as its
    store builds it (`_search_logged_models`) without the store. None for any other search:
    MLflow's own filter parser imports its ORM models."""
    found = _SOURCE_RUN_FILTER.fullmatch(filter_string or "")
    if found is None or not all(e.isdigit() for e in experiment_ids) or not experiment_ids:
        return None
    key = ("sqlite-models", tuple(experiment_ids), filter_string, max_results)
    kept = _kept_statement(key)
    if kept is not None:
        return kept
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage

    import tools._mlflow_tables as table

    mo = table.logged_models.c
    statement = (
        sa.select(*_logged_model_columns(mo))
        .where(
            mo.lifecycle_stage != LifecycleStage.DELETED,
            mo.experiment_id.in_([int(e) for e in experiment_ids]),
            mo.source_run_id == found.group(1),
        )
        .order_by(mo.creation_timestamp_ms.desc(), mo.model_id.asc())
        .limit(max_results + 1)
    )
    return _keep_statement(key, statement)


def _search_versions(
    store: Any, filter_string: str | None, max_results: int, order_by: list[str] | None
) -> list[ModelVersion] | None:
    """The versions MLflow's `search_model_versions` answers in one page, or None when there are
    more: its own statement, selecting the versions' columns, then their tags."""
    with store.ManagedSessionMaker() as session:
        statement = _versions_statement(store, filter_string, max_results, order_by)
        return _versions_found(session.connection(), statement, max_results)


def _versions_found(conn: Any, statement: Any, max_results: int) -> list[ModelVersion] | None:
    """The versions a statement selecting their columns finds, with their tags; None when there
    are more than `max_results`."""
    rows = conn.execute(statement).all()
    if len(rows) > max_results:
        return None
    if not rows:
        return []
    keys = [(row.workspace, row.name, row.version) for row in rows]
    tags: dict[tuple[Any, ...], list[Any]] = {}
    for tag in conn.execute(_statements().versions_tags, {"versions": keys}):
        tags.setdefault((tag.workspace, tag.name, tag.version), []).append(tag)
    return [
        _version_entity(row, tags.get(key, []), []) for row, key in zip(rows, keys, strict=True)
    ]


def _versions_statement(
    store: Any, filter_string: str | None, max_results: int, order_by: list[str] | None
) -> Any:
    """MLflow's `search_model_versions` statement, built by its store's own functions, selecting
    the versions' columns; kept as `_run_ids_statement` keeps its statements."""
    key = _versions_key(store.engine.dialect.name, filter_string, max_results, order_by)
    kept = _kept_statement(key)
    if kept is not None:
        return kept
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersion
    from mlflow.utils.search_utils import SearchModelVersionUtils

    # MLflow's search helpers are untyped.
    search: Any = SearchModelVersionUtils
    parsed = search.parse_search_filter(filter_string)
    query = store._get_search_model_versions_filter_clauses(parsed, store.engine.dialect.name)
    ordering = store._parse_search_model_versions_order_by(order_by or _VERSIONS_ORDER)
    v = SqlModelVersion.__table__.c
    statement = (
        query.with_only_columns(*_version_columns(v), maintain_column_froms=True)
        .filter(v.current_stage != DELETED_VERSION_STAGE)
        .order_by(*ordering)
        .limit(max_results + 1)
    )
    return _keep_statement(key, statement)


def _version_entity(row: Any, tags: Sequence[Any], aliases: list[str]) -> ModelVersion:
    """A version row as MLflow's `SqlModelVersion.to_mlflow_entity` maps it."""
    from mlflow.entities.model_registry import ModelVersion, ModelVersionTag

    return ModelVersion(
        row.name,
        row.version,
        row.creation_time,
        row.last_updated_time,
        row.description,
        row.user_id,
        row.current_stage,
        row.source,
        row.run_id,
        row.status,
        row.status_message,
        [ModelVersionTag(tag.key, tag.value) for tag in tags],  # type: ignore[no-untyped-call]
        row.run_link,
        aliases,
        workspace=row.workspace,
    )


def _version_columns(v: Any) -> tuple[Any, ...]:
    """The columns of a version row that MLflow's `ModelVersion` is built from."""
    return (
        v.workspace,
        v.name,
        v.version,
        v.creation_time,
        v.last_updated_time,
        v.description,
        v.user_id,
        v.current_stage,
        v.source,
        v.run_id,
        v.status,
        v.status_message,
        v.run_link,
    )


def _grouped(rows: Any, column: str = "run_uuid") -> dict[str, list[Any]]:
    """`rows` grouped by their `column` (a run's or a model's id), in their order."""
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(getattr(row, column), []).append(row)
    return grouped


def _read_logged_model(store: Any, model_id: str) -> LoggedModel | None:
    """The logged model as MLflow's `get_logged_model` builds it, or None unless one live row
    has its id."""
    with _connection(store) as conn:
        row = _one(conn.execute(_statements().logged_model, {"model_id": model_id}).all())
        if row is None:
            return None
        return _logged_models(conn, [row])[0]


def _logged_models(conn: Any, rows: Sequence[Any]) -> list[LoggedModel]:
    """The logged models of `rows` with their tags, params and metrics, as MLflow's
    `SqlLoggedModel.to_mlflow_entity` maps them."""
    from mlflow.entities import LoggedModel, LoggedModelStatus, Metric

    read = _statements()
    bound = {"model_ids": [row.model_id for row in rows]}
    tags = _grouped(conn.execute(read.logged_model_tags, bound), "model_id")
    params = _grouped(conn.execute(read.logged_model_params, bound), "model_id")
    metrics = _grouped(conn.execute(read.logged_model_metrics, bound), "model_id")
    found: list[LoggedModel] = []
    for row in rows:
        its_tags = tags.get(row.model_id)
        its_params = params.get(row.model_id)
        its_metrics = metrics.get(row.model_id)
        found.append(
            LoggedModel(
                model_id=row.model_id,
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                creation_timestamp=row.creation_timestamp_ms,
                last_updated_timestamp=row.last_updated_timestamp_ms,
                status=LoggedModelStatus.from_int(row.status),
                model_type=row.model_type,
                source_run_id=row.source_run_id,
                status_message=row.status_message,
                tags={t.tag_key: t.tag_value for t in its_tags} if its_tags else None,
                params={p.param_key: p.param_value for p in its_params} if its_params else None,
                metrics=[
                    Metric(
                        key=metric.metric_name,
                        value=metric.metric_value,
                        timestamp=metric.metric_timestamp_ms,
                        step=metric.metric_step,
                        run_id=metric.run_id,
                        dataset_name=metric.dataset_name,
                        dataset_digest=metric.dataset_digest,
                        model_id=row.model_id,
                    )
                    for metric in its_metrics
                ]
                if its_metrics
                else None,
            )
        )
    return found


def _search_logged_models(
    store: Any, experiment_ids: list[str], filter_string: str | None, max_results: int
) -> list[LoggedModel] | None:
    """The logged models MLflow's `search_logged_models` answers in one page (no datasets, its
    own order), or None when there are more: its own statement, selecting the models' columns,
    then their tags, params and metrics."""
    from mlflow.store.tracking.dbmodels.models import SqlLoggedModel

    key = ("logged-models", store._get_dialect(), tuple(experiment_ids), filter_string, max_results)
    with store.ManagedSessionMaker() as session:
        statement = _kept_statement(key)
        if statement is None:
            query = store._get_query(session, SqlLoggedModel)
            query = store._apply_filter_string_datasets_search_logged_models(
                query, session, experiment_ids, filter_string, None
            )
            query = store._apply_order_by_search_logged_models(query, session, None)
            columns = _logged_model_columns(SqlLoggedModel.__table__.c)
            statement = _keep_statement(
                key,
                query.statement.with_only_columns(*columns, maintain_column_froms=True).limit(
                    max_results + 1
                ),
            )
        return _models_found(session.connection(), statement, max_results)


def _models_found(conn: Any, statement: Any, max_results: int) -> list[LoggedModel] | None:
    """The logged models a statement selecting their columns finds, with their tags, params and
    metrics; None when there are more than `max_results`."""
    rows = conn.execute(statement).all()
    if len(rows) > max_results:
        return None
    return _logged_models(conn, rows) if rows else []


def _logged_model_columns(mo: Any) -> tuple[Any, ...]:
    """The columns of a logged model's row that MLflow's `LoggedModel` is built from."""
    return (
        mo.model_id,
        mo.experiment_id,
        mo.name,
        mo.artifact_location,
        mo.creation_timestamp_ms,
        mo.last_updated_timestamp_ms,
        mo.status,
        mo.model_type,
        mo.source_run_id,
        mo.status_message,
    )


def _read_version(
    store: Any, name: str, version: int | None, alias: str | None = None
) -> ModelVersion | None:
    """The version as MLflow's `get_model_version` builds it (the one `alias` names, when
    given), or None unless exactly one live row is found and it is no prompt's version."""
    from mlflow.prompt.registry_utils import has_prompt_tag

    read = _statements()
    with _connection(store) as conn:
        if alias is not None:
            held = _one(conn.execute(read.alias, {"name": name, "alias": alias}).all())
            if held is None:
                return None
            version = int(held.version)
        row = _one(conn.execute(read.version, {"name": name, "version": version}).all())
        if row is None:
            return None
        of_model = {"workspace": row.workspace, "name": name}
        tags = conn.execute(read.version_tags, {**of_model, "version": version}).all()
        aliases = conn.execute(read.version_aliases, of_model).all()
    found = _version_entity(
        row, tags, [alias.alias for alias in aliases if alias.version == row.version]
    )
    if has_prompt_tag(found._tags):
        return None
    return found
