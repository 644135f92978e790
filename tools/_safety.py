"""Safety-suite results of a model version, from metrics and per-case artifacts.

Convention: metrics ``safety/<suite>/<name>`` (``cases``, ``failures``, ``errors``,
``attack_success_rate``, ...) and a per-case artifact ``safety/<suite>/results.json`` (a JSON list
of case objects), logged on the version's source run or on an evaluation run in the same experiment
tagged ``promogate.eval_target=<model>/<version>``. When several runs report the same suite, the
newest run wins.

A case counts as failing when ``passed``/``success`` is false, ``failed`` is true, or its
``status``/``outcome``/``verdict`` is ``fail``/``failed``/``failure``; it counts as an error when
that field is ``error``/``errored``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tools.artifacts import ArtifactEntry, download_artifact, list_run_artifacts
from tools.client import call_mlflow
from tools.errors import ArtifactError, MalformedArtifactError, ToolError
from tools.evidence import EvidenceGap, RunEvidence, SafetySuiteResult
from tools.runs import run_evidence_from
from tools.search_filter import filter_literal

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "EVAL_TARGET_TAG",
    "MAX_FAILING_CASES",
    "SAFETY_PREFIX",
    "SafetyEvidence",
    "eval_target",
    "linked_runs_among",
    "linked_runs_search",
    "read_safety_evidence",
    "read_safety_results",
    "safety_metrics",
]

logger = logging.getLogger("promogate.tools")

SAFETY_PREFIX = "safety"
EVAL_TARGET_TAG = "promogate.eval_target"
MAX_FAILING_CASES = 20
MAX_LINKED_RUNS = 50
RESULTS_MAX_BYTES = 16 * 1024 * 1024
_MAX_CASE_STRING = 4000

_FAIL_WORDS = frozenset({"fail", "failed", "failure"})
_ERROR_WORDS = frozenset({"error", "errored"})
_LOG_HOW = (
    "log safety results as metrics safety/<suite>/cases, safety/<suite>/failures (and errors, "
    "attack_success_rate) plus the per-case artifact safety/<suite>/results.json, e.g. with "
    "`promogate eval run SUITE --target models:/NAME/VERSION --log-to RUN`"
)


class SafetyEvidence(BaseModel):
    """Safety results per suite, and what could not be read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    results: dict[str, SafetySuiteResult] = Field(default_factory=dict)
    gaps: list[EvidenceGap] = Field(default_factory=list)


def eval_target(model: str, version: int) -> str:
    """The ``promogate.eval_target`` tag value that links an evaluation run to a version.

    Args:
        model: Registered model name.
        version: Version number.
    """
    return f"{model}/{version}"


