"""The normalised flat view of a pipeline config: values with file and line, problems, files;
the errors of config parsing; and the helpers that read values (keys, durations, numbers)."""

from __future__ import annotations

import logging
import math
import posixpath
import re
from fnmatch import fnmatchcase
from typing import Literal, TypeAlias

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tools.errors import ToolError

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
    "duration_days",
    "key_matches",
    "logger",
    "numeric_value",
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
        if "?" in p or "[" in p:
            return fnmatchcase(k, p) or fnmatchcase(k, "*." + p)
        return _star_match(k, p) or _star_match(k, "*." + p)
    if k == p:
        return True
    return k.endswith(p) and k[-len(p) - 1] in "._-/"


def _star_match(text: str, pattern: str) -> bool:
    """`fnmatchcase(text, pattern)` for a pattern whose only wildcard is ``*``.

    fnmatch compiles each new pattern to a regular expression, and the change-class tables hold
    a few hundred of them: compiling those took longer than every match of a review put together.
    The literal pieces between stars are found in order instead (the leftmost fit of each leaves
    the most room for the rest, so it finds a match whenever one exists).
    """
    first, *middle, last = pattern.split("*")
    if len(text) < len(first) + len(last) or not (text.startswith(first) and text.endswith(last)):
        return False
    start, end = len(first), len(text) - len(last)
    for piece in middle:
        found = text.find(piece, start, end)
        if found < 0:
            return False
        start = found + len(piece)
    return True


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
