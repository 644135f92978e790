"""Significance tests for the gate: paired bootstrap on per-example results, Wilson intervals.

A drop in a metric between two model versions is only worth blocking on when it is larger than the
noise of the evaluation set. When both versions were scored on the same examples, a paired bootstrap
resamples the examples (the same resample for both models) and asks how often the candidate is not
worse; that fraction is a one-sided p-value for "the candidate is worse".

Resampling is done with per-example weights (how often each example was drawn), so that ROC AUC can
be computed for all resamples from one sort of the scores instead of one sort per resample.
Weights are laid out examples x resamples, so that gathering examples copies contiguous rows.
Count metrics (accuracy, recall, precision, f1) need no weights: they sum per-example indicators
over the drawn examples. Every per-resample quantity is a sum of integers, which float64 holds
exactly, so the way the work is split up never changes a result, and neither does the type the
integers are held in on the way: ROC AUC's weights and running sums are 32-bit integers and the
count metrics' indicators bytes, the same numbers in a half and an eighth of float64's memory
(3% to 22% less time, by metric and table size), summed in float64 and in 16-bit integers (below
65,536 examples) or 64-bit ones.
"""

from __future__ import annotations

import logging
import math
import pickle
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, Literal, cast, get_args

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from tools.evidence_cache import BOOTSTRAP_CACHE_BYTES, ByteBoundedCache, content_key

__all__ = [
    "BOOTSTRAP_CACHE",
    "METRIC_NAMES",
    "BootstrapResult",
    "MetricName",
    "binary_mask",
    "metric_value",
    "normalize_label",
    "numeric_array",
    "paired_bootstrap",
    "rate_difference_interval",
    "wilson_interval",
]

logger = logging.getLogger("promogate.tools")

MetricName = Literal["accuracy", "recall", "precision", "f1", "roc_auc"]
METRIC_NAMES: tuple[MetricName, ...] = get_args(MetricName)

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
CountArray = npt.NDArray[np.signedinteger[Any]]

# Resamples are drawn in blocks of about this many cells, which bounds the draws' memory. The
# generator draws every bounded 64-bit integer from its stream in turn, so blocks of any size draw
# the same examples, and the block size changes no result.
_BLOCK_CELLS = 2_000_000
# Resamples evaluated together for ROC AUC: a weight matrix of n x 32 stays in the CPU cache, which
# makes it about twice as fast as evaluating a whole drawn block at once.
_EVAL_RESAMPLES = 32
# From this many examples up, ROC AUC's resample weights are counted one resample at a time.
_ROW_COUNTS_MIN = 1024
# A weight or running sum never exceeds the number of examples, and a positive's count of pairs
# twice that: 32 bits hold them up to this many examples (no evaluation table comes near it;
# past it, 64 bits).
_COUNTS_MAX = 2**30
# A count metric's count of drawn examples never exceeds their number: 16 bits hold it up to here.
_COUNTS16_MAX = 2**16 - 1
# Fewest flags counted in one gather of 64-bit words; fewer are gathered one byte each, which is
# as fast or faster for two flags on tables of thousands of rows.
_PACKED_MIN = 3
# Gathered words counted at a time: 1 MiB, which stays in the CPU's cache.
_PACKED_CELLS = 131_072


