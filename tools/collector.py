"""Gather everything about a candidate version and its baseline into an `EvidenceBundle`.

Sources are read concurrently under one deadline per version. A source that fails or times out
becomes an `EvidenceGap` naming what is missing and how to fix it; it is never left silently empty.
Resolving the versions themselves is not a gap: an unknown model, version or alias raises its typed
error, and an unreachable registry raises `BackendUnavailableError`.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit

from tools._genai_eval import (
    GenaiEvaluation,
    examples_dataset,
    find_evaluation_run,
    genai_inputs_with_outputs,
    is_genai_evaluation,
)
from tools._logged_models import read_logged_model
from tools._safety import SafetyEvidence, read_safety_evidence
from tools.artifacts import (
    LoggedModelRepository,
    RunArtifactRepository,
    TextArtifacts,
    is_config_or_environment,
    read_logged_model_text_artifacts,
    read_run_text_artifacts,
    read_text_artifact,
    walk_run_artifacts,
)
from tools.datasets import dataset_inputs_from, in_dataset_order
from tools.discovery import (
    FoundTable,
    apply_metric_aliases,
    assign_dataset_contexts,
    evaluation_named_by_metrics,
    find_configs,
    find_eval_table,
    normalize_segment_keys,
)
from tools.errors import ArtifactError, BackendUnavailableError, ToolError
from tools.evidence import (
    ArtifactFile,
    DatasetInput,
    EvalTable,
    EvidenceBundle,
    EvidenceGap,
    EvidenceOrigin,
    EvidenceSource,
    LoggedModelEvidence,
    MetricPoint,
    RunEvidence,
    SafetySuiteResult,
    VersionEvidence,
)
from tools.evidence_mapping import EvidenceMapping
from tools.registry import ResolvedVersion, resolve_version, resolved_from, version_holding
from tools.runs import LOSS_LIKE_KEYS, fetch_run, read_metric_history, run_evidence_from
from tools.shared_pool import shared_pool

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DECISION_TAG_PREFIX",
    "await_evidence",
    "collect_bundle",
    "collect_resolved",
    "collect_version",
    "evidence_tags",
    "resolve_versions",
]

logger = logging.getLogger("promogate.tools")

T = TypeVar("T")

DECISION_TAG_PREFIX = "promogate."
# Reads of one version's evidence at once: against a server, each read mostly waits on the
# network, and eight overlap well. Against a store on this machine's disk (SQLite, a file
# store), each read is this process's own CPU (MLflow's ORM), and more than two threads only
# fight over the interpreter: a review cost a fifth more CPU with eight than with one or two.
_MAX_WORKERS = 8
_LOCAL_STORE_WORKERS = 2
_LOCAL_STORE_SCHEMES = frozenset({"sqlite", "file", ""})
# The process's pools (`tools.shared_pool`): the reads of every collection, each collection
# holding at most its width of them at once (`_Reader`), and the collections of the versions.
_READ_POOL_WORKERS = 64
_VERSION_POOL_WORKERS = 32


def _read_width(client: MlflowClient) -> int:
    """How many reads of one version's evidence `client` runs at once."""
    uri = getattr(client, "tracking_uri", None)
    if not isinstance(uri, str) or uri.strip().lower().startswith("databricks"):
        # MLflow reads a bare ``databricks`` (no scheme) as the remote workspace, not a path.
        return _MAX_WORKERS
    if urlsplit(uri.strip()).scheme.lower() in _LOCAL_STORE_SCHEMES:
        return _LOCAL_STORE_WORKERS
    return _MAX_WORKERS


def evidence_tags(tags: dict[str, str]) -> dict[str, str]:
    """Version tags that count as evidence: decision tags (``promogate.*``) are dropped.

    Decisions are written back to the version as ``promogate.*`` tags; leaving them out keeps the
    evidence digest of a version unchanged by the review of it.

    Args:
        tags: The model version's tags.
    """
    return {k: v for k, v in sorted(tags.items()) if not k.startswith(DECISION_TAG_PREFIX)}


