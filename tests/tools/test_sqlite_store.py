"""`SqliteStore.open` reads only a database that MLflow's own plain store would read the same
way; every other URI, database or configuration is left to MLflow's store."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import ErrorCode
from mlflow.tracking._tracking_service import utils as tracking_utils

from tools import _sqlite_store
from tools._sqlite_store import SqliteStore


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database as MLflow creates it, with one run."""
    path = tmp_path_factory.mktemp("sqlite-store") / "mlflow.db"
    uri = f"sqlite:///{path}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).create_run("0")
    return path


def _copy(mlflow_db: Path, tmp_path: Path) -> str:
    """A URI of its own (stores are kept by URI) for a copy of the database."""
    path = tmp_path / "mlflow.db"
    shutil.copy(mlflow_db, path)
    return f"sqlite:///{path}"


def _set_revision(uri: str, revision: str) -> None:
    with sqlite3.connect(uri.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))


def _plugin_store(store_uri: str, artifact_uri: str | None = None) -> None:
    raise AssertionError("never built: only compared with MLflow's own builder")


Setup = Callable[[str, pytest.MonkeyPatch], str]

OPENED: list[object] = [
    pytest.param(lambda uri, mp: uri, True, id="mlflows-own-database"),
    pytest.param(
        lambda uri, mp: (_set_revision(uri, "0584bdc529eb"), uri)[1], False, id="older-revision"
    ),
    pytest.param(
        lambda uri, mp: (_set_revision(uri, "ffffffffffff"), uri)[1], False, id="newer-revision"
    ),
    pytest.param(
        lambda uri, mp: (mp.setenv("MLFLOW_ENABLE_WORKSPACES", "true"), uri)[1],
        False,
        id="workspaces-on",
    ),
    pytest.param(
        lambda uri, mp: (mp.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "NullPool"), uri)[1],
        False,
        id="engine-option-set",
    ),
    pytest.param(
        lambda uri, mp: (
            mp.setitem(tracking_utils._tracking_store_registry._registry, "sqlite", _plugin_store),
            uri,
        )[1],
        False,
        id="plugin-store-for-sqlite",
    ),
    pytest.param(
        lambda uri, mp: uri.replace("sqlite:///", "sqlite+pysqlite:///"),
        False,
        id="driver-in-scheme",
    ),
    pytest.param(lambda uri, mp: "postgresql://127.0.0.1:9/mlflow", False, id="postgresql"),
    pytest.param(lambda uri, mp: "http://127.0.0.1:9", False, id="server"),
]


@pytest.mark.parametrize(("setup", "opened"), OPENED)
def test_only_a_database_mlflows_plain_store_reads_alike_is_opened(
    mlflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setup: Setup, opened: bool
) -> None:
    uri = setup(_copy(mlflow_db, tmp_path), monkeypatch)
    assert (SqliteStore.open(uri) is not None) is opened


@pytest.mark.parametrize(
    "content",
    [pytest.param(b"", id="empty-file"), pytest.param(b"not a database" * 100, id="not-sqlite")],
)
def test_a_file_that_is_no_mlflow_database_is_left_to_mlflow(
    tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "other.db"
    path.write_bytes(content)
    assert SqliteStore.open(f"sqlite:///{path}") is None


def test_a_connection_runs_mlflows_session_pragmas(mlflow_db: Path, tmp_path: Path) -> None:
    store = SqliteStore.open(_copy(mlflow_db, tmp_path))
    assert store is not None
    with store.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 20000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # Case-sensitive LIKE, as MLflow's searches expect on SQLite.
        assert conn.exec_driver_sql("SELECT 'A' LIKE 'a'").scalar() == 0


def test_a_database_failure_is_raised_as_mlflows_error(mlflow_db: Path, tmp_path: Path) -> None:
    store = SqliteStore.open(_copy(mlflow_db, tmp_path))
    assert store is not None
    with pytest.raises(MlflowException) as raised, store.connect() as conn:
        conn.exec_driver_sql("SELECT * FROM no_such_table").all()
    assert raised.value.error_code == ErrorCode.Name(ErrorCode.TEMPORARILY_UNAVAILABLE)
    assert "no_such_table" in str(raised.value)


def test_the_same_uri_shares_one_store_and_the_oldest_are_let_go(
    mlflow_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_sqlite_store, "_OPENED_MAX", 2)
    first = _copy(mlflow_db, tmp_path)
    store = SqliteStore.open(first)
    assert store is not None
    assert SqliteStore.open(first) is store
    for n in range(2):
        other = tmp_path / f"other-{n}"
        other.mkdir()
        SqliteStore.open(_copy(mlflow_db, other))
    reopened = SqliteStore.open(first)
    assert reopened is not None
    assert reopened is not store
