"""An artifact directory on this machine's disk, read with the checks MLflow's local repository
makes, each directory's real path resolved once.

MLflow's `LocalArtifactRepository` checks every path it serves: no traversal in the path given,
and, once symlinks are resolved, nothing outside the artifact directory. It resolves the
directory and the whole path again for every file and every listing, one ``lstat`` per path
component in Python: a review reads some twenty-six paths, and resolving them was about a tenth
of its CPU. `LocalArtifactRoot` makes the same checks and gives the same answers (the same
`MlflowException` where MLflow raises one, so callers translate it as before), resolving each
directory once for as long as the root lives: one repository, made for the reads of one review.

A leaf that is a symlink is resolved in full, as MLflow does. A directory swapped for a symlink
after it was resolved is not seen again; MLflow's own check has the same window between the check
and the read, and it accepts it for the same reason: only someone who can already write the
artifact store could swap it.
"""

from __future__ import annotations

import os
import posixpath
import stat
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlflow.entities import FileInfo

__all__ = ["LocalArtifactRoot"]


class LocalArtifactRoot:
    """One local artifact directory: its files' paths and its listings, checked as MLflow checks
    them.

    Args:
        artifact_dir: The directory, as MLflow's local repository holds it (``artifact_dir``).
    """

    def __init__(self, artifact_dir: str) -> None:
        self.artifact_dir = artifact_dir
        self._lock = threading.Lock()
        self._real_dirs: dict[str, str] = {}

    @classmethod
    def of(cls, repository: object) -> LocalArtifactRoot | None:
        """The root of an MLflow artifact repository on this disk; None for any other store."""
        from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

        if not isinstance(repository, LocalArtifactRepository):
            return None
        return cls(str(repository.artifact_dir))

    def file(self, path: str) -> str:
        """The absolute path of one file, as `LocalArtifactRepository.get_local_path` gives it.

        Args:
            path: The artifact path under the root.

        Raises:
            MlflowException: An unsafe path or one leading out of the root (invalid parameter),
                or no such file (resource does not exist), with MLflow's messages.
        """
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST
        from mlflow.utils.uri import validate_path_is_safe

        safe: str = validate_path_is_safe(path)  # type: ignore[no-untyped-call]
        full = os.path.join(self.artifact_dir, os.path.normpath(safe))
        info = self._checked(full)
        if info is None or (stat.S_ISLNK(info.st_mode) and not os.path.exists(full)):
            raise MlflowException(f"No such artifact: '{safe}'", error_code=RESOURCE_DOES_NOT_EXIST)
        return os.path.abspath(full)

    def list_dir(self, path: str | None) -> list[FileInfo]:
        """The entries directly under `path` (the root when None), as
        `LocalArtifactRepository.list_artifacts` lists them: sorted by path, directories without a
        size, MLflow's half-uploaded files left out, nothing for a path that is not a directory.

        Args:
            path: The directory's artifact path under the root.

        Raises:
            MlflowException: The path leads out of the root (invalid parameter).
        """
        from mlflow.entities import FileInfo
        from mlflow.store.artifact.local_artifact_repo import _TEMP_ARTIFACT_PREFIX

        prefix = os.path.normpath(path) if path else ""
        directory = os.path.join(self.artifact_dir, prefix) if prefix else self.artifact_dir
        self._checked(directory)
        if not os.path.isdir(directory):
            return []
        if prefix == os.curdir:
            prefix = ""
        infos: list[FileInfo] = []
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.startswith(_TEMP_ARTIFACT_PREFIX):
                    continue
                relative = posixpath.join(prefix, entry.name) if prefix else entry.name
                # Both follow symlinks, as `os.path.isdir` and `os.path.getsize` do in MLflow's.
                if entry.is_dir():
                    infos.append(FileInfo(relative, True, None))
                else:
                    infos.append(FileInfo(relative, False, entry.stat().st_size))
        return sorted(infos, key=lambda info: str(info.path))

    def _checked(self, full: str) -> os.stat_result | None:
        """`full`'s own status (None when nothing is there), once its real path is known to be
        under the root.

        Raises:
            MlflowException: The real path is outside the root (MLflow's message).
        """
        from mlflow.exceptions import MlflowException
        from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

        try:
            info: os.stat_result | None = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            info = None
        parent, name = os.path.split(full)
        if (info is not None and stat.S_ISLNK(info.st_mode)) or name in ("", os.curdir, os.pardir):
            real = os.path.realpath(full)
        else:
            # A plain name that is no symlink: its real path is its directory's and the name
            # (MLflow resolves a missing leaf the same way).
            real = os.path.join(self._real_dir(parent), name)
        root = self._real_dir(self.artifact_dir)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise MlflowException(
                "Invalid path: resolved path is outside the artifact directory",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return info

    def _real_dir(self, directory: str) -> str:
        with self._lock:
            real = self._real_dirs.get(directory)
        if real is None:
            real = os.path.realpath(directory)
            with self._lock:
                self._real_dirs[directory] = real
        return real
