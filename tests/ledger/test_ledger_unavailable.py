"""A ledger whose database is down, closed, unwritable or misnamed fails with a typed error."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from ledger._database import redact_url
from ledger.errors import LedgerError, LedgerUnavailableError
from ledger.store import Ledger
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]
PASSWORD = "s3cret-pw"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.mark.parametrize(
    "operation", ["migrate", "append", "ping"], ids=["migrate", "append", "ping"]
)
def test_postgres_nobody_listening(operation: str, make_decision: DecisionFactory) -> None:
    port = _free_port()
    ledger = Ledger(f"postgresql+psycopg://promogate:{PASSWORD}@127.0.0.1:{port}/ledger")
    actions: dict[str, Callable[[], object]] = {
        "migrate": ledger.migrate,
        "append": lambda: ledger.append_decision(make_decision()),
        "ping": ledger.ping,
    }
    started = time.monotonic()

    with pytest.raises(LedgerUnavailableError) as caught:
        actions[operation]()

    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message
    assert "promogate:***@" in message
    assert PASSWORD not in message
    assert caught.value.url == f"postgresql+psycopg://promogate:***@127.0.0.1:{port}/ledger"


def test_postgres_unknown_database(postgres_url: str) -> None:
    url = make_url(postgres_url).set(database="promogate_no_such_database")

    with pytest.raises(LedgerUnavailableError, match="promogate_no_such_database"):
        Ledger(url.render_as_string(hide_password=False)).list_decisions()


@pytest.fixture
def postgres_ledger(postgres_schema_url: str) -> Iterator[Ledger]:
    with Ledger(postgres_schema_url) as ledger:
        ledger.migrate()
        yield ledger


def test_postgres_connection_closed_mid_transaction(
    postgres_ledger: Ledger, postgres_admin: sqlalchemy.Engine
) -> None:
    ledger = postgres_ledger
    with (
        pytest.raises(LedgerUnavailableError, match="closed"),
        ledger.database.write() as session,
    ):
        pid: int = session.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()
        with postgres_admin.begin() as admin:
            admin.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        session.execute(sqlalchemy.text("SELECT 1"))

    # The pool discards the dead connection; the next call works on a new one.
    assert ledger.verify().ok


def test_postgres_server_closed_idle_connections(
    postgres_ledger: Ledger, postgres_admin: sqlalchemy.Engine, make_decision: DecisionFactory
) -> None:
    ledger = postgres_ledger
    ledger.append_decision(make_decision("dec-1"))
    with ledger.database.engine.connect() as connection:
        pid: int = connection.execute(sqlalchemy.text("SELECT pg_backend_pid()")).scalar_one()
    with postgres_admin.begin() as admin:
        admin.execute(sqlalchemy.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

    # Pre-ping notices the pooled connection is dead and reconnects instead of failing.
    assert ledger.get_decision("dec-1").id == "dec-1"


@pytest.mark.parametrize(
    "layout",
    ["missing-directory", "directory-is-a-file", "read-only-directory", "read-only-open"],
    ids=["missing-directory", "directory-is-a-file", "read-only-directory", "read-only-open"],
)
def test_sqlite_path_that_cannot_be_written(
    tmp_path: Path, layout: str, make_decision: DecisionFactory
) -> None:
    if layout == "missing-directory":
        url = f"sqlite:///{tmp_path / 'missing' / 'deeper' / 'ledger.db'}"
    elif layout == "directory-is-a-file":
        (tmp_path / "afile").write_text("not a directory")
        url = f"sqlite:///{tmp_path / 'afile' / 'ledger.db'}"
    elif layout == "read-only-directory":
        if os.geteuid() == 0:
            pytest.skip("file permissions do not stop root; read-only-open covers this as root")
        readonly = tmp_path / "readonly"
        readonly.mkdir()
        readonly.chmod(0o555)
        url = f"sqlite:///{readonly / 'ledger.db'}"
    else:
        # Opened read-only the way SQLite allows it, which also binds root.
        with Ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as writable:
            writable.migrate()
        url = f"sqlite:///file:{tmp_path / 'ledger.db'}?mode=ro&uri=true"

    with pytest.raises(LedgerUnavailableError, match=r"ledger\.db") as caught:
        Ledger(url).append_decision(make_decision())

    assert caught.value.reason


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://user@localhost/ledger", "unsupported backend 'mysql'"),
        ("not a url", "cannot parse ledger URL 'not a url'"),
        ("sqlite://", "in-memory SQLite"),
        ("sqlite:///:memory:", "in-memory SQLite"),
        ("postgresql+nodriver://app:hunter2@db/ledger", "driver that is not installed"),
    ],
    ids=["mysql", "garbage", "sqlite-memory-default", "sqlite-memory-explicit", "unknown-driver"],
)
def test_unsupported_urls_are_refused(url: str, message: str) -> None:
    with pytest.raises(LedgerError, match=message) as caught:
        Ledger(url)

    assert "hunter2" not in str(caught.value)


def test_plain_postgresql_url_uses_psycopg_3() -> None:
    ledger = Ledger("postgresql://app:hunter2@db.internal/ledger")

    assert ledger.database.engine.dialect.driver == "psycopg"
    assert ledger.url == "postgresql+psycopg://app:***@db.internal/ledger"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+psycopg://app:hunter2@db.internal:5432/ledger",
            "postgresql+psycopg://app:***@db.internal:5432/ledger",
        ),
        (
            "postgresql+psycopg://app@db.internal/ledger?password=hunter2",
            "postgresql+psycopg://app@db.internal/ledger?password=%2A%2A%2A",
        ),
        ("sqlite:///var/lib/ledger.db", "sqlite:///var/lib/ledger.db"),
        ("::garbage://app:hunter2@host", "::garbage://app:***@host"),
    ],
    ids=["password-in-userinfo", "password-in-query", "no-password", "unparsable"],
)
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected
    assert "hunter2" not in redact_url(url)
