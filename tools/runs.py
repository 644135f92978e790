"""Source-run reads: params, latest metrics, tags, lifecycle stage, and metric histories."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.client import call_mlflow
from tools.errors import RunNotFoundError
from tools.evidence import MetricPoint, RunEvidence

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "LOSS_LIKE_KEYS",
    "fetch_run",
    "read_metric_history",
    "read_run",
    "run_evidence_from",
]

LOSS_LIKE_KEYS: tuple[str, ...] = (
    "loss",
    "train_loss",
    "val_loss",
    "training_loss",
    "validation_loss",
)

_NOTE_TAG = "mlflow.note.content"


def fetch_run(client: MlflowClient, run_id: str) -> Run:
    """The raw MLflow run, deleted or not.

    Args:
        client: MLflow client.
        run_id: The run id.

    Raises:
        RunNotFoundError: No run with this id.
    """
    return call_mlflow(
        lambda: client.get_run(run_id),
        f"get_run({run_id!r})",
        not_found=lambda: RunNotFoundError(run_id),
    )


def _opt_int(value: Any) -> int | None:
    return int(value) if value is not None else None


def run_evidence_from(run: Run) -> RunEvidence:
    """Convert an MLflow run to `RunEvidence` (the lifecycle stage is kept, deleted or not).

    Args:
        run: The MLflow run.
    """
    info = run.info
    tags = {str(k): str(v) for k, v in run.data.tags.items()}
    return RunEvidence(
        run_id=str(info.run_id),
        experiment_id=str(info.experiment_id),
        status=str(info.status),
        lifecycle_stage=str(info.lifecycle_stage),
        run_name=info.run_name or None,
        description=tags.get(_NOTE_TAG) or None,
        start_time=_opt_int(info.start_time),
        end_time=_opt_int(info.end_time),
        params={str(k): str(v) for k, v in run.data.params.items()},
        metrics={str(k): float(v) for k, v in run.data.metrics.items()},
        tags=tags,
    )


def read_run(client: MlflowClient, run_id: str) -> RunEvidence:
    """A run's params, latest metric values, tags and lifecycle stage.

    A deleted run is returned with ``lifecycle_stage == "deleted"``; callers decide what that means.

    Args:
        client: MLflow client.
        run_id: The run id (a model version's ``run_id``).

    Raises:
        RunNotFoundError: No run with this id.
    """
    return run_evidence_from(fetch_run(client, run_id))


def read_metric_history(client: MlflowClient, run_id: str, key: str) -> list[MetricPoint]:
    """Every logged value of one metric of a run, ordered by step then time.

    Args:
        client: MLflow client.
        run_id: The run id.
        key: The metric key, e.g. ``"val_loss"``. An unknown key gives an empty list.

    Raises:
        RunNotFoundError: No run with this id.
    """
    history = call_mlflow(
        lambda: client.get_metric_history(run_id, key),
        f"get_metric_history({run_id!r}, {key!r})",
        not_found=lambda: RunNotFoundError(run_id),
    )
    points = [
        MetricPoint(step=int(m.step), value=float(m.value), timestamp=int(m.timestamp or 0))
        for m in history
    ]
    return sorted(points, key=lambda p: (p.step, p.timestamp, p.value))
