"""The cheaper reads of a review answer exactly what the plain MLflow reads answer: a run's
listing read without re-reading the run, its files downloaded without MLflow's `runs:/` reads,
a logged model read once for all its files, the earlier versions' runs read in one search, and
importances kept under the model file's bytes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio
from sklearn.tree import DecisionTreeClassifier

from tools.artifacts import (
    LoggedModelRepository,
    RunArtifactRepository,
    download_artifact,
    walk_run_artifacts,
)
from tools.errors import ToolError
from tools.model_importance import IMPORTANCE_CACHE, load_skops_importances
from tools.version_history import read_version_history

TREE = "sklearn.tree._tree.Tree"


def _both_listings(client: Any, run_id: str) -> tuple[Any, Any]:
    run = client.get_run(run_id)
    plain = walk_run_artifacts(client, run_id)
    direct = walk_run_artifacts(
        client,
        run_id,
        artifact_uri=run.info.artifact_uri,
        experiment_id=run.info.experiment_id,
    )
    return plain, direct


MAX = 64 * 1024 * 1024


def _repository(client: Any, run_id: str) -> RunArtifactRepository:
    run = client.get_run(run_id)
    repository = RunArtifactRepository.for_run(
        client, run_id, run.info.artifact_uri, run.info.experiment_id
    )
    assert repository is not None
    return repository


def _read(client: Any, owner: Any, owner_id: str, path: str, repository: Any) -> bytes | str:
    """The file's bytes, or the error's type and message: both routes must agree on either."""
    try:
        return download_artifact(
            client, owner, owner_id, path, max_bytes=MAX, repository=repository
        )
    except ToolError as exc:
        return f"{type(exc).__name__}: {exc}"


def _downloads_alike(client: Any, run_id: str, extra: tuple[str, ...] = ()) -> list[str]:
    repository = _repository(client, run_id)
    paths = [e.path for e in walk_run_artifacts(client, run_id)[0]]
    for path in [*paths, *extra]:
        plain = _read(client, "run", run_id, path, None)
        direct = _read(client, "run", run_id, path, repository)
        assert direct == plain, (run_id, path)
    return paths


def test_every_run_of_the_store_lists_alike_both_ways(mlflow_store: Any, client: Any) -> None:
    from mlflow.entities import ViewType

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=500)
    assert len(runs) >= 5
    for run in runs:
        plain, direct = _both_listings(client, run.info.run_id)
        assert direct == plain, run.info.run_id


def test_every_file_of_every_run_downloads_alike_both_ways(mlflow_store: Any, client: Any) -> None:
    from mlflow.entities import ViewType

    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    runs = client.search_runs(experiments, run_view_type=ViewType.ALL, max_results=500)
    downloaded = 0
    for run in runs:
        # A missing file fails with MLflow's own error either way.
        downloaded += len(_downloads_alike(client, run.info.run_id, ("no/such/file.txt",)))
    assert downloaded >= 10


def test_every_file_of_every_logged_model_reads_alike_with_one_shared_read(
    mlflow_store: Any, client: Any
) -> None:
    from tools.artifacts import list_logged_model_artifacts

    model_ids = [facts.model_id for facts in mlflow_store.versions.values()]
    assert len(model_ids) >= 2
    for model_id in model_ids:
        shared = LoggedModelRepository(client, model_id)
        paths = [e.path for e in list_logged_model_artifacts(client, model_id)]
        assert "MLmodel" in paths
        for path in [*paths, "no/such/file.txt"]:
            alone = _read(client, "logged_model", model_id, path, None)
            assert _read(client, "logged_model", model_id, path, shared) == alone, path
        assert shared.logged_model().model_id == model_id
    missing = LoggedModelRepository(client, "m-0000000000000000000000000000dead")
    with pytest.raises(ToolError) as raised:
        missing.download("MLmodel", "/nonexistent")
    with pytest.raises(ToolError) as again:
        download_artifact(client, "logged_model", missing.model_id, "MLmodel", max_bytes=MAX)
    assert type(raised.value) is type(again.value)
    assert str(raised.value) == str(again.value)


def _new_store(tmp_path: Path) -> tuple[Any, str]:
    """A client on an empty SQLite store and one experiment with local artifacts."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    return client, client.create_experiment("e", artifact_location=(tmp_path / "a").as_uri())


def test_a_file_logged_again_is_downloaded_afresh_through_the_same_repository(
    tmp_path: Path,
) -> None:
    client, experiment = _new_store(tmp_path)
    run_id = client.create_run(experiment).info.run_id
    client.log_text(run_id, "first", "pipeline/train.yaml")
    client.set_terminated(run_id)
    repository = _repository(client, run_id)
    first = _read(client, "run", run_id, "pipeline/train.yaml", repository)
    client.log_text(run_id, "other", "pipeline/train.yaml")
    second = _read(client, "run", run_id, "pipeline/train.yaml", repository)
    assert (first, second) == (b"first", b"other")


