"""Paired bootstrap and Wilson intervals, checked against scikit-learn and known values."""

from __future__ import annotations

import tracemalloc
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score

from tools import significance
from tools.significance import (
    METRIC_NAMES,
    _weights,
    binary_mask,
    metric_value,
    paired_bootstrap,
    rate_difference_interval,
    wilson_interval,
)

Arrays = tuple[npt.NDArray[np.int64], npt.NDArray[np.float64], npt.NDArray[np.float64]]


def _models(n: int = 3000, *, shift: float = 0.0, rho: float = 0.9, seed: int = 3) -> Arrays:
    """Labels and two models' scores; model b is worse by `shift` on the positives' logits."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(0, 1, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.5 * latent - 0.8)))).astype(np.int64)
    noise_a = rng.normal(0, 1, n)
    noise_b = rho * noise_a + np.sqrt(1 - rho * rho) * rng.normal(0, 1, n)
    logit_a = 1.5 * latent - 0.8 + 0.9 * noise_a
    logit_b = 1.5 * latent - 0.8 + 0.9 * noise_b - shift * y
    return y, np.round(1 / (1 + np.exp(-logit_a)), 3), np.round(1 / (1 + np.exp(-logit_b)), 3)


SKLEARN = {
    "accuracy": accuracy_score,
    "recall": recall_score,
    "precision": precision_score,
    "f1": f1_score,
}


@pytest.mark.parametrize("metric", METRIC_NAMES, ids=list(METRIC_NAMES))
def test_metric_value_matches_sklearn(metric: str) -> None:
    y, score, _ = _models(n=1500)
    if metric == "roc_auc":
        assert metric_value("roc_auc", list(y), list(score)) == pytest.approx(
            roc_auc_score(y, score)
        )
    else:
        pred = (score >= 0.5).astype(int)
        expected = SKLEARN[metric](y, pred)
        assert metric_value(metric, list(y), list(pred)) == pytest.approx(expected)  # type: ignore[arg-type]


def test_roc_auc_with_ties_and_weights_matches_resampled_sklearn() -> None:
    y, score, _ = _models(n=800)
    coarse = np.round(score, 1)  # many ties
    idx = np.random.default_rng(9).integers(0, len(y), len(y))
    expected = roc_auc_score(y[idx], coarse[idx])
    assert metric_value("roc_auc", list(y[idx]), list(coarse[idx])) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("labels", "preds", "metric"),
    [
        ([0, 0, 0], [1, 0, 1], "recall"),
        ([1, 0, 1], [0, 0, 0], "precision"),
        ([1, 1], [0.2, 0.9], "roc_auc"),
    ],
    ids=["recall-no-positives", "precision-no-predicted-positives", "auc-one-class"],
)
def test_undefined_metric_is_nan(labels: list[int], preds: list[float], metric: str) -> None:
    assert np.isnan(metric_value(metric, labels, preds))  # type: ignore[arg-type]


def test_labels_of_any_spelling_are_the_same_class() -> None:
    assert binary_mask([1, 1.0, True, "1", "1.0", 0, "0", False, None, "yes"]).tolist() == [
        True,
        True,
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert binary_mask(["churn", "stay"], pos_label="churn").tolist() == [True, False]


def test_identical_models_are_never_significant() -> None:
    y, score, _ = _models(n=1000)
    result = paired_bootstrap("roc_auc", list(y), list(score), list(score))
    assert result.delta == 0.0
    assert result.p_value == 1.0
    assert result.ci_low == result.ci_high == 0.0


@pytest.mark.parametrize(
    ("metric", "shift", "significant"),
    [
        ("roc_auc", 0.0, False),
        ("roc_auc", 0.6, True),
        ("recall", 0.0, False),
        ("recall", 0.6, True),
        ("f1", 0.6, True),
        ("accuracy", 0.6, True),
    ],
    ids=[
        "auc-noise",
        "auc-real-drop",
        "recall-noise",
        "recall-real-drop",
        "f1-real-drop",
        "accuracy-real-drop",
    ],
)
def test_paired_bootstrap_separates_noise_from_real_drops(
    metric: str, shift: float, significant: bool
) -> None:
    y, a, b = _models(shift=shift, rho=0.8)
    values_a: list[Any] = list(a) if metric == "roc_auc" else list((a >= 0.5).astype(int))
    values_b: list[Any] = list(b) if metric == "roc_auc" else list((b >= 0.5).astype(int))
    result = paired_bootstrap(metric, list(y), values_a, values_b, n_resamples=1000)  # type: ignore[arg-type]
    assert result.n == 3000
    assert result.valid_resamples == 1000
    assert result.value_a == pytest.approx(metric_value(metric, list(y), values_a))  # type: ignore[arg-type]
    assert result.delta == pytest.approx(result.value_b - result.value_a)
    assert result.ci_low <= result.delta <= result.ci_high
    assert (result.p_value < 0.05) is significant, result
    if significant:
        assert result.ci_high < 0


def test_p_value_is_one_sided() -> None:
    y, a, b = _models(shift=0.6, rho=0.8)
    worse = paired_bootstrap("roc_auc", list(y), list(a), list(b), n_resamples=1000)
    better = paired_bootstrap("roc_auc", list(y), list(b), list(a), n_resamples=1000)
    assert worse.p_value < 0.01
    assert better.p_value > 0.99
    assert better.delta == pytest.approx(-worse.delta)


def test_paired_bootstrap_is_deterministic_per_seed() -> None:
    y, a, b = _models(n=1000, shift=0.1)
    args = ("roc_auc", list(y), list(a), list(b))
    first = paired_bootstrap(*args, seed=1, n_resamples=500)  # type: ignore[arg-type]
    assert first == paired_bootstrap(*args, seed=1, n_resamples=500)  # type: ignore[arg-type]
    assert first != paired_bootstrap(*args, seed=2, n_resamples=500)  # type: ignore[arg-type]


# Decisions record these numbers: how the resamples are counted may change, what they give may not.
# Taken from the bootstrap as it was before its counting was last reworked.
PINNED = {
    "accuracy": (
        -0.0050000000000000044,
        -0.03249999999999997,
        0.019999999999999966,
        0.37924151696606784,
    ),
    "recall": (0.02941176470588225, -0.006352805999032401, 0.06748466257668717, 0.9461077844311377),
    "precision": (
        -0.02111399598295194,
        -0.06332505439013475,
        0.018779775756293624,
        0.13972055888223553,
    ),
    "f1": (0.00855687051351428, -0.024431013722518623, 0.041031238751359514, 0.6666666666666666),
    "roc_auc": (
        -0.009603580562659864,
        -0.023078964149036478,
        0.002792536130097268,
        0.0718562874251497,
    ),
}


# The same for a bootstrap drawn in several blocks, the last one partial (1,333 + 667 resamples of
# 1,500 examples): the pins above fit in one block.
PINNED_BLOCKS = {
    "recall": (0.04123711340206182, 0.015124153340265824, 0.06754530477759468, 0.999000499750125),
    "roc_auc": (
        -0.0013522973144965977,
        -0.009207763830892243,
        0.005745565290333676,
        0.35132433783108447,
    ),
}


@pytest.mark.parametrize(
    ("metric", "n", "resamples", "pinned"),
    [(m, 400, 500, PINNED[m]) for m in METRIC_NAMES]
    + [(m, 1500, 2000, PINNED_BLOCKS[m]) for m in PINNED_BLOCKS],
    ids=[*METRIC_NAMES, *(f"{m}-several-blocks" for m in PINNED_BLOCKS)],
)
def test_paired_bootstrap_gives_the_pinned_numbers(
    metric: str, n: int, resamples: int, pinned: tuple[float, float, float, float]
) -> None:
    y, a, b = _models(n=n, shift=0.05)
    if metric != "roc_auc":
        a, b = (a > 0.5).astype(np.float64), (b > 0.45).astype(np.float64)
    found = paired_bootstrap(metric, list(y), list(a), list(b), n_resamples=resamples, seed=7)  # type: ignore[arg-type]
    assert (found.delta, found.ci_low, found.ci_high, found.p_value) == pinned


@pytest.mark.parametrize(
    ("n", "resamples"),
    [(1, 1), (2, 32), (300, 7), (1023, 32), (1024, 32), (4599, 5)],
    ids=["one-example", "two-examples", "odd-block", "below-row-counts", "row-counts", "large"],
)
def test_resample_weights_are_the_counts_of_one_bincount_per_block(n: int, resamples: int) -> None:
    rng = np.random.default_rng(n)
    draws = rng.integers(0, n, size=(resamples, n))
    flat = draws * resamples + np.arange(resamples)[:, None]
    whole_block = np.bincount(flat.ravel(), minlength=n * resamples).reshape(n, resamples)
    weights = _weights(draws, n)
    assert weights.dtype == np.int32 and weights.flags.c_contiguous
    assert np.array_equal(weights, whole_block)


def _uncached(metric: str, y: Any, a: Any, b: Any, *, n_resamples: int, seed: int) -> Any:
    """The bootstrap computed now, never answered from `BOOTSTRAP_CACHE`."""
    return significance._paired_bootstrap(
        metric,  # type: ignore[arg-type]
        list(y),
        list(a),
        list(b),
        n_resamples=n_resamples,
        seed=seed,
        confidence=0.95,
        pos_label=1,
    )


@pytest.mark.parametrize(
    ("metric", "n", "cells"),
    [
        ("recall", 1149, 7 * 1149),
        ("accuracy", 1500, 1499),
        ("roc_auc", 1120, 33 * 1120 + 5),
        ("roc_auc", 300, 7 * 300),
    ],
    ids=[
        "packed-odd-blocks",
        "one-resample-blocks",
        "roc-auc-past-an-evaluation-group",
        "roc-auc-below-an-evaluation-group",
    ],
)
def test_the_block_size_changes_no_result(
    monkeypatch: pytest.MonkeyPatch, metric: str, n: int, cells: int
) -> None:
    """Resamples drawn in small blocks, of an odd number of draws or of one resample each, are
    the ones drawn in one block: the block bounds memory, not what is drawn."""
    y, a, b = _models(n=n, shift=0.05)
    if metric != "roc_auc":
        a, b = (a > 0.5).astype(np.float64), (b > 0.45).astype(np.float64)
    whole = _uncached(metric, y, a, b, n_resamples=300, seed=9)
    assert significance._BLOCK_CELLS // n >= 300
    monkeypatch.setattr(significance, "_BLOCK_CELLS", cells)
    assert _uncached(metric, y, a, b, n_resamples=300, seed=9) == whole


def test_one_block_of_draws_is_held_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """A block's draws are freed before the next is drawn: two at once would grow the heap past
    what the allocator keeps, and every later bootstrap would fault its pages in again."""
    n, per_block = 1000, 1000
    y, a, b = _models(n=n, shift=0.05)
    monkeypatch.setattr(significance, "_BLOCK_CELLS", n * per_block)
    block_bytes = n * per_block * np.dtype(np.int64).itemsize
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        held_before = tracemalloc.get_traced_memory()[0]
        _uncached("roc_auc", y, a, b, n_resamples=2 * per_block + 1, seed=4)
        peak = tracemalloc.get_traced_memory()[1] - held_before
    finally:
        if not was_tracing:
            tracemalloc.stop()
    assert block_bytes < peak < 1.5 * block_bytes


@pytest.mark.parametrize("n", [800, 1500], ids=["one-bincount", "row-counts"])
def test_counts_past_32_bits_are_held_in_64_with_the_same_result(
    monkeypatch: pytest.MonkeyPatch, n: int
) -> None:
    y, a, b = _models(n=n)
    held_in_32 = _uncached("roc_auc", y, a, b, n_resamples=200, seed=3)
    draws = np.random.default_rng(3).integers(0, n, size=(4, n))
    monkeypatch.setattr(significance, "_COUNTS_MAX", n - 1)
    assert _weights(draws, n).dtype == np.int64
    held_in_64 = _uncached("roc_auc", y, a, b, n_resamples=200, seed=3)
    assert held_in_64 == held_in_32


@pytest.mark.parametrize(
    ("metric", "n", "resamples", "counting"),
    [
        ("recall", 400, 500, "summed-in-16-bits"),
        ("precision", 1500, 2000, "summed-in-16-bits"),
        ("f1", 1500, 2000, "summed-in-16-bits"),
        ("accuracy", 3000, 700, "summed-in-16-bits"),
        ("recall", 400, 500, "packed"),
        ("precision", 1120, 2000, "packed"),
        ("f1", 2047, 300, "packed"),
        ("f1", 2048, 300, "packed"),
        ("accuracy", 1500, 300, "packed"),
        ("f1", 70_000, 30, "packed"),
    ],
    ids=[
        "16-bits-recall-one-block",
        "16-bits-precision-several-blocks",
        "16-bits-f1-several-blocks",
        "16-bits-accuracy",
        "packed-recall",
        "packed-precision-segment",
        "packed-f1-11-bit-fields",
        "packed-f1-12-bit-fields",
        "packed-accuracy",
        "packed-f1-wide",
    ],
)
def test_a_count_metric_is_the_same_however_its_flags_are_counted(
    monkeypatch: pytest.MonkeyPatch, metric: str, n: int, resamples: int, counting: str
) -> None:
    """Both models' flags packed into 64-bit words and gathered once, or each gathered a byte at a
    time and summed in 16 bits, give what each gathered and summed in 64 bits gives."""
    y, a, b = _models(n=n, shift=0.05)
    a, b = (a > 0.5).astype(np.float64), (b > 0.45).astype(np.float64)
    if counting == "summed-in-16-bits":
        monkeypatch.setattr(significance, "_PACKED_MIN", 64)
    found = _uncached(metric, y, a, b, n_resamples=resamples, seed=5)
    monkeypatch.setattr(significance, "_PACKED_MIN", 64)
    monkeypatch.setattr(significance, "_COUNTS16_MAX", n - 1)
    assert _uncached(metric, y, a, b, n_resamples=resamples, seed=5) == found


def test_packed_counts_fill_every_field_to_its_top() -> None:
    """A flag set on every example counts n in each resample, the largest a field holds."""
    for n in (1, 2, 3, 2047, 2048, 65_535):
        flags = [np.ones(n, dtype=np.uint8), np.zeros(n, dtype=np.uint8)] * 3
        draws = np.random.default_rng(n).integers(0, n, size=(3, n))
        counts = significance._FlagCounts(flags, n).counts(draws)
        assert [c.tolist() for c in counts] == [[float(n)] * 3, [0.0] * 3] * 3, n


def test_a_count_metric_gives_what_each_resample_scored_alone_gives() -> None:
    # Past 65,535 examples counts are taken in 64 bits; 70,000 examples make a block of 28
    # resamples, so 60 resamples cross two blocks, the last one partial.
    n, resamples, seed = 70_000, 60, 11
    y, a, b = _models(n=n, shift=0.05)
    a, b = (a > 0.5).astype(np.float64), (b > 0.45).astype(np.float64)
    found = _uncached("recall", y, a, b, n_resamples=resamples, seed=seed)
    rng = np.random.default_rng(seed)
    block = significance._BLOCK_CELLS // n
    deltas: list[float] = []
    while len(deltas) < resamples:
        for drawn in rng.integers(0, n, size=(min(block, resamples - len(deltas)), n)):
            scored = [float(recall_score(y[drawn], m[drawn])) for m in (a, b)]
            deltas.append(scored[1] - scored[0])
    low, high = np.quantile(np.asarray(deltas), [0.025, 0.975])
    assert (found.ci_low, found.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert found.p_value == (1 + sum(d >= 0 for d in deltas)) / (1 + resamples)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"metric": "auc"}, "unsupported metric 'auc'"),
        ({"b": [1, 0]}, "same length"),
        ({"labels": [1], "a": [1], "b": [1]}, "at least 2 examples"),
        ({"labels": [0, 0, 0], "a": [1, 0, 1], "b": [0, 0, 1], "metric": "recall"}, "undefined"),
        ({"n_resamples": 0}, "n_resamples must be positive"),
        ({"a": ["x", 0.1, 0.2]}, "numeric scores"),
    ],
    ids=["unknown-metric", "length", "too-few", "undefined", "resamples", "non-numeric"],
)
def test_paired_bootstrap_rejects_bad_input(kwargs: dict[str, Any], needle: str) -> None:
    args: dict[str, Any] = {
        "metric": "roc_auc",
        "labels": [1, 0, 1],
        "a": [0.9, 0.1, 0.8],
        "b": [0.8, 0.2, 0.7],
    }
    args.update(kwargs)
    extra = {k: v for k, v in args.items() if k == "n_resamples"}
    with pytest.raises(ValueError, match=needle):
        paired_bootstrap(args["metric"], args["labels"], args["a"], args["b"], **extra)


@pytest.mark.parametrize(
    ("successes", "n", "confidence", "low", "high"),
    [
        (0, 50, 0.95, 0.0, 0.07135),
        (5, 50, 0.95, 0.04348, 0.21360),
        (50, 50, 0.95, 0.92865, 1.0),
        (10, 100, 0.90, 0.06072, 0.16036),
        (0, 0, 0.95, 0.0, 1.0),
    ],
    ids=["zero", "some", "all", "ninety-percent", "no-trials"],
)
def test_wilson_interval(
    successes: int, n: int, confidence: float, low: float, high: float
) -> None:
    lo, hi = wilson_interval(successes, n, confidence)
    assert lo == pytest.approx(low, abs=1e-4)
    assert hi == pytest.approx(high, abs=1e-4)


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="successes=5, n=3"):
        wilson_interval(5, 3)


def test_rate_difference_interval() -> None:
    low, high = rate_difference_interval(30, 200, 4, 200, 0.95)
    assert low < 0.13 < high
    assert low > 0.05
    same_low, same_high = rate_difference_interval(4, 200, 4, 200, 0.95)
    assert same_low < 0.0 < same_high
    assert same_low == pytest.approx(-same_high)
