"""Monitoring evidence in MLflow: what the writers log; readers fail loudly on bad input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.watch_world import MODEL_NAME, draw

from watch.errors import (
    MonitoringArtifactError,
    MonitoringRunError,
    ReferenceNotFoundError,
    WindowDataError,
)
from watch.monitoring import (
    LABELS_PATH,
    LATEST_WINDOW_TAG,
    MONITORING_DIR,
    PROFILE_PATH,
    SAMPLE_PATH,
    TAG_PREFIX,
    WindowRef,
    default_experiment,
    list_windows,
    log_labels,
    log_monitoring_window,
    log_reference_profile,
    read_reference,
    read_window,
)

START = datetime(2026, 6, 1, tzinfo=UTC)


def _bounds(day: int) -> tuple[datetime, datetime]:
    return START + timedelta(days=day), START + timedelta(days=day + 1)


def _raw_run(client: Any, kind: str, day: int | None, version: str, model: str = MODEL_NAME) -> str:
    """A monitoring run made by hand, the way a team's own code might get it wrong."""
    name = default_experiment(model)
    experiment = client.get_experiment_by_name(name)
    # Beside the session's store, not in ./mlruns of the directory the tests run from.
    beside = Path(str(client.tracking_uri).removeprefix("sqlite:///")).parent / "raw-runs"
    experiment_id = (
        experiment.experiment_id
        if experiment
        else client.create_experiment(name, artifact_location=str(beside))
    )
    tags = {
        f"{TAG_PREFIX}kind": kind,
        f"{TAG_PREFIX}model": model,
        f"{TAG_PREFIX}version": version,
    }
    if day is not None:
        start, end = _bounds(day)
        tags[f"{TAG_PREFIX}window_start"] = start.isoformat()
        tags[f"{TAG_PREFIX}window_end"] = end.isoformat()
    return str(client.create_run(experiment_id, tags=tags).info.run_id)


def _ref(run_id: str, day: int, version: str, labels: list[str] | None = None) -> WindowRef:
    start, end = _bounds(day)
    return WindowRef(
        model=MODEL_NAME,
        version=version,
        window_start=start,
        window_end=end,
        run_id=run_id,
        label_run_ids=labels or [],
    )


def test_a_window_run_carries_tags_profile_and_sample(watch_world: Any, watch_client: Any) -> None:
    frame = draw(watch_world.model, 300, 7, first_row=7_000_000)
    frame = frame.rename(columns={"score": "p_default"})
    start, end = _bounds(0)
    run_id = log_monitoring_window(
        frame.drop(columns=["label"]),
        MODEL_NAME,
        int(watch_world.version),
        start,
        end,
        client=watch_client,
        score_column="p_default",
        sample_rows=100,
    )
    run = watch_client.get_run(run_id)
    tags = run.data.tags
    assert tags[f"{TAG_PREFIX}kind"] == "window"
    assert tags[f"{TAG_PREFIX}version"] == watch_world.version
    assert tags[f"{TAG_PREFIX}window_start"] == "2026-06-01T00:00:00Z"
    assert run.data.metrics["monitoring/rows"] == 300
    window = read_window(watch_client, _ref(run_id, 0, watch_world.version))
    assert window.profile.rows == 300
    assert window.sample is not None and len(window.sample) == 100
    assert "score" in window.sample.columns and "score" in window.profile.columns
    assert window.labelled is None
    # The version points to its newest monitoring run: MLflow's webhooks see registry events only.
    version = watch_client.get_model_version(MODEL_NAME, watch_world.version)
    assert version.tags[LATEST_WINDOW_TAG] == run_id