def _planted(root: Path, kind: str, outside: Path) -> str:
    """Plant something other than a plain small file in a run's artifact directory."""
    path = root / "pipeline" / "odd"
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink out of the store":
        path.symlink_to(outside)
    elif kind == "directory":
        (path / "inner.txt").parent.mkdir()
        (path / "inner.txt").write_text("x")
    else:
        path.write_bytes(b"x" * 2048)
    return "pipeline/odd"


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("fifo", "MalformedArtifactError"),
        ("symlink out of the store", "BackendRequestError"),
        ("directory", "MalformedArtifactError"),
        ("over the cap", "ArtifactTooLargeError"),
    ],
    ids=["fifo", "symlink-out", "directory", "over-cap"],
)
def test_a_file_read_in_place_is_refused_unless_a_small_regular_file_inside_the_store(
    tmp_path: Path, kind: str, error: str
) -> None:
    client, experiment = _new_store(tmp_path)
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "ok", "pipeline/train.yaml")
    client.set_terminated(run.info.run_id)
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the artifact store")
    root = Path(run.info.artifact_uri.removeprefix("file://"))
    path = _planted(root, kind, secret)
    repository = _repository(client, run.info.run_id)
    assert repository.in_place("pipeline/train.yaml") == root / "pipeline" / "train.yaml"
    with pytest.raises(ToolError) as raised:
        download_artifact(
            client, "run", run.info.run_id, path, max_bytes=1024, repository=repository
        )
    assert type(raised.value).__name__ == error, raised.value
    assert "outside the artifact store" not in str(raised.value)


def test_a_logged_model_named_like_a_run_directory_is_merged_as_mlflow_does(
    tmp_path: Path,
) -> None:
    client, experiment = _new_store(tmp_path)
    run_id = client.create_run(experiment).info.run_id
    other_run = client.create_run(experiment).info.run_id

    def folder(name: str, files: dict[str, str]) -> str:
        root = tmp_path / name
        for path, text in files.items():
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_text(text)
        return str(root)

    run_files = {"notes.txt": "n", "extra/deep/a.txt": "a"}
    client.log_artifacts(run_id, folder("run", run_files), "model")
    client.log_artifacts(run_id, folder("safety", {"suite/results.json": "[]"}), "safety")
    # Two logged models named "model" from this run, and one from another run: MLflow merges
    # the first its search finds from this run only.
    for source, files in (
        (run_id, {"MLmodel": "flavors: {}\n", "sub/weights.bin": "w"}),
        (run_id, {"MLmodel": "flavors: {}\n", "other.txt": "o"}),
        (other_run, {"foreign.txt": "f"}),
    ):
        model = client.create_logged_model(experiment, name="model", source_run_id=source)
        client.log_model_artifacts(model.model_id, folder(model.model_id, files))
    client.set_terminated(run_id)

    # MLflow resolves the merged logged model against the process's tracking URI, not the
    # client's; the direct listing uses the client's, so it lists this also when they differ.
    import mlflow

    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        plain, direct = _both_listings(client, run_id)
    finally:
        mlflow.set_tracking_uri(previous)
    assert direct == plain
    # The files a logged model of the run overwrites are downloaded through MLflow's route.
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(client.tracking_uri)
    try:
        _downloads_alike(client, run_id, ("model", "model/MLmodel", "safety/none.json"))
    finally:
        mlflow.set_tracking_uri(previous)
    paths = [e.path for e in plain[0]]
    assert "model/notes.txt" in paths and "model/extra/deep/a.txt" in paths
    assert "safety/suite/results.json" in paths
    assert "model/sub/weights.bin" in paths or "model/other.txt" in paths
    assert not any("foreign" in p for p in paths)


def test_earlier_versions_read_in_one_search_match_one_read_each(
    mlflow_store: Any, client: Any
) -> None:
    names = ["accuracy", "roc_auc", "loss"]
    versions = max(mlflow_store.versions) + 1
    one_each = read_version_history(client, mlflow_store.model, versions, names)
    searched = read_version_history(
        client, mlflow_store.model, versions, names, experiment_ids=[mlflow_store.experiment_id]
    )
    # An experiment holding none of the runs: every run is read alone, with the same result.
    elsewhere = read_version_history(
        client, mlflow_store.model, versions, names, experiment_ids=["0"]
    )
    assert len(one_each.versions) >= 2
    assert searched == one_each
    assert elsewhere == one_each


def test_importances_are_kept_under_the_model_files_bytes() -> None:
    import pandas as pd  # type: ignore[import-untyped]

    frame = pd.DataFrame({"a": [0, 1, 0, 1, 1, 0], "b": [1, 1, 0, 0, 1, 0]})
    first = sio.dumps(DecisionTreeClassifier(random_state=0).fit(frame, [0, 1, 0, 1, 1, 0]))
    second = sio.dumps(DecisionTreeClassifier(random_state=0).fit(frame, list(frame["b"])))
    IMPORTANCE_CACHE.clear()
    read = load_skops_importances(first, trusted_types=[TREE], source="s", model_file="m")
    again = load_skops_importances(first, trusted_types=[TREE], source="s", model_file="m")
    assert again is read and IMPORTANCE_CACHE.stats().hits == 1
    # The same source and file name with other bytes (an artifact logged again) is read afresh.
    replaced = load_skops_importances(second, trusted_types=[TREE], source="s", model_file="m")
    assert replaced.shares != read.shares
    assert replaced.shares == {"a": 0.0, "b": 1.0}
    assert read.shares == {"a": 1.0, "b": 0.0}
    # Fewer trusted types is another answer, not the cached one.
    refused = load_skops_importances(first, trusted_types=[], source="s", model_file="m")
    assert refused.available is False
