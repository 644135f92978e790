"""The `security:` section of a policy: what a model version's artifacts must be.

```yaml
security:
  formats: {allow: [skops, safetensors, onnx, pt2]}        # pickle/cloudpickle/joblib refused
  skops_trusted_types: [sklearn.tree._tree.Tree]           # MLmodel's list must be a subset
  load_code: {allow: []}                                   # code_paths, loader_module, ...
  pickles: {allowed_globals: ["sklearn.*", "numpy.*"], timeout_s: 300, memory_mb: 4096}
  requirements: {mlflow_version: ">=3.0,<4", deny: ["pickle5"]}
  signatures:
    signers:
      - {method: key, public_key: "-----BEGIN PUBLIC KEY-----..."}
```

Every check the section produces (ids `security.*`, listed in docs/policies.md) cannot be
overridden unless `overridable: true`: an approver's signature on an override does not make a
pickle that runs a command on load any safer.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tools.model_signature import SignerSpec
from tools.pickle_scan import ScanLimits

__all__ = [
    "DEFAULT_ALLOWED_FORMATS",
    "PICKLE_FORMATS",
    "LoadCodeKind",
    "LoadCodeRules",
    "PickleRules",
    "RequirementRules",
    "SecurityRules",
    "SerializationFormatRules",
    "SignatureRules",
]

#: Formats that store data without code: loading them executes nothing of the author's.
DEFAULT_ALLOWED_FORMATS: tuple[str, ...] = (
    "skops",
    "safetensors",
    "onnx",
    "pt2",
    "xgb",
    "json",
    "ubj",
    "cbm",
    "lgb",
    "txt",
    "keras",
    "savedmodel",
)
#: Formats that unpickle on load.
PICKLE_FORMATS: tuple[str, ...] = ("pickle", "cloudpickle", "joblib", "dill")

LoadCodeKind = Literal["code_paths", "loader_module", "python_model", "model_code"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _valid_specifier(value: str | None) -> str | None:
    if value is None:
        return None
    # The same spelling policies use for `match.semver`: clauses by commas or spaces.
    normalized = re.sub(r"(~=|===|==|!=|<=|>=|<|>)\s+", r"\1", value.strip())
    clauses = [c for c in re.split(r"[,\s]+", normalized) if c]
    try:
        return str(SpecifierSet(",".join(clauses)))
    except InvalidSpecifier as exc:
        raise ValueError(
            f"invalid version range {value!r}; use PEP 440 clauses such as '>=3.0,<4'"
        ) from exc


_GLOBAL = re.compile(r"^[A-Za-z_][\w]*(\.[\w*]+)*$|^\*$")


def _valid_globs(values: list[str]) -> list[str]:
    for value in values:
        if not _GLOBAL.match(value) or value in {"*", "builtins.*", "os.*", "posix.*"}:
            raise ValueError(
                f"allowed global {value!r} is not a dotted name or glob such as 'sklearn.*', "
                "or would allow everything"
            )
    return values


def _valid_requirements(values: list[str]) -> list[str]:
    for value in values:
        try:
            Requirement(value)
        except InvalidRequirement as exc:
            raise ValueError(f"deny entry {value!r} is not a PEP 508 requirement: {exc}") from exc
    return values


class SerializationFormatRules(_Spec):
    """Serialization formats allowed, as the flavors in `MLmodel` declare them."""

    allow: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_FORMATS),
        description="Allowed formats, e.g. skops, safetensors, onnx, pt2. Add pickle, "
        "cloudpickle or joblib only for models whose pickles the scanners clear.",
    )
    unknown: Literal["fail", "warn"] = Field(
        default="fail",
        description="A flavor whose format MLmodel does not state and promogate cannot infer.",
    )


class LoadCodeRules(_Spec):
    """Code the model brings along that runs when it is loaded."""

    allow: list[LoadCodeKind] = Field(
        default_factory=list,
        description="Kinds allowed: code_paths, loader_module (a loader outside mlflow.*), "
        "python_model (a pickled custom pyfunc), model_code (models from code).",
    )


class PickleRules(_Spec):
    """Scanning of every pickle stream (found by opcodes, also inside zip containers)."""

    allowed_globals: Annotated[list[str], AfterValidator(_valid_globs)] = Field(
        default_factory=list,
        description="Globs of globals the team's ML libraries pickle, e.g. 'sklearn.*', "
        "'numpy.*'. Clears only what a scanner flags as unknown, never a known-dangerous "
        "global, call or eval.",
    )
    timeout_s: float = Field(default=300.0, gt=0, le=3600)
    memory_mb: int = Field(default=4096, ge=256, le=65536)

    @property
    def limits(self) -> ScanLimits:
        return ScanLimits(timeout_s=self.timeout_s, memory_mb=self.memory_mb)


class RequirementRules(_Spec):
    """The Python environment the model declares."""

    required: bool = Field(default=True, description="No requirements file at all is an error.")
    pinned: bool = Field(default=True, description="Every package pinned to one version (==).")
    unpinned_allowed: list[str] = Field(
        default_factory=lambda: ["pip", "setuptools", "wheel"],
        description="Environment tools that may stay unpinned.",
    )
    allow_sources: list[Literal["url", "vcs", "path", "index"]] = Field(
        default_factory=list,
        description="Non-index sources allowed: direct URLs, VCS checkouts, local paths, "
        "pip index options.",
    )
    deny: Annotated[list[str], AfterValidator(_valid_requirements)] = Field(
        default_factory=list,
        description="PEP 508 requirements that are refused, e.g. 'pickle5' or 'torch<2.6'.",
    )
    mlflow_version: Annotated[str | None, AfterValidator(_valid_specifier)] = Field(
        default=None,
        description="PEP 440 range the MLflow version that saved the model must be in.",
    )


class SignatureRules(_Spec):
    """An OpenSSF model signature (`model.sig`) by one of the listed signers."""

    required: bool = True
    signers: list[SignerSpec] = Field(min_length=1)


class SecurityRules(_Spec):
    """The artifact itself as part of the decision."""

    overridable: bool = Field(
        default=False, description="Allow overrides of security.* checks (off by default)."
    )
    formats: SerializationFormatRules = Field(default_factory=SerializationFormatRules)
    skops_trusted_types: list[str] = Field(
        default_factory=list,
        description="Types the MLmodel's skops_trusted_types may list (GHSA-w582-9x45-8mpx).",
    )
    load_code: LoadCodeRules = Field(default_factory=LoadCodeRules)
    pickles: PickleRules = Field(default_factory=PickleRules)
    requirements: RequirementRules = Field(default_factory=RequirementRules)
    signatures: SignatureRules | None = None

    @model_validator(mode="after")
    def _formats_lowercase(self) -> Self:
        lowered = [f.lower() for f in self.formats.allow]
        if lowered != self.formats.allow:
            raise ValueError(f"formats.allow must be lower case, got {self.formats.allow!r}")
        return self
