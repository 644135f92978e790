"""Pipeline configuration: loading config files and run params into one normalised flat view.

The flat view maps dotted keys (``data.window``, ``train.seed``) to a `ConfigValue` that remembers
its value, the file it came from and the line in that file, so every later finding can point at
``pipeline/pipeline.yaml:3``. Supported sources:

- plain YAML and JSON (nested mappings become dotted keys);
- DVC: ``params.yaml`` (plain keys) and ``dvc.yaml`` (``stages.<stage>.cmd|deps|params|outs``);
- MLflow ``MLproject`` (``entry_points.<ep>.parameters.<name>`` holds the parameter's default);
- a compiled Kubeflow Pipelines IR spec (``parameters.<name>`` from the root input defaults,
  ``executors.<name>.image|command|args``, ``tasks.<task>.component|inputs.<name>``,
  ``components.<name>.executor``, ``pipeline.name|sdk_version``);
- a Hydra-style composed config: a primary YAML with a top-level ``defaults:`` list composing
  group files (``data: window90`` reads ``data/window90.yaml`` beside the primary, placed under
  ``data.``), with ``_self_`` ordering, ``optional``/``override`` entries, ``group@package`` and
  ``# @package`` headers and ``${key}`` interpolation; each composed value keeps the file and
  line it came from, and ``defaults.<group>`` records the chosen option;
- the logged model's environment: ``requirements.txt`` (``dependencies.pip.<name>``), ``conda.yaml``
  (``dependencies.python``, ``dependencies.conda.<name>``, ``dependencies.pip.<name>``) and
  ``python_env.yaml`` (``dependencies.python``, ``dependencies.build.<name>``);
- the run's params (source ``<run params>``, no line) and dataset inputs (``datasets.<context>.*``,
  source ``<run datasets>``).

Lists of scalars stay one value (``features.include: [a, b]``); lists holding mappings are indexed
(``steps.0.name``). Where two sources define one key, the first wins, in this order: pipeline
files, top-level config files, run params, datasets, logged-model environment files.

A file that cannot be parsed raises `PipelineConfigError` naming file and line from the single-file
functions; `load_config_files` and `load_pipeline_config` record it as a `ConfigProblem` instead, so
one bad file never hides the others. Config files are untrusted data: they are parsed with safe
loaders only, and alias bombs, self-referencing aliases and very deep nesting are reported as
malformed instead of being expanded.
"""

from __future__ import annotations

import json
import logging
import math
import posixpath
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase
from typing import Literal, TypeAlias

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError
from tools.evidence import ArtifactFile, DatasetInput, VersionEvidence, canonical_digest

__all__ = [
    "CONFIG_FILE_FORMATS",
    "DEPENDENCY_FORMATS",
    "PIPELINE_FORMATS",
    "RUN_DATASETS_SOURCE",
    "RUN_PARAMS_SOURCE",
    "SUPPORTED_FORMATS",
    "ConfigData",
    "ConfigFile",
    "ConfigFormat",
    "ConfigOrigin",
    "ConfigProblem",
    "ConfigScalar",
    "ConfigValue",
    "MissingIncludeError",
    "PipelineConfig",
    "PipelineConfigError",
    "UnsupportedConfigFormatError",
    "clear_pipeline_config_cache",
    "detect_format",
    "duration_days",
    "is_config_artifact",
    "key_matches",
    "load_config_files",
    "load_pipeline_config",
    "numeric_value",
    "parse_config_text",
    "value_text",
]

logger = logging.getLogger("promogate.tools")

ConfigScalar: TypeAlias = str | int | float | bool | None
ConfigData: TypeAlias = ConfigScalar | list[ConfigScalar]

ConfigFormat = Literal[
    "yaml",
    "json",
    "dvc",
    "dvc_params",
    "mlproject",
    "kubeflow",
    "hydra",
    "requirements",
    "conda",
    "python_env",
    "run_params",
    "datasets",
]
ConfigOrigin = Literal["run", "logged_model", "file"]

RUN_PARAMS_SOURCE = "<run params>"
RUN_DATASETS_SOURCE = "<run datasets>"

SUPPORTED_FORMATS: dict[str, str] = {
    "yaml": "plain YAML (*.yaml, *.yml)",
    "json": "plain JSON (*.json)",
    "dvc": "DVC pipeline (dvc.yaml)",
    "dvc_params": "DVC params (params.yaml)",
    "mlproject": "MLflow project (MLproject)",
    "kubeflow": "compiled Kubeflow Pipelines IR spec (YAML or JSON with pipelineInfo and root)",
    "hydra": "Hydra composed config (a primary YAML with a top-level defaults: list)",
    "requirements": "pip requirements (requirements*.txt)",
    "conda": "conda environment (conda.yaml, environment.yml)",
    "python_env": "MLflow python_env.yaml",
}
CONFIG_FILE_FORMATS: frozenset[str] = frozenset(SUPPORTED_FORMATS)
PIPELINE_FORMATS: frozenset[str] = frozenset(
    {"yaml", "json", "dvc", "dvc_params", "mlproject", "kubeflow", "hydra", "run_params"}
)
DEPENDENCY_FORMATS: frozenset[str] = frozenset({"requirements", "conda", "python_env"})