class BootstrapResult(BaseModel):
    """The outcome of a paired bootstrap of `metric(b) - metric(a)`.

    `delta` is the observed difference (negative: b is worse), `ci_low`/`ci_high` the percentile
    interval at `confidence`, and `p_value` the one-sided p-value for "b is worse than a".
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: MetricName
    value_a: float
    value_b: float
    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_resamples: int
    valid_resamples: int
    confidence: float
    seed: int


def normalize_label(value: Any) -> Any:
    """A comparable form of a class label: 1, 1.0, True and "1" are the same class.

    Args:
        value: A label or predicted class as read from a table.
    """
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def numeric_array(values: Sequence[Any]) -> FloatArray | None:
    """`values` as float64 when every one is a real number (bool, integer or float), else None.

    For such values, comparing the array equals comparing `normalize_label` of each value, so
    callers can compare whole columns at once and fall back to `normalize_label` otherwise.

    Args:
        values: A column as read from a table (a list or a NumPy array).
    """
    try:
        array = values if isinstance(values, np.ndarray) else np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        return None
    if array.ndim != 1 or array.dtype.kind not in "biuf":
        return None
    return array.astype(np.float64, copy=False)


def binary_mask(values: Sequence[Any], pos_label: Any = 1) -> BoolArray:
    """True where `values` equal the positive class (1, 1.0, True and "1" all count as 1).

    Args:
        values: Labels or predicted classes.
        pos_label: The positive class.
    """
    positive = normalize_label(pos_label)
    numeric = numeric_array(values) if isinstance(positive, float) else None
    if numeric is not None:
        mask: BoolArray = numeric == positive
        return mask
    return np.fromiter(
        (normalize_label(v) == positive for v in values), dtype=np.bool_, count=len(values)
    )


def _scores(values: Sequence[Any]) -> FloatArray:
    numeric = numeric_array(values)
    try:
        scores = (
            numeric
            if numeric is not None
            else np.asarray([float(v) for v in values], dtype=np.float64)
        )
    except (TypeError, ValueError) as exc:
        raise ValueError(f"roc_auc needs numeric scores; got a non-numeric value: {exc}") from exc
    if not np.all(np.isfinite(scores)):
        raise ValueError("roc_auc needs finite scores; the scores contain NaN or infinity")
    return scores


class _Prepared:
    """One model's per-example inputs, prepared once for all resamples."""

    def __init__(
        self, metric: MetricName, labels: Sequence[Any], values: Sequence[Any], pos_label: Any
    ):
        self.metric = metric
        self.y = binary_mask(labels, pos_label)
        if metric == "roc_auc":
            scores = _scores(values)
            neg_idx = np.flatnonzero(~self.y)
            neg_order = np.argsort(scores[neg_idx], kind="stable")
            self.negatives = neg_idx[neg_order]
            neg_scores = scores[self.negatives]
            self.positives = np.flatnonzero(self.y)
            # For each positive: how many (sorted) negatives score below it, and below or tied
            # with it. A tie between a positive and a negative counts one half.
            self.neg_below = np.searchsorted(neg_scores, scores[self.positives], side="left")
            self.neg_through = np.searchsorted(neg_scores, scores[self.positives], side="right")
        elif metric == "accuracy":
            numeric_labels, numeric_preds = numeric_array(labels), numeric_array(values)
            if numeric_labels is not None and numeric_preds is not None:
                self.correct = (numeric_labels == numeric_preds).astype(np.uint8)
            else:
                norm_labels = [normalize_label(v) for v in labels]
                norm_preds = [normalize_label(v) for v in values]
                self.correct = np.asarray(
                    [a == b for a, b in zip(norm_labels, norm_preds, strict=True)],
                    dtype=np.uint8,
                )
        else:
            pred = binary_mask(values, pos_label)
            self.tp = (self.y & pred).astype(np.uint8)
            self.fp = (~self.y & pred).astype(np.uint8)
            self.fn = (self.y & ~pred).astype(np.uint8)

    def flags(self) -> list[npt.NDArray[np.uint8]]:
        """The per-example indicators a count metric sums over each resample's draws (none for
        ROC AUC, which is evaluated from weights)."""
        if self.metric == "roc_auc":
            return []
        if self.metric == "accuracy":
            return [self.correct]
        if self.metric == "recall":
            return [self.tp, self.fn]
        if self.metric == "precision":
            return [self.tp, self.fp]
        return [self.tp, self.fp, self.fn]

    def from_counts(self, counts: Sequence[FloatArray], drawn: int | FloatArray) -> FloatArray:
        """A count metric per resample, from how many of each resample's examples each of
        `flags()` flags (`counts`, in that order) and how many were drawn (`drawn`, which only
        accuracy reads); NaN where undefined."""
        with np.errstate(divide="ignore", invalid="ignore"):
            if self.metric == "accuracy":
                accuracy: FloatArray = counts[0] / drawn
                return accuracy
            tp = counts[0]
            if self.metric in ("recall", "precision"):
                denom = tp + counts[1]
            else:
                denom = 2 * tp + counts[1] + counts[2]
                tp = 2 * tp
            out: FloatArray = np.where(denom > 0, tp / denom, np.nan)
            return out

    def evaluate(self, weights: FloatArray | CountArray) -> FloatArray:
        """The metric per column of `weights` (examples x resamples); NaN where undefined.

        The count metrics take float64 weights; ROC AUC takes either, and holds its running sums
        in the weights' own type."""
        if self.metric != "roc_auc":
            # A flag's weighted sum is how many of a resample's draws it flags.
            drawn = weights.sum(axis=0) if self.metric == "accuracy" else 0
            counts = [cast("FloatArray", flag @ weights) for flag in self.flags()]
            return self.from_counts(counts, drawn)
        # Weighted Mann-Whitney: one cumulative sum over the sorted negatives gives every
        # positive's weight of negatives below it, for all resamples at once.
        rows = len(self.negatives) + 1
        neg_cum: npt.NDArray[Any] = np.empty((rows, weights.shape[1]), dtype=weights.dtype)
        neg_cum[0] = 0
        # Gathered straight into place: no copy of the negatives' rows in between.
        np.take(weights, self.negatives, axis=0, out=neg_cum[1:])
        # In-place accumulate along rows is an order of magnitude faster than np.cumsum.
        np.add.accumulate(neg_cum[1:], axis=0, out=neg_cum[1:])
        pos_w = weights[self.positives].astype(np.float64)
        pairs = neg_cum[self.neg_below]
        pairs += neg_cum[self.neg_through]
        numerator = np.einsum("pb,pb->b", pos_w, pairs.astype(np.float64)) * 0.5
        denominator = pos_w.sum(axis=0) * neg_cum[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            auc: FloatArray = np.where(denominator > 0, numerator / denominator, np.nan)
        return auc


class _FlagCounts:
    """How many drawn examples each of several flags flags, per resample, counted exactly.

    Flags are packed side by side into one 64-bit word per example, each in a field as wide as a
    count can grow (the bit length of the number of examples), so one gather and one sum count as
    many flags as fit: five below 2,048 examples, four below 65,536. A count never exceeds the
    number of examples, so no field's sum carries into the next, and each field holds its flag's
    count exactly. Fewer than `_PACKED_MIN` flags left over are gathered a byte each.

    Args:
        flags: The per-example indicators (0 or 1), all of the same length.
        n: The number of examples drawn in each resample.
    """

    def __init__(self, flags: Sequence[npt.NDArray[np.uint8]], n: int) -> None:
        self.width = max(1, n.bit_length())
        per = max(1, 64 // self.width)
        self.groups: list[tuple[npt.NDArray[np.uint64] | None, list[npt.NDArray[np.uint8]]]] = []
        for start in range(0, len(flags), per):
            group = list(flags[start : start + per])
            if len(group) < _PACKED_MIN:
                self.groups.append((None, group))
                continue
            words = np.zeros(len(group[0]), dtype=np.uint64)
            for field, flag in enumerate(group):
                words |= flag.astype(np.uint64) << np.uint64(self.width * field)
            self.groups.append((words, group))

    def counts(self, draws: IntArray) -> list[FloatArray]:
        """Each flag's count per resample (`draws` is resamples x n), as float64."""
        mask = np.uint64((1 << self.width) - 1)
        counted: list[FloatArray] = []
        for words, group in self.groups:
            if words is None:
                counted.extend(_drawn(flag, draws) for flag in group)
                continue
            sums = np.empty(draws.shape[0], dtype=np.uint64)
            # A few resamples at a time: their gathered words stay in the CPU's cache.
            step = max(1, _PACKED_CELLS // draws.shape[1])
            gathered = np.empty((min(step, draws.shape[0]), draws.shape[1]), dtype=np.uint64)
            for start in range(0, draws.shape[0], step):
                part = draws[start : start + step]
                np.take(words, part, out=gathered[: len(part)])
                np.add.reduce(gathered[: len(part)], axis=1, out=sums[start : start + len(part)])
            counted.extend(
                ((sums >> np.uint64(self.width * field)) & mask).astype(np.float64)
                for field in range(len(group))
            )
        return counted


def _drawn(flags: npt.NDArray[np.uint8], draws: IntArray) -> FloatArray:
    """How many drawn examples are flagged, per resample (`draws` is resamples x n), as float64.

    The flags are bytes: an eighth of the memory of float64 flags to gather. A count never
    exceeds n, so below 65,536 examples it is taken in 16 bits (four times as fast as in 64),
    else in 64: the same whole numbers either way.
    """
    counts_type = np.uint16 if draws.shape[1] <= _COUNTS16_MAX else np.int64
    counts: FloatArray = np.add.reduce(flags[draws], axis=1, dtype=counts_type).astype(np.float64)
    return counts


def _weights(draws: IntArray, n: int) -> CountArray:
    """weights[i, b]: how often example i was drawn in resample b (`draws` is resamples x n).

    The same whole numbers either way: from `_ROW_COUNTS_MIN` examples up, counted one resample
    at a time and laid out examples x resamples once (one `bincount` over the whole block, keyed
    by example and resample, outgrows the CPU's cache there and takes 1.4 to 2.5 times as long);
    below, in that one `bincount`, which spares the per-resample calls.
    """
    size = draws.shape[0]
    counts_type = np.int32 if n <= _COUNTS_MAX else np.int64
    if n >= _ROW_COUNTS_MIN:
        rows = np.empty((size, n), dtype=counts_type)
        for b, drawn in enumerate(draws):
            rows[b] = np.bincount(drawn, minlength=n)
        return np.ascontiguousarray(rows.T)
    flat = draws * size
    flat += np.arange(size)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n * size)
    return counts.reshape(n, size).astype(counts_type)


def _check_metric(metric: str) -> MetricName:
    if metric not in METRIC_NAMES:
        raise ValueError(f"unsupported metric {metric!r}; supported: {', '.join(METRIC_NAMES)}")
    return metric


def metric_value(
    metric: MetricName, labels: Sequence[Any], preds_or_scores: Sequence[Any], *, pos_label: Any = 1
) -> float:
    """Compute one metric on per-example results; NaN where undefined (recall without positives).

    Args:
        metric: accuracy, recall, precision, f1 (from predicted classes) or roc_auc (scores).
        labels: True classes.
        preds_or_scores: Predicted classes, or positive-class scores for roc_auc.
        pos_label: The positive class.
    """
    metric = _check_metric(metric)
    if len(labels) != len(preds_or_scores):
        raise ValueError(
            f"labels and predictions differ in length: {len(labels)!r} != {len(preds_or_scores)!r}"
        )
    if len(labels) == 0:
        return math.nan
    prepared = _Prepared(metric, labels, preds_or_scores, pos_label)
    return float(prepared.evaluate(np.ones((len(labels), 1), dtype=np.float64))[0])


# Paired bootstraps by a digest of their inputs (see `paired_bootstrap`); about 1 KiB each.
BOOTSTRAP_CACHE: ByteBoundedCache[BootstrapResult] = ByteBoundedCache(BOOTSTRAP_CACHE_BYTES)


def paired_bootstrap(
    metric: MetricName,
    labels: Sequence[Any],
    preds_or_scores_a: Sequence[Any],
    preds_or_scores_b: Sequence[Any],
    *,
    n_resamples: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    pos_label: Any = 1,
) -> BootstrapResult:
    """Paired bootstrap of `metric(b) - metric(a)` on the same examples.

    Each resample draws the examples with replacement once and scores both models on it, so the
    variation that both models share (hard examples) cancels out. Deterministic for a given seed.

    Args:
        metric: accuracy, recall, precision, f1 (from predicted classes) or roc_auc (from scores).
        labels: True classes, one per example.
        preds_or_scores_a: Model a's (the baseline's) predictions or scores, aligned with `labels`.
        preds_or_scores_b: Model b's (the candidate's) predictions or scores, aligned with `labels`.
        n_resamples: Number of bootstrap resamples.
        seed: Seed of the random generator.
        confidence: Level of the percentile interval `ci_low`..`ci_high`.
        pos_label: The positive class.

    Returns:
        The observed values and delta, the interval, and the one-sided p-value for "b is worse
        than a": the share of resamples in which b is not worse (with add-one smoothing).

    The result is a function of the arguments, so it is kept in `BOOTSTRAP_CACHE` under a digest
    of all of them: a champion's table compared again with the same candidate is not resampled
    again.

    Raises:
        ValueError: On an unsupported metric, misaligned inputs, too few examples, or a metric that
            is undefined on the full data (e.g. recall without any positive label).
    """
    key = content_key(
        "paired_bootstrap",
        repr((metric, n_resamples, seed, confidence, pos_label)),
        pickle.dumps((labels, preds_or_scores_a, preds_or_scores_b), protocol=5),
    )
    return BOOTSTRAP_CACHE.get_or_compute(
        key,
        lambda: _paired_bootstrap(
            metric,
            labels,
            preds_or_scores_a,
            preds_or_scores_b,
            n_resamples=n_resamples,
            seed=seed,
            confidence=confidence,
            pos_label=pos_label,
        ),
        lambda _result: 1024,
    )


def _paired_bootstrap(
    metric: MetricName,
    labels: Sequence[Any],
    preds_or_scores_a: Sequence[Any],
    preds_or_scores_b: Sequence[Any],
    *,
    n_resamples: int,
    seed: int,
    confidence: float,
    pos_label: Any,
) -> BootstrapResult:
    metric = _check_metric(metric)
    n = len(labels)
    if len(preds_or_scores_a) != n or len(preds_or_scores_b) != n:
        raise ValueError(
            "labels and both models' predictions must have the same length; got "
            f"{n!r}, {len(preds_or_scores_a)!r} and {len(preds_or_scores_b)!r}"
        )
    if n < 2:
        raise ValueError(f"a paired bootstrap needs at least 2 examples; got {n!r}")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be positive; got {n_resamples!r}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence!r}")

    prep_a = _Prepared(metric, labels, preds_or_scores_a, pos_label)
    prep_b = _Prepared(metric, labels, preds_or_scores_b, pos_label)
    ones = np.ones((n, 1), dtype=np.float64)
    value_a = float(prep_a.evaluate(ones)[0])
    value_b = float(prep_b.evaluate(ones)[0])
    if math.isnan(value_a) or math.isnan(value_b):
        raise ValueError(f"{metric} is undefined on these {n} examples (e.g. no positive label)")

    rng = np.random.default_rng(seed)
    block = max(1, _BLOCK_CELLS // n)
    # ROC AUC's weights are evaluated a few resamples at a time, to stay in the CPU's cache; the
    # count metrics gather a whole block at once: the same sums in a few calls instead of
    # hundreds (each call lets another thread take the interpreter, for up to 5 ms), both models'
    # flags counted together.
    step = _EVAL_RESAMPLES if metric == "roc_auc" else block
    own = len(prep_a.flags())
    counter = _FlagCounts([*prep_a.flags(), *prep_b.flags()], n) if own else None
    deltas: list[FloatArray] = []
    done = 0
    while done < n_resamples:
        size = min(block, n_resamples - done)
        # draws[b]: the examples drawn in resample b.
        draws = rng.integers(0, n, size=(size, n))
        for start in range(0, size, step):
            part = draws[start : start + step]
            if counter is None:
                weights = _weights(part, n)
                delta = prep_b.evaluate(weights) - prep_a.evaluate(weights)
            else:
                counts = counter.counts(part)
                delta = prep_b.from_counts(counts[own:], n) - prep_a.from_counts(counts[:own], n)
            deltas.append(delta)
        done += size
        # Freed before the next block is drawn: two blocks at once would grow the heap past
        # what the allocator keeps, and every later bootstrap would fault its pages in again.
        del draws, part
    all_deltas = np.concatenate(deltas)
    valid = all_deltas[~np.isnan(all_deltas)]
    if valid.size == 0:
        raise ValueError(f"{metric} is undefined in every resample of these {n} examples")
    not_worse = int(np.count_nonzero(valid >= 0.0))
    alpha = 1.0 - confidence
    ci_low, ci_high = np.quantile(valid, [alpha / 2.0, 1.0 - alpha / 2.0])
    result = BootstrapResult(
        metric=metric,
        value_a=value_a,
        value_b=value_b,
        delta=value_b - value_a,
        ci_low=float(ci_low),
        ci_high=float(ci_high),
        p_value=(1.0 + not_worse) / (1.0 + valid.size),
        n=n,
        n_resamples=n_resamples,
        valid_resamples=int(valid.size),
        confidence=confidence,
        seed=seed,
    )
    logger.debug(
        "paired bootstrap %s: delta=%.4f p=%.4f n=%d", metric, result.delta, result.p_value, n
    )
    return result


def _z(confidence: float) -> float:
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1; got {confidence!r}")
    return NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; well behaved at 0 and n successes and small n.

    Args:
        successes: Number of successes (e.g. successful attacks).
        n: Number of trials; 0 gives the uninformative interval (0, 1).
        confidence: Two-sided confidence level.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n; got successes={successes!r}, n={n!r}")
    z = _z(confidence)
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1.0 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate_difference_interval(
    successes_b: int, n_b: int, successes_a: int, n_a: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for the difference of two proportions `p_b - p_a` (Newcombe's hybrid score method).

    Built from the two Wilson intervals, so it stays sensible for rates near 0, where safety-suite
    failure rates usually are.

    Args:
        successes_b: Successes of b (the candidate).
        n_b: Trials of b.
        successes_a: Successes of a (the baseline).
        n_a: Trials of a.
        confidence: Two-sided confidence level.
    """
    low_b, high_b = wilson_interval(successes_b, n_b, confidence)
    low_a, high_a = wilson_interval(successes_a, n_a, confidence)
    p_b = successes_b / n_b if n_b else 0.0
    p_a = successes_a / n_a if n_a else 0.0
    diff = p_b - p_a
    low = diff - math.sqrt((p_b - low_b) ** 2 + (high_a - p_a) ** 2)
    high = diff + math.sqrt((high_b - p_b) ** 2 + (p_a - low_a) ** 2)
    return (max(-1.0, low), min(1.0, high))
