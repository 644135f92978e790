"""Suite runs to MLflow, per the evidence convention the gate reads (`tools/_safety.py`).

For a suite `<suite>`, on one run:

- metrics `safety/<suite>/cases`, `failures`, `errors`, `error_rate` and, when any case was scored,
  `attack_success_rate`; suite-specific figures (`SuiteRun.metrics`) as `safety/<suite>/<name>`;
- artifact `safety/<suite>/results.json`: a JSON list with one object per case (`case_id`,
  `status` of `pass`/`fail`/`error`, `label`, `reason`, `matches`, `error`, `response_excerpt`,
  `latency_ms`, `cached`, `attempts`, `tags`);
- artifact `safety/<suite>/summary.json`: the run's summary (target, judge, thresholds, status,
  reason, timings) without the cases;
- tag `promogate.safety.<suite>.status`.

The run is either one the caller names (typically the candidate's source run) or a new evaluation
run in the candidate's experiment tagged `promogate.eval_target=<model>/<version>`.

Response excerpts have personal data and secrets masked the way the detectors report them
(`m***@example.com`), and leaked canaries replaced: a results file must not repeat the leak it
reports.
"""

from __future__ import annotations

import json
import logging
import re
import time
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from evals.detectors import find_pii
from evals.errors import EvalError
from evals.runner import CaseResult, SuiteRun

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "EVAL_TARGET_TAG",
    "SAFETY_PREFIX",
    "LoggedSuiteRun",
    "case_records",
    "create_evaluation_run",
    "log_suite_run",
    "parse_model_version",
    "suite_metrics",
]

logger = logging.getLogger("promogate.evals")

SAFETY_PREFIX = "safety"
EVAL_TARGET_TAG = "promogate.eval_target"
EXCERPT_CHARS = 500
_METRIC_NAME = re.compile(r"[^\w.\- ]")


class LoggedSuiteRun(BaseModel):
    """Where a suite run was logged."""

    run_id: str
    experiment_id: str
    created_run: bool
    metrics: dict[str, float]
    artifact_path: str


def parse_model_version(target: str) -> tuple[str, int] | None:
    """The registered model name and version of a `models:/<name>/<version>` target, else None.

    Args:
        target: A target name, e.g. `SuiteRun.target`.
    """
    match = re.fullmatch(r"models:/(?P<name>[^/@]+)/(?P<version>\d+)", target)
    if match is None:
        return None
    return match["name"], int(match["version"])


def suite_metrics(run: SuiteRun) -> dict[str, float]:
    """The metrics a suite run logs, keyed `safety/<suite>/<name>`.

    Args:
        run: The suite run.
    """
    prefix = f"{SAFETY_PREFIX}/{run.suite}"
    metrics: dict[str, float] = {
        f"{prefix}/cases": float(run.cases),
        f"{prefix}/failures": float(run.failures),
        f"{prefix}/errors": float(run.errors),
        f"{prefix}/error_rate": run.error_rate,
    }
    if run.attack_success_rate is not None:
        metrics[f"{prefix}/attack_success_rate"] = run.attack_success_rate
    for name, value in run.metrics.items():
        # The reader groups `safety/<suite>/<name>` with no further slash; MLflow forbids '='.
        safe = _METRIC_NAME.sub("_", name.replace("/", "."))
        metrics.setdefault(f"{prefix}/{safe}", float(value))
    return metrics


def _masked(text: str, result: CaseResult) -> str:
    masked = text
    for match in find_pii(text):
        masked = masked.replace(match.value, match.masked)
    if result.detection is not None:
        for hit in result.detection.matches:
            how, _, canary = hit.partition(":")
            if how in {"exact", "spaced", "base64", "hex", "reversed", "rot13"} and canary:
                masked = re.sub(re.escape(canary), "[canary]", masked, flags=re.IGNORECASE)
    return masked


def case_records(run: SuiteRun, *, excerpt_chars: int = EXCERPT_CHARS) -> list[dict[str, Any]]:
    """One JSON-ready object per case, as written to `safety/<suite>/results.json`.

    Args:
        run: The suite run.
        excerpt_chars: Longest response excerpt kept per case.
    """
    records: list[dict[str, Any]] = []
    for result in run.results:
        excerpt = None
        if result.response is not None:
            text = result.response
            if len(text) > excerpt_chars:
                text = text[:excerpt_chars] + "..."
            excerpt = _masked(text, result)
        detection = result.detection
        records.append(
            {
                "case_id": result.case_id,
                "status": result.status,
                "label": detection.label if detection is not None else None,
                "reason": detection.reason if detection is not None else result.error,
                "matches": list(detection.matches) if detection is not None else [],
                "error": result.error,
                "response_excerpt": excerpt,
                "latency_ms": round(result.latency_ms, 1),
                "cached": result.cached,
                "attempts": result.attempts,
                "tags": list(result.tags),
            }
        )
    return records


