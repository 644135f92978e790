"""Drift tests under the null: stable pairs call drift no more often than the test's level.

The watch runs its p-value tests at a Bonferroni-corrected level far in their tails, so a test
that is anti-conservative (ties in profiles, sparse chi-squared cells) raises `watch` on stable
windows more often than the policy's family-wise level promises.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest
from scipy import stats  # type: ignore[import-untyped]

from policies.watch_rules import DriftRules
from watch.drift import categorical_drift, numeric_drift_from_profiles
from watch.profile import QUANTILE_LEVELS, NumericProfile

RULES = DriftRules()
PAIRS = 300
ALPHA = 0.05
# A rate within the 99.9% binomial quantile of ALPHA over PAIRS stable pairs: a calibrated test
# stays below it, one rejecting twice as often as its level does not.
BOUND = int(stats.binom.ppf(0.999, PAIRS, ALPHA))

Draw = Callable[[np.random.Generator, int], npt.NDArray[np.float64]]


def _profile(values: npt.NDArray[np.float64]) -> NumericProfile:
    return NumericProfile(
        rows=values.size,
        missing=0,
        mean=float(values.mean()),
        std=float(values.std(ddof=1)),
        quantiles=[float(q) for q in np.quantile(values, QUANTILE_LEVELS)],
    )


def _poisson(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    return rng.poisson(3.0, n).astype(np.float64)


def _flag(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    return rng.binomial(1, 0.3, n).astype(np.float64)


def _lognormal(rng: np.random.Generator, n: int) -> npt.NDArray[np.float64]:
    return rng.lognormal(1.0, 0.5, n)


@pytest.mark.parametrize(
    ("draw", "rows"),
    [
        pytest.param(_poisson, (1000, 1000), id="counts"),
        pytest.param(_poisson, (5000, 2000), id="counts-unequal"),
        pytest.param(_flag, (1000, 1000), id="flag"),
        pytest.param(_lognormal, (1000, 1000), id="continuous"),
    ],
)
def test_ks_from_profiles_holds_its_level_on_stable_pairs(
    draw: Draw, rows: tuple[int, int]
) -> None:
    rng = np.random.default_rng(12)
    drifted = 0
    for _ in range(PAIRS):
        reference, window = _profile(draw(rng, rows[0])), _profile(draw(rng, rows[1]))
        drifted += numeric_drift_from_profiles(reference, window, "ks", RULES, ALPHA).drifted
    assert drifted <= BOUND, f"{drifted} of {PAIRS} stable pairs called drift at {ALPHA}"


def test_ks_from_profiles_of_a_discrete_column_still_sees_a_shift() -> None:
    rng = np.random.default_rng(3)
    reference = _profile(rng.poisson(3.0, 2000).astype(np.float64))
    window = _profile(rng.poisson(3.6, 2000).astype(np.float64))
    outcome = numeric_drift_from_profiles(reference, window, "ks", RULES, 0.0002)
    assert outcome.drifted, outcome.p_value


def test_one_rare_value_is_not_chi_squared_evidence() -> None:
    # Unpooled, the single rare value in the window gives p about 0.003; the chance that it
    # lands in the window rather than the reference is 1000/11000, about 0.09.
    reference = {"a": 5000, "b": 5000, "rare": 0}
    window = {"a": 500, "b": 499, "rare": 1}
    outcome = categorical_drift(reference, window, "chi2", RULES, ALPHA)
    assert outcome.p_value is not None and outcome.p_value > ALPHA


def test_sparse_categories_hold_the_corrected_level_on_stable_pairs() -> None:
    rng = np.random.default_rng(5)
    shares = np.array([0.9, 0.05, 0.02, 0.01, 0.01, 0.01])
    names = [f"v{k}" for k in range(shares.size)]
    level = 0.002
    pairs = 3000
    drifted = 0
    for _ in range(pairs):
        ref, cur = rng.multinomial(300, shares), rng.multinomial(100, shares)
        outcome = categorical_drift(
            dict(zip(names, ref.tolist(), strict=True)),
            dict(zip(names, cur.tolist(), strict=True)),
            "chi2",
            RULES,
            level,
        )
        drifted += outcome.drifted
    assert drifted <= int(stats.binom.ppf(0.999, pairs, level)), drifted
