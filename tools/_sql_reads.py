"""An MLflow client whose point reads of a SQL store skip MLflow's ORM.

MLflow's SQL store answers `get_run` with five ORM queries, and `get_model_version` with seven
(the registered model and every relationship it loads, to find the version's aliases): a
worker's review spent more of its CPU building and loading those queries than on anything of its
own. `SqlReadClient` answers the five point reads a review makes most (a run, a metric's
history, a logged model, a version by number and by alias) with plain statements on MLflow's own
tables and engine, and builds the same entities MLflow's mappers build.

It answers only the plain case. Anything else goes to MLflow's own method, so that every error
and every special case stays MLflow's: a store that is not exactly MLflow's `SqlAlchemyStore` (a
workspace-aware or other subclass scopes its queries), a row that is not found or found twice, an
alias that is missing or ``latest``, a version that carries the prompt tag.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

from mlflow import MlflowClient

if TYPE_CHECKING:
    from mlflow.entities import LoggedModel, Metric, Run
    from mlflow.entities.model_registry import ModelVersion

__all__ = ["SqlReadClient"]

_TRACKING_STORE: Final = "mlflow.store.tracking.sqlalchemy_store"
_REGISTRY_STORE: Final = "mlflow.store.model_registry.sqlalchemy_store"
_DELETED_INTERNAL: Final = "Deleted_Internal"
_LATEST_ALIAS: Final = "latest"


def _sql_engine(store: Any, module_name: str) -> Any | None:
    """The engine of `store` when it is exactly MLflow's SQL store of `module_name` (a subclass
    may scope its queries), else None."""
    # Not imported: then no store of this process is one (and an HTTP client stays lean).
    module = sys.modules.get(module_name)
    if module is None or type(store) is not module.SqlAlchemyStore:
        return None
    return store.engine


class SqlReadClient(MlflowClient):
    """`MlflowClient`, with `get_run`, `get_metric_history`, `get_logged_model`,
    `get_model_version` and `get_model_version_by_alias` read without MLflow's ORM when the store
    is MLflow's SQL store.

    Args:
        tracking_uri: MLflow tracking URI.
        registry_uri: Model registry URI.
    """

    def __init__(self, tracking_uri: str, registry_uri: str) -> None:
        super().__init__(tracking_uri=tracking_uri, registry_uri=registry_uri)
        self._engines: dict[Literal["tracking", "registry"], Any] = {}

    def _engine(self, kind: Literal["tracking", "registry"]) -> Any | None:
        """The tracking or registry store's engine; None for a store read MLflow's way."""
        if kind not in self._engines:
            if kind == "tracking":
                engine = _sql_engine(self._tracking_client.store, _TRACKING_STORE)
            else:
                registry = self._get_registry_client()  # type: ignore[no-untyped-call]
                engine = _sql_engine(registry.store, _REGISTRY_STORE)
            self._engines[kind] = engine
        return self._engines[kind]

    def get_run(self, run_id: str) -> Run:
        engine = self._engine("tracking")
        if engine is not None:
            from mlflow.utils.validation import _validate_run_id

            _validate_run_id(run_id)  # type: ignore[no-untyped-call]
            run = _read_run(engine, run_id)
            if run is not None:
                return run
        return super().get_run(run_id)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        engine = self._engine("tracking")
        if engine is None:
            return super().get_metric_history(run_id, key)
        # MLflow's store does not check that the run exists either: an unknown run has no points.
        return _read_history(engine, run_id, key)

    def get_logged_model(self, model_id: str) -> LoggedModel:
        engine = self._engine("tracking")
        if engine is not None:
            from mlflow.tracking.client import _validate_model_id_specified

            _validate_model_id_specified(model_id)
            found = _read_logged_model(engine, model_id)
            if found is not None:
                return found
        return super().get_logged_model(model_id)

    def get_model_version(self, name: str, version: str) -> ModelVersion:
        engine = self._engine("registry")
        if engine is not None:
            from mlflow.utils.validation import _validate_model_name, _validate_model_version

            _validate_model_name(name)
            found = _read_version(engine, name, _validate_model_version(version))  # type: ignore[no-untyped-call]
            if found is not None:
                return found
        return super().get_model_version(name, version)

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        engine = self._engine("registry")
        if engine is not None and alias.lower() != _LATEST_ALIAS:
            from mlflow.utils.validation import _validate_model_alias_name, _validate_model_name

            _validate_model_name(name)
            _validate_model_alias_name(alias)  # type: ignore[no-untyped-call]
            number = _alias_version(engine, name, alias)
            found = _read_version(engine, name, number) if number is not None else None
            if found is not None:
                return found
        return super().get_model_version_by_alias(name, alias)


def _one(rows: Sequence[Any]) -> Any | None:
    return rows[0] if len(rows) == 1 else None


def _metric(row: Any) -> Metric:
    from mlflow.entities import Metric

    value = math.nan if row.is_nan else row.value
    return Metric(key=row.key, value=value, timestamp=row.timestamp, step=row.step)


def _read_history(engine: Any, run_id: str, key: str) -> list[Metric]:
    """Every point of `key` in the run, in the order MLflow's store pages them."""
    import sqlalchemy as sa
    from mlflow.store.tracking.dbmodels.models import SqlMetric

    c = SqlMetric.__table__.c
    query = (
        sa.select(c.key, c.value, c.timestamp, c.step, c.is_nan)
        .where(c.run_uuid == run_id, c.key == key)
        .order_by(c.timestamp, c.step, c.value)
    )
    with engine.connect() as conn:
        return [_metric(row) for row in conn.execute(query)]


