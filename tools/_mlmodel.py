"""What a model's `MLmodel` file says about how it is loaded: flavors, serialization formats,
skops trusted types and code that runs on load.

The serialization format is read from the flavor configuration, never guessed from file
extensions: a `model.skops` that the sklearn flavor declares as `cloudpickle` is loaded with
cloudpickle. Everything here comes from an untrusted file: the parser is a safe YAML loader with a
size cap and it records what it could not understand instead of guessing.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from tools.evidence_cache import ByteBoundedCache, content_key

__all__ = [
    "MLMODEL_FACTS_CACHE",
    "MLMODEL_MAX_BYTES",
    "FlavorFacts",
    "LoadCode",
    "MLmodelFacts",
    "MLmodelParseError",
    "parse_mlmodel",
]

MLMODEL_MAX_BYTES = 256 * 1024

# Where each flavor names its serialization format, and the format when it names none (the
# default of the MLflow versions that wrote such files).
_FORMAT_KEYS: dict[str, tuple[str, str | None]] = {
    "sklearn": ("serialization_format", "cloudpickle"),
    "pytorch": ("serialization_format", "pickle"),
    "xgboost": ("model_format", "xgb"),
    "lightgbm": ("model_format", None),
    "catboost": ("save_format", "cbm"),
    "onnx": ("", "onnx"),
    "statsmodels": ("", "pickle"),
    "spacy": ("", "spacy"),
    "keras": ("save_exported_model", "keras"),
    "tensorflow": ("", "savedmodel"),
    "transformers": ("", "safetensors"),
    "sentence_transformers": ("", "safetensors"),
    "prophet": ("", "json"),
}
# Loader modules MLflow ships: any other `loader_module` is code the model brings along.
_MLFLOW_LOADER_PREFIX = "mlflow."
# pyfunc keys whose files are unpickled on load.
_PYFUNC_PICKLES = ("python_model", "cloudpickle_version")


class MLmodelParseError(ValueError):
    """The MLmodel file is missing, too large, not YAML or not a mapping of flavors."""


class FlavorFacts(BaseModel):
    """One flavor of the model and how it deserializes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    serialization_format: str | None = Field(
        default=None,
        description="skops, cloudpickle, pickle, pt2, onnx, safetensors, ...; None when the "
        "flavor does not say and has no documented default.",
    )
    model_file: str | None = None
    skops_trusted_types: list[str] | None = None
    loader_module: str | None = None
    code: str | None = Field(default=None, description="The flavor's code_paths directory.")


class LoadCode(BaseModel):
    """Something that runs the model author's code when the model is loaded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = Field(description="code_paths | loader_module | python_model | model_code")
    flavor: str
    detail: str


class MLmodelFacts(BaseModel):
    """The load-relevant facts of one `MLmodel` file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    flavors: list[FlavorFacts] = Field(default_factory=list)
    mlflow_version: str | None = None
    load_code: list[LoadCode] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)

    def flavor(self, name: str) -> FlavorFacts | None:
        return next((f for f in self.flavors if f.name == name), None)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _format(name: str, conf: dict[str, Any], problems: list[str]) -> str | None:
    key, default = _FORMAT_KEYS.get(name, ("", None))
    if name == "keras":
        return "keras" if conf.get("save_exported_model") is not True else "savedmodel"
    if key and key in conf and conf[key] is not None:
        value = _str(conf[key])
        if value is None:
            problems.append(f"flavor {name!r}: {key} is {conf[key]!r}, not a string")
        return value.lower() if value is not None else None
    if name == "transformers" and conf.get("model_binary") is None:
        return None
    return default


def _trusted_types(name: str, conf: dict[str, Any], problems: list[str]) -> list[str] | None:
    raw = conf.get("skops_trusted_types")
    if raw is None:
        return None
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        problems.append(f"flavor {name!r}: skops_trusted_types is {raw!r}, not a list of names")
        return [str(t) for t in raw] if isinstance(raw, list) else [str(raw)]
    return list(raw)


