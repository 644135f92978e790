"""Load policy documents from YAML files, with errors that name file, line and column.

A file may hold several documents (`---`). Every policy is recorded with the SHA-256 of its file's
bytes, so a decision can prove which policy text it applied.

A service reads its policy directory again for every review, so that a revised policy applies to
the next one. The files are read every time; what their parsing and validation produced is kept
under the SHA-256 of the bytes just read and their path (`PARSED_POLICIES`), so a changed file,
even one rewritten with the same size within the clock's granularity, is parsed again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from policies.errors import (
    DuplicatePolicyError,
    PolicyDirectoryError,
    PolicyFileError,
    PolicyIssue,
    PolicySyntaxError,
    PolicyValidationError,
)
from policies.evidence_mapping import SHARED_MAPPING_FILE, SharedEvidenceMapping
from policies.result import PolicyRef
from policies.schema import Policy
from tools.evidence_cache import ByteBoundedCache
from tools.evidence_mapping import EvidenceMapping

__all__ = [
    "PARSED_POLICIES",
    "PARSED_POLICIES_BYTES",
    "LoadedPolicy",
    "YamlDocument",
    "load_policy_dir",
    "load_policy_file",
    "load_policy_text",
    "load_shared_mapping",
    "node_at",
    "read_yaml_documents",
    "validation_issues",
    "with_shared_mapping",
]

logger = logging.getLogger("promogate.policies")

_SUFFIXES = (".yaml", ".yml")
PARSED_POLICIES_BYTES = 4 * 1024 * 1024
# Policy tests may live beside the policies they test; they are not policies.
_TEST_SUFFIXES = (".test.yaml", ".test.yml")


class LoadedPolicy(BaseModel):
    """A validated policy and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    policy: Policy
    path: str
    sha256: str
    ref: PolicyRef
    document: int = 0
    line: int = 1

    @property
    def name(self) -> str:
        return self.policy.metadata.name


@dataclass(frozen=True)
class YamlDocument:
    """One YAML document: its node tree (for line numbers) and its plain data."""

    index: int
    node: yaml.Node
    data: Any


def _mark_issue(source: str, message: str, mark: Any) -> PolicyIssue:
    if mark is None:
        return PolicyIssue(path=source, message=message)
    return PolicyIssue(path=source, line=mark.line + 1, column=mark.column + 1, message=message)


def _check_duplicate_keys(source: str, node: yaml.Node) -> None:
    """PyYAML keeps the last of two equal keys; in a policy that silently drops a rule."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            seen: dict[str, yaml.Node] = {}
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    if key.value in seen:
                        first = seen[key.value].start_mark.line + 1
                        raise PolicySyntaxError(
                            [
                                _mark_issue(
                                    source,
                                    f"duplicate key {key.value!r} (first defined on line {first})",
                                    key.start_mark,
                                )
                            ]
                        )
                    seen[key.value] = key
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)


def _compose_all(text: str) -> list[yaml.Node]:
    """The node trees of every document, composed by libyaml when PyYAML has it.

    libyaml composes the same nodes several times faster (the same resolver tags them; their
    marks carry the same lines and columns). It words errors differently and rejects a few
    documents PyYAML reads, so on any error the pure-Python composer decides, as it always did.
    """
    if yaml.__with_libyaml__:
        try:
            return list(yaml.compose_all(text, Loader=yaml.CSafeLoader))
        except yaml.YAMLError:
            pass
    return list(yaml.compose_all(text, Loader=yaml.SafeLoader))


def read_yaml_documents(text: str | bytes, source: str) -> list[YamlDocument]:
    """Parse every non-empty document of a YAML text, keeping node marks for error locations.

    Args:
        text: The YAML text (bytes must be UTF-8).
        source: The file name used in error messages.

    Raises:
        PolicySyntaxError: The text is not UTF-8, not well-formed YAML, or repeats a key.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PolicySyntaxError(
                [
                    PolicyIssue(
                        path=source, message=f"not UTF-8 text: {exc.reason} at byte {exc.start}"
                    )
                ]
            ) from exc
    try:
        nodes = _compose_all(text)
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or "malformed YAML"
        context = f" ({exc.context})" if exc.context else ""
        raise PolicySyntaxError(
            [_mark_issue(source, f"malformed YAML: {problem}{context}", exc.problem_mark)]
        ) from exc
    except yaml.YAMLError as exc:
        raise PolicySyntaxError(
            [PolicyIssue(path=source, message=f"malformed YAML: {exc}")]
        ) from exc
    documents: list[YamlDocument] = []
    for index, node in enumerate(nodes):
        if node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null")):
            continue
        _check_duplicate_keys(source, node)
        loader = yaml.SafeLoader("")
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise PolicySyntaxError(
                [_mark_issue(source, f"malformed YAML: {exc.problem}", exc.problem_mark)]
            ) from exc
        finally:
            loader.dispose()
        documents.append(YamlDocument(index=index, node=node, data=data))
    return documents


