"""A local artifact root answers every path as MLflow's local repository does: the same files,
the same listings, the same refusals (traversal, symlinks out of the root), with each directory
resolved once."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

from tools.local_artifact_root import LocalArtifactRoot


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An artifact root reached through a symlink, with files, directories, symlinks that stay
    inside and symlinks that lead out, a dangling one and a half-uploaded file."""
    base = tmp_path_factory.mktemp("local-root")
    outside = base / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.txt").write_text("secret")
    (outside / "dir" / "inner.txt").write_text("inner")
    real = base / "real" / "artifacts"
    (real / "pipeline" / "nested").mkdir(parents=True)
    (real / "MLmodel").write_text("flavors: {}\n")
    (real / "pipeline" / "train.yaml").write_text("lr: 0.1\n")
    (real / "pipeline" / "nested" / "deep.txt").write_text("deep")
    (real / ".artifact.uploading.part").write_text("half")
    (real / "alias.yaml").symlink_to(real / "pipeline" / "train.yaml")
    (real / "linked-dir").symlink_to(real / "pipeline")
    (real / "pipeline" / "escape.txt").symlink_to(outside / "secret.txt")
    (real / "escape-dir").symlink_to(outside / "dir")
    (real / "broken").mkdir()
    (real / "broken" / "dangling").symlink_to(real / "missing")
    root = base / "root"
    root.symlink_to(real)
    return root


def _outcome(call: Any, path: Any) -> Any:
    """What a call answers, or its error's type, code and message."""
    try:
        answer = call(path)
    except (MlflowException, OSError) as exc:
        code = getattr(exc, "error_code", None)
        return ("error", type(exc).__name__, code, str(exc))
    if isinstance(answer, list):
        return [(info.path, info.is_dir, info.file_size) for info in answer]
    return answer


FILES = [
    pytest.param("MLmodel", id="file"),
    pytest.param("pipeline/train.yaml", id="nested"),
    pytest.param("pipeline/nested/deep.txt", id="deeper"),
    pytest.param("pipeline//train.yaml", id="double-slash"),
    pytest.param("pipeline/./train.yaml", id="dot"),
    pytest.param("alias.yaml", id="symlink-inside"),
    pytest.param("linked-dir/train.yaml", id="through-symlinked-dir"),
    pytest.param("pipeline/escape.txt", id="symlink-out"),
    pytest.param("escape-dir/inner.txt", id="through-dir-out"),
    pytest.param("broken/dangling", id="dangling"),
    pytest.param("missing.txt", id="missing"),
    pytest.param("missing/deeper.txt", id="missing-dir"),
    pytest.param("MLmodel/below", id="below-a-file"),
    pytest.param("pipeline", id="directory"),
    pytest.param("../outside/secret.txt", id="traversal"),
    pytest.param("pipeline/../../outside/secret.txt", id="inner-traversal"),
    pytest.param("/etc/hostname", id="absolute"),
    pytest.param("a#b", id="fragment"),
    pytest.param("%2e%2e/outside/secret.txt", id="encoded-traversal"),
]


@pytest.mark.parametrize("path", FILES)
def test_a_file_is_answered_as_mlflow_answers_it(store: Path, path: str) -> None:
    mlflow_answer = _outcome(LocalArtifactRepository(str(store)).get_local_path, path)
    assert _outcome(LocalArtifactRoot(str(store)).file, path) == mlflow_answer


DIRECTORIES = [
    pytest.param(None, id="root"),
    pytest.param("", id="empty"),
    pytest.param(".", id="dot"),
    pytest.param("pipeline", id="directory"),
    pytest.param("pipeline/", id="trailing-slash"),
    pytest.param("pipeline/nested", id="nested"),
    pytest.param("linked-dir", id="symlinked-dir"),
    pytest.param("escape-dir", id="dir-out"),
    pytest.param("MLmodel", id="a-file"),
    pytest.param("missing", id="missing"),
    pytest.param("broken", id="dangling-inside"),
    pytest.param("../outside", id="traversal"),
    pytest.param("pipeline/../..", id="parent-of-root"),
    pytest.param("/etc", id="absolute"),
]


@pytest.mark.parametrize("path", DIRECTORIES)
def test_a_directory_is_listed_as_mlflow_lists_it(store: Path, path: str | None) -> None:
    mlflow_answer = _outcome(LocalArtifactRepository(str(store)).list_artifacts, path)
    assert _outcome(LocalArtifactRoot(str(store)).list_dir, path) == mlflow_answer


def test_every_answer_of_one_root_matches_mlflow_in_any_order(store: Path) -> None:
    """One root serves a review's reads in turn, its directories resolved by the first."""
    repository = LocalArtifactRepository(str(store))
    root = LocalArtifactRoot(str(store))
    for param in [*FILES, *reversed(FILES)]:
        (path,) = param.values
        assert _outcome(root.file, path) == _outcome(repository.get_local_path, path), path
    for param in [*DIRECTORIES, *reversed(DIRECTORIES)]:
        (path,) = param.values
        assert _outcome(root.list_dir, path) == _outcome(repository.list_artifacts, path), path


def test_each_directory_is_resolved_once(store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resolved: list[str] = []
    realpath = os.path.realpath

    def counted(path: Any, **kwargs: Any) -> str:
        resolved.append(os.fspath(path))
        return realpath(path, **kwargs)

    root = LocalArtifactRoot(str(store))
    monkeypatch.setattr(os.path, "realpath", counted)
    for _ in range(3):
        root.file("MLmodel")
        root.file("pipeline/train.yaml")
        root.list_dir("pipeline")
    assert resolved == [str(store), str(store / "pipeline")]


def test_only_a_local_repository_has_a_root(store: Path) -> None:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    local = LocalArtifactRoot.of(get_artifact_repository(store.as_uri()))
    assert local is not None and local.artifact_dir == str(store)
    remote = get_artifact_repository(
        "mlflow-artifacts:/experiments", tracking_uri="http://127.0.0.1:1"
    )
    assert LocalArtifactRoot.of(remote) is None
