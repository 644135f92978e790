"""Annotated trees: parsed YAML and JSON documents that remember the line of every node,
flattened into dotted keys; safe loaders with limits on aliases, nodes and depth."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeAlias

import yaml

from tools._config_model import (
    _MAX_DEPTH,
    _MAX_NODES,
    _STANDARD_TAGS,
    ConfigData,
    ConfigScalar,
    PipelineConfigError,
    _Loader,
)

__all__ = []

# --------------------------------------------------------------------------------------------
# Annotated trees: parsed documents that remember the line of every node.


@dataclass(frozen=True)
class _Leaf:
    value: ConfigScalar
    line: int | None


@dataclass(frozen=True)
class _Map:
    items: dict[str, _Tree]
    lines: dict[str, int | None]
    line: int | None


@dataclass(frozen=True)
class _Seq:
    items: list[_Tree]
    line: int | None


_Tree: TypeAlias = _Leaf | _Map | _Seq


@dataclass
class _Entry:
    key: str
    value: ConfigData
    line: int | None


@dataclass
class _Flat:
    """Entries of one file plus the prefixes it sets as whole lists (for Hydra merge semantics)."""

    entries: list[_Entry] = field(default_factory=list)
    list_prefixes: set[str] = field(default_factory=set)


def _scalar(value: object) -> ConfigScalar:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _key_text(value: object) -> str:
    scalar = _scalar(value)
    if isinstance(scalar, bool):
        return "true" if scalar else "false"
    return "null" if scalar is None else str(scalar)


def _yaml_tree(text: str, path: str) -> _Tree | None:
    """Parse YAML into an annotated tree; None for an empty document."""
    if yaml.__with_libyaml__:
        fast = yaml.CSafeLoader(text)
        try:
            node = fast.get_single_node()
            return None if node is None else _from_node(fast, node, path, [_MAX_NODES], 0)
        except (yaml.YAMLError, RecursionError):
            # libyaml words errors differently (and rejects a few documents PyYAML reads, such
            # as unknown directives): the pure-Python loader below decides, as it always did.
            pass
        finally:
            fast.dispose()
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _from_node(loader, node, path, [_MAX_NODES], 0)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = " ".join(part for part in (exc.context, exc.problem) if part)
        raise PipelineConfigError(path, line, f"malformed YAML: {reason}") from exc
    except yaml.YAMLError as exc:
        raise PipelineConfigError(path, None, f"malformed YAML: {exc}") from exc
    except RecursionError as exc:
        raise PipelineConfigError(path, None, "YAML nests too deeply to read") from exc
    finally:
        loader.dispose()


def _from_node(loader: _Loader, node: yaml.Node, path: str, budget: list[int], depth: int) -> _Tree:
    line = node.start_mark.line + 1
    # Config files are untrusted: aliases can expand exponentially or refer to themselves.
    budget[0] -= 1
    if budget[0] < 0 or depth > _MAX_DEPTH:
        raise PipelineConfigError(
            path, line, "YAML expands to too many or too deeply nested values (an alias bomb?)"
        )
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _STANDARD_TAGS:
        # What yaml.safe_load would refuse too (e.g. !!python/object/apply).
        raise PipelineConfigError(path, line, f"malformed YAML: unsupported tag {node.tag!r}")
    if isinstance(node, yaml.MappingNode):
        # Resolves YAML merge keys (`<<: *base`) the same way the safe constructor does.
        loader.flatten_mapping(node)
        items: dict[str, _Tree] = {}
        lines: dict[str, int | None] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise PipelineConfigError(
                    path,
                    key_node.start_mark.line + 1,
                    "malformed YAML: a mapping key must be a scalar",
                )
            key = _key_text(loader.construct_object(key_node))
            items[key] = _from_node(loader, value_node, path, budget, depth + 1)
            lines[key] = key_node.start_mark.line + 1
        return _Map(items, lines, line)
    if isinstance(node, yaml.SequenceNode):
        return _Seq(
            [_from_node(loader, item, path, budget, depth + 1) for item in node.value], line
        )
    return _Leaf(_scalar(loader.construct_object(node, deep=True)), line)


def _json_tree(text: str, path: str) -> _Tree | None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PipelineConfigError(path, exc.lineno, f"malformed JSON: {exc.msg}") from exc
    except RecursionError as exc:
        raise PipelineConfigError(path, None, "JSON nests too deeply to read") from exc
    if _depth(data) > _MAX_DEPTH:
        raise PipelineConfigError(path, None, "JSON nests too deeply to read")
    # JSON is (nearly) YAML, so the YAML composer supplies line numbers; the values themselves
    # come from the JSON parser, which disagrees with YAML 1.1 on scalars such as 1e5.
    try:
        lines = _line_index(_yaml_tree(text, path))
    except PipelineConfigError:
        lines = {}
    return _from_python(data, (), lines)


def _depth(data: object) -> int:
    deepest, stack = 0, [(data, 0)]
    while stack:
        item, level = stack.pop()
        deepest = max(deepest, level)
        if deepest > _MAX_DEPTH:
            break
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _line_index(tree: _Tree | None, at: tuple[str, ...] = ()) -> dict[tuple[str, ...], int | None]:
    index: dict[tuple[str, ...], int | None] = {}
    if tree is None:
        return index
    index[at] = tree.line
    if isinstance(tree, _Map):
        for key, child in tree.items.items():
            index.update(_line_index(child, (*at, key)))
            index[(*at, key)] = tree.lines[key]
    elif isinstance(tree, _Seq):
        for i, child in enumerate(tree.items):
            index.update(_line_index(child, (*at, str(i))))
    return index


def _from_python(
    data: object, at: tuple[str, ...], lines: Mapping[tuple[str, ...], int | None]
) -> _Tree:
    line = lines.get(at)
    if isinstance(data, dict):
        items = {_key_text(k): _from_python(v, (*at, _key_text(k)), lines) for k, v in data.items()}
        return _Map(items, {k: lines.get((*at, k)) for k in items}, line)
    if isinstance(data, list):
        return _Seq([_from_python(v, (*at, str(i)), lines) for i, v in enumerate(data)], line)
    return _Leaf(_scalar(data), line)


def _flatten(tree: _Tree | None, prefix: str, line: int | None = None) -> _Flat:
    flat = _Flat()
    _flatten_into(flat, tree, prefix, line)
    return flat


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def _flatten_into(flat: _Flat, tree: _Tree | None, prefix: str, line: int | None) -> None:
    if tree is None:
        return
    if isinstance(tree, _Leaf):
        flat.entries.append(_Entry(prefix, tree.value, line or tree.line))
    elif isinstance(tree, _Map):
        if not tree.items and prefix:
            flat.entries.append(_Entry(prefix, None, line or tree.line))
        for key, child in tree.items.items():
            _flatten_into(flat, child, _join(prefix, key), tree.lines[key])
    elif all(isinstance(item, _Leaf) for item in tree.items):
        values: list[ConfigScalar] = [item.value for item in tree.items if isinstance(item, _Leaf)]
        flat.entries.append(_Entry(prefix, values, line or tree.line))
        flat.list_prefixes.add(prefix)
    else:
        flat.list_prefixes.add(prefix)
        for i, item in enumerate(tree.items):
            _flatten_into(flat, item, _join(prefix, str(i)), item.line)


def _child(tree: _Tree | None, *keys: str) -> _Tree | None:
    for key in keys:
        if not isinstance(tree, _Map):
            return None
        tree = tree.items.get(key)
    return tree


def _require_map(tree: _Tree | None, path: str, what: str) -> _Map:
    if tree is None:
        return _Map({}, {}, None)
    if not isinstance(tree, _Map):
        raise PipelineConfigError(path, tree.line, f"{what} must be a mapping at the top level")
    return tree