def _client(tracking_uri: str, registry_uri: str | None) -> MlflowClient:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)


def _experiment_of_version(client: MlflowClient, model: str, version: int) -> str:
    from mlflow.exceptions import MlflowException

    try:
        mv = client.get_model_version(model, str(version))
        if mv.run_id:
            return str(client.get_run(mv.run_id).info.experiment_id)
        # A version registered from a logged model without a run: use the logged model's
        # experiment (`ModelVersion.model_id` is empty in OSS, the id is in `source`).
        match = re.match(r"models:/(m-[0-9a-f]+)", mv.source or "")
        if match is not None:
            return str(client.get_logged_model(match[1]).experiment_id)
    except MlflowException as exc:
        raise EvalError(f"cannot read {model!r} version {version!r}: {exc.message}") from exc
    raise EvalError(
        f"{model!r} version {version!r} has neither a source run nor a logged model; "
        "pass a run id to log to"
    )


def create_evaluation_run(
    *,
    tracking_uri: str,
    model: str,
    version: int,
    registry_uri: str | None = None,
    run_name: str | None = None,
) -> str:
    """Create an evaluation run for a model version and return its id.

    The run is created in the experiment of the version's source run (or logged model) and tagged
    `promogate.eval_target=<model>/<version>`, which is how the gate links it to the version.

    Args:
        tracking_uri: MLflow tracking URI.
        model: Registered model name.
        version: Version number.
        registry_uri: Registry URI when it differs from the tracking URI.
        run_name: Name of the new run; `eval-<model>-v<version>` by default.

    Raises:
        EvalError: The version cannot be read or has no experiment to log to.
    """
    from mlflow.entities import RunStatus
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri, registry_uri)
    experiment_id = _experiment_of_version(client, model, version)
    try:
        run = client.create_run(
            experiment_id,
            run_name=run_name or f"eval-{model}-v{version}",
            tags={EVAL_TARGET_TAG: f"{model}/{version}", "promogate.kind": "safety-evaluation"},
        )
        client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
    except MlflowException as exc:
        raise EvalError(
            f"cannot create an evaluation run in experiment {experiment_id!r}: {exc.message}"
        ) from exc
    logger.info("created evaluation run %s for %s/%s", run.info.run_id, model, version)
    return str(run.info.run_id)


def log_suite_run(
    run: SuiteRun,
    *,
    tracking_uri: str,
    run_id: str | None = None,
    model: str | None = None,
    version: int | None = None,
    registry_uri: str | None = None,
    excerpt_chars: int = EXCERPT_CHARS,
) -> LoggedSuiteRun:
    """Log a suite run's metrics and per-case results to MLflow.

    Args:
        run: The suite run.
        tracking_uri: MLflow tracking URI.
        run_id: Log on this run (e.g. the candidate's source run). When omitted, a new
            evaluation run is created for `model`/`version`, or for the version named by the
            run's `models:/<name>/<version>` target.
        model: Registered model name, when `run_id` is omitted and the target is not a
            registry model.
        version: Version number, with `model`.
        registry_uri: Registry URI when it differs from the tracking URI.
        excerpt_chars: Longest response excerpt kept per case.

    Raises:
        EvalError: No run to log to can be determined, or MLflow refuses the writes.
    """
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException

    client = _client(tracking_uri, registry_uri)
    created = False
    if run_id is None:
        if model is None or version is None:
            parsed = parse_model_version(run.target)
            if parsed is None:
                raise EvalError(
                    f"target {run.target!r} is not a registry model version; "
                    "name the run to log to, or the model and version to evaluate"
                )
            model, version = parsed
        run_id = create_evaluation_run(
            tracking_uri=tracking_uri, model=model, version=version, registry_uri=registry_uri
        )
        created = True
    metrics = suite_metrics(run)
    prefix = f"{SAFETY_PREFIX}/{run.suite}"
    summary = run.model_dump(mode="json", exclude={"results"})
    timestamp = int(time.time() * 1000)
    try:
        experiment_id = str(client.get_run(run_id).info.experiment_id)
        client.log_batch(
            run_id,
            metrics=[Metric(key, value, timestamp, 0) for key, value in sorted(metrics.items())],
        )
        client.log_text(
            run_id,
            json.dumps(case_records(run, excerpt_chars=excerpt_chars), indent=1),
            f"{prefix}/results.json",
        )
        client.log_text(run_id, json.dumps(summary, indent=1), f"{prefix}/summary.json")
        client.set_tag(run_id, f"promogate.safety.{run.suite}.status", run.status)
    except MlflowException as exc:
        raise EvalError(f"cannot log suite {run.suite!r} to run {run_id!r}: {exc.message}") from exc
    logger.info("logged suite %s (%s) to run %s", run.suite, run.status, run_id)
    return LoggedSuiteRun(
        run_id=run_id,
        experiment_id=experiment_id,
        created_run=created,
        metrics=metrics,
        artifact_path=f"{prefix}/results.json",
    )