def await_evidence(
    future: Future[T],
    source: EvidenceSource,
    what: str,
    *,
    deadline: float,
    timeout_s: float,
) -> tuple[T | None, EvidenceGap | None]:
    """Wait for one evidence source until the deadline; turn any failure into a gap.

    Args:
        future: The running read.
        source: The evidence source the gap is attributed to.
        what: What is being read, e.g. ``"source run 'abc'"``, for the gap message.
        deadline: `time.monotonic()` value after which the source counts as timed out.
        timeout_s: The configured budget, quoted in the timeout message.
    """
    try:
        return future.result(timeout=max(0.0, deadline - time.monotonic())), None
    except TimeoutError:
        future.cancel()
        return None, EvidenceGap(
            source=source,
            message=f"reading {what} timed out after {timeout_s:g} s",
            how_to_fix="check the MLflow server's latency and load, or raise the review timeout",
            unavailable=True,
        )
    except ToolError as exc:
        return None, EvidenceGap(
            source=source,
            message=exc.message,
            how_to_fix=exc.how_to_fix,
            unavailable=isinstance(exc, BackendUnavailableError),
        )
    # Last resort for bugs: recorded as a gap (an error that blocks), never as a pass.
    except Exception as exc:
        logger.warning("unexpected failure reading %s", what, exc_info=True)
        return None, EvidenceGap(
            source=source,
            message=f"reading {what} failed unexpectedly: {type(exc).__name__}: {exc}",
            how_to_fix="report this as a promogate bug, with the log of this review",
            unavailable=True,
        )


def _histories(
    client: MlflowClient, run: RunEvidence, history_keys: Sequence[str]
) -> tuple[dict[str, list[MetricPoint]], list[EvidenceGap]]:
    requested = list(dict.fromkeys(history_keys))
    keys = requested + [k for k in LOSS_LIKE_KEYS if k in run.metrics and k not in requested]
    histories: dict[str, list[MetricPoint]] = {}
    gaps: list[EvidenceGap] = []
    for key in keys:
        if key not in run.metrics:
            gaps.append(
                EvidenceGap(
                    source="metric_history",
                    message=f"source run {run.run_id!r} has no metric {key!r}",
                    how_to_fix=f"log it during training with mlflow.log_metric({key!r}, value, "
                    "step=step)",
                )
            )
            continue
        histories[key] = read_metric_history(client, run.run_id, key)
    return histories, gaps


def _artifact_gaps(listing: TextArtifacts, source: EvidenceSource) -> list[EvidenceGap]:
    kind = "run" if listing.owner == "run" else "logged model"
    gaps = [
        EvidenceGap(
            source=source,
            message=f"{kind} {listing.owner_id!r}: {skipped.reason}",
            how_to_fix="keep config and environment files small UTF-8 text files",
        )
        for skipped in listing.skipped
        # A document that is not config (a README too large to read) leaves no config gap.
        if is_config_or_environment(skipped.owner, skipped.path)
    ]
    if listing.truncated:
        gaps.append(
            EvidenceGap(
                source="artifacts",
                message=f"{kind} {listing.owner_id!r} has more artifacts than promogate lists; "
                f"the listing stops at {len(listing.paths)} files",
                how_to_fix="log fewer, larger artifacts (e.g. archive per-step outputs)",
            )
        )
    return gaps


def _mapped_configs(
    client: MlflowClient,
    run_id: str,
    listing: TextArtifacts,
    mapping: EvidenceMapping | None,
    reader: _Reader,
    repository: RunArtifactRepository | None,
) -> tuple[list[ArtifactFile], list[EvidenceOrigin]]:
    """Config files outside ``pipeline/`` that the mapping names or discovery finds."""
    paths, how, gaps = find_configs(listing.paths, listing.files, mapping)
    reader.gaps.extend(gaps)
    files: list[ArtifactFile] = []
    origins: list[EvidenceOrigin] = []
    for path in paths:
        try:
            found = read_text_artifact(client, "run", run_id, path, repository=repository)
        except ArtifactError as exc:
            reader.gap("pipeline_config", f"run {run_id!r}: {exc.message}", exc.how_to_fix)
            continue
        files.append(found.model_copy(update={"pipeline_config": True}))
        origins.append(
            EvidenceOrigin(
                kind="pipeline_config",
                source=path,
                how=how or "discovery",
                detail="named by evidence.configs"
                if how == "mapping"
                else "the only config-like file in the run's artifacts",
            )
        )
    return files, origins


