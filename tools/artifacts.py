"""Artifacts of a run and of a logged model: listings, and small text files read in full.

Read from the logged model: ``MLmodel``, ``requirements.txt``, ``conda.yaml``, ``python_env.yaml``.
Read from the run: every file under ``pipeline/`` plus top-level ``params.yaml``, ``dvc.yaml`` and
``MLproject``. Read from both: text documents people write for each other (READMEs, model and
dataset cards, notes, change logs: see `is_text_document`), because the reviewer screens them for
planted instructions. Files over the size cap or not UTF-8 text are skipped, and each skip is
reported with its reason (a skipped file is never read as an empty one).
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.client import call_mlflow, every_page
from tools.errors import (
    ArtifactError,
    ArtifactNotFoundError,
    ArtifactTooLargeError,
    LoggedModelNotFoundError,
    MalformedArtifactError,
    NotFoundError,
    RunNotFoundError,
    ToolError,
)
from tools.evidence import ArtifactFile
from tools.local_artifact_root import LocalArtifactRoot

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "LOGGED_MODEL_TEXT_FILES",
    "MAX_LISTED_ARTIFACTS",
    "RUN_PIPELINE_DIR",
    "RUN_TOP_LEVEL_CONFIG_FILES",
    "TEXT_ARTIFACT_MAX_BYTES",
    "ArtifactEntry",
    "ArtifactOwner",
    "ArtifactRepository",
    "LoggedModelRepository",
    "RunArtifactRepository",
    "SkippedArtifact",
    "TextArtifacts",
    "download_artifact",
    "is_config_or_environment",
    "is_text_document",
    "list_logged_model_artifacts",
    "list_run_artifacts",
    "read_logged_model_text_artifacts",
    "read_run_text_artifacts",
    "read_text_artifact",
    "run_logged_models",
    "run_logged_models_read",
    "walk_run_artifacts",
]

logger = logging.getLogger("promogate.tools")

ArtifactOwner = Literal["run", "logged_model"]

TEXT_ARTIFACT_MAX_BYTES = 256 * 1024
MAX_LISTED_ARTIFACTS = 2000
LOGGED_MODEL_TEXT_FILES: tuple[str, ...] = (
    "MLmodel",
    "requirements.txt",
    "conda.yaml",
    "python_env.yaml",
)
RUN_PIPELINE_DIR = "pipeline"
RUN_TOP_LEVEL_CONFIG_FILES: tuple[str, ...] = ("params.yaml", "dvc.yaml", "MLproject")
TEXT_DOCUMENT_SUFFIXES: tuple[str, ...] = (".md", ".markdown", ".txt", ".rst")
TEXT_DOCUMENT_STEMS: tuple[str, ...] = (
    "readme",
    "model_card",
    "modelcard",
    "dataset_card",
    "datacard",
    "data_card",
    "notes",
    "changelog",
    "release_notes",
)
MAX_TEXT_DOCUMENTS = 20


class ArtifactEntry(BaseModel):
    """One file in an artifact listing."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    size: int | None = None


class SkippedArtifact(BaseModel):
    """A text artifact that was found but not read, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    owner: ArtifactOwner
    reason: str


class TextArtifacts(BaseModel):
    """The listing of one owner's artifacts and the text files read from it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: ArtifactOwner
    owner_id: str
    paths: list[str] = Field(default_factory=list)
    files: list[ArtifactFile] = Field(default_factory=list)
    skipped: list[SkippedArtifact] = Field(default_factory=list)
    truncated: bool = False


def _not_found(owner: ArtifactOwner, owner_id: str) -> Callable[[], NotFoundError]:
    if owner == "run":
        return lambda: RunNotFoundError(owner_id)
    return lambda: LoggedModelNotFoundError(owner_id)


