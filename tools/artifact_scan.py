"""Scan a model version's artifact directory: manifest, MLmodel, requirements, pickles, signature.

The artifacts are downloaded to a private temporary directory (a logged model's files for MLflow 3
versions, the run's artifact path for `runs:/` sources) and read there; nothing is ever loaded or
unpickled. The result, an `ArtifactScan`, is evidence like any other: policies judge it
(`policies/security_checks.py`) and its manifest digest is what a decision records so that a
promotion can check the artifacts were not swapped after the review.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tools._mlmodel import MLmodelFacts, MLmodelParseError, parse_mlmodel
from tools._requirements import REQUIREMENT_FILES, RequirementEntry, read_model_requirements
from tools.artifact_manifest import ArtifactManifest, ManifestTooLargeError, build_manifest
from tools.client import call_mlflow
from tools.errors import ArtifactNotFoundError, LoggedModelNotFoundError, ToolError
from tools.model_signature import (
    SIGNATURE_FILE,
    SignatureVerification,
    SignerSpec,
    verify_model_directory,
)
from tools.pickle_scan import PickleReport, ScanLimits, scan_pickles
from tools.pickle_sniffer import find_pickles

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "ArtifactScan",
    "ScanRequest",
    "artifact_source",
    "download_model_artifacts",
    "model_artifact_manifest",
    "scan_model_artifacts",
    "scan_model_directory",
]

logger = logging.getLogger("promogate.tools")

_TEXT_MAX_BYTES = 256 * 1024


class ScanRequest(BaseModel):
    """What to scan with: scanner limits and the signers to verify against."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: ScanLimits = Field(default_factory=ScanLimits)
    signers: list[SignerSpec] = Field(default_factory=list)
    scan_pickles: bool = True


class ArtifactScan(BaseModel):
    """Everything the security checks judge about one version's artifacts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="Where the artifacts were read: models:/m-... or runs:/...")
    error: str | None = Field(
        default=None, description="Why the artifacts could not be read; every check then errors."
    )
    manifest: ArtifactManifest | None = None
    mlmodel: MLmodelFacts | None = None
    mlmodel_error: str | None = None
    requirements: list[RequirementEntry] = Field(default_factory=list)
    requirement_files: list[str] = Field(default_factory=list)
    pickles: list[PickleReport] = Field(default_factory=list)
    pickles_scanned: bool = False
    unreadable: list[str] = Field(default_factory=list)
    signatures: list[SignatureVerification] = Field(default_factory=list)
    seconds: float = Field(default=0.0, exclude=True)

    @property
    def digest(self) -> str | None:
        """The manifest digest, recorded in decisions to detect a swap after review."""
        return self.manifest.digest if self.manifest is not None else None


def _read_text(root: Path, rel: str) -> str | None:
    path = root / rel
    if not path.is_file() or path.stat().st_size > _TEXT_MAX_BYTES:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None


def scan_model_directory(root: Path, request: ScanRequest, *, source: str = "") -> ArtifactScan:
    """Scan a local artifact directory (a private copy: the signature check moves files in it).

    Args:
        root: The directory holding `MLmodel` and the model files.
        request: Scanner limits and signers.
        source: Where the directory came from, for messages.
    """
    started = time.perf_counter()
    try:
        manifest = build_manifest(root)
    except (ManifestTooLargeError, OSError) as exc:
        return ArtifactScan(source=source, error=str(exc))
    files = [f.path for f in manifest.files]
    mlmodel: MLmodelFacts | None = None
    mlmodel_error: str | None = None
    text = _read_text(root, "MLmodel")
    if text is None:
        mlmodel_error = "no readable MLmodel file (missing, over 256 KiB or not UTF-8)"
    else:
        try:
            mlmodel = parse_mlmodel(text)
        except MLmodelParseError as exc:
            mlmodel_error = str(exc)
    texts: dict[str, str] = {}
    for rel in files:
        if rel in REQUIREMENT_FILES or rel.endswith(".txt"):
            content = _read_text(root, rel)
            if content is not None:
                texts[rel] = content
    requirement_files = [f for f in REQUIREMENT_FILES if f in texts]
    pickles: list[PickleReport] = []
    unreadable: list[str] = []
    if request.scan_pickles:
        locations, unreadable = find_pickles(root, files)
        pickles = scan_pickles(root, locations, request.limits)
    unsigned_files = [f for f in files if f != SIGNATURE_FILE]
    signatures = (
        verify_model_directory(root, request.signers, unsigned_files) if request.signers else []
    )
    return ArtifactScan(
        source=source,
        manifest=manifest,
        mlmodel=mlmodel,
        mlmodel_error=mlmodel_error,
        requirements=read_model_requirements(texts),
        requirement_files=requirement_files,
        pickles=pickles,
        pickles_scanned=request.scan_pickles,
        unreadable=unreadable,
        signatures=signatures,
        seconds=time.perf_counter() - started,
    )


def artifact_source(source: str | None, model_id: str | None, run_id: str | None) -> str | None:
    """`models:/m-...` for MLflow 3 logged models, else the version's `runs:/` source."""
    if model_id:
        return f"models:/{model_id}"
    if source and source.startswith("runs:/") and run_id:
        return source
    return None


