"""MLflow's INFO logs kept out of a benchmark's output."""

from __future__ import annotations

import logging

__all__ = ["quiet_mlflow"]


def quiet_mlflow() -> None:
    """Log only MLflow's warnings and errors in this process.

    MLflow configures its ``mlflow`` logger at INFO when it is first imported, undoing a level set
    before that; it is imported here first, so the level holds.
    """
    import mlflow  # noqa: F401 - imported for its logging configuration

    logging.getLogger("mlflow").setLevel(logging.WARNING)