def node_at(root: yaml.Node, loc: Sequence[int | str], *, key: bool = False) -> yaml.Node:
    """The deepest node along a pydantic error location; `key` selects a mapping key's node.

    Location parts that are not in the document (union branch names, a list index where a single
    mapping was given, a missing field) are skipped, so the result is the closest existing node.

    Args:
        root: The document's root node.
        loc: A pydantic error's `loc`.
        key: Return the key node of the last part (for unknown fields) instead of its value.
    """
    node = root
    last = len(loc) - 1
    for i, part in enumerate(loc):
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for key_node, value_node in node.value:
                if isinstance(key_node, yaml.ScalarNode) and key_node.value == part:
                    node = key_node if key and i == last else value_node
                    break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
    return node


def _loc_text(loc: Sequence[int | str]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def validation_issues(source: str, root: yaml.Node, exc: ValidationError) -> list[PolicyIssue]:
    """One located issue per pydantic error, ordered by line.

    Args:
        source: The file name used in messages.
        root: The document's root node.
        exc: The pydantic error raised when validating the document's data.
    """
    issues: list[PolicyIssue] = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        kind = error["type"]
        node = node_at(root, loc, key=kind == "extra_forbidden")
        message = error["msg"].removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = f"unknown field {loc[-1]!r}" if loc else "unknown field"
        elif kind == "missing":
            message = f"missing required field {loc[-1]!r}" if loc else "missing required field"
        elif kind not in ("value_error", "assertion_error") and not isinstance(
            error.get("input"), dict | list
        ):
            message += f" (got {_short(error.get('input'))})"
        field = _loc_text([p for p in loc if not isinstance(p, str) or "[" not in p]) or None
        issues.append(
            PolicyIssue(
                path=source,
                line=node.start_mark.line + 1,
                column=node.start_mark.column + 1,
                field=field,
                message=message,
            )
        )
    return sorted(issues, key=lambda i: (i.line or 0, i.column or 0))


# Parsed policy texts and shared mappings, by the SHA-256 of their bytes and their source. Only
# valid texts are kept (an invalid one is parsed again to report its errors). Values are frozen
# models shared by every caller, as a service given a fixed policy set shares its policies.
PARSED_POLICIES: ByteBoundedCache[tuple[LoadedPolicy, ...] | EvidenceMapping] = ByteBoundedCache(
    PARSED_POLICIES_BYTES
)


def _parsed_size(raw: bytes) -> int:
    # A parsed policy's models take a few dozen times the bytes of its YAML text.
    return 1024 + 64 * len(raw)


def load_policy_text(text: str | bytes, source: str) -> list[LoadedPolicy]:
    """Validate every policy document of a YAML text (kept under its bytes and `source`).

    Args:
        text: The YAML text (one or more documents).
        source: Where the text came from (a path); recorded in each policy and in error messages.

    Raises:
        PolicySyntaxError: Malformed YAML.
        PolicyValidationError: A document does not match the schema, or there is no document.
        DuplicatePolicyError: Two documents in the text share a name.
    """
    raw = text.encode("utf-8") if isinstance(text, str) else text
    sha256 = hashlib.sha256(raw).hexdigest()
    key = ("policy", source, sha256)
    kept = PARSED_POLICIES.get(key)
    if isinstance(kept, tuple):
        return list(kept)
    loaded = _parse_policy_text(raw, source, sha256)
    PARSED_POLICIES.put(key, tuple(loaded), _parsed_size(raw))
    return loaded


def _parse_policy_text(raw: bytes, source: str, sha256: str) -> list[LoadedPolicy]:
    documents = read_yaml_documents(raw, source)
    if not documents:
        raise PolicyValidationError(
            [PolicyIssue(path=source, line=1, message="no policy document in this file")]
        )
    loaded: list[LoadedPolicy] = []
    issues: list[PolicyIssue] = []
    for doc in documents:
        line = doc.node.start_mark.line + 1
        if not isinstance(doc.data, dict):
            issues.append(
                PolicyIssue(
                    path=source,
                    line=line,
                    column=doc.node.start_mark.column + 1,
                    message="a policy document must be a mapping with apiVersion, kind, "
                    f"metadata and match; got {type(doc.data).__name__}",
                )
            )
            continue
        try:
            policy = Policy.model_validate(doc.data)
        except ValidationError as exc:
            issues.extend(validation_issues(source, doc.node, exc))
            continue
        ref = PolicyRef(
            name=policy.metadata.name,
            revision=policy.metadata.revision,
            sha256=sha256,
            path=source,
        )
        loaded.append(
            LoadedPolicy(
                policy=policy, path=source, sha256=sha256, ref=ref, document=doc.index, line=line
            )
        )
    if issues:
        raise PolicyValidationError(issues)
    _check_unique_names(loaded)
    return loaded


def load_policy_file(path: str | Path) -> list[LoadedPolicy]:
    """Load and validate every policy document in one YAML file.

    Args:
        path: The YAML file.

    Raises:
        PolicyDirectoryError: The file does not exist or cannot be read.
        PolicyFileError: The file is malformed or invalid (the message names file and line).
    """
    file = Path(path)
    try:
        raw = file.read_bytes()
    except FileNotFoundError as exc:
        raise PolicyDirectoryError(str(file), "policy file does not exist") from exc
    except OSError as exc:
        raise PolicyDirectoryError(str(file), f"cannot read policy file: {exc.strerror}") from exc
    return load_policy_text(raw, str(file))


def _policy_files(directory: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p
        for p in directory.glob(pattern)
        if p.is_file()
        and p.name.endswith(_SUFFIXES)
        and not p.name.endswith(_TEST_SUFFIXES)
        and p.name != SHARED_MAPPING_FILE
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)
    )


