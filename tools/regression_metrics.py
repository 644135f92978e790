"""A regressor's quality from its predictions and the realised values: rmse, mae, mse and r2.

What `mlflow.models.evaluate(model_type="regressor")` logs under its long names
(`root_mean_squared_error`, `mean_absolute_error`, `mean_squared_error`, `r2_score`), computed
the same way (r2 as scikit-learn's `r2_score`, undefined where the values do not vary). The
errors are lower-is-better (`tools.metric_direction`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

__all__ = [
    "EVALUATE_NAMES",
    "REGRESSION_METRICS",
    "RegressionMetric",
    "regression_metrics",
    "regression_value",
]

RegressionMetric = Literal["rmse", "mae", "mse", "r2"]
REGRESSION_METRICS: tuple[RegressionMetric, ...] = get_args(RegressionMetric)
#: What `mlflow.models.evaluate(model_type="regressor")` calls each of them.
EVALUATE_NAMES: dict[RegressionMetric, str] = {
    "r2": "r2_score",
    "rmse": "root_mean_squared_error",
    "mae": "mean_absolute_error",
    "mse": "mean_squared_error",
}


def _arrays(
    labels: Sequence[Any] | np.ndarray[Any, Any], predictions: Sequence[Any] | np.ndarray[Any, Any]
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    y = np.asarray(labels, dtype=np.float64)
    p = np.asarray(predictions, dtype=np.float64)
    if y.shape != p.shape:
        raise ValueError(f"labels and predictions differ in length: {y.size!r} != {p.size!r}")
    return y, p


def regression_value(
    metric: RegressionMetric,
    labels: Sequence[Any] | np.ndarray[Any, Any],
    predictions: Sequence[Any] | np.ndarray[Any, Any],
) -> float:
    """One metric of `predictions` against `labels`; NaN where undefined (no rows; r2 of
    constant labels).

    Args:
        metric: rmse, mae, mse or r2.
        labels: The realised values.
        predictions: The model's predictions, aligned with `labels`.

    Raises:
        ValueError: An unknown metric, misaligned inputs, or values that are not numbers.
    """
    if metric not in REGRESSION_METRICS:
        raise ValueError(
            f"unsupported regression metric {metric!r}; supported: {', '.join(REGRESSION_METRICS)}"
        )
    y, p = _arrays(labels, predictions)
    if y.size == 0:
        return math.nan
    errors = p - y
    if metric == "mae":
        return float(np.abs(errors).mean())
    mse = float(np.square(errors).mean())
    if metric == "mse":
        return mse
    if metric == "rmse":
        return math.sqrt(mse)
    spread = float(np.square(y - y.mean()).sum())
    if spread == 0.0:
        return math.nan
    return 1.0 - float(np.square(errors).sum()) / spread


def regression_metrics(
    labels: Sequence[Any] | np.ndarray[Any, Any],
    predictions: Sequence[Any] | np.ndarray[Any, Any],
) -> dict[str, float]:
    """Every regression metric that is defined on these rows, by name.

    Args:
        labels: The realised values.
        predictions: The model's predictions, aligned with `labels`.

    Raises:
        ValueError: Misaligned inputs, or values that are not numbers.
    """
    values = {m: regression_value(m, labels, predictions) for m in REGRESSION_METRICS}
    return {m: v for m, v in values.items() if not math.isnan(v)}
