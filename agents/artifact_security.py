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

from policies.loader import LoadedPolicy
from policies.security_checks import scan_request_for
from tools.artifact_scan import ArtifactScan, artifact_source, scan_model_artifacts
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["with_artifact_scan"]

logger = logging.getLogger("promogate.agents")


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