def _list_once(
    client: MlflowClient, owner: ArtifactOwner, owner_id: str, path: str | None
) -> list[Any]:
    if owner == "run":
        return list(
            call_mlflow(
                lambda: client.list_artifacts(owner_id, path),
                f"list_artifacts({owner_id!r}, {path!r})",
                not_found=_not_found(owner, owner_id),
            )
        )
    return list(
        call_mlflow(
            lambda: client.list_logged_model_artifacts(owner_id, path),
            f"list_logged_model_artifacts({owner_id!r}, {path!r})",
            not_found=_not_found(owner, owner_id),
        )
    )


def run_logged_models(client: MlflowClient, run_id: str, experiment_id: str) -> dict[str, Any]:
    """The logged models `run_id` logged in `experiment_id`, by name (the first of each name in
    the search's order), searched by source run as `RunArtifactRepository` searches them.

    Args:
        client: MLflow client.
        run_id: The run id (no quote in it: `RunArtifactRepository.for_run` checks).
        experiment_id: The run's experiment.

    Raises:
        ToolError: The search failed.
    """
    found: dict[str, Any] = {}
    for model in every_page(
        client.search_logged_models,
        f"search_logged_models(source_run_id={run_id!r})",
        page_size=None,
        **_run_models_search(run_id, experiment_id),
    ):
        found.setdefault(str(model.name), model)
    return found


def _run_models_search(run_id: str, experiment_id: str) -> dict[str, Any]:
    return {"experiment_ids": [experiment_id], "filter_string": f"source_run_id = '{run_id}'"}


def run_logged_models_read(
    run_id: str, experiment_id: str
) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    """The MLflow read `run_logged_models` makes when one page holds the answer: the client's
    method, its positional and its keyword arguments (what a read-once client keeps an answer
    under).

    Args:
        run_id: The run id.
        experiment_id: The run's experiment.
    """
    return (
        "search_logged_models",
        (),
        {**_run_models_search(run_id, experiment_id), "page_token": None},
    )