_PIPELINE_DIR = "pipeline/"
_TOP_LEVEL_CONFIGS = frozenset({"params.yaml", "dvc.yaml", "MLproject"})
_ENV_FILES = frozenset({"requirements.txt", "conda.yaml", "python_env.yaml"})
_IGNORED_NAMES = frozenset({".gitkeep", ".gitignore", "README", "README.md", "README.txt"})
_MAX_HYDRA_DEPTH = 10
_MAX_NODES = 100_000
_STANDARD_TAGS = frozenset(
    {
        "tag:yaml.org,2002:map",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:omap",
        "tag:yaml.org,2002:set",
    }
)
_MAX_DEPTH = 64
# libyaml's parser (when PyYAML was built with it) is about ten times faster than the pure-Python
# one and gives the same nodes and marks (line numbers) to the same safe constructor.
_Loader: TypeAlias = "yaml.SafeLoader | yaml.CSafeLoader"
_INTERPOLATION = re.compile(r"\$\{([A-Za-z0-9_.\-]+)\}")


class PipelineConfigError(ToolError):
    """A config file that cannot be read as the format its name and content promise.

    Attributes:
        source: The file's path (artifact path, or the path given for a static review).
        line: 1-based line of the problem, or None when the parser gave no position.
        reason: What is wrong, without the location.
    """

    def __init__(
        self, source: str, line: int | None, reason: str, how_to_fix: str | None = None
    ) -> None:
        self.source = source
        self.line = line
        self.reason = reason
        where = f"{source}:{line}" if line is not None else source
        super().__init__(
            f"{where}: {reason}",
            how_to_fix or f"fix {source!r} so that it parses, then log it again",
        )


class UnsupportedConfigFormatError(PipelineConfigError):
    """A file whose format is not one of `SUPPORTED_FORMATS`."""

    def __init__(self, source: str) -> None:
        listed = "; ".join(SUPPORTED_FORMATS.values())
        super().__init__(
            source,
            None,
            f"unsupported config format for {posixpath.basename(source)!r}; supported: {listed}",
            "log the pipeline config in one of the supported formats, or rename it so its "
            "extension says what it is",
        )


class MissingIncludeError(PipelineConfigError):
    """A Hydra defaults entry names a group file that is not there."""


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ConfigValue(_Frozen):
    """One key of the flat view: its value and where it was read."""

    key: str
    value: ConfigData
    source: str = Field(description="File path, '<run params>' or '<run datasets>'.")
    line: int | None = Field(default=None, description="1-based line in `source`.")
    format: ConfigFormat
    origin: ConfigOrigin = "file"
    ref: str = Field(description="Evidence reference, e.g. 'artifact:pipeline/pipeline.yaml:3'.")

    @property
    def location(self) -> str:
        """Where a human finds the value: ``pipeline/pipeline.yaml:3`` or ``run param seed``."""
        if self.format == "run_params":
            return f"run param {self.key}"
        if self.format == "datasets":
            return "run dataset inputs"
        where = f"{self.source}:{self.line}" if self.line is not None else self.source
        return f"logged model {where}" if self.origin == "logged_model" else where


class ConfigProblem(_Frozen):
    """A config file that could not be used, and why."""

    source: str
    line: int | None = None
    kind: Literal["malformed", "unsupported_format", "missing_include"]
    message: str
    origin: ConfigOrigin = "file"
    ref: str

    @property
    def location(self) -> str:
        return f"{self.source}:{self.line}" if self.line is not None else self.source


class ConfigFile(_Frozen):
    """A config file that was loaded into the flat view."""

    path: str
    format: ConfigFormat
    origin: ConfigOrigin = "file"
    keys: int
    includes: list[str] = Field(
        default_factory=list, description="Files composed into this one (Hydra group files)."
    )


class PipelineConfig(_Frozen):
    """The normalised flat view of one version's pipeline configuration."""

    values: dict[str, ConfigValue] = Field(default_factory=dict)
    files: list[ConfigFile] = Field(default_factory=list)
    problems: list[ConfigProblem] = Field(default_factory=list)
    run_id: str | None = None

    @property
    def has_config(self) -> bool:
        """Whether any pipeline config file or run param was read (environment files excluded)."""
        return any(f.format in PIPELINE_FORMATS for f in self.files) or any(
            v.format == "run_params" for v in self.values.values()
        )

    @property
    def has_dependencies(self) -> bool:
        """Whether a requirements, conda or python_env file was read."""
        return any(f.format in DEPENDENCY_FORMATS for f in self.files)

    def get(self, key: str) -> ConfigValue | None:
        return self.values.get(key)

    def matching(self, pattern: str) -> list[ConfigValue]:
        """Values whose key matches `pattern` (see `key_matches`), sorted by key."""
        return [self.values[k] for k in sorted(self.values) if key_matches(pattern, k)]


