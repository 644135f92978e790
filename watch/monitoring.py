"""Monitoring evidence in MLflow: windows, late labels and the reference, written and read.

One MLflow run per piece of evidence, found by its tags (documented in
docs/evidence-conventions.md, "Monitoring evidence"):

- a **window** run (`promogate.monitoring.kind=window`) per model version and time window:
  `monitoring/profile.json` (always) and `monitoring/sample.json` (a sample of the inputs with
  the model's `score` / `prediction`, in the form `mlflow.log_table` writes), metric
  `monitoring/rows`;
- a **labels** run (`kind=labels`) per batch of labels that arrives, often days later, for an
  earlier window: `monitoring/labels.json` with `label`, the realised `prediction` / `score`,
  `row_id` and segment columns. Batches are never merged into the window run: the record of
  what was known when stays intact, and a later batch for the same `row_id` replaces the value;
- a **reference** run (`kind=reference`) per model version: what the promotion decision rested
  on (`monitoring/profile.json`, `monitoring/sample.json`, `monitoring/labelled.json`,
  `monitoring/reference.json` with the training and evaluation dataset digests). Without one,
  the reference is computed from the version's evaluation table.

Every reader raises a `watch.errors` error that says what is wrong; a broken artifact is never
read as an empty or stable window.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.artifacts import download_artifact, list_run_artifacts
from tools.client import call_mlflow, every_page
from tools.datasets import read_dataset_inputs
from tools.errors import ArtifactError, NotFoundError
from tools.eval_table import parse_eval_table, read_eval_table
from tools.registry import resolve_version
from tools.search_filter import filter_literal
from watch.errors import (
    MonitoringArtifactError,
    MonitoringRunError,
    ReferenceNotFoundError,
    WindowDataError,
)
from watch.profile import DatasetProfile, profile_frame
from watch.window import MonitoringWindow, Reference

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "ARTIFACT_DIR",
    "LABELLED_PATH",
    "LABELS_PATH",
    "LATEST_WINDOW_TAG",
    "PROFILE_PATH",
    "REFERENCE_PATH",
    "SAMPLE_PATH",
    "TAG_PREFIX",
    "MonitoringKind",
    "WindowRef",
    "default_experiment",
    "list_windows",
    "log_labels",
    "log_monitoring_window",
    "log_reference_profile",
    "read_reference",
    "read_window",
]

logger = logging.getLogger("promogate.watch")

TAG_PREFIX = "promogate.monitoring."
# Set on the model version to the id of each new window or labels run: MLflow sends webhooks for
# registry events only, never for runs, so this tag is what turns a logged window into an event.
LATEST_WINDOW_TAG = "promogate.watch.latest_window"
ARTIFACT_DIR = "monitoring"
PROFILE_PATH = "monitoring/profile.json"
SAMPLE_PATH = "monitoring/sample.json"
LABELS_PATH = "monitoring/labels.json"
LABELLED_PATH = "monitoring/labelled.json"
REFERENCE_PATH = "monitoring/reference.json"
FORMAT = "1"
MAX_ARTIFACT_BYTES = 256 * 1024 * 1024

MonitoringKind = Literal["window", "labels", "reference"]


class WindowRef(BaseModel):
    """A window logged for a model version, and the label batches logged for it so far."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    run_id: str
    label_run_ids: list[str] = Field(default_factory=list)


def default_experiment(model: str) -> str:
    """The experiment monitoring runs of `model` go to unless the caller names one."""
    return f"monitoring/{model}"