class RunArtifactRepository:
    """One run's artifacts, listed and downloaded as `MlflowClient` does, with fewer reads.

    MLflow lists and downloads a run's artifacts through its `runs:/` repository, which reads
    the run and searches the experiment's logged models by name for every directory listed and
    every file downloaded, to merge in the artifacts of a logged model of that name logged by the
    run. Here the run's artifact location is known already (from the run just read) and its
    logged models are searched once, by source run; the first of each name in the search's order
    is the one MLflow's name search would find first. A file whose first path part names one of
    those logged models, or whose direct download fails, is downloaded through MLflow's own
    `runs:/` route, so its content and its errors are exactly MLflow's. Nothing is kept beyond
    one review's reads: the bytes are downloaded every time.

    Args:
        client: MLflow client.
        run_id: The run id.
        artifact_uri: The run's artifact location (`RunInfo.artifact_uri`).
        experiment_id: The run's experiment.
    """

    def __init__(
        self, client: MlflowClient, run_id: str, artifact_uri: str, experiment_id: str
    ) -> None:
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.artifact_uri = artifact_uri
        self._lock = threading.Lock()
        self._repo: Any = None
        self._root: LocalArtifactRoot | None = None
        self._by_name: dict[str, Any] | None = None

    def _run_repository(self) -> Any:
        # Made on first use, in the reading thread: a location MLflow cannot serve fails the
        # read that needed it, as MLflow's route would.
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        with self._lock:
            if self._repo is None:
                self._repo = get_artifact_repository(
                    self.artifact_uri, tracking_uri=self.client.tracking_uri
                )
                self._root = LocalArtifactRoot.of(self._repo)
            return self._repo

    def _local_root(self) -> LocalArtifactRoot | None:
        """The run's artifact directory on this disk, checked as MLflow checks it; None for
        any other store."""
        self._run_repository()
        return self._root

    @classmethod
    def for_run(
        cls,
        client: MlflowClient,
        run_id: str,
        artifact_uri: str | None,
        experiment_id: str | None,
    ) -> RunArtifactRepository | None:
        """The repository, or None where MLflow's own route must be kept: the location or
        experiment is unknown, the run id would break the search's quoting, or the artifacts
        live on Databricks (whose locations need the profile MLflow adds to them)."""
        if (
            artifact_uri is None
            or experiment_id is None
            or "'" in run_id
            or str(client.tracking_uri).startswith("databricks")
        ):
            return None
        return cls(client, run_id, artifact_uri, experiment_id)

    def logged_models(self) -> dict[str, Any]:
        """The run's logged models by name (searched once; later calls reuse the answer)."""
        with self._lock:
            if self._by_name is not None:
                return self._by_name
            self._by_name = run_logged_models(self.client, self.run_id, self.experiment_id)
            return self._by_name

    def list_dir(self, path: str | None) -> list[Any]:
        """One directory, as `MlflowClient.list_artifacts(run_id, path)` lists it."""
        from mlflow.entities import FileInfo
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        run_id = self.run_id
        lister = _lister(self._run_repository(), self._local_root())
        listed = list(
            call_mlflow(
                lambda: lister(path),
                f"list_artifacts({run_id!r}, {path!r})",
                not_found=_not_found("run", run_id),
            )
        )
        if not path:
            return listed
        name, _, rest = path.partition("/")
        model = self.logged_models().get(name)
        if model is None:
            return listed
        model_repo: Any = get_artifact_repository(
            str(model.artifact_location), tracking_uri=self.client.tracking_uri
        )
        model_lister = _lister(model_repo, LocalArtifactRoot.of(model_repo))
        inner = call_mlflow(
            lambda: model_lister(rest),
            f"list_logged_model_artifacts({model.model_id!r}, {rest!r})",
            not_found=_not_found("logged_model", str(model.model_id)),
        )
        return listed + [
            FileInfo(path=f"{name}/{a.path}", is_dir=a.is_dir, file_size=a.file_size) for a in inner
        ]

    def in_place(self, path: str) -> Path | None:
        """Where one file already lies on this machine, or None when it must be downloaded.

        Raises:
            ArtifactNotFoundError: No such file.
        """
        if path.partition("/")[0] in self.logged_models():
            return None  # only MLflow's route merges a logged model's files into the run's
        return _local_path(self._local_root(), "run", self.run_id, path)

    def download(self, path: str, dst: str) -> Path:
        """One file into `dst`, as `MlflowClient.download_artifacts(run_id, path, dst)` does."""
        from mlflow.exceptions import MlflowException

        try:
            # MLflow lets a logged model of the run named like the file's first part overwrite
            # the run's file; only MLflow's route merges those.
            direct = path.partition("/")[0] not in self.logged_models()
            if direct:
                return Path(self._run_repository().download_artifacts(path, dst))
        except (ToolError, MlflowException, OSError) as exc:
            # Not a pass: MLflow's route below reads the file again and raises its own error.
            logger.debug("direct download of %r from run %s failed: %s", path, self.run_id, exc)
        return _download_through_mlflow(self.client, self.run_id, path, dst)


def _walk(
    client: MlflowClient,
    owner: ArtifactOwner,
    owner_id: str,
    path: str | None,
    max_entries: int,
    lister: Callable[[str | None], list[Any]] | None = None,
) -> tuple[list[ArtifactEntry], bool]:
    """Files under `path`, depth first; True when the listing stopped at `max_entries`."""
    entries: list[ArtifactEntry] = []
    pending: list[str | None] = [path]
    list_dir = lister or (lambda current: _list_once(client, owner, owner_id, current))
    while pending:
        current = pending.pop()
        for info in list_dir(current):
            if info.is_dir:
                pending.append(str(info.path))
                continue
            if len(entries) >= max_entries:
                return sorted(entries, key=lambda e: e.path), True
            size = info.file_size
            entries.append(
                ArtifactEntry(path=str(info.path), size=int(size) if size is not None else None)
            )
    return sorted(entries, key=lambda e: e.path), False


