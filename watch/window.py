"""The two sides of a watch: the reference the decision rested on, and one monitoring window.

Both hold a compact profile always, a raw sample where one was logged (exact drift tests), and
per-example labelled results where they exist (realised metrics). Readers in `watch.monitoring`
build them from MLflow; tests and the benchmark build them from DataFrames directly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field

from watch.profile import DatasetProfile

__all__ = ["MonitoringWindow", "Reference"]


class _Frames(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


class Reference(_Frames):
    """What the promotion decision was made on.

    `sample` holds the features (and score/prediction) row by row when available; `labelled`
    the evaluation table (label, prediction and/or score, segment columns), from which the
    promotion-time metrics can be compared with significance.
    """

    model: str
    version: str
    profile: DatasetProfile
    sample: pd.DataFrame | None = None
    labelled: pd.DataFrame | None = None
    source: Literal["reference_run", "eval_table", "frame"] = "frame"
    run_id: str | None = None
    dataset_digests: dict[str, str] = Field(
        default_factory=dict, description="Training/evaluation dataset digests (context: digest)."
    )
    digest: str = Field(default="", description="SHA-256 of the reference's content.")


class MonitoringWindow(_Frames):
    """One time window of production traffic for a model version.

    `labelled` holds the rows whose labels have arrived (label, prediction and/or score, and
    segment columns), merged over every label batch logged for the window.
    """

    model: str
    version: str
    window_start: datetime
    window_end: datetime
    profile: DatasetProfile
    sample: pd.DataFrame | None = None
    labelled: pd.DataFrame | None = None
    run_id: str | None = None
    label_run_ids: list[str] = Field(default_factory=list)
    digest: str = Field(default="", description="SHA-256 of the window's inputs and labels.")
