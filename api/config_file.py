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

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import TomlConfigSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

__all__ = ["CONFIG_FILE", "config_file_sources"]

CONFIG_FILE = "promogate.toml"


def config_file_sources(settings_cls: type[BaseSettings]) -> tuple[PydanticBaseSettingsSource, ...]:
    """The config-file sources, highest precedence first."""
    return (
        TomlConfigSettingsSource(settings_cls, toml_file=Path(CONFIG_FILE)),
        TomlConfigSettingsSource(
            settings_cls, toml_file=Path("pyproject.toml"), toml_table_header=("tool", "promogate")
        ),
    )