# A review loads each version's config several times (policy rules, then the investigator); the
# result depends only on what `_evidence_key` digests, and a PipelineConfig is immutable.
_LOADED_SIZE = 64
_loaded: OrderedDict[str, PipelineConfig] = OrderedDict()
_loaded_lock = threading.Lock()


def key_matches(pattern: str, key: str) -> bool:
    """Whether a flat-view key matches a policy pattern (case-insensitive).

    A pattern without wildcards matches the key itself and any key ending in it at a word
    boundary (``.``, ``_``, ``-``, ``/``): ``seed`` matches ``seed``, ``train.seed`` and
    ``random_seed`` but not ``reseed``; ``data.source`` matches ``raw.data.source`` but not
    ``metadata.source``. A glob (``*``, ``?``, ``[...]``) matches the whole key or a dotted suffix:
    ``features.pii_*`` matches ``features.pii_email`` and ``pipeline.features.pii_email``.

    Args:
        pattern: The policy's pattern, e.g. ``seed`` or ``features.pii_*``.
        key: A dotted key of the flat view.
    """
    p, k = pattern.lower(), key.lower()
    if any(ch in p for ch in "*?["):
        return fnmatchcase(k, p) or fnmatchcase(k, "*." + p)
    if k == p:
        return True
    return k.endswith(p) and k[-len(p) - 1] in "._-/"


_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|min|mins|minutes?|h|hr|hrs|hours?|d|days?|"
    r"w|wk|wks|weeks?|mo|mos|months?|y|yr|yrs|years?)\s*$",
    re.IGNORECASE,
)
_DAYS_PER_UNIT: dict[str, float] = {
    "s": 1 / 86400,
    "min": 1 / 1440,
    "h": 1 / 24,
    "d": 1.0,
    "w": 7.0,
    "mo": 30.4375,
    "y": 365.25,
}


def _unit(word: str) -> str:
    word = word.lower()
    if word.startswith("mo"):
        return "mo"
    if word.startswith("mi"):
        return "min"
    if word.startswith("s"):
        return "s"
    return word[0]


def duration_days(value: ConfigData) -> float | None:
    """A duration such as ``90d``, ``12w``, ``6mo``, ``1y`` or ``36h`` in days; None otherwise.

    A bare ``m`` is not accepted: it means minutes to some teams and months to others.

    Args:
        value: A flat-view value.
    """
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    return float(match.group(1)) * _DAYS_PER_UNIT[_unit(match.group(2))]


def numeric_value(value: ConfigData) -> float | None:
    """A flat-view value as a number: numbers, numeric strings, ``20%`` (0.2) and durations (days).

    Booleans, lists, other strings and non-finite numbers (``nan``, ``inf``) give None, so a
    range check never passes on a value it cannot compare.

    Args:
        value: A flat-view value.
    """
    if isinstance(value, bool) or value is None or isinstance(value, list):
        return None
    number: float | None
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = value.strip()
        try:
            number = float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
        except ValueError:
            number = duration_days(text)
    return number if number is not None and math.isfinite(number) else None


def value_text(value: ConfigData) -> str:
    """A value as the text a human and an MLflow param would show (``true``, ``0.1``, ``[a, b]``).

    Used to compare values read from different sources: a YAML ``42`` equals a run param ``"42"``.

    Args:
        value: A flat-view value.
    """
    if isinstance(value, list):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    # MLflow logs params with str(): True, None, ['a', 'b'].
    if text.lower() in ("true", "false"):
        return text.lower()
    if text in ("None", "~"):
        return "null"
    if text.startswith("[") and text.endswith("]"):
        return text.replace("'", "").replace('"', "")
    return text


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


# --------------------------------------------------------------------------------------------
# Format detection.


def detect_format(path: str, text: str | None = None) -> ConfigFormat:
    """The config format of a file, from its name and (for YAML and JSON) its top-level keys.

    Args:
        path: The file's path; only the base name and extension are used.
        text: The file's content, used to tell a Kubeflow spec or a Hydra primary config from
            plain YAML/JSON. Without it, ``.yaml`` is ``yaml`` and ``.json`` is ``json``.

    Raises:
        UnsupportedConfigFormatError: The name matches none of `SUPPORTED_FORMATS`.
    """
    base = posixpath.basename(path)
    lower = base.lower()
    if lower in ("dvc.yaml", "dvc.yml"):
        return "dvc"
    if lower in ("params.yaml", "params.yml"):
        return "dvc_params"
    if lower in ("mlproject", "mlproject.yaml", "mlproject.yml"):
        return "mlproject"
    if lower in ("python_env.yaml", "python_env.yml"):
        return "python_env"
    if lower in ("conda.yaml", "conda.yml", "environment.yaml", "environment.yml"):
        return "conda"
    if lower.endswith(".txt") and "requirements" in lower:
        return "requirements"
    if lower.endswith((".yaml", ".yml")):
        if text is not None:
            keys = set(re.findall(r"^([A-Za-z_][\w\-]*)\s*:", text, flags=re.MULTILINE))
            if _is_kubeflow_keys(keys):
                return "kubeflow"
            if "defaults" in keys:
                return "hydra"
        return "yaml"
    if lower.endswith(".json"):
        if text is not None:
            try:
                data = json.loads(text)
            except (json.JSONDecodeError, RecursionError):
                return "json"
            if isinstance(data, dict) and _is_kubeflow_keys(set(data)):
                return "kubeflow"
        return "json"
    raise UnsupportedConfigFormatError(path)


