"""The evidence mapping policies carry, and the one a policy directory shares.

A policy's ``evidence:`` block holds both what evidence is required (``require``) and where this
team logs it (the fields of `tools.evidence_mapping.EvidenceMapping`). A directory may hold one
``evidence.yaml`` that every policy in it inherits; a policy's own fields win::

    apiVersion: promogate/v1
    kind: EvidenceMapping
    table: {paths: ["reports/*.csv"], columns: {label: target, score: proba}}
    segment_keys: ["{metric}_{column}_{value}"]
"""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field, ValidationError

from policies.errors import PolicyIssue, PolicySyntaxError, PolicyValidationError
from tools.evidence_mapping import EvidenceMapping, merge_mappings

if TYPE_CHECKING:
    from policies.loader import LoadedPolicy

__all__ = [
    "SHARED_MAPPING_FILE",
    "SharedEvidenceMapping",
    "applicable_mapping",
    "load_shared_mapping",
    "metric_names_for",
]

SHARED_MAPPING_FILE = "evidence.yaml"


class SharedEvidenceMapping(EvidenceMapping):
    """The ``evidence.yaml`` of a policy directory: a mapping every policy in it inherits."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)

    api_version: Literal["promogate/v1"] = Field(alias="apiVersion")
    kind: Literal["EvidenceMapping"]

    def mapping(self) -> EvidenceMapping:
        return EvidenceMapping.model_validate(
            self.model_dump(exclude={"api_version", "kind"}, exclude_defaults=True)
        )


def load_shared_mapping(directory: Path) -> EvidenceMapping | None:
    """The directory's shared mapping, or None when it has no ``evidence.yaml``.

    Raises:
        PolicySyntaxError: The file is not YAML.
        PolicyValidationError: The file does not match the schema (file and line named).
    """
    from policies.loader import read_yaml_documents, validation_issues

    path = directory / SHARED_MAPPING_FILE
    if not path.is_file():
        return None
    documents = read_yaml_documents(path.read_bytes(), str(path))
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


def applicable_mapping(policies: Sequence[LoadedPolicy], model: str) -> EvidenceMapping:
    """One mapping from those of the policies whose model glob matches `model`."""
    return merge_mappings(
        [
            EvidenceMapping.model_validate(
                loaded.policy.evidence.model_dump(exclude={"require"}, exclude_defaults=True)
            )
            for loaded in policies
            if fnmatchcase(model, loaded.policy.match.model)
        ]
    )


def metric_names_for(policies: Sequence[LoadedPolicy], model: str) -> list[str]:
    """Metric names the policies that may apply to `model` judge (overall and per segment)."""
    names: set[str] = set()
    for loaded in policies:
        if not fnmatchcase(model, loaded.policy.match.model):
            continue
        names.update(rule.name for rule in loaded.policy.metrics)
        names.update(rule.metric for rule in loaded.policy.segments)
    return sorted(names)
