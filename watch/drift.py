"""Per-column drift tests, on raw samples (exact) or on compact profiles (approximate).

The method follows the data type and the size, as Evidently's defaults do: numeric columns use
the two-sample Kolmogorov-Smirnov test when the reference or the window has up to
`small_reference_rows` rows, and the Wasserstein distance divided by the reference's standard
deviation when both are larger; categorical columns use a chi-squared test of the two samples'
counts when small and the Jensen-Shannon distance (natural log) when large. Evidently looks at
the reference's size only; the window's counts too here, see `choose_method`. PSI is used
only where a policy asks for it. P-value tests drift below the (corrected) p-value, distances
at or above the threshold.

The p-value tests run at a Bonferroni-corrected level (0.05 over a few hundred tests is about
0.0002), far in the tails of their approximations, so each one is kept calibrated there (checked
by simulation under the null in tests/watch/test_calibration.py):

- chi-squared pools the rarest categories into one until Cochran's rule holds (every expected
  count at least 1, at most a fifth below 5): a cell expected below 1 makes one stray value
  look like strong evidence (one value of a category the reference never had gives p about
  0.007 where its true chance is about 0.09). Sparse tables that meet the rule still reject
  somewhat more often than their level at 0.0002 (up to about 1.5 times in simulation); on the
  shares of the benchmark's columns (expected counts of 50 and more) the test holds its level;
- KS from two profiles, when a column has tied quantiles (a discrete column: counts, flags),
  takes the smallest CDF gap the two profiles allow rather than interpolating linearly between
  atoms: the interpolated CDFs disagree between atoms by the width of a jump, which called
  drift on about half of stable windows of a Poisson column at 0.05. Continuous columns keep
  the interpolated CDFs, which are conservative (about 3% at 0.05).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats  # type: ignore[import-untyped]
from scipy.spatial.distance import jensenshannon  # type: ignore[import-untyped]

from policies.watch_rules import DriftMethod, DriftRules
from watch.errors import WindowDataError
from watch.profile import QUANTILE_LEVELS, CategoricalProfile, NumericProfile

__all__ = [
    "DriftOutcome",
    "categorical_drift",
    "categorical_drift_from_profiles",
    "choose_method",
    "corrected_alpha",
    "finite",
    "numeric_drift",
    "numeric_drift_from_profiles",
    "quantile_cdf",
    "wasserstein_1d",
]

logger = logging.getLogger("promogate.watch")

FloatArray = npt.NDArray[np.float64]
ConcreteMethod = Literal["ks", "wasserstein", "chi2", "jensenshannon", "psi"]
# Shares of empty bins get this floor in PSI and Jensen-Shannon, as in Evidently, so that a
# category absent on one side gives a large but finite figure.
_EPS = 1e-4
# A reference with no spread: the Wasserstein distance is divided by this instead of 0.
_MIN_STD = 1e-3


class DriftOutcome:
    """The figure one test produced and whether it calls drift."""

    __slots__ = ("drifted", "method", "p_value", "severe", "statistic", "threshold")

    def __init__(
        self,
        method: ConcreteMethod,
        statistic: float,
        p_value: float | None,
        threshold: float,
        drifted: bool,
        severe: bool = False,
    ) -> None:
        self.method = method
        self.statistic = statistic
        self.p_value = p_value
        self.threshold = threshold
        self.drifted = drifted
        self.severe = severe


def choose_method(
    kind: Literal["numeric", "categorical"],
    rows: int,
    rules: DriftRules,
    requested: DriftMethod = "auto",
) -> ConcreteMethod:
    """The test for a column: `requested` unless auto, then by data type and size.

    `rows` is the smaller side of the comparison (reference or window). Evidently looks at the
    reference only; a distance computed on a small window, or on one segment of it, is mostly
    sampling noise and would call drift on stable traffic, so a small side means a p-value test.

    Raises:
        WindowDataError: The requested method does not fit the column's type.
    """
    if requested != "auto":
        if kind == "categorical" and requested in ("ks", "wasserstein"):
            raise WindowDataError(f"method {requested!r} needs a numeric column")
        if kind == "numeric" and requested == "chi2":
            raise WindowDataError(f"method {requested!r} needs a categorical column")
        return requested
    small = rows <= rules.small_reference_rows
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chi2" if small else "jensenshannon"


def _psi(
    reference_shares: FloatArray, window_shares: FloatArray, rules: DriftRules
) -> DriftOutcome:
    ref = np.clip(reference_shares, _EPS, None)
    cur = np.clip(window_shares, _EPS, None)
    value = float(np.sum((cur - ref) * np.log(cur / ref)))
    return DriftOutcome(
        "psi",
        value,
        None,
        rules.psi.watch,
        value >= rules.psi.watch,
        severe=value >= rules.psi.alert,
    )


def wasserstein_1d(u: FloatArray, v: FloatArray) -> float:
    """The first Wasserstein distance of two samples: the area between their CDFs."""
    # scipy's general implementation is several times slower on 1-D samples of 100k rows.
    u, v = np.sort(u), np.sort(v)
    points = np.concatenate([u, v])
    points.sort()
    gaps = np.diff(points)
    u_cdf = np.searchsorted(u, points[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, points[:-1], side="right") / v.size
    return float(np.sum(np.abs(u_cdf - v_cdf) * gaps))


def _psi_edges(reference: FloatArray, bins: int) -> FloatArray:
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1))[1:-1])
    return edges


def _confirmed(
    method: ConcreteMethod,
    distance: float,
    rules: DriftRules,
    alpha: float,
    p_value: Callable[[], float],
) -> DriftOutcome:
    """A distance at or above its threshold is drift only when the two-sample test agrees.

    The distance says whether a move is large enough to matter; on windows of a few thousand
    rows, skewed columns reach it by sampling noise alone, outside the window's corrected
    family of p-values. The test (KS or chi-squared, at the window's corrected level) confirms
    the move is real; it runs only past the threshold, so stable windows pay nothing for it.
    """
    if distance < rules.distance:
        return DriftOutcome(method, distance, None, rules.distance, False)
    p = p_value()
    return DriftOutcome(method, distance, p, rules.distance, p < alpha)


def numeric_drift(
    reference: FloatArray,
    window: FloatArray,
    method: ConcreteMethod,
    rules: DriftRules,
    alpha: float,
) -> DriftOutcome:
    """Drift of a numeric column from its present values on both sides.

    Args:
        reference: The reference's values (no NaN).
        window: The window's values (no NaN).
        method: ks, wasserstein, jensenshannon (on the reference's PSI bins) or psi.
        rules: Thresholds.
        alpha: The p-value threshold after correction.
    """
    if reference.size == 0 or window.size == 0:
        raise WindowDataError("a numeric drift test needs values on both sides")
    if method == "ks":
        result = stats.ks_2samp(reference, window)
        p = float(result.pvalue)
        return DriftOutcome("ks", float(result.statistic), p, alpha, p < alpha)
    if method == "wasserstein":
        norm = max(float(np.std(reference)), _MIN_STD)
        distance = wasserstein_1d(reference, window) / norm
        return _confirmed(
            "wasserstein",
            distance,
            rules,
            alpha,
            lambda: float(stats.ks_2samp(reference, window).pvalue),
        )
    edges = _psi_edges(reference, rules.psi.bins)
    ref_shares = np.bincount(
        np.searchsorted(edges, reference, side="right"), minlength=edges.size + 1
    )
    cur_shares = np.bincount(np.searchsorted(edges, window, side="right"), minlength=edges.size + 1)
    ref_p = ref_shares / reference.size
    cur_p = cur_shares / window.size
    if method == "psi":
        return _psi(ref_p, cur_p, rules)
    if method == "jensenshannon":
        value = float(jensenshannon(np.clip(ref_p, _EPS, None), np.clip(cur_p, _EPS, None)))
        return DriftOutcome("jensenshannon", value, None, rules.distance, value >= rules.distance)
    raise WindowDataError(f"method {method!r} does not apply to a numeric column")


def _cochran(ref: FloatArray, cur: FloatArray) -> bool:
    """Cochran's rule: every expected count at least 1, at most a fifth of them below 5."""
    expected = np.outer([ref.sum(), cur.sum()], ref + cur) / (ref.sum() + cur.sum())
    return bool(expected.min() >= 1.0 and np.mean(expected < 5.0) <= 0.2)


def _pooled(ref: FloatArray, cur: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The 2 x K table with its rarest categories pooled into one until Cochran's rule holds."""
    order = np.argsort(ref + cur, kind="stable")
    table = (ref, cur)
    for rare in range(2, order.size + 1):
        if _cochran(*table):
            break
        pool, keep = order[:rare], np.sort(order[rare:])
        table = (
            np.append(ref[keep], ref[pool].sum()),
            np.append(cur[keep], cur[pool].sum()),
        )
    return table


def _chi2_p(ref: FloatArray, cur: FloatArray) -> tuple[float, float]:
    """Chi-squared statistic and p-value of the 2 x K table, sparse categories pooled."""
    ref, cur = _pooled(ref, cur)
    if ref.size < 2:
        return 0.0, 1.0
    statistic, p, _, _ = stats.chi2_contingency(np.vstack([ref, cur]), correction=False)
    return float(statistic), float(p)


def _aligned(
    reference: Mapping[str, int], window: Mapping[str, int]
) -> tuple[list[str], FloatArray, FloatArray]:
    keys = sorted(
        k for k in set(reference) | set(window) if reference.get(k, 0) or window.get(k, 0)
    )
    ref = np.array([reference.get(k, 0) for k in keys], dtype=np.float64)
    cur = np.array([window.get(k, 0) for k in keys], dtype=np.float64)
    return keys, ref, cur


def categorical_drift(
    reference: Mapping[str, int],
    window: Mapping[str, int],
    method: ConcreteMethod,
    rules: DriftRules,
    alpha: float,
) -> DriftOutcome:
    """Drift of a categorical column from the category counts on both sides.

    Chi-squared is the test of homogeneity of the 2 x K table of counts, so a category only one
    side has counts as evidence rather than dividing by zero; categories with expected counts
    below 5 are pooled first (see the module's docstring).
    """
    _, ref, cur = _aligned(reference, window)
    if ref.sum() == 0 or cur.sum() == 0:
        raise WindowDataError("a categorical drift test needs values on both sides")
    if method == "chi2":
        statistic, p = _chi2_p(ref, cur)
        return DriftOutcome("chi2", statistic, p, alpha, p < alpha)
    ref_p = ref / ref.sum()
    cur_p = cur / cur.sum()
    if method == "jensenshannon":
        value = float(jensenshannon(np.clip(ref_p, _EPS, None), np.clip(cur_p, _EPS, None)))
        return _confirmed("jensenshannon", value, rules, alpha, lambda: _chi2_p(ref, cur)[1])
    if method == "psi":
        return _psi(ref_p, cur_p, rules)
    raise WindowDataError(f"method {method!r} does not apply to a categorical column")


def quantile_cdf(quantiles: FloatArray, x: FloatArray) -> FloatArray:
    """The CDF at `x` of the distribution whose quantiles at QUANTILE_LEVELS are given."""
    # Ties (a column with few distinct values) collapse to their highest level: right-continuous.
    unique, last = np.unique(quantiles[::-1], return_index=True)
    levels = QUANTILE_LEVELS[::-1][last]
    out: FloatArray = np.interp(x, unique, levels, left=0.0, right=1.0)
    return out


def _cdf_bounds(quantiles: FloatArray, x: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The least and greatest CDF at `x` that quantiles at QUANTILE_LEVELS allow."""
    above = np.searchsorted(quantiles, x, side="right")
    levels = np.concatenate([[0.0], QUANTILE_LEVELS, [1.0]])
    # A quantile at or below x puts at least its level of the mass at or below x; the first
    # quantile above x puts at most its level there.
    return levels[above], levels[above + 1]


def _ks_distance(ref_q: FloatArray, cur_q: FloatArray) -> float:
    """The KS statistic from two profiles' quantiles (see the module's docstring)."""
    grid = np.union1d(ref_q, cur_q)
    if np.unique(ref_q).size == ref_q.size and np.unique(cur_q).size == cur_q.size:
        return float(np.max(np.abs(quantile_cdf(ref_q, grid) - quantile_cdf(cur_q, grid))))
    ref_low, ref_high = _cdf_bounds(ref_q, grid)
    cur_low, cur_high = _cdf_bounds(cur_q, grid)
    return max(0.0, float(np.max(np.maximum(ref_low - cur_high, cur_low - ref_high))))


def _quantiles(profile: NumericProfile, side: str) -> FloatArray:
    if profile.rows == 0 or len(profile.quantiles) != QUANTILE_LEVELS.size:
        raise WindowDataError(
            f"the {side} profile has no quantiles ({len(profile.quantiles)} of "
            f"{QUANTILE_LEVELS.size}) for this column"
        )
    return np.asarray(profile.quantiles, dtype=np.float64)


def numeric_drift_from_profiles(
    reference: NumericProfile,
    window: NumericProfile,
    method: ConcreteMethod,
    rules: DriftRules,
    alpha: float,
) -> DriftOutcome:
    """Drift of a numeric column from two profiles' quantiles (approximate)."""
    ref_q = _quantiles(reference, "reference")
    cur_q = _quantiles(window, "window")
    if method in ("ks", "wasserstein"):
        d = _ks_distance(ref_q, cur_q)
        n_eff = max(1, round(reference.rows * window.rows / (reference.rows + window.rows)))
        ks_p = float(stats.kstwo.sf(d, n_eff))
        if method == "ks":
            return DriftOutcome("ks", d, ks_p, alpha, ks_p < alpha)
        norm = max(reference.std or 0.0, _MIN_STD)
        distance = float(np.trapezoid(np.abs(ref_q - cur_q), QUANTILE_LEVELS)) / norm
        return _confirmed("wasserstein", distance, rules, alpha, lambda: ks_p)
    levels = np.linspace(0.0, 1.0, rules.psi.bins + 1)[1:-1]
    edges = np.unique(np.interp(levels, QUANTILE_LEVELS, ref_q))
    ref_c = np.diff(np.concatenate([[0.0], quantile_cdf(ref_q, edges), [1.0]]))
    cur_c = np.diff(np.concatenate([[0.0], quantile_cdf(cur_q, edges), [1.0]]))
    if method == "psi":
        return _psi(ref_c, cur_c, rules)
    if method == "jensenshannon":
        value = float(jensenshannon(np.clip(ref_c, _EPS, None), np.clip(cur_c, _EPS, None)))
        return DriftOutcome("jensenshannon", value, None, rules.distance, value >= rules.distance)
    raise WindowDataError(f"method {method!r} does not apply to a numeric column")


def categorical_drift_from_profiles(
    reference: CategoricalProfile,
    window: CategoricalProfile,
    method: ConcreteMethod,
    rules: DriftRules,
    alpha: float,
) -> DriftOutcome:
    """Drift of a categorical column from two profiles' counts (exact but for `other`)."""
    ref = dict(reference.counts)
    cur = dict(window.counts)
    if reference.other or window.other:
        ref["\x00other"] = reference.other
        cur["\x00other"] = window.other
    return categorical_drift(ref, cur, method, rules, alpha)


def corrected_alpha(p_value: float, tests: int, correction: str) -> float:
    """The per-test threshold: Bonferroni divides the family's level by the number of tests."""
    if correction == "bonferroni" and tests > 1:
        return p_value / tests
    return p_value


def finite(value: float) -> float:
    """`value`, with infinities and NaN replaced by large finite stand-ins for JSON."""
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return 1e300 if value > 0 else -1e300
    return value
