"""Quiet MLflow's chatter while the demo logs models it builds itself."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

__all__ = ["quiet_mlflow_logging"]

# Loggers and warnings that say nothing about the demo's own models: whether the current
# directory is a uv project, that pip cannot be pinned in conda.yaml (the requirements that matter
# are pinned explicitly), that a Python object is pickled (the demo's own class), and schema hints.
_LOGGERS = ("mlflow.utils.environment", "mlflow.utils.uv_utils", "mlflow.pyfunc")
_WARNINGS = (
    "Hint: Inferred schema contains integer",
    ".*An input example was not provided",
)


@contextlib.contextmanager
def quiet_mlflow_logging() -> Iterator[None]:
    """Raise MLflow's model-logging loggers to ERROR and hide its hints, for the block only."""
    targets = [logging.getLogger(name) for name in _LOGGERS]
    previous = [target.level for target in targets]
    for target in targets:
        target.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            for message in _WARNINGS:
                warnings.filterwarnings("ignore", message, UserWarning)
            yield
    finally:
        for target, level in zip(targets, previous, strict=True):
            target.setLevel(level)