def test_a_local_stores_monitoring_artifacts_stay_beside_the_model(
    watch_world: Any, watch_client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a server MLflow would put a new experiment's artifacts in ./mlruns of whatever
    directory the command ran from (a CI job's workspace, gone after the job)."""
    source = watch_client.get_model_version(MODEL_NAME, watch_world.version)
    name = "beside-the-model"
    model_location = watch_client.get_experiment(
        watch_client.get_run(source.run_id).info.experiment_id
    ).artifact_location
    watch_client.create_registered_model(name)
    # A path source: a `models:/` one is resolved against the process's tracking URI.
    files = f"{model_location.rstrip('/')}/{source.run_id}/artifacts"
    watch_client.create_model_version(name, files, run_id=source.run_id)
    workspace = tmp_path / "ci-workspace"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    frame = draw(watch_world.model, 50, 8, first_row=8_000_000).drop(columns=["label"])
    start, end = _bounds(0)
    run_id = log_monitoring_window(frame, name, 1, start, end, client=watch_client)
    experiment = watch_client.get_experiment_by_name(default_experiment(name))
    assert experiment.artifact_location == f"{model_location.rstrip('/')}/{MONITORING_DIR}"
    assert list(workspace.iterdir()) == []
    window = read_window(watch_client, list_windows(watch_client, name, 1)[0])
    assert (window.profile.rows, list_windows(watch_client, name, 1)[0].run_id) == (50, run_id)


def test_a_profile_only_window_logs_no_sample(watch_world: Any, watch_client: Any) -> None:
    frame = draw(watch_world.model, 300, 8).drop(columns=["label"])
    start, end = _bounds(1)
    run_id = log_monitoring_window(
        frame, MODEL_NAME, watch_world.version, start, end, client=watch_client, sample_rows=0
    )
    window = read_window(watch_client, _ref(run_id, 1, watch_world.version))
    assert window.sample is None and window.profile.rows == 300


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        pytest.param({"drop": ["score", "prediction"]}, "model's outputs", id="no-outputs"),
        pytest.param({"end": -1}, "not after", id="end-before-start"),
    ],
)
def test_the_writer_refuses_a_window_it_cannot_describe(
    watch_world: Any, watch_client: Any, change: dict[str, Any], needle: str
) -> None:
    frame = draw(watch_world.model, 50, 9).drop(columns=change.get("drop", []))
    start, end = _bounds(2)
    if "end" in change:
        end = start + timedelta(days=change["end"])
    with pytest.raises(WindowDataError, match=needle):
        log_monitoring_window(frame, MODEL_NAME, "1", start, end, client=watch_client)


def _broken_profile(client: Any, version: str) -> tuple[WindowRef, str]:
    run_id = _raw_run(client, "window", 3, version)
    client.log_text(run_id, "{not json", PROFILE_PATH)
    return _ref(run_id, 3, version), PROFILE_PATH


def _invalid_profile(client: Any, version: str) -> tuple[WindowRef, str]:
    run_id = _raw_run(client, "window", 4, version)
    client.log_text(run_id, json.dumps({"format": 1, "rows": -5, "columns": {}}), PROFILE_PATH)
    return _ref(run_id, 4, version), PROFILE_PATH


def _no_profile(client: Any, version: str) -> tuple[WindowRef, str]:
    run_id = _raw_run(client, "window", 5, version)
    return _ref(run_id, 5, version), PROFILE_PATH


def _sample_bigger_than_window(client: Any, version: str) -> tuple[WindowRef, str]:
    run_id = _raw_run(client, "window", 6, version)
    client.log_text(
        run_id,
        json.dumps(
            {"format": 1, "rows": 1, "columns": {"x": {"kind": "numeric", "rows": 1, "missing": 0}}}
        ),
        PROFILE_PATH,
    )
    client.log_text(run_id, json.dumps({"columns": ["x"], "data": [[1.0], [2.0]]}), SAMPLE_PATH)
    return _ref(run_id, 6, version), SAMPLE_PATH


def _labels_without_label(client: Any, version: str) -> tuple[WindowRef, str]:
    good = log_monitoring_window(
        _frame(), MODEL_NAME, version, *_bounds(7), client=client, sample_rows=0
    )
    labels = _raw_run(client, "labels", 7, version)
    client.log_text(labels, json.dumps({"columns": ["row_id"], "data": [["r1"]]}), LABELS_PATH)
    return _ref(good, 7, version, [labels]), LABELS_PATH


def _malformed_labels_table(client: Any, version: str) -> tuple[WindowRef, str]:
    good = log_monitoring_window(
        _frame(), MODEL_NAME, version, *_bounds(8), client=client, sample_rows=0
    )
    labels = _raw_run(client, "labels", 8, version)
    client.log_text(labels, json.dumps({"columns": ["label", "label"], "data": []}), LABELS_PATH)
    return _ref(good, 8, version, [labels]), LABELS_PATH


def _frame() -> Any:
    """A window's inputs with made-up outputs: only the labels run is under test here."""
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]

    rng = np.random.default_rng(11)
    return pd.DataFrame({"x": rng.normal(size=250), "score": rng.random(250)})


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        pytest.param(_broken_profile, "not a valid profile", id="profile-not-json"),
        pytest.param(_invalid_profile, "rows", id="profile-negative-rows"),
        pytest.param(_no_profile, "has no profile", id="profile-missing"),
        pytest.param(_sample_bigger_than_window, "2 sample rows", id="sample-over-count"),
        pytest.param(_labels_without_label, "no 'label' column", id="labels-without-label"),
        pytest.param(_malformed_labels_table, "duplicate column", id="labels-duplicate-columns"),
    ],
)
def test_a_broken_monitoring_artifact_is_an_error_that_says_what(
    watch_world: Any, watch_client: Any, make: Any, needle: str
) -> None:
    ref, path = make(watch_client, watch_world.version)
    with pytest.raises(MonitoringArtifactError) as caught:
        read_window(watch_client, ref)
    assert caught.value.path == path
    assert needle in str(caught.value)
    assert repr(path) in str(caught.value)


