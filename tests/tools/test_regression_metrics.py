"""A regressor's metrics agree with scikit-learn's, and say where they are undefined."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as sk

from tools.regression_metrics import regression_metrics, regression_value

_RNG = np.random.default_rng(7)
_Y = _RNG.normal(30.0, 8.0, 500)
_P = _Y + _RNG.normal(1.5, 4.0, 500)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("rmse", math.sqrt(sk.mean_squared_error(_Y, _P))),
        ("mae", sk.mean_absolute_error(_Y, _P)),
        ("mse", sk.mean_squared_error(_Y, _P)),
        ("r2", sk.r2_score(_Y, _P)),
    ],
    ids=["rmse", "mae", "mse", "r2"],
)
def test_values_match_scikit_learn(metric: str, expected: float) -> None:
    assert regression_value(metric, list(_Y), list(_P)) == pytest.approx(expected, rel=1e-12)  # type: ignore[arg-type]


def test_undefined_values_are_left_out() -> None:
    assert math.isnan(regression_value("rmse", [], []))
    constant = regression_metrics([5.0, 5.0, 5.0], [4.0, 5.0, 6.0])
    assert "r2" not in constant and constant["mae"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("labels", "predictions", "message"),
    [
        ([1.0, 2.0], [1.0], "differ in length"),
        (["a", "b"], [1.0, 2.0], "could not convert"),
    ],
    ids=["misaligned", "not-numbers"],
)
def test_bad_inputs_are_refused(
    labels: list[object], predictions: list[object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        regression_value("rmse", labels, predictions)


def test_an_unknown_metric_is_named() -> None:
    with pytest.raises(ValueError, match="'rmsle'"):
        regression_value("rmsle", [1.0], [1.0])  # type: ignore[arg-type]
