"""Realised metrics of a window (from labels that arrived) against their value at promotion.

The comparison is the significance-aware one reviews use (`tools.significance`), unpaired since
production rows are not the evaluation rows:

- counting metrics (accuracy, recall, precision) with the reference's evaluation table: the
  Newcombe interval of the difference of the two rates;
- the same without a table, against the promotion-time value: the window's Wilson interval;
- f1 and roc_auc, and a regressor's rmse, mae, mse and r2 (from the `prediction` column against
  the realised `label`): a bootstrap that resamples the window and the reference independently
  (or only the window, against the promotion-time value).

A drop is significant when the one-sided test at the rule's `significance` says the realised
value is worse than the promotion-time one: the upper end of the two-sided interval at
1 - 2 x significance lies below zero, or the bootstrap's share of resamples that are not worse.
For the errors (rmse, mae, mse) worse is higher: their drop is a rise.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from policies.watch_rules import PerformanceRule
from tools.metric_direction import lower_is_better
from tools.regression_metrics import REGRESSION_METRICS, regression_value
from tools.significance import (
    binary_mask,
    metric_value,
    rate_difference_interval,
    wilson_interval,
)
from watch.errors import WindowDataError
from watch.report import MetricEvidence

__all__ = ["MetricInputs", "compare_metric", "metric_inputs", "significant_drop"]

_COUNTING = ("accuracy", "recall", "precision")


class MetricInputs:
    """The label column and the prediction (or score) column one metric needs, as arrays."""

    __slots__ = ("labels", "values")

    def __init__(self, labels: np.ndarray[Any, Any], values: np.ndarray[Any, Any]) -> None:
        self.labels = labels
        self.values = values

    def __len__(self) -> int:
        return int(self.labels.size)


def metric_inputs(frame: pd.DataFrame, metric: str, side: str) -> MetricInputs:
    """Labels and predictions (scores for roc_auc) of the labelled rows of `frame`.

    Without a `prediction` column, classes are derived from `score` at 0.5, as in reviews. A
    regression metric reads the `prediction` column as numbers, never a score's classes.

    Raises:
        WindowDataError: The columns the metric needs are absent, or a regression metric's
            labels or predictions are not numbers.
    """
    if "label" not in frame.columns:
        raise WindowDataError(f"the {side}'s labelled rows have no 'label' column")
    frame = frame[frame["label"].notna()]
    labels = frame["label"].to_numpy()
    if metric in REGRESSION_METRICS:
        if "prediction" not in frame.columns:
            raise WindowDataError(
                f"the {side}'s labelled rows have no 'prediction' column, which {metric} needs"
            )
        try:
            return MetricInputs(
                labels.astype(np.float64), frame["prediction"].to_numpy(dtype=np.float64)
            )
        except (TypeError, ValueError) as exc:
            raise WindowDataError(
                f"the {side}'s labels or predictions are not numbers, which {metric} needs: {exc}"
            ) from exc
    if metric == "roc_auc":
        if "score" not in frame.columns:
            raise WindowDataError(f"the {side}'s labelled rows have no 'score' column for roc_auc")
        return MetricInputs(labels, frame["score"].to_numpy(dtype=np.float64))
    if "prediction" in frame.columns:
        return MetricInputs(labels, frame["prediction"].to_numpy())
    if "score" in frame.columns:
        scores = frame["score"].to_numpy(dtype=np.float64)
        return MetricInputs(labels, (scores >= 0.5).astype(np.int64))
    raise WindowDataError(f"the {side}'s labelled rows have neither 'prediction' nor 'score'")


def _trials(metric: str, inputs: MetricInputs) -> int:
    """The denominator of a counting metric: rows, positives (recall) or predicted positives."""
    if metric == "recall":
        return int(binary_mask(inputs.labels).sum())  # type: ignore[arg-type]
    if metric == "precision":
        return int(binary_mask(inputs.values).sum())  # type: ignore[arg-type]
    return len(inputs)


def _value(metric: str, inputs: MetricInputs, index: np.ndarray[Any, Any] | None = None) -> float:
    labels = inputs.labels if index is None else inputs.labels[index]
    values = inputs.values if index is None else inputs.values[index]
    if metric in REGRESSION_METRICS:
        return regression_value(metric, labels, values)
    return metric_value(metric, labels, values)  # type: ignore[arg-type]


def _z_test_p(succ_w: int, n_w: int, succ_r: int, n_r: int) -> float:
    """One-sided p-value of the pooled two-proportion z test for 'the window's rate is lower'."""
    pooled = (succ_w + succ_r) / (n_w + n_r)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_w + 1.0 / n_r))
    if se == 0.0:
        return 0.5
    return NormalDist().cdf((succ_w / n_w - succ_r / n_r) / se)


