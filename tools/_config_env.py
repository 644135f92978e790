"""Environment formats: requirements.txt, conda.yaml and python_env.yaml, normalised into
``dependencies.*`` entries."""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from tools._config_model import (
    PipelineConfigError,
)
from tools._config_tree import (
    _child,
    _Entry,
    _Flat,
    _flatten_into,
    _key_text,
    _Leaf,
    _Map,
    _require_map,
    _Seq,
    _Tree,
)

__all__ = []


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
