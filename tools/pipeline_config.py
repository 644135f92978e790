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

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from tools._config_detect import (
    detect_format,
    is_config_artifact,
)
from tools._config_env import (
    _conda_entries,
    _python_env_entries,
    _requirements_entries,
)
from tools._config_hydra import (
    _Composer,
    _resolve_interpolations,
)
from tools._config_model import (
    _PIPELINE_DIR,
    _TOP_LEVEL_CONFIGS,
    CONFIG_FILE_FORMATS,
    DEPENDENCY_FORMATS,
    PIPELINE_FORMATS,
    RUN_DATASETS_SOURCE,
    RUN_PARAMS_SOURCE,
    SUPPORTED_FORMATS,
    ConfigData,
    ConfigFile,
    ConfigFormat,
    ConfigOrigin,
    ConfigProblem,
    ConfigScalar,
    ConfigValue,
    MissingIncludeError,
    PipelineConfig,
    PipelineConfigError,
    UnsupportedConfigFormatError,
    duration_days,
    key_matches,
    logger,
    numeric_value,
    value_text,
)
from tools._config_pipelines import (
    _dvc_entries,
    _kubeflow_entries,
    _mlproject_entries,
    _plain_entries,
)
from tools._config_tree import (
    _json_tree,
    _require_map,
    _yaml_tree,
)
from tools.evidence import DatasetInput, VersionEvidence
from tools.evidence_cache import ByteBoundedCache, content_key

__all__ = [
    "CONFIG_FILE_FORMATS",
    "DEPENDENCY_FORMATS",
    "PARSED_CONFIGS",
    "PARSED_CONFIGS_BYTES",
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

PARSED_CONFIGS_BYTES: Final = 8 * 1024 * 1024
PARSED_CONFIGS: ByteBoundedCache[tuple[tuple[ConfigValue, ...], tuple[str, ...]]] = (
    ByteBoundedCache(PARSED_CONFIGS_BYTES)
)
"""Parsed config files, by a digest of their text and of everything else they were parsed with
(format, path, evidence prefix, owner, a Hydra primary's group files). Every candidate compared
with the same champion parses the champion's configs again, and a review reads configs that did
not change since the last one. The text is always read afresh, so a replaced file is parsed
again; a file that fails to parse is not kept, so it reports its error each time. The values are
frozen models, shared by every caller."""

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
    # A Hydra primary composes its group files: they are part of what it was parsed from.
    tree = sorted((files or {}).items()) if fmt == "hydra" else []
    key = content_key(
        fmt,
        path,
        ref_prefix,
        origin,
        str(strict_includes),
        text,
        *(p for item in tree for p in item),
    )
    kept = PARSED_CONFIGS.get(key)
    if kept is None:
        values, includes = _parse_config_text(
            text, path, fmt, files, ref_prefix, origin, strict_includes
        )
        size = 1024 + 32 * (len(text) + sum(len(p) + len(t) for p, t in tree))
        PARSED_CONFIGS.put(key, (tuple(values), tuple(includes)), size)
        return values, includes
    return list(kept[0]), list(kept[1])


def _parse_config_text(
    text: str,
    path: str,
    fmt: ConfigFormat,
    files: Mapping[str, str] | None,
    ref_prefix: str,
    origin: ConfigOrigin,
    strict_includes: bool,
) -> tuple[list[ConfigValue], list[str]]:
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
    return _load_pipeline_config(evidence, qualify_refs)


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
