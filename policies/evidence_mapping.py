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
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import ConfigDict, Field

from tools.evidence_mapping import EvidenceMapping, merge_mappings

if TYPE_CHECKING:
    from policies.schema import Policy


class _Loaded(Protocol):
    """A loaded policy (`policies.loader.LoadedPolicy`), as far as this module reads it."""

    @property
    def policy(self) -> Policy: ...


__all__ = [
    "SHARED_MAPPING_FILE",
    "SharedEvidenceMapping",
    "applicable_mapping",
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


def applicable_mapping(policies: Sequence[_Loaded], model: str) -> EvidenceMapping:
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


def metric_names_for(policies: Sequence[_Loaded], model: str) -> list[str]:
    """Metric names the policies that may apply to `model` judge (overall and per segment)."""
    names: set[str] = set()
    for loaded in policies:
        if not fnmatchcase(model, loaded.policy.match.model):
            continue
        names.update(rule.name for rule in loaded.policy.metrics)
        names.update(rule.metric for rule in loaded.policy.segments)
    return sorted(names)
