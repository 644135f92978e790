"""Hydra composition: a primary YAML with a ``defaults:`` list, composed from group files, with
``_self_`` ordering, packages and ``${key}`` interpolation; every value keeps its file and line."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

from tools._config_model import (
    _INTERPOLATION,
    _MAX_HYDRA_DEPTH,
    ConfigScalar,
    MissingIncludeError,
    PipelineConfigError,
)
from tools._config_tree import (
    _Entry,
    _Flat,
    _flatten,
    _join,
    _key_text,
    _Leaf,
    _Map,
    _require_map,
    _Seq,
    _Tree,
    _yaml_tree,
)

__all__ = []

# --------------------------------------------------------------------------------------------
# Hydra composition.


_PACKAGE_HEADER = re.compile(r"^\s*#\s*@package\s+(\S+)", re.MULTILINE)

# One composition step: a file to merge with its package and group dir, or None for `_self_`.
_Step: TypeAlias = tuple[str, str, str] | None


@dataclass
class _Composer:
    """Composes a Hydra primary config; group dirs are relative to the primary's directory."""

    primary: str
    files: Mapping[str, str]
    strict: bool
    overrides: dict[str, ConfigScalar | list[ConfigScalar]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)
    values: dict[str, tuple[_Entry, str]] = field(default_factory=dict)

    def file(self, group_dir: str, name: str) -> str:
        base = name if name.endswith((".yaml", ".yml")) else f"{name}.yaml"
        root = posixpath.dirname(self.primary)
        return posixpath.normpath(posixpath.join(root, group_dir, base))

    def merge(self, flat: _Flat, source: str) -> None:
        # Hydra merges mappings key by key but replaces lists whole.
        for prefix in flat.list_prefixes:
            for key in [k for k in self.values if k.startswith(prefix + ".")]:
                del self.values[key]
        for entry in flat.entries:
            for key in [k for k in self.values if k.startswith(entry.key + ".")]:
                del self.values[key]
            parts = entry.key.split(".")
            for i in range(1, len(parts)):
                self.values.pop(".".join(parts[:i]), None)
            self.values[entry.key] = (entry, source)

    def compose(self, path: str, tree: _Map, package: str, group_dir: str, depth: int) -> None:
        if depth > _MAX_HYDRA_DEPTH:
            raise PipelineConfigError(path, tree.line, "Hydra defaults nest too deeply (a cycle?)")
        body = _Map(
            {k: v for k, v in tree.items.items() if k != "defaults"},
            {k: v for k, v in tree.lines.items() if k != "defaults"},
            tree.line,
        )
        defaults = tree.items.get("defaults")
        steps: list[_Step] = []
        if defaults is not None:
            if not isinstance(defaults, _Seq):
                raise PipelineConfigError(path, defaults.line, "Hydra 'defaults' must be a list")
            for item in defaults.items:
                steps.extend(self.steps(path, item, package, group_dir, depth))
        if None not in steps:
            # Since Hydra 1.1 a config's own keys come after its defaults unless _self_ is listed.
            steps.append(None)
        for step in steps:
            if step is None:
                self.merge(_flatten(body, package), path)
            else:
                self.include(*step, depth=depth)

    def steps(
        self, path: str, item: _Tree, package: str, group_dir: str, depth: int
    ) -> list[_Step]:
        if isinstance(item, _Leaf) and isinstance(item.value, str):
            words = item.value.split()
            if words == ["_self_"]:
                return [None]
            file = self.file(group_dir, words[-1])
            if not self.exists(file, "optional" in words[:-1], path, item.line):
                return []
            return [(file, package, group_dir)]
        if not isinstance(item, _Map) or len(item.items) != 1:
            raise PipelineConfigError(
                path, item.line, "a Hydra defaults entry must be a name or a one-key mapping"
            )
        ((raw_key, option_tree),) = item.items.items()
        line = item.lines[raw_key]
        words = raw_key.split() or [""]
        modifiers = words[:-1]
        group, _, pkg_override = words[-1].partition("@")
        group_path = posixpath.normpath(
            group.strip("/") if group.startswith("/") or not group_dir else f"{group_dir}/{group}"
        )
        option: ConfigScalar | list[ConfigScalar]
        if isinstance(option_tree, _Leaf):
            option = option_tree.value
        elif isinstance(option_tree, _Seq):
            option = [o.value for o in option_tree.items if isinstance(o, _Leaf)]
        else:
            raise PipelineConfigError(path, line, f"Hydra defaults entry {raw_key!r} has no option")
        if depth == 0:
            key = "defaults." + group_path.replace("/", ".")
            self.values[key] = (_Entry(key, option, line), path)
        if "override" in modifiers:
            self.overrides[group_path] = option
            return []
        option = self.overrides.get(group_path, option)
        if option is None or option == "???":
            return []
        if pkg_override == "_global_":
            pkg = ""
        elif pkg_override:
            pkg = _join(package, pkg_override)
        else:
            pkg = group_path.replace("/", ".")
        steps: list[_Step] = []
        for opt in option if isinstance(option, list) else [option]:
            file = self.file(group_path, str(opt))
            if self.exists(file, "optional" in modifiers, path, line):
                steps.append((file, pkg, group_path))
        return steps

    def exists(self, file: str, optional: bool, path: str, line: int | None) -> bool:
        if file in self.files:
            return True
        if self.strict and not optional:
            raise MissingIncludeError(
                path,
                line,
                f"Hydra defaults entry refers to {file!r}, which is not there",
                f"log {file!r} beside {path!r} (the whole config directory), or fix the entry",
            )
        return False

    def include(self, file: str, package: str, group_dir: str, *, depth: int) -> None:
        text = self.files[file]
        self.includes.append(file)
        header = _PACKAGE_HEADER.search(text)
        if header is not None and text[: header.start()].strip() == "":
            value = header.group(1)
            if value == "_global_":
                package = ""
            elif value != "_group_":
                package = value
        tree = _require_map(_yaml_tree(text, file), file, "a Hydra group config")
        self.compose(file, tree, package, group_dir, depth + 1)


def _resolve_interpolations(values: dict[str, tuple[_Entry, str]]) -> None:
    """Resolve OmegaConf-style ``${a.b}`` references to other keys (resolvers stay as text)."""
    for _ in range(5):
        changed = False
        for entry, _source in values.values():
            if not isinstance(entry.value, str) or "${" not in entry.value:
                continue
            whole = _INTERPOLATION.fullmatch(entry.value)
            if whole is not None and whole.group(1) in values:
                target = values[whole.group(1)][0].value
                if target != entry.value:
                    entry.value = target
                    changed = True
                continue

            def substitute(match: re.Match[str]) -> str:
                ref = values.get(match.group(1))
                return match.group(0) if ref is None else _key_text(ref[0].value)

            new = _INTERPOLATION.sub(substitute, entry.value)
            if new != entry.value:
                entry.value = new
                changed = True
        if not changed:
            return
