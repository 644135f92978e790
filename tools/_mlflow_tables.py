"""MLflow's SQL tables that the lean reads read, as plain SQLAlchemy tables.

The same names, columns and column types as MLflow's ORM models declare them (a test compares
them), without MLflow's ORM: declaring its seventy-odd mapped classes, with the store module that
imports them, cost a local review more than half a second before its first read.
`SCHEMA_REVISION` is the database schema these tables describe; a database at any other revision
is read by MLflow's own store.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

__all__ = [
    "DELETED_VERSION_STAGE",
    "SCHEMA_REVISION",
    "datasets",
    "input_tags",
    "inputs",
    "latest_metrics",
    "logged_model_metrics",
    "logged_model_params",
    "logged_model_tags",
    "logged_models",
    "metrics",
    "model_version_tags",
    "model_versions",
    "params",
    "registered_model_aliases",
    "runs",
    "tags",
]

# MLflow's newest migration, the head its pinned release creates and checks for.
SCHEMA_REVISION: Final = "dc11669786a5"
# The stage MLflow gives a deleted model version (`STAGE_DELETED_INTERNAL`): its row stays.
DELETED_VERSION_STAGE: Final = "Deleted_Internal"

_metadata = sa.MetaData()

runs = sa.Table(
    "runs",
    _metadata,
    sa.Column("run_uuid", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(250)),
    sa.Column("source_type", sa.String(20)),
    sa.Column("source_name", sa.String(500)),
    sa.Column("entry_point_name", sa.String(50)),
    sa.Column("user_id", sa.String(256)),
    sa.Column("status", sa.String(20)),
    sa.Column("start_time", sa.BigInteger()),
    sa.Column("end_time", sa.BigInteger()),
    sa.Column("deleted_time", sa.BigInteger()),
    sa.Column("source_version", sa.String(50)),
    sa.Column("lifecycle_stage", sa.String(20)),
    sa.Column("artifact_uri", sa.String(200)),
    sa.Column("experiment_id", sa.Integer()),
)

latest_metrics = sa.Table(
    "latest_metrics",
    _metadata,
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float(precision=53)),
    sa.Column("timestamp", sa.BigInteger()),
    sa.Column("step", sa.BigInteger()),
    sa.Column("is_nan", sa.Boolean(create_constraint=True)),
    sa.Column("run_uuid", sa.String(32), primary_key=True),
)

metrics = sa.Table(
    "metrics",
    _metadata,
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Float(precision=53), primary_key=True),
    sa.Column("timestamp", sa.BigInteger(), primary_key=True),
    sa.Column("step", sa.BigInteger(), primary_key=True),
    sa.Column("is_nan", sa.Boolean(create_constraint=True), primary_key=True),
    sa.Column("run_uuid", sa.String(32), primary_key=True),
)

params = sa.Table(
    "params",
    _metadata,
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.String(8000)),
    sa.Column("run_uuid", sa.String(32), primary_key=True),
)

tags = sa.Table(
    "tags",
    _metadata,
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.String(8000)),
    sa.Column("run_uuid", sa.String(32), primary_key=True),
)

inputs = sa.Table(
    "inputs",
    _metadata,
    sa.Column("input_uuid", sa.String(36)),
    sa.Column("source_type", sa.String(36), primary_key=True),
    sa.Column("source_id", sa.String(36), primary_key=True),
    sa.Column("destination_type", sa.String(36), primary_key=True),
    sa.Column("destination_id", sa.String(36), primary_key=True),
    sa.Column("step", sa.BigInteger()),
)

datasets = sa.Table(
    "datasets",
    _metadata,
    sa.Column("dataset_uuid", sa.String(36)),
    sa.Column("experiment_id", sa.Integer(), primary_key=True),
    sa.Column("name", sa.String(500), primary_key=True),
    sa.Column("digest", sa.String(36), primary_key=True),
    sa.Column("dataset_source_type", sa.String(36)),
    sa.Column("dataset_source", sa.UnicodeText()),
    sa.Column("dataset_schema", sa.UnicodeText()),
    sa.Column("dataset_profile", sa.UnicodeText()),
)

input_tags = sa.Table(
    "input_tags",
    _metadata,
    sa.Column("input_uuid", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(255), primary_key=True),
    sa.Column("value", sa.String(500)),
)

logged_models = sa.Table(
    "logged_models",
    _metadata,
    sa.Column("model_id", sa.String(36), primary_key=True),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("name", sa.String(500)),
    sa.Column("artifact_location", sa.String(1000)),
    sa.Column("creation_timestamp_ms", sa.BigInteger()),
    sa.Column("last_updated_timestamp_ms", sa.BigInteger()),
    sa.Column("status", sa.Integer()),
    sa.Column("lifecycle_stage", sa.String(32)),
    sa.Column("model_type", sa.String(500)),
    sa.Column("source_run_id", sa.String(32)),
    sa.Column("status_message", sa.String(1000)),
)

logged_model_tags = sa.Table(
    "logged_model_tags",
    _metadata,
    sa.Column("model_id", sa.String(36), primary_key=True),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("tag_key", sa.String(255), primary_key=True),
    sa.Column("tag_value", sa.Text()),
)

logged_model_params = sa.Table(
    "logged_model_params",
    _metadata,
    sa.Column("model_id", sa.String(36), primary_key=True),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("param_key", sa.String(255), primary_key=True),
    sa.Column("param_value", sa.Text()),
)

logged_model_metrics = sa.Table(
    "logged_model_metrics",
    _metadata,
    sa.Column("model_id", sa.String(36), primary_key=True),
    sa.Column("metric_name", sa.String(500), primary_key=True),
    sa.Column("metric_timestamp_ms", sa.BigInteger(), primary_key=True),
    sa.Column("metric_step", sa.BigInteger(), primary_key=True),
    sa.Column("metric_value", sa.Float(precision=53)),
    sa.Column("experiment_id", sa.Integer()),
    sa.Column("run_id", sa.String(32), primary_key=True),
    sa.Column("dataset_uuid", sa.String(36)),
    sa.Column("dataset_name", sa.String(500)),
    sa.Column("dataset_digest", sa.String(36)),
)

model_versions = sa.Table(
    "model_versions",
    _metadata,
    sa.Column("workspace", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("creation_time", sa.BigInteger()),
    sa.Column("last_updated_time", sa.BigInteger()),
    sa.Column("description", sa.String(5000)),
    sa.Column("user_id", sa.String(256)),
    sa.Column("current_stage", sa.String(20)),
    sa.Column("source", sa.String(500)),
    sa.Column("storage_location", sa.String(500)),
    sa.Column("run_id", sa.String(32)),
    sa.Column("run_link", sa.String(500)),
    sa.Column("status", sa.String(20)),
    sa.Column("status_message", sa.String(500)),
)

model_version_tags = sa.Table(
    "model_version_tags",
    _metadata,
    sa.Column("workspace", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text()),
)

registered_model_aliases = sa.Table(
    "registered_model_aliases",
    _metadata,
    sa.Column("workspace", sa.String(63), primary_key=True),
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("alias", sa.String(256), primary_key=True),
    sa.Column("version", sa.Integer()),
)