def _is_kubeflow_keys(keys: set[str]) -> bool:
    return "pipelineSpec" in keys or (
        "pipelineInfo" in keys and ("root" in keys or "deploymentSpec" in keys)
    )


def is_config_artifact(artifact: ArtifactFile) -> bool:
    """Whether an artifact is read as pipeline config or environment by `load_pipeline_config`.

    Run artifacts under ``pipeline/`` (any name except README/.git* files) and top-level
    ``params.yaml``, ``dvc.yaml``, ``MLproject``; the logged model's ``requirements.txt``,
    ``conda.yaml`` and ``python_env.yaml``.

    Args:
        artifact: A run or logged-model artifact from the evidence bundle.
    """
    name = posixpath.basename(artifact.path)
    if artifact.pipeline_config:
        return True
    if artifact.owner == "logged_model":
        return name in _ENV_FILES
    if artifact.path.startswith(_PIPELINE_DIR):
        return name not in _IGNORED_NAMES
    return artifact.path in _TOP_LEVEL_CONFIGS


# --------------------------------------------------------------------------------------------
# Format normalisers: annotated tree -> flat entries.


def _plain_entries(tree: _Tree | None, path: str) -> _Flat:
    if tree is not None and not isinstance(tree, _Map):
        # A top-level list or scalar still has a flat view; its key is the file's stem.
        stem = posixpath.splitext(posixpath.basename(path))[0]
        return _flatten(tree, stem)
    return _flatten(tree, "")


def _dvc_list(tree: _Tree) -> ConfigData:
    """A DVC deps/outs/params list as strings: ``{file.yaml: [a, b]}`` -> ``file.yaml:a``."""
    if isinstance(tree, _Leaf):
        return tree.value
    if isinstance(tree, _Map):
        return list[ConfigScalar](sorted(tree.items))
    names: list[ConfigScalar] = []
    for item in tree.items:
        if isinstance(item, _Leaf):
            names.append(item.value)
        elif isinstance(item, _Map):
            for name, sub in item.items.items():
                if isinstance(sub, _Seq) and all(isinstance(s, _Leaf) for s in sub.items):
                    names.extend(f"{name}:{s.value}" for s in sub.items if isinstance(s, _Leaf))
                else:
                    names.append(name)
    return names


def _dvc_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "dvc.yaml")
    flat = _Flat()
    for key, child in root.items.items():
        if key != "stages" or not isinstance(child, _Map):
            _flatten_into(flat, child, key, root.lines[key])
            continue
        for stage, body in child.items.items():
            prefix = f"stages.{stage}"
            if not isinstance(body, _Map):
                _flatten_into(flat, body, prefix, child.lines[stage])
                continue
            for field_name, value in body.items.items():
                line = body.lines[field_name]
                if field_name in ("deps", "outs", "params", "metrics", "plots"):
                    flat.entries.append(_Entry(f"{prefix}.{field_name}", _dvc_list(value), line))
                else:
                    _flatten_into(flat, value, f"{prefix}.{field_name}", line)
    return flat


def _mlproject_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "MLproject")
    flat = _Flat()
    for key, child in root.items.items():
        if key != "entry_points" or not isinstance(child, _Map):
            _flatten_into(flat, child, key, root.lines[key])
            continue
        for ep, body in child.items.items():
            prefix = f"entry_points.{ep}"
            if not isinstance(body, _Map):
                _flatten_into(flat, body, prefix, child.lines[ep])
                continue
            for field_name, value in body.items.items():
                if field_name != "parameters" or not isinstance(value, _Map):
                    _flatten_into(flat, value, f"{prefix}.{field_name}", body.lines[field_name])
                    continue
                for param, spec in value.items.items():
                    key_line = value.lines[param]
                    default = _child(spec, "default")
                    if isinstance(default, _Leaf):
                        # The default's own line: that is the line a reviewer edits.
                        flat.entries.append(
                            _Entry(f"{prefix}.parameters.{param}", default.value, default.line)
                        )
                    else:
                        flat.entries.append(_Entry(f"{prefix}.parameters.{param}", None, key_line))
    return flat