def download_model_artifacts(client: MlflowClient, source: str, dst: Path) -> Path:
    """Download a version's model artifacts into `dst`; returns the local model directory.

    Args:
        client: MLflow client.
        source: `models:/m-...` or `runs:/<run_id>/<path>`.
        dst: An empty private directory.

    Raises:
        ToolError: The model or its artifacts cannot be read.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    if source.startswith("models:/"):
        model_id = source.removeprefix("models:/")
        logged = call_mlflow(
            lambda: client.get_logged_model(model_id),
            f"get_logged_model({model_id!r})",
            not_found=lambda: LoggedModelNotFoundError(model_id),
        )
        repo: Any = get_artifact_repository(
            str(logged.artifact_location), tracking_uri=client.tracking_uri
        )
        local = call_mlflow(
            lambda: repo.download_artifacts("", str(dst)),
            f"download logged model artifacts ({model_id!r})",
            not_found=lambda: ArtifactNotFoundError("logged_model", model_id, ""),
        )
        return Path(local)
    run_id, _, path = source.removeprefix("runs:/").partition("/")
    local = call_mlflow(
        lambda: client.download_artifacts(run_id, path, str(dst)),
        f"download_artifacts({run_id!r}, {path!r})",
        not_found=lambda: ArtifactNotFoundError("run", run_id, path),
    )
    return Path(local)


def scan_model_artifacts(client: MlflowClient, source: str, request: ScanRequest) -> ArtifactScan:
    """Download and scan a version's artifacts; a download failure is recorded, not raised.

    Args:
        client: MLflow client.
        source: `models:/m-...` or `runs:/<run_id>/<path>` (see `artifact_source`).
        request: Scanner limits and signers.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="promogate-scan-") as tmp:
        try:
            root = download_model_artifacts(client, source, Path(tmp))
        except ToolError as exc:
            logger.warning("could not download %s for scanning: %s", source, exc.message)
            return ArtifactScan(source=source, error=f"could not download the artifacts: {exc}")
        scan = scan_model_directory(root, request, source=source)
    return scan.model_copy(update={"seconds": time.perf_counter() - started})


def model_artifact_manifest(client: MlflowClient, source: str) -> ArtifactManifest:
    """Download and hash a version's artifacts (no scanning): the check before a promotion.

    Raises:
        ToolError: The artifacts cannot be read.
        ManifestTooLargeError: Too many files.
    """
    with tempfile.TemporaryDirectory(prefix="promogate-manifest-") as tmp:
        return build_manifest(download_model_artifacts(client, source, Path(tmp)))