def _bootstrap(
    metric: str,
    window: MetricInputs,
    reference: MetricInputs | None,
    promotion_value: float,
    n_resamples: int,
    seed: int,
    lower: bool,
) -> tuple[list[float], float, int]:
    """Resampled deltas (window - reference or - promotion value), p-value, valid resamples.

    `lower`: a rise is worse (the errors), so a resample is not worse when its delta is <= 0.
    """
    rng = np.random.default_rng(seed)
    deltas: list[float] = []
    n_w = len(window)
    for _ in range(n_resamples):
        realised = _value(metric, window, rng.integers(0, n_w, n_w))
        if reference is not None:
            n_r = len(reference)
            base = _value(metric, reference, rng.integers(0, n_r, n_r))
        else:
            base = promotion_value
        delta = realised - base
        if not math.isnan(delta):
            deltas.append(delta)
    not_worse = sum(1 for d in deltas if (d <= 0.0 if lower else d >= 0.0))
    return deltas, (1.0 + not_worse) / (1.0 + len(deltas)), len(deltas)


def compare_metric(
    rule: PerformanceRule,
    window: pd.DataFrame,
    reference: pd.DataFrame | None,
    promotion_value: float | None,
    *,
    n_resamples: int,
    seed: int,
    segment: str | None = None,
) -> MetricEvidence | str:
    """Compare the window's realised metric with the promotion-time one.

    Returns:
        The evidence, or the reason the comparison cannot be made on this window (no positive
        label yet, for instance), which the caller reports as `skip`.

    Raises:
        WindowDataError: Neither a reference table nor a promotion-time value exists, or the
            labelled rows lack the columns the metric needs.
    """
    metric = rule.metric
    lower = lower_is_better(metric)
    w = metric_inputs(window, metric, "window")
    r = metric_inputs(reference, metric, "reference") if reference is not None else None
    if r is not None and len(r) == 0:
        r = None
    if r is None and promotion_value is None:
        where = f" for segment {segment!r}" if segment else ""
        raise WindowDataError(
            f"no promotion-time value of {metric!r}{where}: neither the reference's evaluation "
            "table nor the promotion metrics have it"
        )
    realised = _value(metric, w)
    if math.isnan(realised):
        why = "the values do not vary?" if metric in REGRESSION_METRICS else "no positives?"
        return f"{metric} is undefined on the window's {len(w)} labelled rows ({why})"
    base = _value(metric, r) if r is not None else float(promotion_value)  # type: ignore[arg-type]
    if math.isnan(base):
        return f"{metric} is undefined on the reference's {len(r) if r else 0} labelled rows"
    confidence = 1.0 - 2.0 * rule.significance
    common: dict[str, Any] = {
        "metric": metric,
        "promotion_value": base,
        "realised_value": realised,
        "delta": realised - base,
        "max_drop": rule.max_drop,
        "significance": rule.significance,
        "reference_rows": len(r) if r is not None else None,
        "window_rows": len(w),
        "segment": segment,
        "lower_is_better": lower,
    }
    if metric in _COUNTING:
        n_w = _trials(metric, w)
        succ_w = round(realised * n_w)
        if r is not None:
            n_r = _trials(metric, r)
            succ_r = round(base * n_r)
            low, high = rate_difference_interval(succ_w, n_w, succ_r, n_r, confidence)
            p = _z_test_p(succ_w, n_w, succ_r, n_r)
            return MetricEvidence(**common, ci_low=low, ci_high=high, p_value=p, method="newcombe")
        low, high = wilson_interval(succ_w, n_w, confidence)
        return MetricEvidence(**common, ci_low=low - base, ci_high=high - base, method="wilson")
    deltas, p, valid = _bootstrap(metric, w, r, base, n_resamples, seed, lower)
    if valid == 0:
        return f"{metric} is undefined in every resample of the window's {len(w)} labelled rows"
    low, high = np.quantile(np.asarray(deltas), [rule.significance, 1.0 - rule.significance])
    return MetricEvidence(
        **common,
        ci_low=float(low),
        ci_high=float(high),
        p_value=p,
        method="bootstrap" if r is not None else "bootstrap_one_sample",
    )


def significant_drop(evidence: MetricEvidence) -> bool:
    """Whether the realised value is significantly worse than the promotion-time one."""
    if evidence.p_value is not None and evidence.method.startswith("bootstrap"):
        return evidence.p_value < evidence.significance
    if evidence.lower_is_better:
        return evidence.ci_low is not None and evidence.ci_low > 0.0
    return evidence.ci_high is not None and evidence.ci_high < 0.0