def _kfp_task_entries(flat: _Flat, tasks: _Tree | None, prefix: str) -> None:
    if not isinstance(tasks, _Map):
        return
    for task, body in tasks.items.items():
        at = f"{prefix}.{task}"
        ref = _child(body, "componentRef", "name")
        if isinstance(ref, _Leaf):
            flat.entries.append(_Entry(f"{at}.component", ref.value, ref.line))
        cache = _child(body, "cachingOptions", "enableCache")
        if isinstance(cache, _Leaf):
            flat.entries.append(_Entry(f"{at}.cache", cache.value, cache.line))
        after = _child(body, "dependentTasks")
        if after is not None:
            _flatten_into(flat, after, f"{at}.after", after.line)
        params = _child(body, "inputs", "parameters")
        if not isinstance(params, _Map):
            continue
        for name, spec in params.items.items():
            key = f"{at}.inputs.{name}"
            constant = _child(spec, "runtimeValue", "constant")
            if constant is not None:
                _flatten_into(flat, constant, key, params.lines[name])
                continue
            source = _child(spec, "componentInputParameter")
            producer = _child(spec, "taskOutputParameter", "producerTask")
            output = _child(spec, "taskOutputParameter", "outputParameterKey")
            if isinstance(source, _Leaf):
                flat.entries.append(
                    _Entry(key, f"{{{{pipeline.{source.value}}}}}", params.lines[name])
                )
            elif isinstance(producer, _Leaf):
                out = output.value if isinstance(output, _Leaf) else "output"
                flat.entries.append(
                    _Entry(key, f"{{{{tasks.{producer.value}.{out}}}}}", params.lines[name])
                )


def _kubeflow_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "a Kubeflow pipeline spec")
    spec = _child(root, "pipelineSpec") or root
    flat = _Flat()
    pipeline_name = _child(spec, "pipelineInfo", "name")
    if isinstance(pipeline_name, _Leaf):
        flat.entries.append(_Entry("pipeline.name", pipeline_name.value, pipeline_name.line))
    for key, out in (
        ("sdkVersion", "pipeline.sdk_version"),
        ("schemaVersion", "pipeline.schema_version"),
    ):
        leaf = _child(spec, key)
        if isinstance(leaf, _Leaf):
            flat.entries.append(_Entry(out, leaf.value, leaf.line))

    params = _child(spec, "root", "inputDefinitions", "parameters")
    if isinstance(params, _Map):
        for name, definition in params.items.items():
            default = _child(definition, "defaultValue")
            if default is None:
                flat.entries.append(_Entry(f"parameters.{name}", None, params.lines[name]))
            else:
                _flatten_into(flat, default, f"parameters.{name}", default.line)
    # A PipelineJob's runtimeConfig overrides the compiled defaults.
    runtime = _child(root, "runtimeConfig")
    values = _child(runtime, "parameterValues")
    if isinstance(values, _Map):
        for name, value in values.items.items():
            _flatten_into(flat, value, f"parameters.{name}", values.lines[name])
    legacy = _child(runtime, "parameters")
    if isinstance(legacy, _Map):
        for name, value in legacy.items.items():
            typed = next(iter(value.items.values()), None) if isinstance(value, _Map) else value
            _flatten_into(flat, typed, f"parameters.{name}", legacy.lines[name])

    executors = _child(spec, "deploymentSpec", "executors")
    if isinstance(executors, _Map):
        for name, body in executors.items.items():
            container = _child(body, "container")
            if isinstance(container, _Map):
                for field_name, value in container.items.items():
                    _flatten_into(
                        flat, value, f"executors.{name}.{field_name}", container.lines[field_name]
                    )
            importer = _child(body, "importer", "artifactUri", "constant")
            if importer is not None:
                _flatten_into(flat, importer, f"executors.{name}.artifact_uri", importer.line)

    components = _child(spec, "components")
    if isinstance(components, _Map):
        for name, body in components.items.items():
            label = _child(body, "executorLabel")
            if isinstance(label, _Leaf):
                flat.entries.append(_Entry(f"components.{name}.executor", label.value, label.line))
            _kfp_task_entries(flat, _child(body, "dag", "tasks"), f"components.{name}.tasks")
    _kfp_task_entries(flat, _child(spec, "root", "dag", "tasks"), "tasks")
    # Later definitions (runtimeConfig) override earlier ones (compiled defaults).
    merged: dict[str, _Entry] = {}
    for entry in flat.entries:
        merged[entry.key] = entry
    return _Flat(list(merged.values()), flat.list_prefixes)


def _requirement_entry(text: str, line: int | None, path: str, prefix: str) -> _Entry | None:
    spec = text.split(" #", 1)[0].strip()
    if not spec or spec.startswith("#"):
        return None
    if spec.startswith("-"):
        # pip options (-r, -c, --index-url, -e): not a pinned package we can judge.
        return None
    try:
        req = Requirement(spec)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise PipelineConfigError(path, line, f"invalid requirement {spec!r}: {reason}") from exc
    return _Entry(f"{prefix}.{canonicalize_name(req.name)}", str(req), line)


def _requirements_entries(text: str, path: str) -> _Flat:
    flat = _Flat()
    for number, raw in enumerate(text.splitlines(), start=1):
        entry = _requirement_entry(raw, number, path, "dependencies.pip")
        if entry is not None:
            flat.entries.append(entry)
    return flat


_CONDA_NAME = re.compile(r"^([A-Za-z0-9_.\-]+(?:::[A-Za-z0-9_.\-]+)?)")


