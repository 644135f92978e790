"""Settings from a config file: ``promogate.toml``, or ``[tool.promogate]`` in ``pyproject.toml``.

Both are read from the working directory. Precedence, highest first: command-line options,
``PROMOGATE_*`` environment variables, ``promogate.toml``, ``pyproject.toml``, defaults. Keys are
the setting names without the prefix::

    [tool.promogate]
    tracking_uri = "sqlite:///mlflow.db"
    policies_dir = "policies"
    ledger_url = "sqlite:///promogate.db"
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_settings import InitSettingsSource, TomlConfigSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["CONFIG_FILE", "config_file_sources"]

CONFIG_FILE = "promogate.toml"


def config_file_sources(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The config-file sources, highest precedence first."""
    try:
        own = TomlConfigSettingsSource(settings_cls, toml_file=Path(CONFIG_FILE))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {CONFIG_FILE!r}: {exc}") from exc
    return (
        own,
        InitSettingsSource(settings_cls, init_kwargs=_pyproject_table(Path("pyproject.toml"))),
    )


def _pyproject_table(path: Path) -> dict[str, Any]:
    """``[tool.promogate]`` of a pyproject.toml; empty when the file or the table is absent."""
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {str(path)!r} for [tool.promogate]: {exc}") from exc
    table = data.get("tool", {}).get("promogate", {})
    return dict(table) if isinstance(table, dict) else {}
