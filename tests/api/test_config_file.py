"""Settings from promogate.toml and [tool.promogate]: below options and environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.settings import load_settings


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
