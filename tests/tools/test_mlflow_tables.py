"""The plain tables the lean reads read are MLflow's own (names, columns, types, keys), at the
schema revision MLflow's pinned release creates."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from mlflow.store.db.utils import _get_latest_schema_revision
from mlflow.store.model_registry.dbmodels import models as registry
from mlflow.store.tracking.dbmodels import models as tracking

from tools import _mlflow_tables as table

TABLES = [
    pytest.param(tracking.SqlRun, table.runs, id="runs"),
    pytest.param(tracking.SqlLatestMetric, table.latest_metrics, id="latest_metrics"),
    pytest.param(tracking.SqlMetric, table.metrics, id="metrics"),
    pytest.param(tracking.SqlParam, table.params, id="params"),
    pytest.param(tracking.SqlTag, table.tags, id="tags"),
    pytest.param(tracking.SqlInput, table.inputs, id="inputs"),
    pytest.param(tracking.SqlDataset, table.datasets, id="datasets"),
    pytest.param(tracking.SqlInputTag, table.input_tags, id="input_tags"),
    pytest.param(tracking.SqlLoggedModel, table.logged_models, id="logged_models"),
    pytest.param(tracking.SqlLoggedModelTag, table.logged_model_tags, id="logged_model_tags"),
    pytest.param(tracking.SqlLoggedModelParam, table.logged_model_params, id="logged_model_params"),
    pytest.param(
        tracking.SqlLoggedModelMetric, table.logged_model_metrics, id="logged_model_metrics"
    ),
    pytest.param(registry.SqlModelVersion, table.model_versions, id="model_versions"),
    pytest.param(registry.SqlModelVersionTag, table.model_version_tags, id="model_version_tags"),
    pytest.param(
        registry.SqlRegisteredModelAlias,
        table.registered_model_aliases,
        id="registered_model_aliases",
    ),
]


def _shape(columns: Any) -> list[tuple[str, str, bool]]:
    return [(c.name, repr(c.type), bool(c.primary_key)) for c in columns]


@pytest.mark.parametrize(("model", "ours"), TABLES)
def test_a_table_is_mlflows_own(model: Any, ours: sa.Table) -> None:
    theirs: sa.Table = model.__table__
    assert ours.name == theirs.name
    assert _shape(ours.columns) == _shape(theirs.columns)


def test_the_schema_revision_is_the_head_of_mlflows_migrations() -> None:
    assert _get_latest_schema_revision() == table.SCHEMA_REVISION


def test_the_deleted_stage_is_mlflows_own() -> None:
    from mlflow.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL

    assert STAGE_DELETED_INTERNAL == table.DELETED_VERSION_STAGE
