"""Dataset inputs of a run (`mlflow.log_input`), with digest, context and row count."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tools.evidence import DatasetInput
from tools.runs import fetch_run

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = ["CONTEXT_TAG", "dataset_inputs_from", "in_dataset_order", "read_dataset_inputs"]

logger = logging.getLogger("promogate.tools")

CONTEXT_TAG = "mlflow.data.context"


def _num_rows(profile: str | None) -> int | None:
    if not profile:
        return None
    try:
        parsed: Any = json.loads(profile)
    except ValueError:
        logger.debug("dataset profile is not JSON: %.80r", profile)
        return None
    rows = parsed.get("num_rows") if isinstance(parsed, dict) else None
    if isinstance(rows, int) and not isinstance(rows, bool):
        return rows
    return None


def in_dataset_order(datasets: Iterable[DatasetInput]) -> list[DatasetInput]:
    """`datasets` by context, name and digest: the order evidence keeps them in."""
    return sorted(datasets, key=lambda d: (d.context or "", d.name, d.digest))


def dataset_inputs_from(run: Run) -> list[DatasetInput]:
    """The dataset inputs of an MLflow run, ordered by context, name and digest.

    Args:
        run: The MLflow run (its ``inputs`` are part of `get_run`'s answer).
    """
    inputs = getattr(run, "inputs", None)
    found: list[DatasetInput] = []
    for item in getattr(inputs, "dataset_inputs", None) or []:
        ds = item.dataset
        tags = {str(t.key): str(t.value) for t in (item.tags or [])}
        found.append(
            DatasetInput(
                name=str(ds.name),
                digest=str(ds.digest),
                context=tags.get(CONTEXT_TAG) or None,
                source_type=ds.source_type or None,
                source=ds.source or None,
                num_rows=_num_rows(ds.profile),
            )
        )
    return in_dataset_order(found)


def read_dataset_inputs(client: MlflowClient, run_id: str) -> list[DatasetInput]:
    """The datasets a run logged with `mlflow.log_input`, with digest and context.

    The context (``training``, ``evaluation``, ...) comes from the ``mlflow.data.context`` input
    tag; the row count from the dataset profile when MLflow computed one.

    Args:
        client: MLflow client.
        run_id: The run id.

    Raises:
        RunNotFoundError: No run with this id.
    """
    return dataset_inputs_from(fetch_run(client, run_id))
