"""Alembic migrations: idempotent, matching the ORM tables, applied on first use when asked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from ledger._database import MIGRATIONS_DIR
from ledger.errors import LedgerError
from ledger.store import Ledger
from ledger.tables import ALEMBIC_VERSION_TABLE, SCHEMA_REVISION, Base
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]
LEDGER_TABLES = {
    ALEMBIC_VERSION_TABLE,
    "ledger_records",
    "ledger_head",
    "ledger_api_tokens",
    "ledger_idempotency_keys",
}


def _scalar(ledger: Ledger, statement: str) -> object:
    with ledger.database.engine.connect() as connection:
        return connection.execute(sqlalchemy.text(statement)).scalar()


def test_schema_revision_is_the_alembic_head() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")

    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_REVISION


def test_migrating_twice_is_a_no_op(ledger_url: str, make_decision: DecisionFactory) -> None:
    ledger = Ledger(ledger_url, auto_migrate=False)
    try:
        assert ledger.database.current_revision() is None

        assert ledger.migrate() == SCHEMA_REVISION
        record = ledger.append_decision(make_decision("dec-1"))
        tables = set(sqlalchemy.inspect(ledger.database.engine).get_table_names())
        assert ledger.migrate() == SCHEMA_REVISION

        assert tables >= LEDGER_TABLES
        assert set(sqlalchemy.inspect(ledger.database.engine).get_table_names()) == tables
        assert ledger.database.current_revision() == SCHEMA_REVISION
        assert _scalar(ledger, f"SELECT COUNT(*) FROM {ALEMBIC_VERSION_TABLE}") == 1
        assert _scalar(ledger, "SELECT COUNT(*) FROM ledger_head") == 1
        assert ledger.get_record("dec-1") == record
        assert ledger.verify().ok
    finally:
        ledger.close()


def test_orm_tables_match_the_migrations(ledger: Ledger) -> None:
    with ledger.database.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"version_table": ALEMBIC_VERSION_TABLE, "compare_type": True}
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_first_use_migrates_by_default(ledger_url: str) -> None:
    with Ledger(ledger_url) as ledger:
        assert ledger.list_decisions() == []
        assert ledger.database.current_revision() == SCHEMA_REVISION


def test_without_auto_migrate_missing_tables_are_named(
    ledger_url: str, make_decision: DecisionFactory
) -> None:
    with (
        Ledger(ledger_url, auto_migrate=False) as ledger,
        pytest.raises(LedgerError, match=r"ledger tables are missing .* ledger migrate"),
    ):
        ledger.append_decision(make_decision())


def test_a_newer_schema_is_refused(ledger: Ledger, ledger_url: str) -> None:
    with ledger.database.engine.begin() as connection:
        connection.execute(
            sqlalchemy.text(f"UPDATE {ALEMBIC_VERSION_TABLE} SET version_num = 'f00'")
        )

    with (
        Ledger(ledger_url) as newer,
        pytest.raises(LedgerError, match=f"up to {SCHEMA_REVISION!r}"),
    ):
        newer.list_decisions()


def test_another_alembic_history_in_the_same_database_is_left_alone(ledger_url: str) -> None:
    # MLflow keeps its own Alembic history in `alembic_version`; the ledger must not touch it.
    with Ledger(ledger_url, auto_migrate=False) as ledger:
        with ledger.database.engine.begin() as connection:
            connection.execute(
                sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
            )
            connection.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES ('mlflow42')"))

        ledger.migrate()

        assert _scalar(ledger, "SELECT version_num FROM alembic_version") == "mlflow42"
        assert ledger.database.current_revision() == SCHEMA_REVISION


def test_ledgers_migrating_at_once_in_one_process_take_turns(tmp_path: Path, at_once: Any) -> None:
    # Alembic keeps the running migration in module globals: two at once in one process (an
    # app's warm-up beside a request, two apps in one host) used to corrupt each other.
    ledgers = [Ledger(f"sqlite:///{tmp_path / f'ledger-{i}.db'}") for i in range(6)]
    ledgers.append(Ledger(f"sqlite:///{tmp_path / 'ledger-0.db'}"))  # two on one file too
    assert at_once([ledger.head for ledger in ledgers]) == []
    for ledger in ledgers:
        assert ledger.database.current_revision() == SCHEMA_REVISION
        ledger.close()


def _alembics_revision(ledger: Ledger) -> Any:
    """What Alembic's own reader says of the ledger's revision: the value, or its error."""
    try:
        with ledger.database.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": ALEMBIC_VERSION_TABLE}
            )
            return context.get_current_revision()
    except Exception as exc:  # noqa: BLE001 - the error itself is the answer compared
        return type(exc)


def _ours(ledger: Ledger) -> Any:
    try:
        return ledger.database.current_revision()
    except Exception as exc:  # noqa: BLE001 - the error itself is the answer compared
        return type(exc)


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        pytest.param((), SCHEMA_REVISION, id="migrated"),
        pytest.param((f"DELETE FROM {ALEMBIC_VERSION_TABLE}",), None, id="no-row"),
        pytest.param(
            (f"INSERT INTO {ALEMBIC_VERSION_TABLE} (version_num) VALUES ('9999')",),
            CommandError,
            id="two-rows",
        ),
        pytest.param((f"DROP TABLE {ALEMBIC_VERSION_TABLE}",), None, id="no-version-table"),
    ],
)
def test_the_revision_read_is_alembics_own(
    ledger_url: str, statements: tuple[str, ...], expected: object
) -> None:
    ledger = Ledger(ledger_url, auto_migrate=False)
    try:
        assert _ours(ledger) is None and _alembics_revision(ledger) is None
        ledger.migrate()
        with ledger.database.engine.begin() as connection:
            for statement in statements:
                connection.execute(sqlalchemy.text(statement))
        assert _ours(ledger) == _alembics_revision(ledger) == expected
    finally:
        ledger.close()