def list_run_artifacts(
    client: MlflowClient,
    run_id: str,
    path: str | None = None,
    *,
    max_entries: int = MAX_LISTED_ARTIFACTS,
) -> list[ArtifactEntry]:
    """Every artifact file of a run (recursively), ordered by path.

    Args:
        client: MLflow client.
        run_id: The run id.
        path: Only list under this directory, e.g. ``"pipeline"``; the root when None.
        max_entries: Stop after this many files.
    """
    return _walk(client, "run", run_id, path, max_entries)[0]


def walk_run_artifacts(
    client: MlflowClient,
    run_id: str,
    *,
    max_entries: int = MAX_LISTED_ARTIFACTS,
    artifact_uri: str | None = None,
    experiment_id: str | None = None,
    repository: RunArtifactRepository | None = None,
) -> tuple[list[ArtifactEntry], bool]:
    """Every artifact file of a run, ordered by path, and True when the listing was cut short.

    One listing serves all the readers of a review (text artifacts, the evaluation table, the
    safety suites): listing a run's artifacts also searches its logged models, which costs more
    than reading the files.

    Args:
        client: MLflow client.
        run_id: The run id.
        max_entries: Stop after this many files.
        artifact_uri: The run's artifact location, when the caller has read the run; with
            `experiment_id` the listing reads no run and searches the logged models once.
        experiment_id: The run's experiment.
        repository: The run's repository, when the caller downloads through it too (then
            `artifact_uri` and `experiment_id` are not needed).
    """
    if repository is None:
        repository = RunArtifactRepository.for_run(client, run_id, artifact_uri, experiment_id)
    lister = repository.list_dir if repository is not None else None
    return _walk(client, "run", run_id, None, max_entries, lister)


def list_logged_model_artifacts(
    client: MlflowClient,
    model_id: str,
    path: str | None = None,
    *,
    max_entries: int = MAX_LISTED_ARTIFACTS,
) -> list[ArtifactEntry]:
    """Every artifact file of an MLflow 3 logged model (recursively), ordered by path.

    Args:
        client: MLflow client.
        model_id: The logged model id (``m-...``).
        path: Only list under this directory; the root when None.
        max_entries: Stop after this many files.
    """
    return _walk(client, "logged_model", model_id, path, max_entries)[0]


def _lister(repo: Any, root: LocalArtifactRoot | None) -> Callable[[str | None], list[Any]]:
    """How a repository's directories are listed: through its local root when it has one."""
    return root.list_dir if root is not None else repo.list_artifacts


def _local_path(
    root: LocalArtifactRoot | None, owner: ArtifactOwner, owner_id: str, path: str
) -> Path | None:
    """The file's own path in a repository on this machine's disk (None for other stores).

    Returned without copying, after the checks MLflow's local repository makes (no path
    traversal, no symlink leading out of the artifact root); a copy into a temporary directory
    only to read it once cost more than reading it.

    Raises:
        ArtifactNotFoundError: No such file.
    """
    if root is None:
        return None
    what = (
        f"download_artifacts({owner_id!r}, {path!r})"
        if owner == "run"
        else f"download logged model artifact ({owner_id!r}, {path!r})"
    )
    return Path(
        call_mlflow(
            lambda: root.file(path),
            what,
            not_found=lambda: ArtifactNotFoundError(owner, owner_id, path),
        )
    )


