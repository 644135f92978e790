"""The Python requirements a logged model declares: `requirements.txt`, `python_env.yaml` and
`conda.yaml`, parsed line by line without installing or resolving anything.

Each entry records where it came from and what kind of requirement it is: a named package (with
the version it pins exactly, if it does), a URL, a VCS checkout, a local path, or a pip option
that changes where packages come from (`--index-url`, `--find-links`, ...). Policies decide which
of these are acceptable; this module only reads.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Any, Literal

import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "REQUIREMENT_FILES",
    "RequirementEntry",
    "RequirementKind",
    "parse_conda_yaml",
    "parse_python_env",
    "parse_requirements_txt",
    "read_model_requirements",
]

REQUIREMENT_FILES: tuple[str, ...] = ("requirements.txt", "python_env.yaml", "conda.yaml")
RequirementKind = Literal["package", "url", "vcs", "path", "index", "invalid"]

_VCS = re.compile(r"^(git|hg|svn|bzr)\+", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_INDEX_OPTIONS = ("--index-url", "-i", "--extra-index-url", "--find-links", "-f", "--trusted-host")
_INCLUDE_OPTIONS = ("-r", "--requirement", "-c", "--constraint")
_MAX_INCLUDE_DEPTH = 3
_CONDA_SPEC = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(?:\s*(?P<op>==|=|>=|<=|>|<|!=)\s*(?P<ver>\S+))?$"
)


class RequirementEntry(BaseModel):
    """One requirement line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="The file (and conda section) the line came from.")
    line: int
    text: str
    kind: RequirementKind
    name: str | None = Field(default=None, description="Canonical package name.")
    specifier: str = ""
    pinned: str | None = Field(
        default=None, description="The single version the line allows (`==1.2.3`), else None."
    )
    tool: bool = Field(
        default=False,
        description="An environment tool (python, pip, setuptools, wheel) from conda.yaml or "
        "python_env.yaml's build dependencies.",
    )
    problem: str | None = None


def _pinned(req: Requirement) -> str | None:
    specs = list(req.specifier)
    if len(specs) != 1:
        return None
    spec = specs[0]
    if spec.operator in {"==", "==="} and "*" not in spec.version:
        return spec.version
    return None


def _strip_comment(line: str) -> str:
    # pip treats " #" (whitespace then hash) as a comment; a '#' inside a URL fragment is not one.
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0].strip()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending += raw[:-1] + " "
            continue
        lines.append((start, pending + raw))
        pending = ""
    if pending:
        lines.append((start, pending))
    return lines


def _entry(source: str, number: int, text: str, *, tool: bool = False) -> RequirementEntry:
    base: dict[str, Any] = {"source": source, "line": number, "text": text, "tool": tool}
    if text.startswith(("-e ", "--editable")):
        target = text.split(None, 1)[1] if " " in text else text.partition("=")[2]
        kind: RequirementKind = "vcs" if _VCS.match(target) else "path"
        if _URL.match(target) and not _VCS.match(target):
            kind = "url"
        return RequirementEntry(kind=kind, problem="editable install", **base)
    if text.startswith(_INDEX_OPTIONS):
        return RequirementEntry(kind="index", **base)
    if text.startswith("-"):
        return RequirementEntry(kind="invalid", problem=f"unsupported pip option {text!r}", **base)
    if _VCS.match(text):
        return RequirementEntry(kind="vcs", **base)
    if _URL.match(text):
        return RequirementEntry(kind="url", **base)
    try:
        req = Requirement(text)
    except InvalidRequirement as exc:
        if text.startswith((".", "/", "~")) or text.endswith((".whl", ".tar.gz", ".zip")):
            return RequirementEntry(kind="path", **base)
        return RequirementEntry(kind="invalid", problem=str(exc), **base)
    name = canonicalize_name(req.name)
    if req.url:
        kind = "vcs" if _VCS.match(req.url) else "path" if req.url.startswith("file:") else "url"
        return RequirementEntry(kind=kind, name=name, **base)
    return RequirementEntry(
        kind="package", name=name, specifier=str(req.specifier), pinned=_pinned(req), **base
    )