def _conda_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "a conda environment")
    flat = _Flat()
    channels = _child(root, "channels")
    if channels is not None:
        _flatten_into(flat, channels, "dependencies.channels", channels.line)
    deps = _child(root, "dependencies")
    if deps is None:
        return flat
    if not isinstance(deps, _Seq):
        raise PipelineConfigError(path, deps.line, "conda 'dependencies' must be a list")
    for item in deps.items:
        if isinstance(item, _Leaf) and isinstance(item.value, str):
            spec = item.value.strip()
            match = _CONDA_NAME.match(spec)
            if match is None:
                raise PipelineConfigError(path, item.line, f"invalid conda dependency {spec!r}")
            name = match.group(1).split("::")[-1].lower()
            if name == "python":
                # The bare version, so that conda.yaml and python_env.yaml agree.
                version = spec[match.end() :].strip().lstrip("=").strip()
                flat.entries.append(_Entry("dependencies.python", version or None, item.line))
            else:
                flat.entries.append(_Entry(f"dependencies.conda.{name}", spec, item.line))
        elif isinstance(item, _Map) and isinstance(item.items.get("pip"), _Seq):
            pip = item.items["pip"]
            assert isinstance(pip, _Seq)
            for req in pip.items:
                if isinstance(req, _Leaf) and isinstance(req.value, str):
                    entry = _requirement_entry(req.value, req.line, path, "dependencies.pip")
                    if entry is not None:
                        flat.entries.append(entry)
        else:
            raise PipelineConfigError(
                path, item.line, "a conda dependency must be a string or a {pip: [...]} mapping"
            )
    return flat


def _python_env_entries(tree: _Tree | None, path: str) -> _Flat:
    root = _require_map(tree, path, "python_env.yaml")
    flat = _Flat()
    python = _child(root, "python")
    if isinstance(python, _Leaf):
        flat.entries.append(_Entry("dependencies.python", _key_text(python.value), python.line))
    for key, prefix in (
        ("build_dependencies", "dependencies.build"),
        ("dependencies", "dependencies.pip"),
    ):
        seq = _child(root, key)
        if seq is None:
            continue
        if not isinstance(seq, _Seq):
            raise PipelineConfigError(path, seq.line, f"python_env {key!r} must be a list")
        for item in seq.items:
            if isinstance(item, _Leaf) and isinstance(item.value, str):
                entry = _requirement_entry(item.value, item.line, path, prefix)
                if entry is not None:
                    flat.entries.append(entry)
    return flat


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


# --------------------------------------------------------------------------------------------
# Public loading functions.


def _ref(prefix: str, path: str, line: int | None) -> str:
    return f"{prefix}{path}:{line}" if line is not None else f"{prefix}{path}"


def parse_config_text(
    text: str,
    *,
    path: str,
    fmt: ConfigFormat | None = None,
    files: Mapping[str, str] | None = None,
    ref_prefix: str = "file:",
    origin: ConfigOrigin = "file",
    strict_includes: bool = True,
) -> tuple[list[ConfigValue], list[str]]:
    """Parse one config file into flat-view values.

    Args:
        text: The file's content.
        path: The file's path; names the file in values and errors, and picks the format.
        fmt: The format, when known; detected from `path` and `text` otherwise.
        files: Other files of the same config tree, by path (Hydra group files).
        ref_prefix: Prefix of each value's evidence reference, e.g. ``artifact:``.
        origin: Who owns the file: a run, a logged model, or a file under review.
        strict_includes: Whether a Hydra group file that is not in `files` is an error (True)
            or silently skipped (False, for reviewing a primary config on its own).

    Returns:
        The values in file order, and the Hydra group files composed into them.

    Raises:
        PipelineConfigError: The file is malformed (message names file and line).
        UnsupportedConfigFormatError: The format is not supported.
    """
    fmt = fmt or detect_format(path, text)
    includes: list[str] = []
    if fmt == "requirements":
        flat = _requirements_entries(text, path)
    elif fmt == "json":
        flat = _plain_entries(_json_tree(text, path), path)
    elif fmt == "hydra":
        tree = _require_map(_yaml_tree(text, path), path, "a Hydra primary config")
        composer = _Composer(path, dict(files or {}), strict_includes)
        composer.compose(path, tree, "", "", 0)
        _resolve_interpolations(composer.values)
        includes = composer.includes
        values = [
            ConfigValue(
                key=key,
                value=entry.value,
                source=source,
                line=entry.line,
                format="hydra",
                origin=origin,
                ref=_ref(ref_prefix, source, entry.line),
            )
            for key, (entry, source) in composer.values.items()
        ]
        return values, includes
    else:
        parsed = (
            _json_tree(text, path) if path.lower().endswith(".json") else _yaml_tree(text, path)
        )
        if fmt == "dvc":
            flat = _dvc_entries(parsed, path)
        elif fmt == "mlproject":
            flat = _mlproject_entries(parsed, path)
        elif fmt == "kubeflow":
            flat = _kubeflow_entries(parsed, path)
        elif fmt == "conda":
            flat = _conda_entries(parsed, path)
        elif fmt == "python_env":
            flat = _python_env_entries(parsed, path)
        elif fmt in ("yaml", "dvc_params"):
            flat = _plain_entries(parsed, path)
        else:
            raise UnsupportedConfigFormatError(path)
    values = [
        ConfigValue(
            key=e.key,
            value=e.value,
            source=path,
            line=e.line,
            format=fmt,
            origin=origin,
            ref=_ref(ref_prefix, path, e.line),
        )
        for e in flat.entries
    ]
    return values, includes