class _Reader:
    """Runs one collection's reads on the process's read pool, at most `width` at once, and
    collects their gaps under one deadline.

    A read beyond the width waits in this reader's queue and runs, in submission order, in the
    thread of a read that finished. A read that waits on another read of this collection must
    be submitted after it (as the artifact listing's readers are): then the one it waits on has
    a slot or has run.
    """

    def __init__(self, width: int, deadline: float, timeout_s: float) -> None:
        self.pool = shared_pool("evidence", _READ_POOL_WORKERS)
        self.deadline = deadline
        self.timeout_s = timeout_s
        self.gaps: list[EvidenceGap] = []
        self._free = width
        self._queued: deque[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]] = deque()
        self._submitted: list[Future[Any]] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            self._submitted.append(future)
            start = self._free > 0
            if start:
                self._free -= 1
            else:
                self._queued.append((future, fn, args))
        if start:
            self.pool.submit(self._run, future, fn, args)
        return future

    def _run(self, future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        while True:
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args)
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits, as a pool does
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            with self._lock:
                if not self._queued:
                    self._free += 1
                    return
                future, fn, args = self._queued.popleft()

    def close(self) -> None:
        """Cancel the reads that have not started: reads that overran the deadline keep running
        in their threads, and nobody waits for them."""
        with self._lock:
            self._queued.clear()
            submitted, self._submitted = self._submitted, []
        for future in submitted:
            future.cancel()

    def result(self, future: Future[T], source: EvidenceSource, what: str) -> T | None:
        # The cast only steers mypy's inference, which otherwise widens T to T | None here.
        outcome = await_evidence(
            cast("Future[T | None]", future),
            source,
            what,
            deadline=self.deadline,
            timeout_s=self.timeout_s,
        )
        if outcome[1] is not None:
            self.gaps.append(outcome[1])
        return outcome[0]

    def gap(self, source: EvidenceSource, message: str, how_to_fix: str | None) -> None:
        self.gaps.append(EvidenceGap(source=source, message=message, how_to_fix=how_to_fix))