def _read_capped(local: Path, path: str, max_bytes: int) -> bytes:
    """A downloaded file's bytes, refusing anything but a regular file of at most `max_bytes`."""
    # Non-blocking, so a FIFO planted in the store cannot hold the open; checked on the open
    # file, not on the path, so what is read is what was checked.
    descriptor = os.open(local, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    try:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            raise MalformedArtifactError(path, "a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise MalformedArtifactError(path, "not a regular file")
        if info.st_size > max_bytes:
            raise ArtifactTooLargeError(path, info.st_size, max_bytes)
        file = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with file:
        data = file.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since it was checked
        raise ArtifactTooLargeError(path, len(data), max_bytes)
    return data


def _download_through_mlflow(client: MlflowClient, run_id: str, path: str, dst: str) -> Path:
    local = call_mlflow(
        lambda: client.download_artifacts(run_id, path, dst),
        f"download_artifacts({run_id!r}, {path!r})",
        not_found=lambda: ArtifactNotFoundError("run", run_id, path),
    )
    return Path(local)


class LoggedModelRepository:
    """One logged model, read once for the several reads of one review: its entity and its
    artifact repository (one `get_logged_model` instead of one per file and per reader).

    A failed read is not kept: the next caller asks MLflow again, as each read did on its own.
    Nothing is kept beyond the reads it is made for.

    Args:
        client: MLflow client.
        model_id: The logged model id (``m-...``).
    """

    def __init__(self, client: MlflowClient, model_id: str) -> None:
        self.client = client
        self.model_id = model_id
        self._lock = threading.Lock()
        self._entity: Any = None
        self._repo: Any = None
        self._root: LocalArtifactRoot | None = None

    def logged_model(self) -> Any:
        """The `mlflow.entities.LoggedModel` (read on the first call).

        Raises:
            LoggedModelNotFoundError: No logged model with this id.
        """
        model_id = self.model_id
        with self._lock:
            if self._entity is None:
                self._entity = call_mlflow(
                    lambda: self.client.get_logged_model(model_id),
                    f"get_logged_model({model_id!r})",
                    not_found=_not_found("logged_model", model_id),
                )
            return self._entity

    def _repository(self) -> Any:
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        location = str(self.logged_model().artifact_location)
        with self._lock:
            if self._repo is None:
                # The logged model's own location, resolved against this client's tracking
                # URI; MLflow's `models:/` download functions would consult the process-global
                # tracking URI instead.
                self._repo = get_artifact_repository(
                    location, tracking_uri=self.client.tracking_uri
                )
                self._root = LocalArtifactRoot.of(self._repo)
            return self._repo

    def _local_root(self) -> LocalArtifactRoot | None:
        """The logged model's artifact directory on this disk, checked as MLflow checks it;
        None for any other store."""
        self._repository()
        return self._root

    def list_dir(self, path: str | None) -> list[Any]:
        """The entries directly under `path` (the root when None), listed in the logged model's
        own repository: MLflow's `list_logged_model_artifacts` reads the logged model again to
        find it."""
        model_id = self.model_id
        lister = _lister(self._repository(), self._local_root())
        return list(
            call_mlflow(
                lambda: lister(path),
                f"list_logged_model_artifacts({model_id!r}, {path!r})",
                not_found=_not_found("logged_model", model_id),
            )
        )

    def in_place(self, path: str) -> Path | None:
        """Where one file of the logged model already lies on this machine, or None when it
        must be downloaded.

        Raises:
            ArtifactNotFoundError: No such file.
        """
        return _local_path(self._local_root(), "logged_model", self.model_id, path)

    def download(self, path: str, dst: str) -> Path:
        """One file of the logged model into `dst`."""
        model_id = self.model_id
        repo = self._repository()
        local = call_mlflow(
            lambda: repo.download_artifacts(path, dst),
            f"download logged model artifact ({model_id!r}, {path!r})",
            not_found=lambda: ArtifactNotFoundError("logged_model", model_id, path),
        )
        return Path(local)


ArtifactRepository = RunArtifactRepository | LoggedModelRepository
"""Where one owner's files are downloaded from, resolved once for several reads."""


def download_artifact(
    client: MlflowClient,
    owner: ArtifactOwner,
    owner_id: str,
    path: str,
    *,
    max_bytes: int,
    size_hint: int | None = None,
    repository: ArtifactRepository | None = None,
) -> bytes:
    """The bytes of one artifact file, refusing files over `max_bytes`.

    Args:
        client: MLflow client.
        owner: ``"run"`` or ``"logged_model"``.
        owner_id: Run id or logged model id.
        path: Artifact path inside the owner.
        max_bytes: Size cap; larger files raise `ArtifactTooLargeError` without being read.
        size_hint: The size from a listing, checked before downloading when known.
        repository: The owner's repository, when several files of it are read.

    Raises:
        ArtifactTooLargeError: The file is over the cap.
        NotFoundError: The owner or the file does not exist.
    """
    if size_hint is not None and size_hint > max_bytes:
        raise ArtifactTooLargeError(path, size_hint, max_bytes)
    if repository is None and owner == "logged_model":
        repository = LoggedModelRepository(client, owner_id)
    local = repository.in_place(path) if repository is not None else None
    if local is not None:
        return _read_capped(local, path, max_bytes)
    with tempfile.TemporaryDirectory(prefix="promogate-artifact-") as tmp:
        # Without a repository the owner is a run (a logged model always has one by now).
        downloaded = (
            repository.download(path, tmp)
            if repository is not None
            else _download_through_mlflow(client, owner_id, path, tmp)
        )
        return _read_capped(downloaded, path, max_bytes)


def read_text_artifact(
    client: MlflowClient,
    owner: ArtifactOwner,
    owner_id: str,
    path: str,
    *,
    max_bytes: int = TEXT_ARTIFACT_MAX_BYTES,
    size_hint: int | None = None,
    repository: ArtifactRepository | None = None,
) -> ArtifactFile:
    """One small UTF-8 text artifact, read in full.

    Args:
        client: MLflow client.
        owner: ``"run"`` or ``"logged_model"``.
        owner_id: Run id or logged model id.
        path: Artifact path inside the owner, e.g. ``"MLmodel"`` or ``"pipeline/train.yaml"``.
        max_bytes: Size cap (256 KiB by default).
        size_hint: The size from a listing, checked before downloading when known.
        repository: The owner's repository, when several files of it are read.

    Raises:
        ArtifactTooLargeError: The file is over the cap.
        MalformedArtifactError: The file is not UTF-8 text.
        NotFoundError: The owner or the file does not exist.
    """
    data = download_artifact(
        client,
        owner,
        owner_id,
        path,
        max_bytes=max_bytes,
        size_hint=size_hint,
        repository=repository,
    )
    if b"\x00" in data:
        raise MalformedArtifactError(path, "binary content, not UTF-8 text")
    try:
        content = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedArtifactError(path, f"not UTF-8 text ({exc.reason})") from exc
    return ArtifactFile(path=path, owner=owner, content=content)


def _read_selected(
    client: MlflowClient,
    owner: ArtifactOwner,
    owner_id: str,
    entries: Sequence[ArtifactEntry],
    wanted: Callable[[str], bool],
    max_bytes: int,
    repository: ArtifactRepository | None,
) -> tuple[list[ArtifactFile], list[SkippedArtifact]]:
    files: list[ArtifactFile] = []
    skipped: list[SkippedArtifact] = []
    for entry in entries:
        if not wanted(entry.path):
            continue
        try:
            files.append(
                read_text_artifact(
                    client,
                    owner,
                    owner_id,
                    entry.path,
                    max_bytes=max_bytes,
                    size_hint=entry.size,
                    repository=repository,
                )
            )
        except ArtifactError as exc:
            logger.info("skipped %s artifact %r of %s: %s", owner, entry.path, owner_id, exc)
            skipped.append(SkippedArtifact(path=entry.path, owner=owner, reason=exc.message))
    return files, skipped


def _is_run_config(path: str) -> bool:
    return path.startswith(RUN_PIPELINE_DIR + "/") or path in RUN_TOP_LEVEL_CONFIG_FILES


def is_config_or_environment(owner: ArtifactOwner, path: str) -> bool:
    """Whether an artifact is read as pipeline config (run) or environment (logged model).

    Args:
        owner: Who holds the artifact.
        path: The artifact path relative to its owner.
    """
    return _is_run_config(path) if owner == "run" else path in LOGGED_MODEL_TEXT_FILES


def is_text_document(path: str) -> bool:
    """Whether an artifact is a document written for people: a README, model or dataset card,
    notes or change log (by name), or any ``.md``/``.txt``/``.rst`` file.

    Args:
        path: The artifact path relative to its run or logged model.
    """
    name = path.rsplit("/", 1)[-1].lower()
    stem = name.split(".", 1)[0]
    return stem in TEXT_DOCUMENT_STEMS or name.endswith(TEXT_DOCUMENT_SUFFIXES)


def _documents_first(
    entries: Sequence[ArtifactEntry], is_other: Callable[[str], bool]
) -> Callable[[str], bool]:
    """`is_other`, plus at most MAX_TEXT_DOCUMENTS text documents (shallowest first)."""
    documents = sorted(
        (e.path for e in entries if is_text_document(e.path) and not is_other(e.path)),
        key=lambda p: (p.count("/"), p),
    )[:MAX_TEXT_DOCUMENTS]
    chosen = frozenset(documents)
    return lambda path: is_other(path) or path in chosen


def read_run_text_artifacts(
    client: MlflowClient,
    run_id: str,
    *,
    max_bytes: int = TEXT_ARTIFACT_MAX_BYTES,
    max_entries: int = MAX_LISTED_ARTIFACTS,
    listing: tuple[list[ArtifactEntry], bool] | None = None,
    repository: RunArtifactRepository | None = None,
) -> TextArtifacts:
    """A run's artifact listing, its pipeline config files and its text documents.

    Reads every file under ``pipeline/`` plus top-level ``params.yaml``, ``dvc.yaml`` and
    ``MLproject``, and up to `MAX_TEXT_DOCUMENTS` text documents (`is_text_document`); files
    over `max_bytes` or not UTF-8 text are listed in ``skipped``.

    Args:
        client: MLflow client.
        run_id: The run id.
        max_bytes: Size cap per file.
        max_entries: Stop listing after this many files (``truncated`` is then True).
        listing: The run's listing (`walk_run_artifacts`) when the caller already has it.
        repository: The run's repository, to download the files through (MLflow's `runs:/`
            route when None).
    """
    entries, truncated = listing or _walk(client, "run", run_id, None, max_entries)
    wanted = _documents_first(entries, _is_run_config)
    files, skipped = _read_selected(client, "run", run_id, entries, wanted, max_bytes, repository)
    return TextArtifacts(
        owner="run",
        owner_id=run_id,
        paths=[e.path for e in entries],
        files=files,
        skipped=skipped,
        truncated=truncated,
    )


def read_logged_model_text_artifacts(
    client: MlflowClient,
    model_id: str,
    *,
    max_bytes: int = TEXT_ARTIFACT_MAX_BYTES,
    max_entries: int = MAX_LISTED_ARTIFACTS,
    repository: LoggedModelRepository | None = None,
) -> TextArtifacts:
    """A logged model's artifact listing, its ``MLmodel`` and environment files and its text
    documents (`is_text_document`).

    Args:
        client: MLflow client.
        model_id: The logged model id (``m-...``).
        max_bytes: Size cap per file.
        max_entries: Stop listing after this many files (``truncated`` is then True).
        repository: The logged model's repository, when other readers of this review share it.
    """
    repository = repository or LoggedModelRepository(client, model_id)
    entries, truncated = _walk(
        client, "logged_model", model_id, None, max_entries, repository.list_dir
    )
    files, skipped = _read_selected(
        client,
        "logged_model",
        model_id,
        entries,
        _documents_first(entries, lambda p: p in LOGGED_MODEL_TEXT_FILES),
        max_bytes,
        repository,
    )
    return TextArtifacts(
        owner="logged_model",
        owner_id=model_id,
        paths=[e.path for e in entries],
        files=files,
        skipped=skipped,
        truncated=truncated,
    )
