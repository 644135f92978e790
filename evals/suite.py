"""Safety suites: a YAML header file next to a JSONL file of cases, validated on load.

A suite `<name>` is two files in one folder::

    <name>.yaml    the header (name, version, category, target kind, detector, thresholds, ...)
    <name>.jsonl   one case per line: {"id": ..., "prompt": ..., "context": ..., "expected": {...}}

The header may name its cases file with `cases: other.jsonl` (relative to the header). Every error
names the file and the line: header errors through the YAML node marks, case errors by JSONL line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evals.errors import SuiteError

__all__ = [
    "BUILTIN_SUITES_DIR",
    "DETECTOR_NAMES",
    "Case",
    "DetectorName",
    "Suite",
    "SuiteCategory",
    "SuiteHeader",
    "SuiteThresholds",
    "TargetKind",
    "builtin_suite_paths",
    "find_suite",
    "load_suite",
    "save_suite",
]

logger = logging.getLogger("promogate.evals")

SuiteCategory = Literal[
    "jailbreak",
    "prompt_injection",
    "indirect_prompt_injection",
    "pii_leakage",
    "system_prompt_leakage",
    "harmful_content",
    "over_refusal",
    "fairness",
    "robustness",
]
TargetKind = Literal["llm", "classifier"]
# Kept here rather than in detectors.py so the header can validate without an import cycle;
# detectors.py exposes the same names as DETECTORS.
DetectorName = Literal["refusal", "over_refusal", "pii", "canary", "injection_marker"]
DETECTOR_NAMES: tuple[str, ...] = get_args(DetectorName)

BUILTIN_SUITES_DIR = Path(__file__).resolve().parent / "suites"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SuiteThresholds(_Strict):
    """Limits a suite run must stay within; the policy may set stricter ones."""

    max_attack_success_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    max_failures: int | None = Field(default=None, ge=0)
    max_error_rate: float = Field(default=0.1, ge=0.0, le=1.0)


class SuiteHeader(_Strict):
    """The YAML header of a suite."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    version: str = Field(min_length=1)
    category: SuiteCategory
    target_kind: TargetKind
    detector: str = Field(min_length=1)
    description: str = ""
    system_prompt: str | None = None
    canaries: list[str] = Field(default_factory=list)
    thresholds: SuiteThresholds = Field(default_factory=SuiteThresholds)
    cases: str | None = None
    """Cases file relative to the header; `<name>.jsonl` beside the header when absent."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Target-kind specific settings (e.g. a classifier suite's dataset and segment columns)."""

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        # `version: 1` and `version: 1.0` are common in hand-written YAML.
        return (
            str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value
        )

    @field_validator("canaries")
    @classmethod
    def _canaries_non_empty(cls, value: list[str]) -> list[str]:
        for canary in value:
            if len(canary.strip()) < 4:
                raise ValueError(f"canary {canary!r} is too short to detect reliably (min 4 chars)")
        return value

    @model_validator(mode="after")
    def _detector_known(self) -> SuiteHeader:
        # Classifier suites are scored by the runner's own metrics, not by a text detector.
        if self.target_kind == "llm" and self.detector not in DETECTOR_NAMES:
            raise ValueError(
                f"unknown detector {self.detector!r}; expected one of {', '.join(DETECTOR_NAMES)}"
            )
        if self.detector == "canary" and not self.canaries:
            raise ValueError("detector 'canary' needs at least one entry in 'canaries'")
        if self.canaries and self.system_prompt is not None:
            missing = [c for c in self.canaries if c not in self.system_prompt]
            if missing:
                raise ValueError(f"canaries {missing!r} do not occur in system_prompt")
        return self


class Case(_Strict):
    """One attack or probe."""

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    context: str | None = None
    """Retrieved content given to the target beside the prompt; indirect injections sit here."""
    expected: dict[str, Any] = Field(default_factory=dict)
    tags: list[str] = Field(default_factory=list)


class Suite(BaseModel):
    """A loaded suite: its header, its cases and the header file it came from."""

    model_config = ConfigDict(extra="forbid")

    header: SuiteHeader
    cases: list[Case]
    path: str


# --- loading -------------------------------------------------------------------------------


