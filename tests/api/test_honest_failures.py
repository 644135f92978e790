"""Failures that say what happened: a missing store is refused, never created; unresolved reviews
are not ledger records; a dry run writes nothing; an explicit baseline; the champion itself; a
ledger out of reach is an error, not a verdict."""

from __future__ import annotations

import socket
import textwrap
from pathlib import Path

import pytest
from support.postgres_schema import postgres_schema
from support.team_registry import SYNONYMS, TeamRegistry

from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app
from ledger.store import Ledger

POLICY = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: honest, revision: 1}
    match: {model: "*"}
    baseline: {alias: champion, on_missing: warn}
    metrics: [{name: recall, min: 0.1, max_drop: 0.5}]
    """
)


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    _mount_optional_apps()
    code = run_app(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "p.yaml").write_text(POLICY)
    return directory


def test_a_missing_sqlite_store_is_refused_and_never_created(
    tmp_path: Path, policies: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "elsewhere" / "mlflow.db"
    ledger = tmp_path / "ledger.db"
    code, out, err = _run(
        capsys, "review", "m", "1", "--policies", str(policies),
        "--tracking-uri", f"sqlite:///{store}", "--ledger-url", f"sqlite:///{ledger}",
    )  # fmt: skip
    assert code == 3
    assert not store.exists()
    assert "does not exist" in out
    assert f"ledger 'sqlite:///{ledger}'" in err
    # The store was never resolved, so the ledger holds no decision about a "version 0".
    assert Ledger(f"sqlite:///{ledger}").list_decisions() == []


def test_an_unknown_model_is_not_a_ledger_record(
    team_registry: TeamRegistry,
    tmp_path: Path,
    policies: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, out, err = _run(
        capsys, "review", "no-such-model", "1", "--policies", str(policies),
        "--tracking-uri", team_registry.tracking_uri, "--ledger-url", ledger, "--no-publish",
    )  # fmt: skip
    assert code == 3
    assert "registered model 'no-such-model' not found" in out
    assert f"tracking URI {team_registry.tracking_uri!r}" in err
    assert Ledger(ledger).list_decisions() == []


def test_dry_run_writes_neither_ledger_nor_tags(
    team_registry: TeamRegistry,
    tmp_path: Path,
    policies: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlflow import MlflowClient

    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"
    code, out, _ = _run(
        capsys, "review", SYNONYMS, "v2", "--policies", str(policies), "--dry-run",
        "--tracking-uri", team_registry.tracking_uri, "--ledger-url", ledger,
    )  # fmt: skip
    assert code == 0, out
    assert out.startswith(f"approve {SYNONYMS} v2 vs v1")
    assert Ledger(ledger).list_decisions() == []
    client = MlflowClient(team_registry.tracking_uri, team_registry.tracking_uri)
    tags = client.get_model_version(SYNONYMS, "2").tags
    assert not any(key.startswith("promogate.") for key in tags)


def test_baseline_version_and_the_champion_itself(
    team_registry: TeamRegistry,
    tmp_path: Path,
    policies: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    common = ["--policies", str(policies), "--tracking-uri", team_registry.tracking_uri,
              "--ledger-url", f"sqlite:///{tmp_path / 'l.db'}", "--dry-run"]  # fmt: skip
    code, out, _ = _run(capsys, "review", SYNONYMS, "1", "--baseline", "v2", *common)
    assert code == 0, out
    assert out.startswith(f"approve {SYNONYMS} v1 vs v2")
    code, out, _ = _run(capsys, "review", SYNONYMS, "@champion", *common)
    assert "v1 already holds @champion, so there is no other version" in out
    code, _, err = _run(capsys, "review", SYNONYMS, "1", "--baseline", "three", *common)
    assert code == 3 and "--baseline" in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LEDGER_COMMANDS = [
    ("ledger", "verify"),
    ("ledger", "list"),
    ("ledger", "migrate"),
    ("override", "list", "credit-risk", "2"),
    ("reviews", "list"),
]


@pytest.mark.parametrize("command", LEDGER_COMMANDS, ids=["-".join(c[:2]) for c in LEDGER_COMMANDS])
@pytest.mark.parametrize("where", ["sqlite-missing-directory", "postgresql-down"])
def test_a_ledger_that_cannot_be_reached_is_one_error_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: tuple[str, ...], where: str
) -> None:
    # Not a traceback and exit 1, which `ledger verify` means as "a record was edited".
    url = (
        f"sqlite:///{tmp_path / 'missing' / 'ledger.db'}"
        if where == "sqlite-missing-directory"
        else f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/ledger"
    )
    code, out, err = _run(capsys, *command, "--ledger-url", url)
    assert code == 3, (out, err)
    if where == "sqlite-missing-directory" and command[:2] != ("ledger", "migrate"):
        # A command that only reads looks for the file before it connects.
        assert err.startswith(f"error: there is no ledger at {url!r}"), err
    else:
        assert err.startswith("error: ledger database"), err
        assert "unavailable" in err
    assert "Traceback" not in out + err
    assert not (tmp_path / "missing").exists()


READING_COMMANDS = [c for c in LEDGER_COMMANDS if c[:2] != ("ledger", "migrate")] + [
    ("reviews", "show", "0123456789abcdef0123456789abcdef")
]


@pytest.mark.parametrize(
    "command", READING_COMMANDS, ids=["-".join(c[:2]) for c in READING_COMMANDS]
)
def test_a_command_that_only_reads_never_makes_a_ledger(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: tuple[str, ...],
) -> None:
    """An empty ledger made at a mistyped path would verify, and list nothing, as if all were
    well: a command that only reads says there is no ledger there, and makes none."""
    monkeypatch.chdir(tmp_path)
    code, out, err = _run(capsys, *command)
    assert code == 3, (out, err)
    assert err == (
        "error: there is no ledger at 'sqlite:///promogate.db' (no file 'promogate.db'); pass "
        "the ledger that holds the decisions with --ledger-url or PROMOGATE_LEDGER_URL "
        "(`promogate ledger migrate` makes a new one)\n"
    )
    assert list(tmp_path.iterdir()) == []
    # Once made, it is read.
    assert _run(capsys, "ledger", "migrate")[0] == 0
    assert _run(capsys, "ledger", "verify")[0] == 0


def test_a_database_without_the_ledger_is_not_given_one_by_a_read(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlalchemy

    with postgres_schema(postgres_url, "promogate_noledger") as url:
        code, _, err = _run(capsys, "ledger", "verify", "--ledger-url", url)
        assert code == 3
        assert "(the database holds no ledger tables)" in err
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.connect() as connection:
                tables = sqlalchemy.inspect(connection).get_table_names()
        finally:
            engine.dispose()
        assert tables == []