def collect_resolved(
    client: MlflowClient,
    resolved: ResolvedVersion,
    *,
    history_keys: Sequence[str] = (),
    timeout_s: float = 30.0,
    mapping: EvidenceMapping | None = None,
    metric_names: Sequence[str] = (),
) -> VersionEvidence:
    """Gather the evidence of an already resolved version (see `collect_version`).

    Args:
        client: MLflow client.
        resolved: The version, from `tools.registry.resolve_version`.
        history_keys: Metrics whose full history to read, besides loss-like keys.
        timeout_s: Budget for all sources of this version together.
        mapping: Where this team logs evidence; what it leaves unset is discovered.
        metric_names: Metrics policies name, filled from their aliases when absent.
    """
    started = time.monotonic()
    ref = f"{resolved.model!r} version {resolved.version}"
    reader = _Reader(_read_width(client), started + timeout_s, timeout_s)
    run: RunEvidence | None = None
    datasets: list[DatasetInput] = []
    histories: dict[str, list[MetricPoint]] = {}
    logged_model: LoggedModelEvidence | None = None
    artifacts: list[ArtifactFile] = []
    artifact_paths: list[str] = []
    eval_table: EvalTable | None = None
    safety: dict[str, SafetySuiteResult] = {}
    origins: list[EvidenceOrigin] = []
    genai: GenaiEvaluation | None = None
    artifact_uri: str | None = None
    try:
        run_future = reader.submit(fetch_run, client, resolved.run_id) if resolved.run_id else None
        model_futures = None
        if resolved.model_id is not None:
            # Both readers share one read of the logged model (whichever asks first reads it).
            model_repository = LoggedModelRepository(client, resolved.model_id)
            model_futures = (
                reader.submit(read_logged_model, client, resolved.model_id, model_repository),
                reader.submit(
                    partial(read_logged_model_text_artifacts, repository=model_repository),
                    client,
                    resolved.model_id,
                ),
            )
        else:
            reader.gap(
                "logged_model",
                f"{ref} has source {resolved.source!r}, which is not an MLflow 3 logged model "
                "URI (models:/m-...)",
                "log the model with mlflow.<flavor>.log_model(model, name=...) and register "
                "model_info.model_uri",
            )

        if run_future is None:
            reader.gap(
                "run",
                f"{ref} has no source run",
                "register versions from a run: call log_model inside mlflow.start_run() and "
                "register model_info.model_uri",
            )
        else:
            raw = reader.result(run_future, "run", f"source run {resolved.run_id!r} of {ref}")
            if raw is not None:
                candidate_run = run_evidence_from(raw)
                if candidate_run.lifecycle_stage == "deleted":
                    reader.gap(
                        "run",
                        f"source run {candidate_run.run_id!r} of {ref} is deleted; its params, "
                        "metrics, datasets and artifacts are not evidence",
                        f"restore it with `mlflow runs restore --run-id {candidate_run.run_id}`, "
                        "or register a new version from an active run",
                    )
                else:
                    run = candidate_run
                    artifact_uri = str(raw.info.artifact_uri) if raw.info.artifact_uri else None
                    datasets = dataset_inputs_from(raw)
                    if is_genai_evaluation(run.tags):
                        genai = GenaiEvaluation(
                            run_id=run.run_id,
                            with_outputs=frozenset(genai_inputs_with_outputs(raw)),
                        )

        # mlflow.genai.evaluate(model_id=...) run apart from the logging run: its own run,
        # looked for only when the run itself has no table (it reads the logged model and the
        # runs its metrics name, the source run among them, so reading it early would cost
        # every review those reads for the few that use them).
        model_id = resolved.model_id if genai is None else None
        if run is not None:
            # One listing for both readers; each waits for it and fails with it. The run's
            # repository, resolved once, serves the listing and every download of this run.
            repository = RunArtifactRepository.for_run(
                client, run.run_id, artifact_uri, run.experiment_id
            )
            listing = reader.submit(
                partial(walk_run_artifacts, repository=repository), client, run.run_id
            )
            genai_experiment_id = run.experiment_id if genai is not None else None
            run_futures = (
                reader.submit(
                    lambda run_id: read_run_text_artifacts(
                        client, run_id, listing=listing.result(), repository=repository
                    ),
                    run.run_id,
                ),
                reader.submit(
                    lambda run_id: find_eval_table(
                        client,
                        run_id,
                        mapping,
                        listing.result()[0],
                        genai_experiment_id=genai_experiment_id,
                        repository=repository,
                    ),
                    run.run_id,
                ),
                reader.submit(_histories, client, run, history_keys),
                reader.submit(
                    partial(read_safety_evidence, listing=listing.result),
                    client,
                    run,
                    resolved.model,
                    resolved.version,
                ),
            )
            run_listing = reader.result(
                run_futures[0], "artifacts", f"artifacts of source run {run.run_id!r}"
            )
            if run_listing is not None:
                artifacts.extend(run_listing.files)
                artifact_paths.extend(run_listing.paths)
                reader.gaps.extend(_artifact_gaps(run_listing, "pipeline_config"))
                configs, config_origins = _mapped_configs(
                    client, run.run_id, run_listing, mapping, reader, repository
                )
                artifacts.extend(configs)
                origins.extend(config_origins)
            found: FoundTable | None = reader.result(
                run_futures[1], "eval_table", f"evaluation table of run {run.run_id!r}"
            )
            if found is not None:
                eval_table = found.table
                reader.gaps.extend(found.gaps)
                if found.origin is not None:
                    origins.append(found.origin)
                if genai is not None and found.genai is not None:
                    genai = replace(
                        genai,
                        examples=examples_dataset(
                            found.genai,
                            run.run_id,
                            next((d.name for d in datasets if not d.context), "dataset"),
                        ),
                    )
            history_result = reader.result(
                run_futures[2], "metric_history", f"metric histories of run {run.run_id!r}"
            )
            if history_result is not None:
                histories, history_gaps = history_result
                reader.gaps.extend(history_gaps)
            safety_result: SafetyEvidence | None = reader.result(
                run_futures[3], "safety", f"safety results of {ref}"
            )
            if safety_result is not None:
                safety = safety_result.results
                reader.gaps.extend(safety_result.gaps)

        if model_id is not None and eval_table is None:
            linked = reader.result(
                reader.submit(find_evaluation_run, client, model_id),
                "eval_table",
                f"mlflow.genai.evaluate runs of logged model {resolved.model_id!r}",
            )
            if linked is not None:
                eval_run = run_evidence_from(linked)
                eval_datasets = dataset_inputs_from(linked)
                datasets = [*datasets, *eval_datasets]
                genai = GenaiEvaluation(
                    run_id=eval_run.run_id,
                    with_outputs=frozenset(genai_inputs_with_outputs(linked)),
                )
                linked_found: FoundTable | None = reader.result(
                    reader.submit(
                        partial(find_eval_table, genai_experiment_id=eval_run.experiment_id),
                        client,
                        eval_run.run_id,
                        mapping,
                    ),
                    "eval_table",
                    f"evaluation table of the mlflow.genai.evaluate run {eval_run.run_id!r}",
                )
                if linked_found is not None:
                    eval_table = linked_found.table
                    reader.gaps.extend(linked_found.gaps)
                    if linked_found.origin is not None:
                        origins.append(
                            linked_found.origin.model_copy(
                                update={
                                    "detail": f"{linked_found.origin.detail}; the latest "
                                    "mlflow.genai.evaluate run that logged metrics on logged "
                                    f"model {resolved.model_id}"
                                }
                            )
                        )
                    if linked_found.genai is not None:
                        genai = replace(
                            genai,
                            examples=examples_dataset(
                                linked_found.genai,
                                eval_run.run_id,
                                next((d.name for d in eval_datasets if not d.context), "dataset"),
                            ),
                        )
        if model_futures is not None:
            logged_model = reader.result(
                model_futures[0], "logged_model", f"logged model {resolved.model_id!r}"
            )
            model_listing = reader.result(
                model_futures[1], "artifacts", f"artifacts of logged model {resolved.model_id!r}"
            )
            if model_listing is not None:
                artifacts.extend(model_listing.files)
                artifact_paths.extend(
                    f"models:/{model_listing.owner_id}/{p}" for p in model_listing.paths
                )
                reader.gaps.extend(_artifact_gaps(model_listing, "artifacts"))
        datasets, dataset_origins = assign_dataset_contexts(
            datasets, logged_model, mapping, genai=genai
        )
        origins.extend(dataset_origins)
        if run is not None and genai is None and logged_model is not None:
            named, named_origins = evaluation_named_by_metrics(datasets, logged_model)
            datasets = in_dataset_order([*datasets, *named])
            origins.extend(named_origins)
        if run is not None:
            metrics, segment_origins = normalize_segment_keys(run.metrics, mapping)
            run, alias_origins = apply_metric_aliases(
                run.model_copy(update={"metrics": metrics}), logged_model, mapping, metric_names
            )
            origins.extend(segment_origins + alias_origins)
    finally:
        reader.close()

    gaps = sorted(reader.gaps, key=lambda g: (g.source, g.message))
    logger.info(
        "collected evidence for %s/%s in %.2f s (%d gaps)",
        resolved.model,
        resolved.version,
        time.monotonic() - started,
        len(gaps),
    )
    return VersionEvidence(
        model=resolved.model,
        version=resolved.version,
        aliases=list(resolved.aliases),
        tags=evidence_tags(resolved.tags),
        description=resolved.description,
        source=resolved.source,
        run_id=resolved.run_id,
        model_id=resolved.model_id,
        creation_timestamp=resolved.creation_timestamp,
        run=run,
        metric_histories=histories,
        logged_model=logged_model,
        datasets=datasets,
        artifacts=sorted(artifacts, key=lambda a: (a.owner, a.path)),
        artifact_paths=sorted(artifact_paths),
        eval_table=eval_table,
        safety=safety,
        gaps=gaps,
        origins=origins,
    )


