"""The demo's planted pickle: a model version whose pickle runs a command when it is loaded.

Model `fraud-screen` gets two versions, both real scikit-learn models logged as MLflow 3 logged
models:

- v1, the champion: saved with skops (no pickle), pinned requirements;
- v2, the candidate: saved with cloudpickle, and its `model.pkl` carries, beside the real model, an
  object whose unpickling runs `touch <marker>` (a harmless command: it only creates an empty
  marker file in a fresh temporary directory, and touches nothing else).

Under `policies/examples/fraud-screen.yaml`, whose `security:` section refuses pickles that the
two scanners do not clear, the review blocks v2 without ever loading it, so the marker is never
written; the demo and its test check exactly that. Building the version only dumps the pickle
(`pickle.dumps` records the callable's name and calls nothing).
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["PLANTED_MODEL_NAME", "PlantedPickleVersion", "build_planted_pickle_versions"]

PLANTED_MODEL_NAME = "fraud-screen"


class PlantedPickleVersion(BaseModel):
    """One registered version of `fraud-screen` and what its review should say."""

    model: str
    version: int
    role: Literal["champion", "candidate"]
    title: str
    expected_verdict: Literal["approve", "block"]
    defect: str
    failing_checks: list[str]
    marker: str | None = None
    """The file the planted pickle would create if it were ever loaded (None for v1)."""


class _OnLoad:
    """Unpickling this calls `os.system(command)`: the planted payload."""

    def __init__(self, command: str) -> None:
        self.command = command

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (self.command,)


def _train() -> Any:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(42)
    amount = rng.lognormal(3.0, 1.0, 2000)
    night = rng.random(2000) < 0.2
    foreign = rng.random(2000) < 0.1
    logit = -4.0 + 0.02 * amount + 1.5 * night + 2.0 * foreign
    fraud = rng.random(2000) < 1.0 / (1.0 + np.exp(-logit))
    features = np.column_stack([amount, night, foreign]).astype(float)
    return LogisticRegression(max_iter=500).fit(features, fraud.astype(int))


def _save(model: Any, directory: Path, serialization_format: str) -> Path:
    import mlflow.sklearn
    import sklearn

    mlflow.sklearn.save_model(
        model,
        str(directory),
        serialization_format=serialization_format,
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    for extra in ("uv.lock", "pyproject.toml", ".python-version"):
        (directory / extra).unlink(missing_ok=True)
    return directory


def _register(client: Any, experiment_id: str, directory: Path, description: str) -> int:
    run = client.create_run(experiment_id, run_name=directory.name)
    logged = client.create_logged_model(experiment_id, name="model", source_run_id=run.info.run_id)
    client.log_model_artifacts(logged.model_id, str(directory))
    client.finalize_logged_model(logged.model_id, "READY")
    client.set_terminated(run.info.run_id)
    version = client.create_model_version(
        PLANTED_MODEL_NAME,
        f"models:/{logged.model_id}",
        run_id=run.info.run_id,
        description=description,
    )
    return int(version.version)


def build_planted_pickle_versions(
    tracking_uri: str,
    *,
    artifact_location: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[PlantedPickleVersion]:
    """Register `fraud-screen` v1 (clean, champion) and v2 (planted pickle).

    Args:
        tracking_uri: MLflow tracking URI (the registry lives there too).
        artifact_location: Artifact root of the experiment when it is created.
        progress: Called with a short status line.

    Returns:
        The champion and the candidate, in that order.
    """
    from mlflow import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    if progress is not None:
        progress("logging fraud-screen v1 (skops) and v2 (a pickle that runs a command on load)")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    marker_dir = Path(tempfile.mkdtemp(prefix="promogate-planted-marker-"))
    marker = marker_dir / "pickle-was-loaded"
    model = _train()
    work = Path(tempfile.mkdtemp(prefix="promogate-planted-"))
    try:
        # Registering `models:/m-...` looks the logged model up through the global tracking URI.
        with _use_tracking_uri(tracking_uri):
            experiment = client.get_experiment_by_name(PLANTED_MODEL_NAME)
            experiment_id = (
                experiment.experiment_id
                if experiment is not None
                else client.create_experiment(
                    PLANTED_MODEL_NAME, artifact_location=artifact_location
                )
            )
            client.create_registered_model(PLANTED_MODEL_NAME)
            clean = _save(model, work / "v1-skops", "skops")
            v1 = _register(client, experiment_id, clean, "fraud screen, saved with skops")
            planted = _save(model, work / "v2-cloudpickle", "cloudpickle")
            (planted / "model.pkl").write_bytes(
                pickle.dumps(
                    {"model": model, "calibration": _OnLoad(f"touch {marker}")}, protocol=4
                )
            )
            v2 = _register(
                client,
                experiment_id,
                planted,
                "fraud screen, retrained; same features, recalibrated",
            )
            client.set_registered_model_alias(PLANTED_MODEL_NAME, "champion", str(v1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return [
        PlantedPickleVersion(
            model=PLANTED_MODEL_NAME,
            version=v1,
            role="champion",
            title="clean model saved with skops",
            expected_verdict="approve",
            defect="none",
            failing_checks=[],
        ),
        PlantedPickleVersion(
            model=PLANTED_MODEL_NAME,
            version=v2,
            role="candidate",
            title="pickle that runs a command on load",
            expected_verdict="block",
            defect="model.pkl runs `touch` on a marker file when unpickled",
            failing_checks=[
                "security.formats",
                "security.pickles.picklescan",
                "security.pickles.fickling",
            ],
            marker=str(marker),
        ),
    ]
