"""The review step that scans a candidate's artifacts when a matching policy has `security:`.

Scanning downloads every model file and runs two pickle scanners in child processes, so it only
happens when a policy that applies asks for it. The scan joins the candidate's evidence (and with
it the evidence digest); its manifest digest is what the decision records against a swap after
review.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from policies.decision import Decision
from policies.loader import LoadedPolicy
from policies.result import STATUS_ORDER, CheckResult, CheckStatus
from policies.schema import Policy
from policies.security_checks import scan_request_for, security_checks
from policies.selector import select_policies
from tools.artifact_manifest import ManifestTooLargeError
from tools.artifact_scan import (
    ArtifactScan,
    artifact_source,
    model_artifact_manifest,
    scan_model_artifacts,
)
from tools.collector import evidence_tags
from tools.errors import ToolError
from tools.evidence import EvidenceBundle, VersionEvidence
from tools.registry import resolve_version

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_SECURITY_POLICY",
    "SecurityReport",
    "artifact_change",
    "scan_version",
    "with_artifact_scan",
]

logger = logging.getLogger("promogate.review")


def with_artifact_scan(
    client: MlflowClient, bundle: EvidenceBundle, policies: Sequence[LoadedPolicy]
) -> EvidenceBundle:
    """The bundle with the candidate's `artifact_scan`, when a matching policy needs one.

    Args:
        client: MLflow client.
        bundle: The gathered evidence.
        policies: Every loaded policy (the ones matching the candidate decide).
    """
    request = scan_request_for(policies, bundle)
    if request is None:
        return bundle
    candidate = bundle.candidate
    source = artifact_source(candidate.source, candidate.model_id, candidate.run_id)
    if source is None:
        scan = ArtifactScan(
            source=str(candidate.source),
            error=f"{candidate.ref} has no logged model or runs:/ source to read artifacts from",
        )
    else:
        scan = scan_model_artifacts(client, source, request)
    logger.info(
        "scanned the artifacts of %s in %.2f s (%d pickle streams)",
        candidate.ref,
        scan.seconds,
        len(scan.pickles),
    )
    return bundle.model_copy(
        update={"candidate": candidate.model_copy(update={"artifact_scan": scan})}
    )


def artifact_change(client: MlflowClient, decision: Decision, bundle: EvidenceBundle) -> str | None:
    """Why the version's artifacts no longer match the digest `decision` recorded, else None.

    The artifacts are hashed again now: from the scan in `bundle` when the evidence was just
    gathered with one, otherwise by downloading them. A decision without an artifact digest (no
    security policy applied) has nothing to compare. Artifacts that cannot be hashed again count
    as changed: never fail open.

    Args:
        client: MLflow client.
        decision: The decision about to be reused or promoted on.
        bundle: The evidence just gathered for the same version.
    """
    recorded = decision.artifact_digest
    if recorded is None:
        return None
    candidate = bundle.candidate
    scan = candidate.artifact_scan
    current: str | None = scan.digest if scan is not None else None
    if current is None:
        source = artifact_source(candidate.source, candidate.model_id, candidate.run_id)
        if source is None:
            return f"{candidate.ref} has no artifact source to hash again"
        try:
            current = model_artifact_manifest(client, source).digest
        except (ToolError, ManifestTooLargeError) as exc:
            return f"the artifacts of {candidate.ref} could not be hashed again: {exc}"
    if current != recorded:
        return (
            f"the artifacts of {candidate.ref} changed since decision {decision.id!r} was made "
            f"(manifest digest {recorded[:12]} then, {current[:12]} now): review again"
        )
    return None


class SecurityReport(BaseModel):
    """The security checks of one model version, as `promogate scan` prints them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int
    target_alias: str
    source: str
    policies: list[str] = Field(description="Policies whose security section was applied.")
    default_rules: bool = Field(
        default=False,
        description="True when no matching policy has a security section and the default "
        "rules (no pickles, pinned requirements, no load code) were applied instead.",
    )
    artifact_digest: str | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    scan: ArtifactScan

    @property
    def status(self) -> CheckStatus:
        """The worst check status (`pass` when every check passed or was skipped)."""
        statuses = [c.status for c in self.checks] or ["error"]
        worst = max(statuses, key=lambda s: STATUS_ORDER[s])
        return "pass" if worst == "skip" else worst


#: The policy `promogate scan` applies when no matching policy has a security section.
DEFAULT_SECURITY_POLICY = "promogate.default-security"


def _default_policy(model: str) -> Policy:
    return Policy.model_validate(
        {
            "apiVersion": "promogate/v1",
            "kind": "PromotionPolicy",
            "metadata": {"name": DEFAULT_SECURITY_POLICY, "revision": 0},
            "match": {"model": model},
            "security": {},
        }
    )


def scan_version(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policies: Sequence[LoadedPolicy],
    target_alias: str = "champion",
) -> SecurityReport:
    """Scan one version's artifacts and judge them with the matching security sections.

    Args:
        client: MLflow client.
        model: Registered model name.
        ref: Version number or `@alias`.
        policies: Every loaded policy; with none matching that has a security section, the
            default rules apply (and the report says so).
        target_alias: The alias a promotion would move (selects the policies).

    Raises:
        ToolError: The model, version or alias is unknown, or the registry is unreachable.
    """
    resolved = resolve_version(client, model, ref)
    candidate = VersionEvidence(
        model=resolved.model,
        version=resolved.version,
        aliases=resolved.aliases,
        tags=evidence_tags(resolved.tags),
        source=resolved.source,
        run_id=resolved.run_id,
        model_id=resolved.model_id,
    )
    bundle = EvidenceBundle(candidate=candidate, baseline_alias=None, target_alias=target_alias)
    selected = [
        p.policy
        for p in select_policies(policies, candidate, target_alias)
        if p.policy.security is not None
    ]
    default = not selected
    if default:
        selected = [_default_policy(model)]
    request = scan_request_for(
        [],
        bundle,
        sections=[p.security for p in selected if p.security is not None],
    )
    assert request is not None  # there is at least one section
    source = artifact_source(candidate.source, candidate.model_id, candidate.run_id)
    if source is None:
        scan = ArtifactScan(
            source=str(candidate.source),
            error=f"{candidate.ref} has no logged model or runs:/ source to read artifacts from",
        )
    else:
        scan = scan_model_artifacts(client, source, request)
    scanned = candidate.model_copy(update={"artifact_scan": scan})
    checks = [c for policy in selected for c in security_checks(policy, scanned)]
    return SecurityReport(
        model=resolved.model,
        version=resolved.version,
        target_alias=target_alias,
        source=scan.source,
        policies=[p.name for p in selected],
        default_rules=default,
        artifact_digest=scan.digest,
        checks=checks,
        scan=scan,
    )