def collect_version(
    client: MlflowClient,
    model: str,
    version: int,
    *,
    history_keys: Sequence[str] = (),
    timeout_s: float = 30.0,
    mapping: EvidenceMapping | None = None,
    metric_names: Sequence[str] = (),
) -> VersionEvidence:
    """Gather everything about one model version: run, histories, logged model, datasets,
    artifacts, evaluation table and safety results.

    Sources are read concurrently; each that fails or overruns `timeout_s` becomes an
    `EvidenceGap` (a deleted or missing source run is a ``run`` gap naming the run id). Version tags
    starting with ``promogate.`` are left out so writing a decision back does not change the
    evidence digest.

    Args:
        client: MLflow client.
        model: Registered model name.
        version: Version number.
        history_keys: Metrics whose full history to read, besides loss-like keys that are present
            (``loss``, ``train_loss``, ``val_loss``, ``training_loss``, ``validation_loss``).
        timeout_s: Budget for all sources together.
        mapping: Where this team logs evidence; what it leaves unset is discovered.
        metric_names: Metrics policies name, filled from their aliases when absent.

    Raises:
        ModelNotFoundError: No registered model of that name.
        VersionNotFoundError: The model has no such version.
        BackendUnavailableError: The registry cannot be reached.
    """
    resolved = resolve_version(client, model, version)
    return collect_resolved(
        client,
        resolved,
        history_keys=history_keys,
        timeout_s=timeout_s,
        mapping=mapping,
        metric_names=metric_names,
    )