def test_a_window_run_without_its_bounds_is_an_error(watch_client: Any) -> None:
    from mlflow import MlflowClient

    assert isinstance(watch_client, MlflowClient)
    version = "77"
    run_id = _raw_run(watch_client, "window", None, version)
    with pytest.raises(MonitoringRunError, match="window_start is missing") as caught:
        list_windows(watch_client, MODEL_NAME, version)
    assert caught.value.run_id == run_id


@pytest.mark.parametrize(
    "model",
    ["o'brien-churn", 'the "new" scorer', "back\\slash", MODEL_NAME + "'"],
    ids=["single-quote", "double-quote", "backslash", "a-name-plus-a-quote"],
)
def test_windows_of_a_model_named_with_quotes_are_found(watch_client: Any, model: str) -> None:
    """MLflow accepts these names; their windows and labels must be found, and only theirs."""
    window = _raw_run(watch_client, "window", 3, "1", model)
    labels = _raw_run(watch_client, "labels", 3, "1", model)
    decoy = "".join(c for c in model if c not in "'\"\\")
    _raw_run(watch_client, "window", 4, "1", decoy)
    assert list_windows(watch_client, model, 1) == [
        WindowRef(
            model=model,
            version="1",
            window_start=_bounds(3)[0],
            window_end=_bounds(3)[1],
            run_id=window,
            label_run_ids=[labels],
        )
    ]


def test_a_model_named_with_both_quotes_is_an_error_not_no_windows(watch_client: Any) -> None:
    from tools.errors import UnsearchableValueError

    with pytest.raises(UnsearchableValueError):
        list_windows(watch_client, 'it\'s "both"', 1)


def test_a_logged_reference_wins_over_the_evaluation_table(
    watch_world: Any, watch_client: Any
) -> None:
    # A version of its own, so that the other tests keep reading the evaluation table.
    import mlflow

    source = watch_client.get_model_version(MODEL_NAME, watch_world.version).source
    with mlflow.tracking._tracking_service.utils._use_tracking_uri(watch_world.tracking_uri):
        other = mlflow.register_model(source, MODEL_NAME).version
    frame = watch_world.evaluation
    run_id = log_reference_profile(frame, MODEL_NAME, other, client=watch_client)
    reference = read_reference(watch_client, MODEL_NAME, other)
    assert reference.source == "reference_run" and reference.run_id == run_id
    assert reference.labelled is not None and len(reference.labelled) == len(frame)
    assert reference.sample is not None and "label" not in reference.sample.columns
    assert reference.profile.rows == len(frame)
    # The digests come from the version's source run: what the decision was made on.
    assert set(reference.dataset_digests) == {"training", "evaluation"}


def test_a_version_with_neither_reference_nor_table_is_an_error(
    watch_world: Any, watch_client: Any
) -> None:
    import mlflow

    # The world's experiment, whose artifacts live beside its store (the Default experiment's
    # would land in ./mlruns of the directory the tests run from).
    experiment = watch_client.get_experiment_by_name("credit").experiment_id
    with mlflow.tracking._tracking_service.utils._use_tracking_uri(watch_world.tracking_uri):
        with mlflow.start_run(experiment_id=experiment):
            info = mlflow.sklearn.log_model(
                watch_world.model, name="model", pip_requirements=["scikit-learn"]
            )
        bare = mlflow.register_model(info.model_uri, MODEL_NAME).version
    with pytest.raises(ReferenceNotFoundError, match="log_reference_profile"):
        read_reference(watch_client, MODEL_NAME, bare)


def test_labels_need_the_realised_outputs(watch_world: Any, watch_client: Any) -> None:
    frame = draw(watch_world.model, 20, 12)[["row_id", "label"]]
    with pytest.raises(WindowDataError, match="realised prediction or score"):
        log_labels(frame, MODEL_NAME, watch_world.version, *_bounds(9), client=watch_client)


def test_late_labels_point_the_version_to_them_unless_told_not_to(
    watch_world: Any, watch_client: Any
) -> None:
    frame = draw(watch_world.model, 20, 13)[["row_id", "label", "score"]]
    labels = log_labels(frame, MODEL_NAME, watch_world.version, *_bounds(10), client=watch_client)
    tag = watch_client.get_model_version(MODEL_NAME, watch_world.version).tags[LATEST_WINDOW_TAG]
    assert tag == labels
    quiet = log_labels(
        frame,
        MODEL_NAME,
        watch_world.version,
        *_bounds(11),
        client=watch_client,
        tag_version=False,
    )
    tag = watch_client.get_model_version(MODEL_NAME, watch_world.version).tags[LATEST_WINDOW_TAG]
    assert tag == labels != quiet