def safety_metrics(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """Group ``safety/<suite>/<name>`` metrics by suite.

    Args:
        metrics: A run's latest metric values.
    """
    grouped: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == SAFETY_PREFIX and parts[1] and parts[2]:
            grouped.setdefault(parts[1], {})[parts[2]] = float(value)
    return grouped


def _results_path(suite: str) -> str:
    return f"{SAFETY_PREFIX}/{suite}/results.json"


def _case_word(case: dict[str, Any]) -> str | None:
    for key in ("status", "outcome", "verdict"):
        value = case.get(key)
        if isinstance(value, str):
            return value.strip().lower()
    return None


def _is_failing(case: dict[str, Any]) -> bool:
    for key in ("passed", "success"):
        if isinstance(case.get(key), bool):
            return not case[key]
    if isinstance(case.get("failed"), bool):
        return bool(case["failed"])
    return _case_word(case) in _FAIL_WORDS


def _is_error(case: dict[str, Any]) -> bool:
    return _case_word(case) in _ERROR_WORDS


def _shortened(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _MAX_CASE_STRING:
        return value[:_MAX_CASE_STRING] + "..."
    if isinstance(value, dict):
        return {str(k): _shortened(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_shortened(v) for v in value]
    return value


def _parse_cases(path: str, data: bytes) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedArtifactError(path, f"not valid JSON ({exc})", _LOG_HOW) from exc
    if not isinstance(parsed, list) or not all(isinstance(c, dict) for c in parsed):
        raise MalformedArtifactError(path, "expected a JSON list of case objects", _LOG_HOW)
    return parsed


def linked_runs_search(
    experiment_id: str, model: str, version: int
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The arguments of the `search_runs` that finds the evaluation runs linked to `model`
    `version` in `experiment_id`: newest first, at most `MAX_LINKED_RUNS`.

    Args:
        experiment_id: The experiment of the version's source run.
        model: Registered model name.
        version: Version number.

    Raises:
        UnsearchableValueError: The model's name holds both quote characters.
    """
    target = filter_literal(eval_target(model, version), "evaluation target")
    return ([experiment_id],), {
        "filter_string": f"tags.`{EVAL_TARGET_TAG}` = {target}",
        "max_results": MAX_LINKED_RUNS,
        "order_by": ["attributes.start_time DESC"],
    }


def linked_runs_among(
    runs: Iterable[Run], experiment_id: str, model: str, version: int
) -> list[Run]:
    """What `linked_runs_search` finds, picked from `runs`: the whole answer of a wider search of
    the same active runs (one that matched every run the narrower search can find).

    Its runs in `experiment_id` tagged with the version's target, in the order MLflow gives that
    search (the newest start first, runs without a start last, then by run id), at most
    `MAX_LINKED_RUNS`.

    Args:
        runs: A wider search's whole answer.
        experiment_id: The experiment of the version's source run.
        model: Registered model name.
        version: Version number.
    """
    target = eval_target(model, version)
    picked = [
        r
        for r in runs
        if str(r.info.experiment_id) == experiment_id and r.data.tags.get(EVAL_TARGET_TAG) == target
    ]
    picked.sort(
        key=lambda r: (r.info.start_time is None, -(r.info.start_time or 0), str(r.info.run_id))
    )
    return picked[:MAX_LINKED_RUNS]


def _linked_runs(
    client: MlflowClient, run: RunEvidence, model: str, version: int
) -> list[RunEvidence]:
    args, kwargs = linked_runs_search(run.experiment_id, model, version)
    target = eval_target(model, version)
    runs = call_mlflow(
        lambda: client.search_runs(*args, **kwargs),
        f"search_runs(experiment {run.experiment_id!r}, {EVAL_TARGET_TAG}={target!r})",
    )
    return [run_evidence_from(r) for r in runs if r.info.run_id != run.run_id]


RunListing = Callable[[], tuple[list[ArtifactEntry], bool]]
"""The whole listing of a run's artifacts and whether it was cut short (`walk_run_artifacts`)."""


def _safety_entries(
    client: MlflowClient, run_id: str, listing: RunListing | None
) -> list[ArtifactEntry]:
    """The run's files under ``safety/``: from its whole listing when that is complete."""
    if listing is not None:
        try:
            entries, truncated = listing()
        except ToolError as exc:
            logger.debug("the listing of run %s failed; listing safety/ alone: %s", run_id, exc)
        else:
            if not truncated:
                return [e for e in entries if e.path.startswith(f"{SAFETY_PREFIX}/")]
    return list_run_artifacts(client, run_id, SAFETY_PREFIX)


def _artifact_suites(
    client: MlflowClient, run_id: str, listing: RunListing | None = None
) -> dict[str, int | None]:
    """Suites with a ``results.json`` on this run, and the file's size."""
    found: dict[str, int | None] = {}
    for entry in _safety_entries(client, run_id, listing):
        parts = entry.path.split("/")
        if len(parts) == 3 and parts[0] == SAFETY_PREFIX and parts[2] == "results.json":
            found[parts[1]] = entry.size
    return found


def _suite_result(
    client: MlflowClient,
    run: RunEvidence,
    suite: str,
    metrics: dict[str, float],
    artifact_size: int | None,
    has_artifact: bool,
    strict: bool,
) -> tuple[SafetySuiteResult | None, list[EvidenceGap]]:
    gaps: list[EvidenceGap] = []
    cases: list[dict[str, Any]] | None = None
    path = _results_path(suite)
    if has_artifact:
        try:
            data = download_artifact(
                client,
                "run",
                run.run_id,
                path,
                max_bytes=RESULTS_MAX_BYTES,
                size_hint=artifact_size,
            )
            cases = _parse_cases(path, data)
        except ArtifactError as exc:
            if strict:
                raise
            gaps.append(
                EvidenceGap(
                    source="safety",
                    message=f"run {run.run_id!r}: {exc.message}",
                    how_to_fix=exc.how_to_fix or _LOG_HOW,
                )
            )

    def count(name: str, fallback: int | None) -> int | None:
        if name in metrics:
            return round(metrics[name])
        return fallback

    n_cases = count("cases", len(cases) if cases is not None else None)
    failing = [c for c in cases if _is_failing(c)] if cases is not None else None
    n_failures = count("failures", len(failing) if failing is not None else None)
    n_errors = count("errors", sum(1 for c in cases if _is_error(c)) if cases is not None else 0)
    if n_cases is None or n_failures is None:
        missing = [n for n, v in (("cases", n_cases), ("failures", n_failures)) if v is None]
        gaps.append(
            EvidenceGap(
                source="safety",
                message=(
                    f"safety suite {suite!r} on run {run.run_id!r} lacks "
                    + " and ".join(f"{SAFETY_PREFIX}/{suite}/{m}" for m in missing)
                    + f" and has no readable {path!r}"
                ),
                how_to_fix=_LOG_HOW,
            )
        )
        return None, gaps
    return (
        SafetySuiteResult(
            suite=suite,
            cases=n_cases,
            failures=n_failures,
            errors=n_errors or 0,
            attack_success_rate=metrics.get("attack_success_rate"),
            metrics=dict(sorted(metrics.items())),
            failing_cases=[_shortened(c) for c in (failing or [])[:MAX_FAILING_CASES]],
            artifact_path=path if cases is not None else None,
        ),
        gaps,
    )


def _collect(
    client: MlflowClient,
    run: RunEvidence,
    model: str,
    version: int,
    strict: bool,
    listing: RunListing | None = None,
) -> SafetyEvidence:
    runs = [run, *_linked_runs(client, run, model, version)]
    # Newest first; the run id breaks ties so the same registry always gives the same answer.
    runs.sort(key=lambda r: (r.start_time or 0, r.run_id), reverse=True)
    winners: dict[str, tuple[RunEvidence, dict[str, float], dict[str, int | None]]] = {}
    for candidate in runs:
        by_suite = safety_metrics(candidate.metrics)
        own = listing if candidate.run_id == run.run_id else None
        artifacts = _artifact_suites(client, candidate.run_id, own)
        for suite in sorted(set(by_suite) | set(artifacts)):
            if suite not in winners:
                winners[suite] = (candidate, by_suite.get(suite, {}), artifacts)
    results: dict[str, SafetySuiteResult] = {}
    gaps: list[EvidenceGap] = []
    for suite, (owner, metrics, artifacts) in sorted(winners.items()):
        result, suite_gaps = _suite_result(
            client,
            owner,
            suite,
            metrics,
            artifacts.get(suite),
            suite in artifacts,
            strict,
        )
        gaps.extend(suite_gaps)
        if result is not None:
            results[suite] = result
    return SafetyEvidence(results=results, gaps=gaps)


def read_safety_evidence(
    client: MlflowClient,
    run: RunEvidence,
    model: str,
    version: int,
    *,
    listing: RunListing | None = None,
) -> SafetyEvidence:
    """Safety results per suite plus a gap for every suite that could not be read in full.

    Never raises for a malformed or incomplete suite: it becomes a gap instead.

    Args:
        client: MLflow client.
        run: The version's source run.
        model: Registered model name.
        version: Version number.
        listing: The source run's whole listing, when the caller lists it anyway.
    """
    return _collect(client, run, model, version, strict=False, listing=listing)


def read_safety_results(
    client: MlflowClient, run: RunEvidence, model: str, version: int
) -> dict[str, SafetySuiteResult]:
    """Safety-suite results for a model version, per suite.

    Read from ``safety/<suite>/<name>`` metrics on the source run and on runs in the same experiment
    tagged ``promogate.eval_target=<model>/<version>`` (the newest run reporting a suite wins), with
    up to 20 failing cases from the ``safety/<suite>/results.json`` artifact. A suite whose case
    and failure counts are unknown is left out.

    Args:
        client: MLflow client.
        run: The version's source run (from `tools.runs.read_run`).
        model: Registered model name.
        version: Version number.

    Raises:
        MalformedArtifactError: A ``results.json`` is not a JSON list of case objects.
    """
    evidence = _collect(client, run, model, version, strict=True)
    for gap in evidence.gaps:
        logger.warning("safety evidence incomplete: %s", gap.message)
    return evidence.results
