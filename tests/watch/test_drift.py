"""Per-column drift tests: method choice, each method on known shifts, profiles vs raw samples."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from policies.watch_rules import DriftRules
from watch.drift import (
    categorical_drift,
    categorical_drift_from_profiles,
    choose_method,
    corrected_alpha,
    numeric_drift,
    numeric_drift_from_profiles,
)
from watch.errors import WindowDataError
from watch.profile import CategoricalProfile, NumericProfile, profile_frame

RULES = DriftRules()


@pytest.mark.parametrize(
    ("kind", "rows", "requested", "expected"),
    [
        pytest.param("numeric", 500, "auto", "ks", id="numeric-small-ks"),
        pytest.param("numeric", 1000, "auto", "ks", id="numeric-at-limit-ks"),
        pytest.param("numeric", 1001, "auto", "wasserstein", id="numeric-large-wasserstein"),
        pytest.param("categorical", 500, "auto", "chi2", id="categorical-small-chi2"),
        pytest.param("categorical", 5000, "auto", "jensenshannon", id="categorical-large-js"),
        pytest.param("numeric", 500, "psi", "psi", id="psi-on-request"),
        pytest.param("categorical", 5000, "psi", "psi", id="psi-categorical"),
    ],
)
def test_method_follows_type_and_reference_size(
    kind: Any, rows: int, requested: Any, expected: str
) -> None:
    assert choose_method(kind, rows, RULES, requested) == expected


@pytest.mark.parametrize(
    ("kind", "requested"),
    [
        pytest.param("categorical", "ks", id="ks-on-categories"),
        pytest.param("categorical", "wasserstein", id="wasserstein-on-categories"),
        pytest.param("numeric", "chi2", id="chi2-on-numbers"),
    ],
)
def test_a_method_that_does_not_fit_the_type_is_an_error(kind: Any, requested: Any) -> None:
    with pytest.raises(WindowDataError, match=repr(requested)):
        choose_method(kind, 100, RULES, requested)


def _normal(seed: int, n: int, shift: float = 0.0) -> np.ndarray[Any, Any]:
    return np.random.default_rng(seed).normal(shift, 1.0, n)


@pytest.mark.parametrize(
    ("method", "shift", "drifted"),
    [
        pytest.param("ks", 0.0, False, id="ks-stable"),
        pytest.param("ks", 0.5, True, id="ks-half-sd"),
        pytest.param("wasserstein", 0.0, False, id="wasserstein-stable"),
        pytest.param("wasserstein", 0.3, True, id="wasserstein-0.3-sd"),
        pytest.param("psi", 0.0, False, id="psi-stable"),
        pytest.param("psi", 0.5, True, id="psi-half-sd"),
        pytest.param("jensenshannon", 0.5, True, id="js-binned-half-sd"),
    ],
)
def test_numeric_methods_on_known_shifts(method: Any, shift: float, drifted: bool) -> None:
    reference = _normal(1, 3000)
    window = _normal(2, 3000, shift)
    outcome = numeric_drift(reference, window, method, RULES, 0.05)
    assert outcome.method == method
    assert outcome.drifted is drifted


def test_normalised_wasserstein_is_the_shift_in_reference_sds() -> None:
    reference = _normal(1, 20000)
    outcome = numeric_drift(reference, reference + 0.25, "wasserstein", RULES, 0.05)
    assert outcome.statistic == pytest.approx(0.25, rel=0.02)


def test_psi_bands_mark_severe_drift() -> None:
    reference = _normal(1, 5000)
    outcome = numeric_drift(reference, _normal(2, 5000, 1.0), "psi", RULES, 0.05)
    assert outcome.drifted and outcome.severe
    assert outcome.statistic > RULES.psi.alert


@pytest.mark.parametrize(
    ("window", "method", "drifted"),
    [
        pytest.param({"a": 500, "b": 300, "c": 200}, "chi2", False, id="chi2-same-shares"),
        pytest.param({"a": 300, "b": 300, "c": 400}, "chi2", True, id="chi2-moved-shares"),
        pytest.param({"a": 480, "b": 300, "c": 200, "new": 20}, "chi2", True, id="chi2-new-cat"),
        pytest.param({"a": 500, "b": 300, "c": 200}, "jensenshannon", False, id="js-same"),
        pytest.param({"a": 200, "b": 300, "c": 500}, "jensenshannon", True, id="js-moved"),
        pytest.param({"a": 200, "b": 300, "c": 500}, "psi", True, id="psi-moved"),
    ],
)
def test_categorical_methods(window: dict[str, int], method: Any, drifted: bool) -> None:
    reference = {"a": 5000, "b": 3000, "c": 2000}
    assert categorical_drift(reference, window, method, RULES, 0.05).drifted is drifted


@pytest.mark.parametrize(
    ("method", "shift"),
    [
        pytest.param("ks", 0.0, id="ks-stable"),
        pytest.param("ks", 0.3, id="ks-shift"),
        pytest.param("wasserstein", 0.0, id="wasserstein-stable"),
        pytest.param("wasserstein", 0.3, id="wasserstein-shift"),
        pytest.param("psi", 0.5, id="psi-shift"),
    ],
)
def test_profile_figures_approximate_the_exact_ones(method: Any, shift: float) -> None:
    import pandas as pd  # type: ignore[import-untyped]

    reference, window = _normal(3, 4000), _normal(4, 4000, shift)
    exact = numeric_drift(reference, window, method, RULES, 0.05)
    ref_p = profile_frame(pd.DataFrame({"x": reference})).columns["x"]
    cur_p = profile_frame(pd.DataFrame({"x": window})).columns["x"]
    assert isinstance(ref_p, NumericProfile) and isinstance(cur_p, NumericProfile)
    approx = numeric_drift_from_profiles(ref_p, cur_p, method, RULES, 0.05)
    assert approx.statistic == pytest.approx(exact.statistic, abs=0.02)
    assert approx.drifted is exact.drifted


def test_category_counts_from_profiles_are_exact() -> None:
    reference = CategoricalProfile(rows=10, missing=0, counts={"a": 6, "b": 4})
    window = CategoricalProfile(rows=10, missing=0, counts={"a": 2, "b": 8})
    from_profiles = categorical_drift_from_profiles(reference, window, "chi2", RULES, 0.05)
    direct = categorical_drift({"a": 6, "b": 4}, {"a": 2, "b": 8}, "chi2", RULES, 0.05)
    assert from_profiles.p_value == pytest.approx(direct.p_value)


def test_a_profile_without_quantiles_is_an_error_not_a_pass() -> None:
    empty = NumericProfile(rows=0, missing=10)
    full = NumericProfile(rows=3, missing=0, quantiles=[0.0] * 101, std=1.0)
    with pytest.raises(WindowDataError, match="no quantiles"):
        numeric_drift_from_profiles(full, empty, "ks", RULES, 0.05)


@pytest.mark.parametrize(
    ("tests", "correction", "expected"),
    [
        pytest.param(10, "bonferroni", 0.005, id="bonferroni-10"),
        pytest.param(1, "bonferroni", 0.05, id="bonferroni-1"),
        pytest.param(10, "none", 0.05, id="none"),
    ],
)
def test_correction(tests: int, correction: str, expected: float) -> None:
    assert corrected_alpha(0.05, tests, correction) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("window_rows", "confirmed"),
    [
        # 30 window rows: the distance passes 0.1 by chance, the KS test does not confirm it.
        pytest.param(30, False, id="small-window-noise"),
        pytest.param(5000, True, id="large-window-real-shift"),
    ],
)
def test_a_distance_past_its_threshold_needs_the_test_to_agree(
    window_rows: int, confirmed: bool
) -> None:
    reference = np.random.default_rng(7).exponential(2.0, 20000)
    window = np.random.default_rng(8).exponential(2.0, window_rows)
    if confirmed:
        window = window + 0.4
    outcome = numeric_drift(reference, window, "wasserstein", RULES, 0.05 / 50)
    assert outcome.statistic >= RULES.distance
    assert outcome.p_value is not None
    assert outcome.drifted is confirmed


def test_a_distance_below_its_threshold_runs_no_test() -> None:
    reference = _normal(1, 5000)
    outcome = numeric_drift(reference, _normal(2, 5000), "wasserstein", RULES, 0.05)
    assert outcome.p_value is None and outcome.drifted is False


@pytest.mark.parametrize(
    ("window", "drifted"),
    [
        pytest.param({"a": 5, "b": 2, "c": 3}, False, id="ten-rows-noise"),
        pytest.param({"a": 200, "b": 300, "c": 500}, True, id="moved-shares"),
    ],
)
def test_jensen_shannon_past_its_threshold_needs_chi2_to_agree(
    window: dict[str, int], drifted: bool
) -> None:
    reference = {"a": 5000, "b": 3000, "c": 2000}
    outcome = categorical_drift(reference, window, "jensenshannon", RULES, 0.05)
    assert outcome.statistic >= RULES.distance
    assert outcome.drifted is drifted
