"""The review step that reads what the plausibility questions need: the model's earlier versions
and what both versions' logged models say about their inputs.

Importances are read through `tools.model_importance`, which loads only skops files with the
types every applying policy trusts and never unpickles; anything else is recorded as unavailable
with the reason. The version history and the importances join the evidence (and its digest).

When model files are read in a process of their own (`tools.importance_process`), the gate
starts both versions' reads while it takes the evidence fingerprint, and a review on its own
before it gathers anything else (`start_importance_reads`), so the files are parsed on another
core while the rest is read and compared; this step then finds the answers kept or waits for
the reads under way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Final

from policies.loader import LoadedPolicy
from policies.plausibility_rules import (
    PlausibilityRequest,
    plausibility_request,
    plausibility_request_for,
)
from tools.artifact_scan import artifact_source
from tools.collector import resolve_versions
from tools.evidence import EvidenceBundle, VersionEvidence
from tools.model_importance import (
    importance_process_in_use,
    importance_reads_under_way,
    read_feature_importances,
    start_reading_importances,
)
from tools.plausibility_models import FeatureImportances
from tools.shared_pool import shared_pool
from tools.version_history import read_version_history

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["start_importance_reads", "with_plausibility_evidence"]

logger = logging.getLogger("promogate.review")

_ahead_lock = threading.Lock()
# Version histories read while this thread waits on model files: one read per review.
_HISTORY_READS: Final = 16
# The versions (by number) whose files this process has read ahead, newest last, bounded: the
# checks cost a gate that reuses a decision about 10 ms, so a version is read ahead once.
_read_ahead: OrderedDict[tuple[str, int, str, str | None], None] = OrderedDict()
_READ_AHEAD_VERSIONS: Final = 4096
# So are the model files (by source, and the formats and types the policies let be read): a
# champion is every candidate's baseline, and reading its file ahead again would cost a read of
# its logged model on its own (which the fingerprint reads in a batch anyway) only to find its
# importances kept.
_sources_ahead: OrderedDict[tuple[str, tuple[str, ...], tuple[str, ...]], None] = OrderedDict()


def start_importance_reads(
    client: MlflowClient,
    model: str,
    ref: str | int,
    policies: Sequence[LoadedPolicy],
    *,
    target_alias: str,
    baseline_alias: str | None,
) -> int:
    """Start reading the candidate's and the baseline's importances, when model files are read
    in a process of their own (`tools.importance_process`); returns how many reads started.

    The files are read and hashed here, in the caller's thread (work the review would do later
    anyway), and handed to the reader process from a thread that waits for its answers: the
    files are parsed on another core while the caller goes on. Files whose importances are
    kept start nothing. A version asked for by number is read ahead once per process (with the
    same target and baseline aliases), and so is a model file (a champion, every candidate's
    baseline, is read ahead with the first): a later gate of it reuses a decision, or its review
    finds the importances kept, or reads them itself (a file replaced since, a policy that now
    trusts other types), only without the head start.

    The reads take the arguments `with_plausibility_evidence` will (the policies that apply to
    the version as the registry describes it), so that step finds their answers kept, or waits
    for them; a read started with other arguments (a tag changed in between) is only wasted.
    Nothing here fails a review: what cannot be read is read again, and reported, by the review.

    Args:
        client: The gathering's MLflow client.
        model: Registered model name.
        ref: The candidate's version number or ``@alias``.
        policies: Every loaded policy.
        target_alias: The alias the promotion would move.
        baseline_alias: The baseline's alias (or ``v<N>``), None for no baseline.
    """
    if importance_process_in_use() is None:
        return 0
    number = ref if isinstance(ref, int) else int(ref) if ref.isdigit() else None
    with _ahead_lock:
        if number is not None:
            seen = (model, number, target_alias, baseline_alias)
            if seen in _read_ahead:
                _read_ahead.move_to_end(seen)
                return 0
            _read_ahead[seen] = None
            if len(_read_ahead) > _READ_AHEAD_VERSIONS:
                _read_ahead.popitem(last=False)
    # Threads that hand files to the reader process and wait for its answers.
    pool = shared_pool("importances", 2)
    started = 0
    try:
        resolved, resolved_baseline = resolve_versions(client, model, ref, baseline_alias)
        if resolved_baseline is None:
            return 0
        candidate, baseline = (
            VersionEvidence(**version.model_dump(exclude={"status"}))
            for version in (resolved, resolved_baseline)
        )
        request = plausibility_request_for(policies, candidate, target_alias)
        if request is None:
            return 0
        for version in (candidate, baseline):
            source = artifact_source(version.source, version.model_id, version.run_id)
            if source is None or not _first_time(
                (source, tuple(request.allowed_formats), tuple(request.trusted_types))
            ):
                continue
            if start_reading_importances(
                client,
                source,
                allowed_formats=request.allowed_formats,
                trusted_types=request.trusted_types,
                run_in=pool,
            ):
                started += 1
    except Exception:  # the review reads again and reports what fails
        logger.debug("reading %s %s's importances ahead failed", model, ref, exc_info=True)
    return started


def _first_time(source: tuple[str, tuple[str, ...], tuple[str, ...]]) -> bool:
    """Whether `source` is read ahead for the first time in this process (and note it)."""
    with _ahead_lock:
        if source in _sources_ahead:
            _sources_ahead.move_to_end(source)
            return False
        _sources_ahead[source] = None
        if len(_sources_ahead) > _READ_AHEAD_VERSIONS:
            _sources_ahead.popitem(last=False)
        return True


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


def _meanwhile(work: Callable[[EvidenceBundle], object], bundle: EvidenceBundle) -> None:
    started = time.perf_counter()
    try:
        work(bundle)
    except Exception:  # not a pass: the review that follows does the same work and reports it
        logger.warning("work while the model files were parsed failed", exc_info=True)
    logger.debug("worked %.3f s while the model files were parsed", time.perf_counter() - started)


def with_plausibility_evidence(
    client: MlflowClient,
    bundle: EvidenceBundle,
    policies: Sequence[LoadedPolicy],
    *,
    while_parsing: Callable[[EvidenceBundle], object] | None = None,
) -> EvidenceBundle:
    """The bundle with the version history and both versions' feature importances, when a
    matching policy asks the plausibility questions (all do unless they disable them).

    Args:
        client: MLflow client.
        bundle: The gathered evidence.
        policies: Every loaded policy (the ones matching the candidate decide).
        while_parsing: Work on `bundle` for this thread while model files are still being
            parsed (by the reader process) before the importances can be read; its result is
            dropped, and a failure is logged, not raised (the review that follows does the same
            work and reports it).

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
    history_read = shared_pool("history", _HISTORY_READS).submit(
        read_version_history,
        client,
        candidate.model,
        candidate.version,
        sorted(set(metrics)),
        max_versions=request.history_versions,
        experiment_ids=sorted(experiments),
    )
    if while_parsing is not None and importance_reads_under_way():
        _meanwhile(while_parsing, bundle)
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