def _read_run(engine: Any, run_id: str) -> Run | None:
    """The run as MLflow's `get_run` builds it, or None unless exactly one row has its id."""
    import sqlalchemy as sa
    from mlflow.entities import (
        Dataset,
        DatasetInput,
        InputTag,
        LoggedModelInput,
        LoggedModelOutput,
        Param,
        Run,
        RunData,
        RunInfo,
        RunInputs,
        RunOutputs,
        RunTag,
    )
    from mlflow.store.tracking.dbmodels.models import (
        SqlDataset,
        SqlInput,
        SqlInputTag,
        SqlLatestMetric,
        SqlParam,
        SqlRun,
        SqlTag,
    )
    from mlflow.utils.mlflow_tags import _get_run_name_from_tags

    r = SqlRun.__table__.c
    m = SqlLatestMetric.__table__.c
    p = SqlParam.__table__.c
    t = SqlTag.__table__.c
    inputs_table, datasets_table, tags_table = (
        SqlInput.__table__,
        SqlDataset.__table__,
        SqlInputTag.__table__,
    )
    i, d, it = inputs_table.c, datasets_table.c, tags_table.c
    with engine.connect() as conn:
        row = _one(
            conn.execute(
                sa.select(
                    r.run_uuid,
                    r.name,
                    r.experiment_id,
                    r.user_id,
                    r.status,
                    r.start_time,
                    r.end_time,
                    r.lifecycle_stage,
                    r.artifact_uri,
                ).where(r.run_uuid == run_id)
            ).all()
        )
        if row is None:
            return None
        metrics = conn.execute(
            sa.select(m.key, m.value, m.timestamp, m.step, m.is_nan).where(m.run_uuid == run_id)
        ).all()
        params = conn.execute(sa.select(p.key, p.value).where(p.run_uuid == run_id)).all()
        tags = conn.execute(sa.select(t.key, t.value).where(t.run_uuid == run_id)).all()
        datasets = conn.execute(
            sa.select(
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
            .select_from(inputs_table)
            .join(datasets_table, i.source_id == d.dataset_uuid)
            .outerjoin(tags_table, it.input_uuid == i.input_uuid)
            .where(i.destination_type == "RUN", i.destination_id == run_id)
        ).all()
        models = conn.execute(
            sa.select(i.source_type, i.destination_id, i.step).where(
                i.source_id == run_id,
                sa.or_(
                    sa.and_(i.source_type == "RUN_INPUT", i.destination_type == "MODEL_INPUT"),
                    sa.and_(i.source_type == "RUN_OUTPUT", i.destination_type == "MODEL_OUTPUT"),
                ),
            )
        ).all()
    run_tags = [RunTag(key=tag.key, value=tag.value) for tag in tags]
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
        metrics=[_metric(metric) for metric in metrics],
        params=[Param(key=param.key, value=param.value) for param in params],
        tags=run_tags,
    )
    inputs: dict[str, DatasetInput] = {}
    for found in datasets:
        dataset_input = inputs.get(found.dataset_uuid)
        if dataset_input is None:
            dataset = Dataset(
                name=found.name,
                digest=found.digest,
                source_type=found.dataset_source_type,
                source=found.dataset_source,
                schema=found.dataset_schema,
                profile=found.dataset_profile,
            )
            dataset_input = inputs[found.dataset_uuid] = DatasetInput(dataset=dataset, tags=[])
        if found.tag_input is not None:
            dataset_input.tags.append(InputTag(key=found.tag_name, value=found.tag_value))
    model_inputs = [
        LoggedModelInput(model_id=model.destination_id)
        for model in models
        if model.source_type == "RUN_INPUT"
    ]
    model_outputs = [
        LoggedModelOutput(model_id=model.destination_id, step=model.step)
        for model in models
        if model.source_type == "RUN_OUTPUT"
    ]
    return Run(
        info,
        data,
        RunInputs(dataset_inputs=list(inputs.values()), model_inputs=model_inputs),
        RunOutputs(model_outputs),
    )