def _problem(exc: PipelineConfigError, origin: ConfigOrigin, ref_prefix: str) -> ConfigProblem:
    kind: Literal["malformed", "unsupported_format", "missing_include"] = "malformed"
    if isinstance(exc, UnsupportedConfigFormatError):
        kind = "unsupported_format"
    elif isinstance(exc, MissingIncludeError):
        kind = "missing_include"
    return ConfigProblem(
        source=exc.source,
        line=exc.line,
        kind=kind,
        message=exc.reason,
        origin=origin,
        ref=_ref(ref_prefix, exc.source, exc.line),
    )


_ENV_ORDER = ("requirements", "conda", "python_env")


def _file_order(path: str) -> tuple[int, int, str]:
    if path.startswith(_PIPELINE_DIR):
        return (0, 0, path)
    if path in _TOP_LEVEL_CONFIGS:
        return (1, 0, path)
    # Environment files: requirements.txt is what pip installs, so it wins over conda's copy.
    name = posixpath.basename(path).lower()
    rank = next((i for i, word in enumerate(_ENV_ORDER) if word in name), len(_ENV_ORDER))
    return (2, rank, path)


@dataclass
class _Collector:
    values: dict[str, ConfigValue] = field(default_factory=dict)
    files: list[ConfigFile] = field(default_factory=list)
    problems: list[ConfigProblem] = field(default_factory=list)

    def add(self, values: Sequence[ConfigValue]) -> None:
        for value in values:
            self.values.setdefault(value.key, value)

    def load_files(
        self,
        files: Mapping[str, str],
        *,
        ref_prefix: str,
        origin: ConfigOrigin,
        strict_includes: bool,
    ) -> None:
        formats: dict[str, ConfigFormat] = {}
        for path in sorted(files, key=_file_order):
            try:
                formats[path] = detect_format(path, files[path])
            except UnsupportedConfigFormatError as exc:
                self.problems.append(_problem(exc, origin, ref_prefix))
        primaries = [p for p, f in formats.items() if f == "hydra"]
        group_dirs = [posixpath.dirname(p) for p in primaries]

        def is_group_file(path: str) -> bool:
            # Files in a subdirectory of a Hydra primary's directory are group options: they
            # are composed into the primary (or unused), never read as configs of their own.
            return (
                any(
                    path.startswith(f"{d}/" if d else "") and posixpath.dirname(path) != d
                    for d in group_dirs
                )
                and path not in primaries
            )

        parsed: dict[str, tuple[list[ConfigValue], list[str]] | PipelineConfigError] = {}

        def parse(path: str) -> tuple[list[ConfigValue], list[str]] | PipelineConfigError:
            try:
                return parse_config_text(
                    files[path],
                    path=path,
                    fmt=formats[path],
                    files=files,
                    ref_prefix=ref_prefix,
                    origin=origin,
                    strict_includes=strict_includes,
                )
            except PipelineConfigError as exc:
                logger.info("pipeline config %s could not be read: %s", path, exc.reason)
                return exc

        # Primaries first, so that the files they compose are known before the others load.
        composed: set[str] = set()
        for path in primaries:
            parsed[path] = result = parse(path)
            if not isinstance(result, PipelineConfigError):
                composed.update(result[1])
        for path, fmt in formats.items():
            if path in composed or (is_group_file(path) and fmt in ("yaml", "hydra")):
                continue
            result = parsed[path] if path in parsed else parse(path)
            if isinstance(result, PipelineConfigError):
                self.problems.append(_problem(result, origin, ref_prefix))
                continue
            values, includes = result
            self.add(values)
            self.files.append(
                ConfigFile(
                    path=path, format=fmt, origin=origin, keys=len(values), includes=includes
                )
            )


def load_config_files(
    files: Mapping[str, str], *, ref_prefix: str = "file:", strict_includes: bool = True
) -> PipelineConfig:
    """Load a set of config files (path -> text) into one flat view.

    Hydra group files under a primary's directory are composed into the primary rather than read
    on their own. A file that cannot be read is recorded in `PipelineConfig.problems` with its
    file and line; the others are still loaded.

    Args:
        files: The files' contents by path, e.g. ``{"pipeline/config.yaml": "..."}``.
        ref_prefix: Prefix of each value's evidence reference.
        strict_includes: Whether a missing Hydra group file is a problem (see
            `parse_config_text`).
    """
    collector = _Collector()
    collector.load_files(
        files, ref_prefix=ref_prefix, origin="file", strict_includes=strict_includes
    )
    return PipelineConfig(
        values=collector.values, files=collector.files, problems=collector.problems
    )


