"""Dataset facts: evaluation digests, whether both versions were scored on the same data, and
whether the candidate was evaluated on data it was trained on."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from comparison.unavailable import Unavailable
from tools.evidence import DatasetInput, VersionEvidence

__all__ = [
    "DatasetOverlap",
    "SameDataset",
    "TrainEvalOverlap",
    "dataset_overlaps",
    "evaluation_digests",
    "input_digests",
    "metric_dataset_digests",
    "train_eval_overlap",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def input_digests(version: VersionEvidence, context: str) -> list[str]:
    """Digests of the dataset inputs logged on `version`'s run in `context`, sorted."""
    return sorted({d.digest for d in version.datasets_in(context)})


def metric_dataset_digests(version: VersionEvidence) -> dict[str, str]:
    """Dataset digest per logged-model metric, for metrics logged with their dataset."""
    if version.logged_model is None:
        return {}
    return {m.key: m.dataset_digest for m in version.logged_model.metrics if m.dataset_digest}


def evaluation_digests(version: VersionEvidence) -> list[str]:
    """Every digest `version` was evaluated on: evaluation inputs and dataset-linked metrics."""
    digests = set(input_digests(version, "evaluation"))
    if version.logged_model is not None:
        digests.update(m.dataset_digest for m in version.logged_model.metrics if m.dataset_digest)
    return sorted(digests)


class SameDataset(_Frozen):
    """The evaluation digests of both versions; `same` is None when one side logged none."""

    candidate_digests: list[str]
    baseline_digests: list[str]
    same: bool | None


class DatasetOverlap(_Frozen):
    """A training input and an evaluation input that are the same data."""

    training: str
    evaluation: str
    same: Literal["digest", "source"]
    value: str = Field(description="The shared digest or source.")


class TrainEvalOverlap(_Frozen):
    """The candidate's training and evaluation inputs, and the pairs that are the same data."""

    training: list[DatasetInput]
    evaluation: list[DatasetInput]
    overlaps: list[DatasetOverlap]


def _same_data(train: DatasetInput, evaluation: DatasetInput) -> DatasetOverlap | None:
    if train.digest == evaluation.digest:
        return DatasetOverlap(
            training=train.name, evaluation=evaluation.name, same="digest", value=train.digest
        )
    # A code source names the script that built a DataFrame, not the data itself; any other
    # source (a path, a table, one of unknown type) names the data, so a shared one is an overlap.
    if (
        train.source
        and train.source == evaluation.source
        and (train.source_type or "").lower() != "code"
    ):
        return DatasetOverlap(
            training=train.name, evaluation=evaluation.name, same="source", value=train.source
        )
    return None


def dataset_overlaps(
    training: Sequence[DatasetInput], evaluation: Sequence[DatasetInput]
) -> list[DatasetOverlap]:
    """The (training, evaluation) pairs of inputs that are the same data: same digest, or the same
    source unless the source is code (the script that built a DataFrame, not the data)."""
    return [o for t in training for e in evaluation if (o := _same_data(t, e)) is not None]


def train_eval_overlap(version: VersionEvidence) -> TrainEvalOverlap | Unavailable:
    """Which of `version`'s training inputs are also its evaluation inputs (same digest or source).

    Unavailable when the run logged no training or no evaluation input.
    """
    train = version.datasets_in("training")
    evals = version.datasets_in("evaluation")
    if not train or not evals:
        missing = [n for n, ds in (("training", train), ("evaluation", evals)) if not ds]
        return Unavailable(
            reason=f"no {' or '.join(missing)} dataset input was logged for {version.ref}"
        )
    return TrainEvalOverlap(
        training=list(train), evaluation=list(evals), overlaps=dataset_overlaps(train, evals)
    )