def _read_logged_model(engine: Any, model_id: str) -> LoggedModel | None:
    """The logged model as MLflow's `get_logged_model` builds it, or None unless one live row
    has its id."""
    import sqlalchemy as sa
    from mlflow.entities import LifecycleStage, LoggedModel, LoggedModelStatus, Metric
    from mlflow.store.tracking.dbmodels.models import (
        SqlLoggedModel,
        SqlLoggedModelMetric,
        SqlLoggedModelParam,
        SqlLoggedModelTag,
    )

    lm = SqlLoggedModel.__table__.c
    t = SqlLoggedModelTag.__table__.c
    p = SqlLoggedModelParam.__table__.c
    m = SqlLoggedModelMetric.__table__.c
    with engine.connect() as conn:
        row = _one(
            conn.execute(
                sa.select(
                    lm.model_id,
                    lm.experiment_id,
                    lm.name,
                    lm.artifact_location,
                    lm.creation_timestamp_ms,
                    lm.last_updated_timestamp_ms,
                    lm.status,
                    lm.model_type,
                    lm.source_run_id,
                    lm.status_message,
                ).where(lm.model_id == model_id, lm.lifecycle_stage != LifecycleStage.DELETED)
            ).all()
        )
        if row is None:
            return None
        tags = conn.execute(sa.select(t.tag_key, t.tag_value).where(t.model_id == model_id)).all()
        params = conn.execute(
            sa.select(p.param_key, p.param_value).where(p.model_id == model_id)
        ).all()
        metrics = conn.execute(
            sa.select(
                m.metric_name,
                m.metric_value,
                m.metric_timestamp_ms,
                m.metric_step,
                m.run_id,
                m.dataset_name,
                m.dataset_digest,
            ).where(m.model_id == model_id)
        ).all()
    return LoggedModel(
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
        tags={tag.tag_key: tag.tag_value for tag in tags} if tags else None,
        params={param.param_key: param.param_value for param in params} if params else None,
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
            for metric in metrics
        ]
        if metrics
        else None,
    )


def _alias_version(engine: Any, name: str, alias: str) -> int | None:
    import sqlalchemy as sa
    from mlflow.store.model_registry.dbmodels.models import SqlRegisteredModelAlias

    a = SqlRegisteredModelAlias.__table__.c
    with engine.connect() as conn:
        row = _one(conn.execute(sa.select(a.version).where(a.name == name, a.alias == alias)).all())
    return int(row.version) if row is not None else None


def _read_version(engine: Any, name: str, version: int) -> ModelVersion | None:
    """The version as MLflow's `get_model_version` builds it, or None unless exactly one live
    row is found and it is no prompt's version."""
    import sqlalchemy as sa
    from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
    from mlflow.prompt.registry_utils import has_prompt_tag
    from mlflow.store.model_registry.dbmodels.models import (
        SqlModelVersion,
        SqlModelVersionTag,
        SqlRegisteredModelAlias,
    )

    v = SqlModelVersion.__table__.c
    t = SqlModelVersionTag.__table__.c
    a = SqlRegisteredModelAlias.__table__.c
    with engine.connect() as conn:
        row = _one(
            conn.execute(
                sa.select(
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
                ).where(v.name == name, v.version == version, v.current_stage != _DELETED_INTERNAL)
            ).all()
        )
        if row is None:
            return None
        tags = conn.execute(
            sa.select(t.key, t.value).where(
                t.workspace == row.workspace, t.name == name, t.version == version
            )
        ).all()
        aliases = conn.execute(
            sa.select(a.alias, a.version).where(a.workspace == row.workspace, a.name == name)
        ).all()
    found = ModelVersion(
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
        [alias.alias for alias in aliases if alias.version == row.version],
        workspace=row.workspace,
    )
    if has_prompt_tag(found._tags):
        return None
    return found