def _safe_load(text: str) -> Any:
    """`yaml.safe_load`, parsed by libyaml when PyYAML has it (several times faster on the long
    signature strings MLflow writes); the objects are built by the same safe constructor."""
    if yaml.__with_libyaml__:
        try:
            return yaml.load(text, Loader=yaml.CSafeLoader)
        except yaml.YAMLError:
            # libyaml words errors differently (and rejects a few documents PyYAML reads): the
            # pure-Python loader decides, as it always did.
            pass
    return yaml.safe_load(text)


# What an MLmodel text says, under the SHA-256 of the text: the champion's is read again by every
# review that compares a candidate with it, and parsing YAML costs more than reading the file.
MLMODEL_FACTS_CACHE: ByteBoundedCache[MLmodelFacts] = ByteBoundedCache(1024 * 1024)


def parse_mlmodel(text: str) -> MLmodelFacts:
    """Parse an `MLmodel` file.

    Args:
        text: The file's content.

    Raises:
        MLmodelParseError: Too large, not YAML, or without a `flavors` mapping.
    """
    # A copy: the facts are frozen, but their lists are not.
    return MLMODEL_FACTS_CACHE.get_or_compute(
        content_key("mlmodel-facts", text), lambda: _parse(text), lambda _: 512 + 8 * len(text)
    ).model_copy(deep=True)


def _parse(text: str) -> MLmodelFacts:
    if len(text.encode()) > MLMODEL_MAX_BYTES:
        raise MLmodelParseError(f"MLmodel is larger than {MLMODEL_MAX_BYTES} bytes")
    try:
        doc = _safe_load(text)
    except yaml.YAMLError as exc:
        raise MLmodelParseError(f"MLmodel is not valid YAML: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("flavors"), dict):
        raise MLmodelParseError("MLmodel has no 'flavors' mapping")
    problems: list[str] = []
    flavors: list[FlavorFacts] = []
    load_code: list[LoadCode] = []
    for name, conf in sorted(doc["flavors"].items(), key=lambda kv: str(kv[0])):
        name = str(name)
        if not isinstance(conf, dict):
            problems.append(f"flavor {name!r} is {conf!r}, not a mapping")
            continue
        loader = _str(conf.get("loader_module"))
        code = _str(conf.get("code"))
        model_file = _str(
            conf.get("pickled_model") or conf.get("model_path") or conf.get("model_data")
        )
        if name == "python_function":
            # A custom pyfunc's python_model is a cloudpickle; other pyfuncs defer to a flavor.
            fmt = "cloudpickle" if conf.get("python_model") is not None else None
        else:
            fmt = _format(name, conf, problems)
        flavors.append(
            FlavorFacts(
                name=name,
                serialization_format=fmt,
                model_file=model_file,
                skops_trusted_types=_trusted_types(name, conf, problems),
                loader_module=loader,
                code=code,
            )
        )
        if code:
            load_code.append(LoadCode(kind="code_paths", flavor=name, detail=code))
        if loader and not loader.startswith(_MLFLOW_LOADER_PREFIX):
            load_code.append(LoadCode(kind="loader_module", flavor=name, detail=loader))
        if name == "python_function":
            if conf.get("python_model") is not None or (
                loader == "mlflow.pyfunc.model" and any(k in conf for k in _PYFUNC_PICKLES)
            ):
                detail = _str(conf.get("python_model")) or "python_model"
                load_code.append(LoadCode(kind="python_model", flavor=name, detail=detail))
            if conf.get("model_code_path") is not None:
                load_code.append(
                    LoadCode(
                        kind="model_code",
                        flavor=name,
                        detail=_str(conf.get("model_code_path")) or "model_code_path",
                    )
                )
    return MLmodelFacts(
        flavors=flavors,
        mlflow_version=_str(doc.get("mlflow_version")),
        load_code=load_code,
        problems=problems,
    )
