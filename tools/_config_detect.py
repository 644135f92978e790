"""Which format a config file is in, from its name and content."""

from __future__ import annotations

import json
import posixpath
import re

from tools._config_model import (
    _ENV_FILES,
    _IGNORED_NAMES,
    _PIPELINE_DIR,
    _TOP_LEVEL_CONFIGS,
    ConfigFormat,
    UnsupportedConfigFormatError,
)
from tools.evidence import ArtifactFile

__all__ = ["detect_format", "is_config_artifact"]

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
    if artifact.owner == "logged_model":
        return name in _ENV_FILES
    if artifact.path.startswith(_PIPELINE_DIR):
        return name not in _IGNORED_NAMES
    return artifact.path in _TOP_LEVEL_CONFIGS
