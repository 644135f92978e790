"""The ledger's database connection: engine set-up per backend, transactions, migrations, errors.

SQLite (the embedded default) and PostgreSQL (shared by several API replicas) are supported.

- SQLite: every write transaction starts with ``BEGIN IMMEDIATE``, so it takes the database's write
  lock before it reads the chain head; a second writer waits for the busy timeout instead of failing
  at commit. WAL journaling lets readers run while a writer holds the lock.
- PostgreSQL: writers serialise on the chain's head row (``SELECT ... FOR UPDATE``); reads run in
  ``REPEATABLE READ`` read-only transactions so ``verify`` sees one snapshot of the chain.

Driver errors become ``LedgerUnavailableError`` (refused, closed, locked, read-only) or
``LedgerError``; messages name the URL with its password masked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session

from ledger.errors import LedgerError, LedgerNotFoundError, LedgerUnavailableError
from ledger.tables import ALEMBIC_VERSION_TABLE, SCHEMA_REVISION
from tools.sqlite_journal import journal_in_wal

__all__ = ["MIGRATIONS_DIR", "Backend", "Database", "redact_url"]

logger = logging.getLogger("promogate.ledger")

Backend = Literal["sqlite", "postgresql"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Serialises concurrent migrators on one PostgreSQL database ("promogat" in ASCII).
_MIGRATION_LOCK_KEY = 0x70726F6D6F676174
# Alembic keeps the running migration in module globals (`alembic.context`), so two migrations in
# one process at once (an app's warm-up beside a request, two ledgers in one host) corrupt each
# other, whatever databases they migrate: within a process they take turns.
_ALEMBIC_LOCK = threading.Lock()
_SQLITE_BEGIN_OPTION = "promogate_sqlite_begin"
# SQLSTATE classes that mean the server cannot serve us now: connection exception, insufficient
# resources, operator intervention (shutdown, cannot connect now).
_PG_UNAVAILABLE_CLASSES = ("08", "53", "57")
_PG_UNDEFINED_TABLE = "42P01"
_PASSWORD_IN_TEXT = re.compile(r"(://[^:/@]+:)[^@]*@")


def redact_url(url: str | URL) -> str:
    """The URL as text with any password replaced by ``***``, safe for messages and logs.

    Args:
        url: A SQLAlchemy database URL, parsed or as text.
    """
    if isinstance(url, str):
        try:
            parsed = make_url(url)
        except ArgumentError:
            return _PASSWORD_IN_TEXT.sub(r"\1***@", url)
    else:
        parsed = url
    if "password" in parsed.query:
        parsed = parsed.update_query_dict({"password": "***"})
    return parsed.render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class Database:
    """An engine for one ledger database, with write and read transactions that translate errors.

    Args:
        url: SQLAlchemy URL: ``sqlite:///path/to/ledger.db`` or ``postgresql+psycopg://...``
            (``postgresql://`` uses psycopg 3). A PostgreSQL schema can be chosen with
            ``?options=-csearch_path%3Dmyschema``.
        auto_migrate: Apply pending migrations on first use; otherwise call ``migrate()``.
        must_exist: Raise `LedgerNotFoundError` rather than make a ledger: for commands that
            only read it.
        busy_timeout_seconds: How long a SQLite writer waits for another writer's lock.
        connect_timeout_seconds: How long a PostgreSQL connection attempt may take.
        pool_size: PostgreSQL connections kept open per process.
    """

    def __init__(
        self,
        url: str,
        *,
        auto_migrate: bool = True,
        must_exist: bool = False,
        busy_timeout_seconds: float = 15.0,
        connect_timeout_seconds: float = 5.0,
        pool_size: int = 5,
    ) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise LedgerError(
                f"cannot parse ledger URL {redact_url(url)!r}: {exc}; "
                "use sqlite:///path/to/ledger.db or postgresql+psycopg://user@host/db"
            ) from exc
        backend = parsed.get_backend_name()
        if parsed.drivername == "postgresql":
            # SQLAlchemy's default PostgreSQL driver is psycopg2; promogate ships psycopg 3.
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = redact_url(parsed)
        self.auto_migrate = auto_migrate
        self.must_exist = must_exist
        self._schema_ready = False
        self._schema_lock = threading.Lock()
        if backend == "sqlite":
            self.backend: Backend = "sqlite"
            # SQLite makes the file on the first connection: look before connecting.
            if must_exist and parsed.database and not Path(parsed.database).is_file():
                raise LedgerNotFoundError(self.url, f"no file {parsed.database!r}")
            self.engine = self._sqlite_engine(parsed, busy_timeout_seconds)
            self._read_engine = self.engine.execution_options(**{_SQLITE_BEGIN_OPTION: "DEFERRED"})
        elif backend == "postgresql":
            self.backend = "postgresql"
            self.engine = self._postgres_engine(parsed, connect_timeout_seconds, pool_size)
            self._read_engine = self.engine.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            raise LedgerError(
                f"ledger URL {self.url!r} names the unsupported backend {backend!r}; "
                "use sqlite:///path/to/ledger.db or postgresql+psycopg://user@host/db"
            )

    def _sqlite_engine(self, url: URL, busy_timeout_seconds: float) -> Engine:
        if url.database in (None, "", ":memory:") or url.query.get("mode") == "memory":
            raise LedgerError(
                f"ledger URL {self.url!r} is an in-memory SQLite database, which every connection "
                "sees empty; use a file: sqlite:///path/to/ledger.db"
            )
        engine = create_engine(url, connect_args={"timeout": busy_timeout_seconds})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # SQLAlchemy, not the sqlite3 module, decides when transactions begin (_on_begin).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout_seconds * 1000)}")
                journal_in_wal(cursor, busy_timeout_seconds)
                cursor.execute("PRAGMA foreign_keys = ON")
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            mode = connection.get_execution_options().get(_SQLITE_BEGIN_OPTION, "IMMEDIATE")
            connection.exec_driver_sql(f"BEGIN {mode}")

        return engine

    @staticmethod
    def _postgres_engine(url: URL, connect_timeout_seconds: float, pool_size: int) -> Engine:
        connect_args: dict[str, Any] = {}
        if "connect_timeout" not in url.query:
            connect_args["connect_timeout"] = max(1, round(connect_timeout_seconds))
        try:
            return create_engine(
                url,
                connect_args=connect_args,
                pool_pre_ping=True,
                pool_size=pool_size,
                max_overflow=pool_size * 2,
                pool_timeout=30,
            )
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise LedgerError(
                f"ledger URL {redact_url(url)!r} names a driver that is not installed: {exc}; "
                "use postgresql+psycopg://"
            ) from exc

    # -- errors -----------------------------------------------------------------------------------

    def translate(self, exc: DBAPIError | PoolTimeoutError) -> LedgerError:
        """The ledger error a SQLAlchemy error means, naming this database's URL.

        Args:
            exc: The error SQLAlchemy raised.
        """
        if isinstance(exc, PoolTimeoutError):
            return LedgerUnavailableError(self.url, f"no free connection in the pool: {exc}")
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        if exc.connection_invalidated:
            return LedgerUnavailableError(self.url, f"the connection was closed: {reason}")
        missing_table = LedgerError(
            f"ledger tables are missing in {self.url!r} ({reason}); "
            "run `promogate ledger migrate` or open the ledger with auto_migrate=True"
        )
        if self.backend == "sqlite":
            if "no such table" in reason:
                return missing_table
            if isinstance(exc, OperationalError | InterfaceError):
                return LedgerUnavailableError(self.url, reason)
        else:
            sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
            if sqlstate == _PG_UNDEFINED_TABLE:
                return missing_table
            if isinstance(exc, OperationalError | InterfaceError) or sqlstate.startswith(
                _PG_UNAVAILABLE_CLASSES
            ):
                return LedgerUnavailableError(self.url, reason)
        return LedgerError(f"ledger database {self.url!r} refused the operation: {reason}")

    # -- transactions -----------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One write transaction: committed when the block ends, rolled back when it raises."""
        self._ensure_schema()
        try:
            with Session(self.engine, expire_on_commit=False) as session, session.begin():
                yield session
        except (DBAPIError, PoolTimeoutError) as exc:
            raise self.translate(exc) from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """One read-only transaction that sees a single snapshot of the database."""
        self._ensure_schema()
        try:
            with Session(self._read_engine, expire_on_commit=False) as session, session.begin():
                yield session
        except (DBAPIError, PoolTimeoutError) as exc:
            raise self.translate(exc) from exc

    # -- schema -----------------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The Alembic revision the database is at; None when the ledger was never migrated.

        Read with one query of the version table: Alembic's own reader, whose import took a tenth
        of a second of every local review, is asked only when the table holds no row or several.
        """
        try:
            with self._read_engine.connect() as connection:
                if not inspect(connection).has_table(ALEMBIC_VERSION_TABLE):
                    return None
                rows = connection.execute(
                    text(f"SELECT version_num FROM {ALEMBIC_VERSION_TABLE}")
                ).all()
                if len(rows) == 1:
                    return str(rows[0][0])
                from alembic.runtime.migration import MigrationContext

                context = MigrationContext.configure(
                    connection, opts={"version_table": ALEMBIC_VERSION_TABLE}
                )
                return context.get_current_revision()
        except (DBAPIError, PoolTimeoutError) as exc:
            raise self.translate(exc) from exc

    def migrate(self) -> str:
        """Apply every pending migration; a no-op when the schema is current. Returns the revision.

        Safe to run from several processes and threads at once: they take turns (a PostgreSQL
        advisory lock, or SQLite's write lock; within a process, a lock around Alembic), and the
        later ones find nothing to do.
        """
        from alembic import command
        from alembic.config import Config
        from alembic.util.exc import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("path_separator", "os")
        try:
            with _ALEMBIC_LOCK, self.engine.begin() as connection:
                if self.backend == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        except (DBAPIError, PoolTimeoutError) as exc:
            raise self.translate(exc) from exc
        except CommandError as exc:
            # Typically a database migrated by a newer promogate than this one.
            raise LedgerError(
                f"cannot migrate the ledger in {self.url!r}: {exc}; "
                f"this promogate knows schema revisions up to {SCHEMA_REVISION!r}"
            ) from exc
        self._schema_ready = True
        logger.info("ledger schema at revision %s in %s", SCHEMA_REVISION, self.url)
        return SCHEMA_REVISION

    def _ensure_schema(self) -> None:
        if self._schema_ready or not (self.auto_migrate or self.must_exist):
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            revision = self.current_revision()
            if revision is None and self.must_exist:
                # Nothing can be read here: let go of the connection the look took.
                self.engine.dispose()
                raise LedgerNotFoundError(self.url, "the database holds no ledger tables")
            if revision != SCHEMA_REVISION and self.auto_migrate:
                self.migrate()
            self._schema_ready = True

    def ping(self) -> None:
        """Raise ``LedgerUnavailableError`` unless the database answers a query now."""
        try:
            # A read transaction: on SQLite it must not queue behind writers for the write lock.
            with self._read_engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except (DBAPIError, PoolTimeoutError) as exc:
            raise self.translate(exc) from exc

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