def load_policy_dir(path: str | Path, *, recursive: bool = False) -> list[LoadedPolicy]:
    """Load every policy in a directory of YAML files (`*.yaml`, `*.yml`), sorted by path.

    Files named `*.test.yaml` (policy tests) and hidden files are ignored. A file path is also
    accepted and loaded on its own.

    Args:
        path: The policy directory (or a single policy file).
        recursive: Also load policies from subdirectories.

    Raises:
        PolicyDirectoryError: The directory is missing or holds no policy files.
        PolicyFileError: A file is malformed or invalid; every invalid file is reported.
        DuplicatePolicyError: Two policies share a name.
    """
    directory = Path(path)
    if directory.is_file():
        return load_policy_file(directory)
    if not directory.exists():
        raise PolicyDirectoryError(str(directory), "policy directory does not exist")
    if not directory.is_dir():
        raise PolicyDirectoryError(str(directory), "not a directory")
    files = _policy_files(directory, recursive)
    if not files:
        raise PolicyDirectoryError(
            str(directory), "no policy files (*.yaml, *.yml) in this directory"
        )
    loaded: list[LoadedPolicy] = []
    errors: list[PolicyFileError] = []
    for file in files:
        try:
            loaded.extend(load_policy_file(file))
        except PolicyFileError as exc:
            errors.append(exc)
    if errors:
        # Report every broken file at once; the class of the first error says what kind it is.
        raise type(errors[0])([issue for err in errors for issue in err.issues])
    loaded = with_shared_mapping(loaded, load_shared_mapping(directory))
    _check_unique_names(loaded)
    logger.info("loaded %d policies from %s", len(loaded), directory)
    return loaded


def load_shared_mapping(directory: Path) -> EvidenceMapping | None:
    """The directory's shared mapping, or None when it has no ``evidence.yaml``.

    Raises:
        PolicySyntaxError: The file is not YAML.
        PolicyValidationError: The file does not match the schema (file and line named).
    """
    path = directory / SHARED_MAPPING_FILE
    if not path.is_file():
        return None
    raw = path.read_bytes()
    key = ("mapping", str(path), hashlib.sha256(raw).hexdigest())
    kept = PARSED_POLICIES.get(key)
    if isinstance(kept, EvidenceMapping):
        return kept
    mapping = _parse_shared_mapping(raw, path)
    PARSED_POLICIES.put(key, mapping, _parsed_size(raw))
    return mapping


def _parse_shared_mapping(raw: bytes, path: Path) -> EvidenceMapping:
    documents = read_yaml_documents(raw, str(path))
    if len(documents) != 1 or not isinstance(documents[0].data, dict):
        raise PolicySyntaxError(
            [
                PolicyIssue(
                    path=str(path),
                    line=1,
                    message="expected one mapping document (apiVersion: promogate/v1, "
                    "kind: EvidenceMapping)",
                )
            ]
        )
    try:
        shared = SharedEvidenceMapping.model_validate(documents[0].data)
    except ValidationError as exc:
        raise PolicyValidationError(validation_issues(str(path), documents[0].node, exc)) from None
    return shared.mapping()


def with_shared_mapping(
    policies: list[LoadedPolicy], shared: EvidenceMapping | None
) -> list[LoadedPolicy]:
    """The policies with the unset fields of their evidence mapping taken from `shared`."""
    if shared is None:
        return policies
    return [
        lp.model_copy(
            update={
                "policy": lp.policy.model_copy(update={"evidence": lp.policy.evidence.over(shared)})
            }
        )
        for lp in policies
    ]


def _check_unique_names(policies: list[LoadedPolicy]) -> None:
    first: dict[str, LoadedPolicy] = {}
    for lp in policies:
        other = first.get(lp.name)
        if other is not None:
            raise DuplicatePolicyError(
                [
                    PolicyIssue(
                        path=lp.path,
                        line=lp.line,
                        column=1,
                        field="metadata.name",
                        message=f"duplicate policy name {lp.name!r}; "
                        f"also defined at {other.path}:{other.line}",
                    )
                ]
            )
        first[lp.name] = lp