def _utc(value: datetime | str, what: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise WindowDataError(f"{what} {value!r} is not an ISO-8601 time") from exc
    # A time without zone is read as UTC, the zone the tags are written in.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _client(client: MlflowClient | None) -> MlflowClient:
    if client is not None:
        return client
    from mlflow import MlflowClient

    return MlflowClient()


MONITORING_DIR = "promogate-monitoring"
"""Below the monitored model's experiment's artifact location, where a local store's monitoring
experiment keeps its artifacts."""


def _experiment_id(client: MlflowClient, name: str, model: str, version: str) -> str:
    found = call_mlflow(lambda: client.get_experiment_by_name(name), f"get experiment {name!r}")
    if found is not None:
        return str(found.experiment_id)
    location = _beside_the_model(client, model, version)
    return str(
        call_mlflow(
            lambda: client.create_experiment(name, artifact_location=location),
            f"create experiment {name!r}",
        )
    )


def _beside_the_model(client: MlflowClient, model: str, version: str) -> str | None:
    """Where a new monitoring experiment keeps its artifacts: beside the monitored version's
    own when promogate writes to MLflow's store itself (a database or file URI); None, the
    server's default, when a tracking server does.

    Without a server, MLflow's default is ``./mlruns`` in whatever directory the command ran
    from: a CI job's workspace, deleted after the job, would take every window's data with it,
    and the watch would later find runs whose artifacts are gone.
    """
    scheme = str(client.tracking_uri).split(":", 1)[0].lower()
    if scheme in ("http", "https") or scheme.startswith("databricks"):
        return None
    run_id = resolve_version(client, model, version).run_id
    if run_id is None:
        return None
    run = call_mlflow(lambda: client.get_run(run_id), f"get_run({run_id!r})")
    experiment_id = run.info.experiment_id
    experiment = call_mlflow(
        lambda: client.get_experiment(experiment_id), f"get_experiment({experiment_id!r})"
    )
    location = str(experiment.artifact_location or "")
    return f"{location.rstrip('/')}/{MONITORING_DIR}" if location else None


def _table_json(frame: pd.DataFrame) -> str:
    """The frame in `mlflow.log_table`'s JSON form ({"columns": [...], "data": [[...]]})."""
    payload = json.loads(frame.to_json(orient="split", index=False, date_format="iso"))
    return json.dumps({"columns": payload["columns"], "data": payload["data"]})


def _new_run(
    client: MlflowClient,
    kind: MonitoringKind,
    model: str,
    version: str,
    experiment: str | None,
    extra_tags: dict[str, str],
    run_name: str,
) -> str:
    tags = {
        f"{TAG_PREFIX}kind": kind,
        f"{TAG_PREFIX}model": model,
        f"{TAG_PREFIX}version": version,
        f"{TAG_PREFIX}format": FORMAT,
        **extra_tags,
    }
    experiment_id = _experiment_id(client, experiment or default_experiment(model), model, version)
    run = call_mlflow(
        lambda: client.create_run(experiment_id, tags=tags, run_name=run_name),
        f"create {kind} run for {model!r} version {version!r}",
    )
    return str(run.info.run_id)


def _finish_run(client: MlflowClient, run_id: str, model: str, version: str, tag: bool) -> None:
    call_mlflow(lambda: client.set_terminated(run_id), f"end the monitoring run {run_id!r}")
    if tag:
        call_mlflow(
            lambda: client.set_model_version_tag(model, version, LATEST_WINDOW_TAG, run_id),
            f"set_model_version_tag({model!r}, {version!r}, {LATEST_WINDOW_TAG!r})",
            attempts=1,
        )


def _check_frame(frame: pd.DataFrame, what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise WindowDataError(f"{what} must be a pandas DataFrame; got {type(frame).__name__!r}")
    if frame.columns.duplicated().any():
        raise WindowDataError(f"{what} has duplicate columns {list(frame.columns)!r}")
    if not all(isinstance(c, str) for c in frame.columns):
        raise WindowDataError(f"{what} column names must be strings; got {list(frame.columns)!r}")


def log_monitoring_window(
    df: pd.DataFrame,
    model: str,
    version: str | int,
    window_start: datetime | str,
    window_end: datetime | str,
    *,
    client: MlflowClient | None = None,
    experiment: str | None = None,
    score_column: str = "score",
    prediction_column: str = "prediction",
    sample_rows: int = 5000,
    categorical: list[str] | None = None,
    seed: int = 0,
    tag_version: bool = True,
) -> str:
    """Log one window of production inputs with the model's outputs; returns the run id.

    The profile covers every row of `df`; the sample keeps at most `sample_rows` rows (drawn at
    random with `seed`), or none with `sample_rows=0`, where only the profile may leave the
    serving side.

    Args:
        df: One row per scored request: the features, the model's score and/or prediction,
            optional `row_id` (to join late labels) and segment columns.
        model: Registered model name.
        version: The model version that served the window.
        window_start: Start of the window (inclusive); a time without zone is UTC.
        window_end: End of the window (exclusive).
        client: MLflow client (default: from the environment).
        experiment: Experiment name (default `monitoring/<model>`).
        score_column: Column of the model's positive-class score, renamed to `score`.
        prediction_column: Column of the predicted class, renamed to `prediction`.
        sample_rows: Rows of the sample to log; 0 logs the profile only.
        categorical: Numeric columns to profile as categories.
        seed: Seed of the sample draw.
        tag_version: Set `promogate.watch.latest_window` on the version to the new run, which
            MLflow's webhook turns into a watch pass when promogate serve receives its events.

    Raises:
        WindowDataError: The frame is empty or malformed, or the window ends before it starts,
            or it carries neither the model's score nor its prediction.
    """
    _check_frame(df, "the window's frame")
    start, end = _utc(window_start, "window_start"), _utc(window_end, "window_end")
    if end <= start:
        raise WindowDataError(f"window_end {_iso(end)!r} is not after window_start {_iso(start)!r}")
    frame = df.rename(columns={score_column: "score", prediction_column: "prediction"})
    if "score" not in frame.columns and "prediction" not in frame.columns:
        raise WindowDataError(
            f"the window's frame has neither {score_column!r} nor {prediction_column!r}: a "
            "monitoring window carries the model's outputs"
        )
    if sample_rows < 0:
        raise WindowDataError(f"sample_rows must be >= 0; got {sample_rows!r}")
    columns = [c for c in frame.columns if c not in ("row_id", "label")]
    profile = profile_frame(frame, columns=columns, categorical=categorical or [])
    client = _client(client)
    version = str(version)
    run_id = _new_run(
        client,
        "window",
        model,
        version,
        experiment,
        {f"{TAG_PREFIX}window_start": _iso(start), f"{TAG_PREFIX}window_end": _iso(end)},
        f"window {_iso(start)}",
    )
    call_mlflow(
        lambda: client.log_text(run_id, profile.model_dump_json(), PROFILE_PATH),
        f"log {PROFILE_PATH}",
    )
    kept = 0
    if sample_rows and len(frame):
        sample = (
            frame if len(frame) <= sample_rows else frame.sample(sample_rows, random_state=seed)
        )
        kept = len(sample)
        text = _table_json(sample.drop(columns=["label"], errors="ignore"))
        call_mlflow(lambda: client.log_text(run_id, text, SAMPLE_PATH), f"log {SAMPLE_PATH}")
    call_mlflow(lambda: client.log_metric(run_id, "monitoring/rows", len(frame)), "log rows")
    call_mlflow(lambda: client.log_metric(run_id, "monitoring/sample_rows", kept), "log rows")
    _finish_run(client, run_id, model, version, tag_version)
    logger.info("logged monitoring window %s for %s/%s (%d rows)", run_id, model, version, len(df))
    return run_id


def log_labels(
    df: pd.DataFrame,
    model: str,
    version: str | int,
    window_start: datetime | str,
    window_end: datetime | str,
    *,
    client: MlflowClient | None = None,
    experiment: str | None = None,
    label_column: str = "label",
    score_column: str = "score",
    prediction_column: str = "prediction",
    tag_version: bool = True,
) -> str:
    """Log a batch of labels that arrived for an earlier window; returns the run id.

    Args:
        df: One row per labelled request: `label`, the model's realised `prediction` and/or
            `score`, `row_id` (recommended: a later batch replaces rows with the same id) and
            segment columns.
        model: Registered model name.
        version: The model version that served the window.
        window_start: Start of the window the labels belong to.
        window_end: End of that window.
        client: MLflow client (default: from the environment).
        experiment: Experiment name (default `monitoring/<model>`).
        label_column: Column of the true class, renamed to `label`.
        score_column: Column of the realised score, renamed to `score`.
        prediction_column: Column of the realised predicted class, renamed to `prediction`.
        tag_version: Set `promogate.watch.latest_window` on the version to the new run (the
            labels re-open the window's realised metrics; see `log_monitoring_window`).

    Raises:
        WindowDataError: The frame lacks labels or the model's outputs, or the window is empty.
    """
    _check_frame(df, "the labels frame")
    start, end = _utc(window_start, "window_start"), _utc(window_end, "window_end")
    if end <= start:
        raise WindowDataError(f"window_end {_iso(end)!r} is not after window_start {_iso(start)!r}")
    frame = df.rename(
        columns={label_column: "label", score_column: "score", prediction_column: "prediction"}
    )
    if "label" not in frame.columns:
        raise WindowDataError(f"the labels frame has no {label_column!r} column")
    if "score" not in frame.columns and "prediction" not in frame.columns:
        raise WindowDataError(
            "the labels frame needs the realised prediction or score beside each label"
        )
    client = _client(client)
    version = str(version)
    run_id = _new_run(
        client,
        "labels",
        model,
        version,
        experiment,
        {f"{TAG_PREFIX}window_start": _iso(start), f"{TAG_PREFIX}window_end": _iso(end)},
        f"labels {_iso(start)}",
    )
    text = _table_json(frame)
    call_mlflow(lambda: client.log_text(run_id, text, LABELS_PATH), f"log {LABELS_PATH}")
    call_mlflow(lambda: client.log_metric(run_id, "monitoring/labelled_rows", len(frame)), "log")
    _finish_run(client, run_id, model, version, tag_version)
    logger.info("logged %d labels for %s/%s window %s", len(frame), model, version, _iso(start))
    return run_id


def log_reference_profile(
    df: pd.DataFrame,
    model: str,
    version: str | int,
    *,
    client: MlflowClient | None = None,
    experiment: str | None = None,
    dataset_digests: dict[str, str] | None = None,
    categorical: list[str] | None = None,
    sample_rows: int = 5000,
    seed: int = 0,
) -> str:
    """Log the reference a version is watched against; returns the run id.

    Log it with the data the promotion decision was made on: the evaluation table with its
    features (label, prediction and/or score, segment columns), or the training data. Rows with
    a `label` also serve the realised-metric comparison.

    Args:
        df: One row per reference example.
        model: Registered model name.
        version: The model version.
        client: MLflow client (default: from the environment).
        experiment: Experiment name (default `monitoring/<model>`).
        dataset_digests: Digests of the training and evaluation datasets, by context; read
            from the version's source run when not given.
        categorical: Numeric columns to profile as categories.
        sample_rows: Rows of the sample to log (0: the profile only).
        seed: Seed of the sample draw.
    """
    _check_frame(df, "the reference frame")
    if len(df) == 0:
        raise WindowDataError("the reference frame is empty")
    client = _client(client)
    version = str(version)
    if dataset_digests is None:
        dataset_digests = _version_digests(client, model, version)
    columns = [c for c in df.columns if c not in ("row_id", "label")]
    profile = profile_frame(df, columns=columns, categorical=categorical or [])
    run_id = _new_run(client, "reference", model, version, experiment, {}, f"reference v{version}")
    call_mlflow(
        lambda: client.log_text(run_id, profile.model_dump_json(), PROFILE_PATH),
        f"log {PROFILE_PATH}",
    )
    meta = json.dumps({"dataset_digests": dataset_digests, "rows": len(df)})
    call_mlflow(lambda: client.log_text(run_id, meta, REFERENCE_PATH), f"log {REFERENCE_PATH}")
    if sample_rows:
        sample = df if len(df) <= sample_rows else df.sample(sample_rows, random_state=seed)
        text = _table_json(sample.drop(columns=["label"], errors="ignore"))
        call_mlflow(lambda: client.log_text(run_id, text, SAMPLE_PATH), f"log {SAMPLE_PATH}")
    if "label" in df.columns:
        text = _table_json(df)
        call_mlflow(lambda: client.log_text(run_id, text, LABELLED_PATH), f"log {LABELLED_PATH}")
    call_mlflow(lambda: client.set_terminated(run_id), "end the reference run")
    return run_id


def _version_digests(client: MlflowClient, model: str, version: str) -> dict[str, str]:
    resolved = resolve_version(client, model, version)
    if resolved.run_id is None:
        return {}
    digests: dict[str, str] = {}
    for dataset in read_dataset_inputs(client, resolved.run_id):
        digests[dataset.context or dataset.name] = dataset.digest
    return digests


# -- reading ---------------------------------------------------------------------------------


def _search(client: MlflowClient, model: str, version: str, kind: MonitoringKind) -> list[Any]:
    ids = [e.experiment_id for e in every_page(client.search_experiments, "list experiments")]
    if not ids:
        return []
    query = (
        f"tags.`{TAG_PREFIX}kind` = '{kind}' and tags.`{TAG_PREFIX}model` = "
        f"{filter_literal(model)} and tags.`{TAG_PREFIX}version` = "
        f"{filter_literal(version, 'model version')}"
    )
    return list(
        every_page(
            client.search_runs,
            f"search {kind} runs of {model!r} version {version!r}",
            experiment_ids=ids,
            filter_string=query,
            order_by=["attributes.start_time ASC"],
        )
    )


def _window_bounds(run: Any) -> tuple[datetime, datetime]:
    tags = run.data.tags
    run_id = run.info.run_id
    bounds = []
    for name in ("window_start", "window_end"):
        text = tags.get(f"{TAG_PREFIX}{name}")
        if not text:
            raise MonitoringRunError(run_id, f"tag {TAG_PREFIX}{name!s} is missing")
        try:
            bounds.append(_utc(text, name))
        except WindowDataError as exc:
            raise MonitoringRunError(run_id, str(exc)) from exc
    if bounds[1] <= bounds[0]:
        raise MonitoringRunError(
            run_id, f"window_end {_iso(bounds[1])!r} is not after {_iso(bounds[0])!r}"
        )
    return bounds[0], bounds[1]


def list_windows(client: MlflowClient, model: str, version: str | int) -> list[WindowRef]:
    """The windows logged for a model version, oldest first, with their label batches.

    Raises:
        MonitoringRunError: A window or labels run has missing or invalid window tags.
    """
    version = str(version)
    windows = _search(client, model, version, "window")
    labels = _search(client, model, version, "labels")
    by_bounds: dict[tuple[datetime, datetime], list[str]] = {}
    for run in labels:
        by_bounds.setdefault(_window_bounds(run), []).append(run.info.run_id)
    refs = []
    for run in windows:
        start, end = _window_bounds(run)
        refs.append(
            WindowRef(
                model=model,
                version=version,
                window_start=start,
                window_end=end,
                run_id=run.info.run_id,
                label_run_ids=by_bounds.get((start, end), []),
            )
        )
    return sorted(refs, key=lambda r: (r.window_start, r.window_end, r.run_id))


def _download(client: MlflowClient, run_id: str, path: str) -> bytes | None:
    sizes = {e.path: e.size for e in list_run_artifacts(client, run_id, ARTIFACT_DIR)}
    if path not in sizes:
        return None
    try:
        return download_artifact(
            client, "run", run_id, path, max_bytes=MAX_ARTIFACT_BYTES, size_hint=sizes[path]
        )
    except (ArtifactError, NotFoundError) as exc:
        raise MonitoringArtifactError(run_id, path, str(exc)) from exc


def _profile(client: MlflowClient, run_id: str) -> DatasetProfile:
    data = _download(client, run_id, PROFILE_PATH)
    if data is None:
        raise MonitoringArtifactError(run_id, PROFILE_PATH, "the run has no profile")
    try:
        return DatasetProfile.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise MonitoringArtifactError(
            run_id, PROFILE_PATH, f"not a valid profile: {where}: {first['msg']}"
        ) from exc


def _table(client: MlflowClient, run_id: str, path: str) -> pd.DataFrame | None:
    data = _download(client, run_id, path)
    if data is None:
        return None
    try:
        table = parse_eval_table(path, data, check_columns=False)
    except ArtifactError as exc:
        raise MonitoringArtifactError(run_id, path, str(exc)) from exc
    return pd.DataFrame(table.rows, columns=table.columns)


def _frame_digest(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return "-"
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(frame.columns).encode()).hexdigest()


def _merge_labels(batches: list[tuple[str, pd.DataFrame]]) -> pd.DataFrame | None:
    """Batches in the order they were logged; a later row with the same row_id wins."""
    if not batches:
        return None
    frame = pd.concat([b for _, b in batches], ignore_index=True)
    if "row_id" in frame.columns:
        frame = frame.drop_duplicates(subset="row_id", keep="last").reset_index(drop=True)
    return frame


def read_window(client: MlflowClient, ref: WindowRef) -> MonitoringWindow:
    """Read a window's profile, sample and every label batch logged for it so far.

    Raises:
        MonitoringArtifactError: The profile is missing or malformed, the sample or a labels
            table is malformed, a labels run has no table, or the sample holds more rows than
            the profile says the window had.
    """
    profile = _profile(client, ref.run_id)
    sample = _table(client, ref.run_id, SAMPLE_PATH)
    if sample is not None and len(sample) > profile.rows:
        raise MonitoringArtifactError(
            ref.run_id,
            SAMPLE_PATH,
            f"{len(sample)} sample rows but the profile counts {profile.rows} in the window",
        )
    if sample is not None:
        absent = sorted(set(profile.columns) - set(sample.columns))
        if absent:
            raise MonitoringArtifactError(
                ref.run_id, SAMPLE_PATH, f"columns {absent!r} of the profile are not in the sample"
            )
    batches: list[tuple[str, pd.DataFrame]] = []
    for run_id in ref.label_run_ids:
        table = _table(client, run_id, LABELS_PATH)
        if table is None:
            raise MonitoringArtifactError(run_id, LABELS_PATH, "the labels run has no table")
        if "label" not in table.columns:
            raise MonitoringArtifactError(
                run_id, LABELS_PATH, f"no 'label' column in {list(table.columns)!r}"
            )
        batches.append((run_id, table))
    labelled = _merge_labels(batches)
    digest = hashlib.sha256(
        "|".join(
            [profile.model_dump_json(), _frame_digest(sample), _frame_digest(labelled)]
        ).encode()
    ).hexdigest()
    return MonitoringWindow(
        model=ref.model,
        version=ref.version,
        window_start=ref.window_start,
        window_end=ref.window_end,
        profile=profile,
        sample=sample,
        labelled=labelled,
        run_id=ref.run_id,
        label_run_ids=list(ref.label_run_ids),
        digest=digest,
    )


def _reference_digest(
    profile: DatasetProfile, sample: pd.DataFrame | None, labelled: pd.DataFrame | None
) -> str:
    text = "|".join([profile.model_dump_json(), _frame_digest(sample), _frame_digest(labelled)])
    return hashlib.sha256(text.encode()).hexdigest()


def read_reference(client: MlflowClient, model: str, version: str | int) -> Reference:
    """The reference of a version: its latest reference run, else its evaluation table.

    Raises:
        ReferenceNotFoundError: Neither exists.
        MonitoringArtifactError: The reference run's artifacts are missing or malformed.
    """
    version = str(version)
    runs = _search(client, model, version, "reference")
    if runs:
        run_id = runs[-1].info.run_id
        profile = _profile(client, run_id)
        sample = _table(client, run_id, SAMPLE_PATH)
        labelled = _table(client, run_id, LABELLED_PATH)
        meta_bytes = _download(client, run_id, REFERENCE_PATH)
        digests: dict[str, str] = {}
        if meta_bytes is not None:
            try:
                meta = json.loads(meta_bytes)
                digests = {str(k): str(v) for k, v in dict(meta["dataset_digests"]).items()}
            except (ValueError, KeyError, TypeError) as exc:
                raise MonitoringArtifactError(
                    run_id, REFERENCE_PATH, f"not a reference description: {exc}"
                ) from exc
        return Reference(
            model=model,
            version=version,
            profile=profile,
            sample=sample,
            labelled=labelled,
            source="reference_run",
            run_id=run_id,
            dataset_digests=digests,
            digest=_reference_digest(profile, sample, labelled),
        )
    resolved = resolve_version(client, model, version)
    table = read_eval_table(client, resolved.run_id) if resolved.run_id else None
    if table is None:
        raise ReferenceNotFoundError(model, version)
    frame = pd.DataFrame(table.rows, columns=table.columns)
    features = [c for c in frame.columns if c not in ("label", "row_id")]
    profile = profile_frame(frame, columns=features)
    sample = frame[features]
    labelled = frame if "label" in frame.columns else None
    return Reference(
        model=model,
        version=version,
        profile=profile,
        sample=sample,
        labelled=labelled,
        source="eval_table",
        run_id=resolved.run_id,
        dataset_digests=_version_digests(client, model, version),
        digest=_reference_digest(profile, sample, labelled),
    )
