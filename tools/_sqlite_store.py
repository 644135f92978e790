"""An MLflow SQLite store read (and its versions tagged) without building MLflow's own store.

Building MLflow's `SqlAlchemyStore` imports its store module, its ORM models and alembic, and
checks the schema with alembic's migration scripts: most of what a local `promogate review` spent
before its first read. `SqliteStore.open` gives a store to read with plain statements instead,
and only where MLflow's own store would read the same database the same way: a ``sqlite:``
URI that MLflow's own store builder serves (no plugin store for the scheme, workspaces off, no
engine options from MLflow's environment variables), and a database at exactly the schema
revision `tools._mlflow_tables` describes. Anything else is MLflow's own store, which creates,
migrates, refuses or scopes as it always does.

A connection is MLflow's session in miniature: the same SQLite pragmas, and a database's failure
raised as the same `MlflowException` with the same error code. The one write, a decision's tags on
its version, is made as MLflow's store makes it, in one transaction.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlparse

import sqlalchemy as sa
import sqlalchemy.exc

from tools._mlflow_tables import SCHEMA_REVISION

__all__ = ["SqliteStore"]

# MLflow's engine options for its SQL stores (pool size, pool class, echo and the rest): when any
# is set, MLflow's engine is not the one built here.
_ENGINE_OPTIONS_PREFIX: Final = "MLFLOW_SQLALCHEMYSTORE_"
# What MLflow's managed session runs first on SQLite, for every session; each holds for the life of
# a connection, so they are run once, when the pool opens it.
_PRAGMAS: Final = (
    "PRAGMA foreign_keys = ON;",
    "PRAGMA busy_timeout = 20000;",
    "PRAGMA case_sensitive_like = true;",
)


class SqliteStore:
    """An MLflow SQLite database at the schema MLflow's pinned release uses.

    Args:
        uri: The database's ``sqlite:`` URI.
        engine: The engine reading it.
    """

    def __init__(self, uri: str, engine: sa.Engine) -> None:
        self.uri = uri
        self.engine = engine

    @classmethod
    def open(cls, uri: str) -> SqliteStore | None:
        """The store for `uri`, shared by every client of the process; None when MLflow's own
        store reads it differently, or it cannot be read (MLflow's store then says why)."""
        with _OPENED_LOCK:
            if uri in _OPENED:
                _OPENED.move_to_end(uri)
                return _OPENED[uri]
            store = _open(uri) if _mlflow_builds_a_plain_sqlite_store(uri) else None
            _OPENED[uri] = store
            # As many as MLflow keeps stores; a store let go closes its idle connections.
            while len(_OPENED) > _OPENED_MAX:
                _, dropped = _OPENED.popitem(last=False)
                if dropped is not None:
                    dropped.engine.dispose()
            return store

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection, as one of MLflow's managed read sessions: its pragmas, its errors."""
        with _as_mlflows_errors(), self.engine.connect() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """A connection in a transaction committed at the end, rolled back on a failure, as one
        of MLflow's managed write sessions."""
        with _as_mlflows_errors(), self.engine.begin() as conn:
            yield conn

    def set_version_tags(self, name: str, version: str, tags: list[tuple[str, str]]) -> bool:
        """Set `tags` on a model version in one transaction, as MLflow's store sets each one
        (`set_model_version_tag`: the same checks, the version looked up the same way, a tag
        that exists overwritten); False, with nothing written, unless exactly one live version
        has that number, so that MLflow's store says what is wrong.

        Args:
            name: Registered model name.
            version: Version number.
            tags: The tags' keys and values.

        Raises:
            MlflowException: MLflow refuses the name, the number or a tag, or the write fails.
        """
        from mlflow.utils.validation import (
            _validate_model_name,
            _validate_model_version,
            _validate_model_version_tag,
        )
        from sqlalchemy.dialects.sqlite import insert

        import tools._mlflow_tables as table

        _validate_model_name(name)
        number = _validate_model_version(version)  # type: ignore[no-untyped-call]
        for key, value in tags:
            _validate_model_version_tag(key, value)  # type: ignore[no-untyped-call]
        v, vt = table.model_versions.c, table.model_version_tags
        with self.transaction() as conn:
            found = conn.execute(
                sa.select(v.workspace, v.version).where(
                    v.name == name,
                    v.version == number,
                    v.current_stage != table.DELETED_VERSION_STAGE,
                )
            ).all()
            if len(found) != 1:
                return False
            workspace = found[0].workspace
            written = insert(vt).values(
                [
                    {"workspace": workspace, "name": name, "version": number, "key": k, "value": x}
                    for k, x in tags
                ]
            )
            conn.execute(
                written.on_conflict_do_update(
                    index_elements=[vt.c.workspace, vt.c.name, vt.c.version, vt.c.key],
                    set_={"value": written.excluded.value},
                )
            )
        return True


@contextmanager
def _as_mlflows_errors() -> Iterator[None]:
    """A database's failure raised as MLflow's managed session raises it."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import BAD_REQUEST, INTERNAL_ERROR, TEMPORARILY_UNAVAILABLE

    try:
        yield
    except MlflowException:
        raise
    except sqlalchemy.exc.OperationalError as exc:
        raise MlflowException(message=str(exc), error_code=TEMPORARILY_UNAVAILABLE) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise MlflowException(message=str(exc), error_code=BAD_REQUEST) from exc
    except (ValueError, TypeError, LookupError, ArithmeticError) as exc:
        # MLflow's session turns any other failure into its internal error too.
        raise MlflowException(message=str(exc), error_code=INTERNAL_ERROR) from exc


_OPENED: OrderedDict[str, SqliteStore | None] = OrderedDict()
_OPENED_MAX: Final = 100
_OPENED_LOCK = threading.Lock()


def _mlflow_builds_a_plain_sqlite_store(uri: str) -> bool:
    """Whether MLflow would read `uri` with its own plain `SqlAlchemyStore`, for tracking and for
    the registry, on an engine with no options."""
    from mlflow.environment_variables import MLFLOW_ENABLE_WORKSPACES
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    if urlparse(uri).scheme != "sqlite" or MLFLOW_ENABLE_WORKSPACES.get():  # type: ignore[no-untyped-call]
        return False
    if any(name.startswith(_ENGINE_OPTIONS_PREFIX) for name in os.environ):
        return False
    # A plugin may register its own store for the scheme.
    builders: Any = (
        tracking_utils._tracking_store_registry._registry.get("sqlite"),
        registry_utils._get_store_registry()._registry.get("sqlite"),  # type: ignore[no-untyped-call]
    )
    plain: Any = (tracking_utils._get_sqlalchemy_store, registry_utils._get_sqlalchemy_store)
    return bool(builders == plain)


def _open(uri: str) -> SqliteStore | None:
    engine = sa.create_engine(uri, pool_pre_ping=True)
    sa.event.listen(engine, "connect", _set_pragmas)
    try:
        with engine.connect() as conn:
            revisions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
    except sqlalchemy.exc.SQLAlchemyError:
        # No MLflow database yet, or not one at all: MLflow's store creates or refuses it.
        engine.dispose()
        return None
    if [row[0] for row in revisions] != [SCHEMA_REVISION]:
        engine.dispose()
        return None
    return SqliteStore(uri, engine)


def _set_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Outside any transaction, where SQLite applies them all (`foreign_keys` is ignored inside one).
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()
