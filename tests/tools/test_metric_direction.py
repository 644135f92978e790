"""Which way a metric improves, by its name, when a policy does not say."""

from __future__ import annotations

import pytest

from tools.metric_direction import lower_is_better


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("rmse", True),
        ("root_mean_squared_error", True),
        ("mean_absolute_error", True),
        ("mse", True),
        ("mape", True),
        ("log_loss", True),
        ("logloss", True),
        ("loss", True),
        ("val_loss", True),
        ("training_loss", True),
        ("eval/rmse", True),
        ("test_mae", True),
        ("mean_pinball_loss", True),
        ("median_absolute_error", True),
        ("brier_score", True),
        ("perplexity", True),
        ("RMSE", True),
        ("r2_score", False),
        ("r2", False),
        ("roc_auc", False),
        ("accuracy", False),
        ("val_accuracy", False),
        ("neg_root_mean_squared_error", False),
        ("neg_log_loss", False),
        ("val_neg_log_loss", False),
        ("test_neg_mean_absolute_error", False),
        ("latency_ms", False),
        ("val_", False),
    ],
    ids=lambda v: str(v),
)
def test_direction_by_name(name: str, expected: bool) -> None:
    assert lower_is_better(name) is expected


@pytest.mark.parametrize(
    ("name", "stated"), [("rmse", False), ("roc_auc", True)], ids=["error", "score"]
)
def test_what_the_policy_says_wins(name: str, stated: bool) -> None:
    assert lower_is_better(name, stated) is stated
