"""Resolve and gather: the candidate and its baseline found in the registry, and their evidence
read from MLflow. Nothing is evaluated here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from policies.evidence_mapping import applicable_mapping, metric_names_for
from policies.loader import LoadedPolicy
from review._plausibility_evidence import start_importance_reads, with_plausibility_evidence
from review.artifact_security import with_artifact_scan
from tools.collector import collect_bundle
from tools.errors import BackendUnavailableError
from tools.evidence import EvidenceBundle

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["complete_evidence", "gather_evidence", "history_keys_for"]


def history_keys_for(policies: Sequence[LoadedPolicy], model: str) -> list[str]:
    """Metric histories that policies which may apply to `model` judge (convergence rules).

    Loss-like histories the run has are read anyway, and the investigator reads others through
    tools; asking for more would report absent histories as gaps.
    """
    keys = {
        loaded.policy.pipeline.convergence.metric
        for loaded in policies
        if fnmatchcase(model, loaded.policy.match.model)
        and loaded.policy.pipeline is not None
        and loaded.policy.pipeline.convergence is not None
    }
    return sorted(keys)


def gather_evidence(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policies: Sequence[LoadedPolicy],
    target_alias: str = "champion",
    baseline_alias: str | None = "champion",
    timeout_s: float = 30.0,
    read_ahead: bool = True,
    while_parsing: Callable[[EvidenceBundle], object] | None = None,
) -> EvidenceBundle:
    """Resolve the candidate and baseline and gather their evidence (`policies` say which
    metric histories to read, and whether to scan the candidate's artifacts; nothing is
    evaluated here). With `read_ahead`, the model files' reads start first
    (`start_importance_reads`); false when the caller started them. `while_parsing` is work on
    the evidence gathered so far for the time the model files are still being parsed
    (`with_plausibility_evidence`).

    Raises:
        ToolError: The model, version or alias is unknown, or MLflow failed or timed out while
            the evidence was read (a policy that does not need the unreadable source would
            otherwise approve without it, so nothing is decided on such evidence).
    """
    if read_ahead:
        # Model files are parsed on another core while the rest is read (by a reader process).
        start_importance_reads(
            client,
            model,
            ref,
            policies,
            target_alias=target_alias,
            baseline_alias=baseline_alias,
        )
    bundle = collect_bundle(
        client,
        model,
        ref,
        baseline_alias=baseline_alias,
        target_alias=target_alias,
        history_keys=history_keys_for(policies, model),
        timeout_s=timeout_s,
        mapping=applicable_mapping(policies, model),
        metric_names=metric_names_for(policies, model),
    )
    failed = bundle.unavailable_gaps()
    if failed:
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        raise BackendUnavailableError(
            "MLflow failed while the evidence was read, so nothing is decided on it: "
            f"{failed[0].source}: {failed[0].message}{more}"
        )
    return complete_evidence(client, bundle, policies, while_parsing=while_parsing)


def complete_evidence(
    client: MlflowClient,
    bundle: EvidenceBundle,
    policies: Sequence[LoadedPolicy],
    *,
    while_parsing: Callable[[EvidenceBundle], object] | None = None,
) -> EvidenceBundle:
    """Add what the policies ask for beyond the versions' own evidence: the model's version
    history and feature importances (plausibility), and the artifact scan (security).

    Every path that computes an evidence digest goes through here, so the same evidence always
    has the same digest; `while_parsing` changes when work is done, never the evidence.
    """
    bundle = with_plausibility_evidence(client, bundle, policies, while_parsing=while_parsing)
    return with_artifact_scan(client, bundle, policies)