def parse_requirements_txt(
    text: str, source: str, files: dict[str, str] | None = None, depth: int = 0
) -> list[RequirementEntry]:
    """Parse a pip requirements file; `-r`/`-c` includes are read from `files` when present.

    Args:
        text: The file's content.
        source: Its path relative to the model root.
        files: Other text files of the model (path -> content), for includes.
        depth: Include depth (includes deeper than 3 are an error entry).
    """
    entries: list[RequirementEntry] = []
    for number, raw in _logical_lines(text):
        line = _strip_comment(raw)
        if not line:
            continue
        option, _, rest = line.partition(" ")
        if option in _INCLUDE_OPTIONS or line.startswith(("--requirement=", "--constraint=")):
            target = rest.strip() or line.partition("=")[2].strip()
            path = str(PurePosixPath(source).parent / target)
            path = path[2:] if path.startswith("./") else path
            included = (files or {}).get(path)
            if included is None or depth >= _MAX_INCLUDE_DEPTH:
                entries.append(
                    RequirementEntry(
                        source=source,
                        line=number,
                        text=line,
                        kind="invalid",
                        problem=f"included file {target!r} is not among the model's files",
                    )
                )
            else:
                entries += parse_requirements_txt(included, path, files, depth + 1)
            continue
        entries.append(_entry(source, number, line))
    return entries


def _yaml(text: str, source: str) -> tuple[Any, RequirementEntry | None]:
    try:
        return yaml.safe_load(text), None
    except yaml.YAMLError as exc:
        return None, RequirementEntry(
            source=source, line=0, text="", kind="invalid", problem=f"not valid YAML: {exc}"
        )


def parse_python_env(text: str, files: dict[str, str]) -> list[RequirementEntry]:
    """Parse MLflow's `python_env.yaml`: build dependencies (tools) and dependencies."""
    source = "python_env.yaml"
    doc, error = _yaml(text, source)
    if error is not None:
        return [error]
    if not isinstance(doc, dict):
        return [RequirementEntry(source=source, line=0, text="", kind="invalid", problem="empty")]
    entries: list[RequirementEntry] = []
    for key, tool in (("build_dependencies", True), ("dependencies", False)):
        for index, item in enumerate(doc.get(key) or []):
            line = _strip_comment(str(item))
            if line.split(" ")[0] in _INCLUDE_OPTIONS:
                entries += parse_requirements_txt(line, source, files)
                continue
            entry = _entry(f"{source}:{key}", index + 1, line, tool=tool)
            entries.append(entry)
    return entries


def parse_conda_yaml(text: str, files: dict[str, str]) -> list[RequirementEntry]:
    """Parse a conda environment: conda packages (`name=version`) and the `pip:` section."""
    source = "conda.yaml"
    doc, error = _yaml(text, source)
    if error is not None:
        return [error]
    if not isinstance(doc, dict):
        return [RequirementEntry(source=source, line=0, text="", kind="invalid", problem="empty")]
    entries: list[RequirementEntry] = []
    for index, item in enumerate(doc.get("dependencies") or []):
        if isinstance(item, dict):
            for pip_index, pip_item in enumerate(item.get("pip") or []):
                line = _strip_comment(str(pip_item))
                if line.split(" ")[0] in _INCLUDE_OPTIONS:
                    entries += parse_requirements_txt(line, source, files)
                else:
                    entries.append(_entry(f"{source}:pip", pip_index + 1, line))
            continue
        text_item = str(item).strip()
        match = _CONDA_SPEC.match(text_item)
        name = match["name"].split("::")[-1] if match else None
        is_tool = name in {"python", "pip", "setuptools", "wheel"}
        if match is None:
            entries.append(
                RequirementEntry(
                    source=f"{source}:conda",
                    line=index + 1,
                    text=text_item,
                    kind="invalid",
                    problem="not a conda package spec",
                )
            )
            continue
        op, version = match["op"], match["ver"]
        pinned = version if op in {"=", "=="} and version and "*" not in version else None
        entries.append(
            RequirementEntry(
                source=f"{source}:conda",
                line=index + 1,
                text=text_item,
                kind="package",
                name=canonicalize_name(str(name)),
                specifier=f"{op}{version}" if op else "",
                pinned=pinned,
                tool=is_tool,
            )
        )
    return entries


def read_model_requirements(files: dict[str, str]) -> list[RequirementEntry]:
    """Every requirement the model's environment files declare.

    Args:
        files: The model's text files by relative path (at least the ones present of
            `requirements.txt`, `python_env.yaml`, `conda.yaml`).
    """
    entries: list[RequirementEntry] = []
    if "requirements.txt" in files:
        entries += parse_requirements_txt(files["requirements.txt"], "requirements.txt", files)
    if "python_env.yaml" in files:
        entries += [
            e
            for e in parse_python_env(files["python_env.yaml"], files)
            # python_env.yaml usually just includes requirements.txt: do not list it twice.
            if not (e.source == "requirements.txt" and "requirements.txt" in files)
        ]
    if "conda.yaml" in files:
        entries += [
            e
            for e in parse_conda_yaml(files["conda.yaml"], files)
            if not (e.source == "requirements.txt" and "requirements.txt" in files)
        ]
    return entries