def _node_for(root: yaml.Node, loc: tuple[int | str, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (the parent when a key is missing)."""
    node = root
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(part):
                    node = value_node
                    break
            else:
                return node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if 0 <= part < len(node.value):
                node = node.value[part]
            else:
                return node
        else:
            return node
    return node


def _check_duplicate_keys(node: yaml.Node, path: Path) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                line = key_node.start_mark.line + 1
                if key_node.value in seen:
                    raise SuiteError(
                        f"duplicate key {key_node.value!r} (first on line {seen[key_node.value]})",
                        path=path,
                        line=line,
                    )
                seen[key_node.value] = line
            _check_duplicate_keys(value_node, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, path)


def _format_error(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = str(err["msg"])
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    if err["type"] == "missing":
        return f"missing field {loc!r}"
    value = err.get("input")
    if loc:
        return f"{loc}: {msg} (got {value!r})" if value is not None else f"{loc}: {msg}"
    return msg


def _load_header(path: Path) -> SuiteHeader:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError("suite header file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read suite header: {exc}", path=path) from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SuiteError(f"invalid YAML: {exc.problem or exc}", path=path, line=line) from exc
    except yaml.YAMLError as exc:
        raise SuiteError(f"invalid YAML: {exc}", path=path) from exc
    if root is None or not isinstance(root, yaml.MappingNode):
        line = root.start_mark.line + 1 if root is not None else 1
        raise SuiteError("a suite header must be a YAML mapping", path=path, line=line)
    _check_duplicate_keys(root, path)
    data = yaml.safe_load(text)
    try:
        return SuiteHeader.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        node = _node_for(root, tuple(first["loc"]))
        more = f" (and {exc.error_count() - 1} more errors)" if exc.error_count() > 1 else ""
        raise SuiteError(
            _format_error(first) + more, path=path, line=node.start_mark.line + 1
        ) from exc


def _load_cases(path: Path) -> list[tuple[int, Case]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise SuiteError("cases file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"cannot read cases file: {exc}", path=path) from exc
    cases: list[tuple[int, Case]] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SuiteError(
                f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=number
            ) from exc
        if not isinstance(data, dict):
            raise SuiteError(
                f"a case must be a JSON object, got {type(data).__name__}", path=path, line=number
            )
        try:
            case = Case.model_validate(data)
        except ValidationError as exc:
            raise SuiteError(_format_error(exc.errors()[0]), path=path, line=number) from exc
        if case.id in first_line:
            raise SuiteError(
                f"duplicate case id {case.id!r} (first on line {first_line[case.id]})",
                path=path,
                line=number,
            )
        first_line[case.id] = number
        cases.append((number, case))
    return cases


def _header_path(path: Path) -> Path:
    if path.suffix in {".yaml", ".yml"}:
        return path
    for suffix in (".yaml", ".yml"):
        candidate = path.with_suffix(suffix)
        if candidate.is_file():
            return candidate
    raise SuiteError("no suite header (.yaml) found for this path", path=path)


def load_suite(path: Path) -> Suite:
    """Load and validate a suite from its YAML header (or its JSONL cases file).

    Args:
        path: The `<name>.yaml` header, or the `<name>.jsonl` cases file beside it.

    Returns:
        The suite with all its cases.

    Raises:
        SuiteError: A file is missing or does not validate; the message names file and line.
    """
    header_path = _header_path(Path(path))
    header = _load_header(header_path)
    if header.cases is not None:
        cases_path = header_path.parent / header.cases
        numbered = _load_cases(cases_path)
    else:
        cases_path = header_path.with_suffix(".jsonl")
        if cases_path.is_file():
            numbered = _load_cases(cases_path)
        elif header.target_kind == "classifier":
            # Classifier suites score an evaluation dataset; their cases are optional.
            numbered = []
        else:
            raise SuiteError(f"cases file {cases_path.name!r} not found", path=header_path)
    if header.target_kind == "llm" and not numbered:
        raise SuiteError("an llm suite needs at least one case", path=cases_path)
    _check_case_expectations(header, numbered, cases_path)
    cases = [case for _, case in numbered]
    logger.debug("loaded suite %s (%d cases) from %s", header.name, len(cases), header_path)
    return Suite(header=header, cases=cases, path=str(header_path))


def _check_case_expectations(
    header: SuiteHeader, numbered: list[tuple[int, Case]], cases_path: Path
) -> None:
    """Cases a detector cannot score are errors on load, not silent passes at run time."""
    if header.detector != "injection_marker":
        return
    for number, case in numbered:
        markers = case.expected.get("marker", case.expected.get("markers"))
        ok = (isinstance(markers, str) and bool(markers.strip())) or (
            isinstance(markers, list)
            and bool(markers)
            and all(isinstance(m, str) and m.strip() for m in markers)
        )
        if not ok:
            raise SuiteError(
                f"case {case.id!r}: detector 'injection_marker' needs expected.marker "
                f"(a string or a list of strings), got {markers!r}",
                path=cases_path,
                line=number,
            )


def builtin_suite_paths() -> dict[str, Path]:
    """The suites shipped with promogate, by name (the header file's stem)."""
    return {p.stem: p for p in sorted(BUILTIN_SUITES_DIR.glob("*.yaml"))}


def find_suite(name_or_path: str) -> Suite:
    """Load a built-in suite by name, or a suite from a path.

    Args:
        name_or_path: A built-in suite name (see `promogate eval list`) or a path to a suite's
            `.yaml` header or `.jsonl` cases file.

    Raises:
        SuiteError: No such suite, or it does not validate.
    """
    builtins = builtin_suite_paths()
    if name_or_path in builtins:
        return load_suite(builtins[name_or_path])
    path = Path(name_or_path)
    if path.suffix in {".yaml", ".yml", ".jsonl"} or path.exists():
        return load_suite(path)
    raise SuiteError(
        f"no built-in suite or suite file named {name_or_path!r}; "
        f"built-in suites: {', '.join(builtins) or '(none)'}"
    )


def save_suite(suite: Suite, directory: Path, *, name: str | None = None) -> Path:
    """Write a suite as `<name>.yaml` + `<name>.jsonl` in a folder and return the header path.

    Args:
        suite: The suite to write.
        directory: The folder (created if needed).
        name: File stem; the header's name when omitted.
    """
    stem = name or suite.header.name
    directory.mkdir(parents=True, exist_ok=True)
    header_path = directory / f"{stem}.yaml"
    cases_path = directory / f"{stem}.jsonl"
    header = suite.header.model_dump(mode="json", exclude_defaults=True)
    header.pop("cases", None)
    # Thresholds are always written so a reader sees the limits the suite ships with.
    header["thresholds"] = suite.header.thresholds.model_dump(mode="json")
    header_path.write_text(
        yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=100), encoding="utf-8"
    )
    with cases_path.open("w", encoding="utf-8") as fh:
        for case in suite.cases:
            fh.write(json.dumps(case.model_dump(mode="json", exclude_defaults=True)) + "\n")
    return header_path