def resolve_versions(
    client: MlflowClient, model: str, ref: str | int, baseline_alias: str | None
) -> tuple[ResolvedVersion, ResolvedVersion | None]:
    """The candidate `ref` and its baseline, as `collect_bundle` finds them (no baseline when the
    alias is None, held by no version or by the candidate itself).

    Raises:
        ToolError: As `collect_bundle`'s resolution.
    """
    candidate = resolve_version(client, model, ref)
    baseline: ResolvedVersion | None = None
    if baseline_alias is not None:
        # `v<N>` pins the baseline to a version (MLflow reserves such names, so no alias has one).
        pinned = re.fullmatch(r"v(\d+)", baseline_alias)
        if pinned is not None:
            if int(pinned[1]) != candidate.version:
                baseline = resolve_version(client, model, int(pinned[1]))
        else:
            holder = version_holding(client, model, baseline_alias)
            if holder is not None and int(holder.version) != candidate.version:
                baseline = resolved_from(model, holder)
    return candidate, baseline


def collect_bundle(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    baseline_alias: str | None = "champion",
    target_alias: str = "champion",
    history_keys: Sequence[str] = (),
    timeout_s: float = 30.0,
    mapping: EvidenceMapping | None = None,
    metric_names: Sequence[str] = (),
) -> EvidenceBundle:
    """The evidence bundle for reviewing a candidate version against its baseline.

    The baseline is the version holding `baseline_alias`; there is none when the alias does not
    exist (a first version) or when it already points at the candidate. Both versions are
    collected concurrently.

    Args:
        client: MLflow client.
        model: Registered model name.
        ref: Candidate version number (``5``, ``"5"``) or alias (``"@challenger"``).
        baseline_alias: Alias of the version to compare against (``v<N>``: version N); None for
            no baseline.
        target_alias: The alias the promotion would move (recorded in the bundle).
        history_keys: Metrics whose full history to read, besides loss-like keys.
        timeout_s: Budget for each version's sources.
        mapping: Where this team logs evidence; what it leaves unset is discovered.
        metric_names: Metrics policies name, filled from their aliases when absent.

    Raises:
        ModelNotFoundError: No registered model of that name.
        VersionNotFoundError: The model has no such version.
        AliasNotFoundError: `ref` names an alias no version holds.
        InvalidVersionRefError: `ref` is neither a version number nor ``@alias``.
        BackendUnavailableError: The registry cannot be reached.
    """
    candidate, baseline = resolve_versions(client, model, ref, baseline_alias)
    pool = shared_pool("version", _VERSION_POOL_WORKERS)
    options: dict[str, Any] = {
        "history_keys": history_keys,
        "timeout_s": timeout_s,
        "mapping": mapping,
        "metric_names": metric_names,
    }
    candidate_future = pool.submit(collect_resolved, client, candidate, **options)
    baseline_future = (
        pool.submit(collect_resolved, client, baseline, **options) if baseline is not None else None
    )
    # collect_resolved returns at its own deadline; the margin only guards against a bug.
    limit = timeout_s + 30.0
    try:
        candidate_evidence = candidate_future.result(timeout=limit)
        baseline_evidence = (
            baseline_future.result(timeout=limit) if baseline_future is not None else None
        )
    except TimeoutError as exc:
        raise BackendUnavailableError(
            f"collecting evidence for {model!r} {ref!r} did not finish in {limit:g} s"
        ) from exc
    finally:
        # A collection still queued is not started (one running finishes on its own).
        for future in (candidate_future, baseline_future):
            if future is not None:
                future.cancel()
    return EvidenceBundle(
        candidate=candidate_evidence,
        baseline=baseline_evidence,
        baseline_alias=baseline_alias,
        target_alias=target_alias,
    )