def _dataset_values(datasets: Sequence[DatasetInput], run_id: str | None) -> list[ConfigValue]:
    values: list[ConfigValue] = []
    by_context: dict[str, list[DatasetInput]] = {}
    for dataset in datasets:
        by_context.setdefault(dataset.context or "unknown", []).append(dataset)
    run = f"run:{run_id}" if run_id else "run"
    for context, group in sorted(by_context.items()):
        group = sorted(group, key=lambda d: (d.name, d.digest))
        for i, dataset in enumerate(group):
            prefix = f"datasets.{context}" if len(group) == 1 else f"datasets.{context}.{i}"
            fields: dict[str, ConfigScalar] = {
                "name": dataset.name,
                "digest": dataset.digest,
                "source": dataset.source if dataset.source_type != "code" else None,
                "num_rows": dataset.num_rows,
            }
            for name, value in fields.items():
                if value is None:
                    continue
                values.append(
                    ConfigValue(
                        key=f"{prefix}.{name}",
                        value=value,
                        source=RUN_DATASETS_SOURCE,
                        format="datasets",
                        origin="run",
                        ref=f"{run}/inputs/{dataset.name}",
                    )
                )
    return values


def load_pipeline_config(
    evidence: VersionEvidence, *, qualify_refs: bool = False
) -> PipelineConfig:
    """One version's pipeline configuration from its artifacts, run params and dataset inputs.

    Reads run artifacts under ``pipeline/`` and top-level ``params.yaml``, ``dvc.yaml`` and
    ``MLproject``; the run's params; its dataset inputs; and the logged model's
    ``requirements.txt``, ``conda.yaml`` and ``python_env.yaml``. Files that cannot be read are
    listed in `PipelineConfig.problems` with file and line; `PipelineConfig.has_config` is False
    when no config file or param was read at all (missing evidence, not a pass).

    Evidence references: ``artifact:<path>:<line>`` for run artifacts (``artifact:<model>/
    <version>/<path>:<line>`` with `qualify_refs`, to tell a baseline's file from the candidate's),
    ``run:<run_id>/params/<key>``, ``run:<run_id>/inputs/<dataset>`` and
    ``logged_model:<model_id>/<path>:<line>``.

    Args:
        evidence: One version's evidence, as gathered into the bundle.
        qualify_refs: Whether run-artifact references name the version.
    """
    key = _evidence_key(evidence, qualify_refs)
    with _loaded_lock:
        cached = _loaded.get(key)
        if cached is not None:
            _loaded.move_to_end(key)
            return cached
    config = _load_pipeline_config(evidence, qualify_refs)
    with _loaded_lock:
        _loaded[key] = config
        while len(_loaded) > _LOADED_SIZE:
            _loaded.popitem(last=False)
    return config


def clear_pipeline_config_cache() -> None:
    """Forget recently loaded configs (benchmarks time a first review this way)."""
    with _loaded_lock:
        _loaded.clear()


def _evidence_key(evidence: VersionEvidence, qualify_refs: bool) -> str:
    """Digest of every part of `evidence` that `load_pipeline_config` reads."""
    return canonical_digest(
        {
            "ref": evidence.ref,
            "qualify_refs": qualify_refs,
            "run_id": evidence.run_id,
            "run": (
                None
                if evidence.run is None
                else {"run_id": evidence.run.run_id, "params": evidence.run.params}
            ),
            "model_id": evidence.model_id,
            "logged_model_id": (
                evidence.logged_model.model_id if evidence.logged_model is not None else None
            ),
            "artifacts": [
                [a.owner, a.path, a.content] for a in evidence.artifacts if is_config_artifact(a)
            ],
            "datasets": [d.model_dump(mode="json") for d in evidence.datasets],
        }
    )


def _load_pipeline_config(evidence: VersionEvidence, qualify_refs: bool) -> PipelineConfig:
    run_id = evidence.run.run_id if evidence.run is not None else evidence.run_id
    collector = _Collector()
    run_files = {
        a.path: a.content for a in evidence.artifacts if a.owner == "run" and is_config_artifact(a)
    }
    prefix = f"artifact:{evidence.ref}/" if qualify_refs else "artifact:"
    collector.load_files(run_files, ref_prefix=prefix, origin="run", strict_includes=True)
    if evidence.run is not None:
        collector.add(
            [
                ConfigValue(
                    key=key,
                    value=value,
                    source=RUN_PARAMS_SOURCE,
                    format="run_params",
                    origin="run",
                    ref=f"run:{run_id}/params/{key}",
                )
                for key, value in sorted(evidence.run.params.items())
            ]
        )
    collector.add(_dataset_values(evidence.datasets, run_id))
    model_files = {
        a.path: a.content
        for a in evidence.artifacts
        if a.owner == "logged_model" and is_config_artifact(a)
    }
    model_id = evidence.model_id or (
        evidence.logged_model.model_id if evidence.logged_model is not None else None
    )
    collector.load_files(
        model_files,
        ref_prefix=f"logged_model:{model_id}/" if model_id else "logged_model:",
        origin="logged_model",
        strict_includes=True,
    )
    return PipelineConfig(
        values=collector.values,
        files=collector.files,
        problems=collector.problems,
        run_id=run_id,
    )
