"""The review step that reads what the plausibility questions need: the model's earlier versions
and what both versions' logged models say about their inputs.

Importances are read through `tools.model_importance`, which loads only skops files with the
types every applying policy trusts and never unpickles; anything else is recorded as unavailable
with the reason. The version history and the importances join the evidence (and its digest).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from policies.loader import LoadedPolicy
from policies.plausibility_rules import PlausibilityRequest, plausibility_request
from tools.artifact_scan import artifact_source
from tools.evidence import EvidenceBundle, VersionEvidence
from tools.model_importance import read_feature_importances
from tools.plausibility_models import FeatureImportances
from tools.version_history import read_version_history

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["with_plausibility_evidence"]

logger = logging.getLogger("promogate.review")


def _importances(
    client: MlflowClient, version: VersionEvidence, request: PlausibilityRequest
) -> FeatureImportances:
    source = artifact_source(version.source, version.model_id, version.run_id)
    if source is None:
        return FeatureImportances(
            source=str(version.source),
            available=False,
            reason=f"{version.ref} has no logged model or runs:/ source to read the model from",
        )
    return read_feature_importances(
        client,
        source,
        allowed_formats=request.allowed_formats,
        trusted_types=request.trusted_types,
    )


def with_plausibility_evidence(
    client: MlflowClient, bundle: EvidenceBundle, policies: Sequence[LoadedPolicy]
) -> EvidenceBundle:
    """The bundle with the version history and both versions' feature importances, when a
    matching policy asks the plausibility questions (all do unless they disable them).

    Args:
        client: MLflow client.
        bundle: The gathered evidence.
        policies: Every loaded policy (the ones matching the candidate decide).

    Raises:
        ToolError: The registry could not list the model's versions.
    """
    request = plausibility_request(policies, bundle)
    if request is None or bundle.baseline is None:
        return bundle
    started = time.perf_counter()
    candidate = bundle.candidate
    metrics = sorted(candidate.run.metrics) if candidate.run is not None else []
    metrics += [m.key for m in candidate.logged_model.metrics] if candidate.logged_model else []
    experiments = {v.run.experiment_id for v in (candidate, bundle.baseline) if v.run is not None}
    # The history is MLflow's work and the importances this process's (parsing model files):
    # read side by side, the history costs the review no time of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="promogate-history") as pool:
        history_read = pool.submit(
            read_version_history,
            client,
            candidate.model,
            candidate.version,
            sorted(set(metrics)),
            max_versions=request.history_versions,
            experiment_ids=sorted(experiments),
        )
        candidate_importances = _importances(client, candidate, request)
        baseline_importances = _importances(client, bundle.baseline, request)
        history = history_read.result()
    updated_candidate = candidate.model_copy(update={"feature_importances": candidate_importances})
    updated_baseline = bundle.baseline.model_copy(
        update={"feature_importances": baseline_importances}
    )
    logger.info(
        "read %d earlier versions and the importances of %s in %.2f s",
        len(history.versions),
        candidate.ref,
        time.perf_counter() - started,
    )
    return bundle.model_copy(
        update={
            "candidate": updated_candidate,
            "baseline": updated_baseline,
            "version_history": history,
        }
    )
