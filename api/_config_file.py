"""Settings from a config file: ``promogate.toml``, or ``[tool.promogate]`` in ``pyproject.toml``.

Both are read from the working directory. Precedence, highest first: command-line options,
``PROMOGATE_*`` environment variables, ``promogate.toml``, ``pyproject.toml``, defaults. Keys are
the setting names without the prefix::

    [tool.promogate]
    tracking_uri = "sqlite:///mlflow.db"
    policies_dir = "policies"
    ledger_url = "sqlite:///promogate.db"

A key that names no setting is an error, with its file and line: a misspelt ``ledger_url`` would
otherwise leave the gate recording its decisions somewhere nobody looks. (The environment holds
whatever else runs there: a ``PROMOGATE_*`` variable that looks like a setting's is only warned
about, by `api.settings.load_settings`.)
"""

from __future__ import annotations

import difflib
import re
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
    own_path, pyproject = Path(CONFIG_FILE), Path("pyproject.toml")
    try:
        own = TomlConfigSettingsSource(settings_cls, toml_file=own_path)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read {CONFIG_FILE!r}: {exc}") from exc
    table = _pyproject_table(pyproject)
    known = _setting_keys(settings_cls)
    unknown = _unknown_keys(own.toml_data, known, own_path, None)
    unknown += _unknown_keys(table, known, pyproject, "tool.promogate")
    if unknown:
        raise ValueError("; ".join(unknown))
    return (own, InitSettingsSource(settings_cls, init_kwargs=table))


def _setting_keys(settings_cls: type[BaseSettings]) -> dict[str, str]:
    """Every key a config file may use, lower-cased (pydantic-settings matches keys in any
    case, by field name or alias), to the setting's name."""
    keys: dict[str, str] = {}
    for name, field in settings_cls.model_fields.items():
        keys[name.lower()] = name
        if isinstance(field.validation_alias, str):
            keys[field.validation_alias.lower()] = name
    return keys


def _unknown_keys(
    data: dict[str, Any], known: dict[str, str], path: Path, table: str | None
) -> list[str]:
    """One message per key of `data` that names no setting: file, line, the key, and the
    setting it most looks like."""
    unknown = [key for key in data if key.lower() not in known]
    if not unknown:
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    messages = []
    for key in unknown:
        where = f"{str(path)!r}" + (f" [{table}]" if table else "")
        line = _line_of(lines, key, table)
        if line is not None:
            where += f" line {line}"
        message = f"{where}: unknown setting {key!r}"
        close = difflib.get_close_matches(key.lower(), sorted(set(known.values())), n=1)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        messages.append(message)
    return messages


def _line_of(lines: list[str], key: str, table: str | None) -> int | None:
    """The 1-based line that sets `key` in `table` (the top level when None), or opens it as a
    table of its own; None when the key is written some other way."""
    name = re.escape(key)
    sets = re.compile(rf"""\s*(?:{name}|"{name}"|'{name}')\s*[=.]""")
    opens = re.compile(rf"\s*\[\[?\s*{re.escape(f'{table}.' if table else '')}{name}\s*[\].]")
    current = ""
    for number, text in enumerate(lines, start=1):
        if opens.match(text):
            return number
        header = re.match(r"\s*\[\[?\s*([^\]]+?)\s*\]", text)
        if header:
            current = header.group(1)
        elif current == (table or "") and sets.match(text):
            return number
    return None


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
