"""Settings from promogate.toml and [tool.promogate]: below options and environment; settings
that cannot be read are one clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app
from api.settings import SettingsError, load_settings


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PROMOGATE_TRACKING_URI", "PROMOGATE_POLICIES_DIR", "PROMOGATE_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n[tool.promogate]\ntracking_uri = "sqlite:///team.db"\n'
        'policies_dir = "gate-policies"\nledger_url = "sqlite:///from-pyproject.db"\n'
    )
    (tmp_path / "promogate.toml").write_text('ledger_url = "sqlite:///from-toml.db"\n')
    return tmp_path


def test_config_files_fill_unset_settings(workdir: Path) -> None:
    settings = load_settings()
    assert settings.tracking_uri == "sqlite:///team.db"
    assert settings.policies_dir == Path("gate-policies")
    assert settings.ledger_url == "sqlite:///from-toml.db"


def test_environment_and_options_win(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMOGATE_TRACKING_URI", "sqlite:///env.db")
    assert load_settings().tracking_uri == "sqlite:///env.db"
    assert load_settings(tracking_uri="sqlite:///opt.db").tracking_uri == "sqlite:///opt.db"


def test_an_unknown_directory_has_the_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PROMOGATE_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert load_settings().tracking_uri == "sqlite:///mlflow.db"


BAD_SETTINGS = [
    (
        "toml-syntax",
        {"promogate.toml": 'tracking_uri = "sqlite:///x.db"\nledger_url =\n'},
        {},
        ["cannot read 'promogate.toml'", "line 2"],
    ),
    (
        "pyproject-syntax",
        {"pyproject.toml": "[tool.promogate\n"},
        {},
        ["cannot read 'pyproject.toml' for [tool.promogate]", "line 1"],
    ),
    (
        "toml-wrong-kind",
        {"promogate.toml": "mlflow_http_retries = -1\n"},
        {},
        ["setting 'mlflow_http_retries'", "greater than or equal to 0", "got -1"],
    ),
    (
        "toml-misspelt-key",
        {"promogate.toml": 'tracking_uri = "sqlite:///x.db"\n\nledgr_url = "sqlite:///l.db"\n'},
        {},
        ["'promogate.toml' line 3: unknown setting 'ledgr_url'", "did you mean 'ledger_url'?"],
    ),
    (
        "toml-unknown-table",
        {"promogate.toml": 'ledger_url = "sqlite:///l.db"\n[github]\ntoken = "x"\n'},
        {},
        ["'promogate.toml' line 2: unknown setting 'github'"],
    ),
    (
        "pyproject-misspelt-key",
        {
            "pyproject.toml": '[project]\nname = "x"\npolicy_dir = "p"\n[tool.promogate]\n'
            'tracking_uri = "sqlite:///x.db"\npolicy_dir = "gate-policies"\n[tool.ruff]\n'
            "line-length = 100\n"
        },
        {},
        [
            "'pyproject.toml' [tool.promogate] line 6: unknown setting 'policy_dir'",
            "did you mean 'policies_dir'?",
        ],
    ),
    (
        "both-files-every-key",
        {
            "promogate.toml": "trackinguri = 'a'\nzzz = 1\n",
            "pyproject.toml": "[tool.promogate]\nLEDGER = 'b'\n",
        },
        {},
        [
            "'promogate.toml' line 1: unknown setting 'trackinguri' (did you mean 'tracking_uri'?)",
            "'promogate.toml' line 2: unknown setting 'zzz'; ",
            "'pyproject.toml' [tool.promogate] line 2: unknown setting 'LEDGER'",
        ],
    ),
    (
        "environment-wrong-kind",
        {},
        {"PROMOGATE_ANCHOR_INTERVAL_S": "hourly"},
        ["setting 'anchor_interval_s'", "got 'hourly'"],
    ),
    (
        "password-in-a-wrong-value",
        {},
        # A URL pasted into the wrong variable: named, with its password hidden.
        {"PROMOGATE_PORT": "postgresql://u:hunter2@db/x"},
        ["setting 'port'", "got 'postgresql://u:***@db/x'"],
    ),
]


@pytest.mark.parametrize(
    ("files", "environment", "said"),
    [c[1:] for c in BAD_SETTINGS],
    ids=[c[0] for c in BAD_SETTINGS],
)
def test_settings_that_cannot_be_read_name_the_file_line_or_setting(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    files: dict[str, str],
    environment: dict[str, str],
    said: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    for part in said:
        assert part in str(raised.value)
    # The command line says it in one line and exits 3, the error code.
    _mount_optional_apps()
    assert run_app(app, ["ledger", "list"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "hunter2" not in err


@pytest.mark.parametrize("given", ["debug", "Debug", "DEBUG"], ids=["lower", "title", "upper"])
def test_the_log_level_is_taken_in_any_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMOGATE_LOG_LEVEL", given)
    assert load_settings().log_level == "DEBUG"


def test_keys_in_any_case_and_aliases_are_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("PROMOGATE_LEDGER_URL", raising=False)
    (tmp_path / "promogate.toml").write_text(
        'OPENAI_API_KEY = "sk-test"\nLedger_URL = "sqlite:///l.db"\n'
    )
    settings = load_settings()
    assert settings.openai_api_key == "sk-test"
    assert settings.ledger_url == "sqlite:///l.db"


def test_a_secret_of_the_wrong_kind_is_named_but_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "promogate.toml").write_text('token = ["s3cret-token"]\n')
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "setting 'token'" in str(raised.value)
    assert "s3cret" not in str(raised.value)


MISSPELT = [
    ("PROMOGATE_LEDGER_URI", "PROMOGATE_LEDGER_URL"),
    ("PROMOGATE_TRACKING_URL", "PROMOGATE_TRACKING_URI"),
    ("promogate_policy_dir", "PROMOGATE_POLICIES_DIR"),
    ("PROMOGATE_PUBLISH_TAG", "PROMOGATE_PUBLISH_TAGS"),
]


@pytest.mark.parametrize(("variable", "meant"), MISSPELT, ids=[v.lower() for v, _ in MISSPELT])
def test_a_variable_that_looks_like_a_setting_is_named_once(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    variable: str,
    meant: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "sqlite:///team.db")
    with caplog.at_level("WARNING", logger="promogate.api"):
        load_settings()
        load_settings()
    said = [r.getMessage() for r in caplog.records if variable in r.getMessage()]
    assert said == [f"{variable} is not a setting and is ignored (did you mean {meant}?)"]


@pytest.mark.parametrize(
    "variable",
    [
        "PROMOGATE_LEDGER_URL",
        "PROMOGATE_TEST_POSTGRES_URL",
        "PROMOGATE_TEST_LEDGER_URI",
        "PROMOGATE_EVAL_API_KEY",
        "PROMOGATE_SOMETHING_ELSE_ENTIRELY",
    ],
    ids=["a-setting", "the-suites-own", "the-suites-own-close", "eval-key", "unrelated"],
)
def test_other_variables_are_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, variable: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "sqlite:///x.db")
    with caplog.at_level("WARNING", logger="promogate.api"):
        load_settings()
    assert [r.getMessage() for r in caplog.records if variable in r.getMessage()] == []


def test_every_promogate_variable_the_product_names_is_a_setting_or_known() -> None:
    """A variable the code reads that is neither a setting nor listed would be warned about."""
    import re

    from api.settings import _OTHER_VARIABLES, _setting_variables

    root = Path(__file__).resolve().parents[2]
    named: set[str] = set()
    for path in root.glob("*/**/*.py"):
        if path.relative_to(root).parts[0] in ("tests", ".venv"):
            continue
        # The names the code reads are string literals; prose in docstrings is not read.
        named |= set(re.findall(r"[\"'](PROMOGATE_[A-Z0-9_]+)[\"']", path.read_text("utf-8")))
    assert {"PROMOGATE_TRACKING_URI", "PROMOGATE_EVAL_API_KEY"} <= named
    unknown = {
        v
        for v in named - set(_setting_variables()) - _OTHER_VARIABLES
        if not v.startswith("PROMOGATE_TEST_")
    }
    assert unknown == set()
