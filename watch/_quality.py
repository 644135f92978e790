"""Data quality of a window against the reference: missing share, unseen categories, range.

Each measure comes from the raw sample when the window has one, else from the profiles (the
out-of-range share then from the window's quantiles, to within one percent).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from policies.watch_rules import QualityRules
from watch.drift import quantile_cdf
from watch.profile import CategoricalProfile, NumericProfile, category_values, numeric_values
from watch.report import QualityEvidence

__all__ = ["QualityFinding", "missing_share_finding", "out_of_range_finding", "unseen_finding"]

Profile = NumericProfile | CategoricalProfile


class QualityFinding:
    """A quality measure and whether it crosses its threshold."""

    __slots__ = ("evidence", "exceeded", "note")

    def __init__(self, evidence: QualityEvidence, exceeded: bool, note: str = "") -> None:
        self.evidence = evidence
        self.exceeded = exceeded
        self.note = note


def _share(missing: int, rows: int) -> float:
    total = missing + rows
    return missing / total if total else 0.0


def missing_share_finding(
    feature: str, reference: Profile, window: Profile, rules: QualityRules
) -> QualityFinding:
    """The rise of the feature's missing share over the reference's."""
    ref = _share(reference.missing, reference.rows)
    cur = _share(window.missing, window.rows)
    evidence = QualityEvidence(
        feature=feature,
        measure="missing_share",
        reference_value=ref,
        window_value=cur,
        threshold=ref + rules.max_missing_increase,
    )
    return QualityFinding(evidence, cur - ref > rules.max_missing_increase)


def unseen_finding(
    feature: str,
    reference: CategoricalProfile,
    window: CategoricalProfile,
    sample: pd.Series | None,
    rules: QualityRules,
) -> QualityFinding | None:
    """The share of the window's values in categories the reference never had.

    None when the reference profile folded rare categories into `other`: which categories it
    had is then unknown, and a guess would be either a false alarm or a silent pass.
    """
    if reference.other:
        return None
    known = set(reference.counts)
    if sample is not None:
        values = category_values(sample)
        unseen = values[~values.isin(known)]
        total = len(values)
        examples = sorted(set(unseen.tolist()))[:5]
        count = len(unseen)
    else:
        total = window.rows
        unseen_counts = {k: v for k, v in window.counts.items() if k not in known}
        count = sum(unseen_counts.values()) + window.other
        examples = sorted(unseen_counts)[:5]
    share = count / total if total else 0.0
    evidence = QualityEvidence(
        feature=feature,
        measure="unseen_share",
        reference_value=0.0,
        window_value=share,
        threshold=rules.max_unseen_share,
        examples=examples,
    )
    return QualityFinding(evidence, share > rules.max_unseen_share)


def out_of_range_finding(
    feature: str,
    reference: NumericProfile,
    window: NumericProfile,
    sample: pd.Series | None,
    rules: QualityRules,
) -> QualityFinding | None:
    """The share of the window's values outside the reference's [min, max]; None without one."""
    if reference.rows == 0 or not reference.quantiles:
        return None
    low, high = reference.quantiles[0], reference.quantiles[-1]
    share: float
    examples: list[str] = []
    if sample is not None:
        values = numeric_values(sample)
        if values.size == 0:
            return None
        outside = values[(values < low) | (values > high)]
        share = outside.size / values.size
        examples = [repr(float(v)) for v in np.unique(outside)[:5]]
    elif window.rows and window.quantiles:
        q = np.asarray(window.quantiles, dtype=np.float64)
        below = float(quantile_cdf(q, np.array([low]))[0]) if q[0] < low else 0.0
        above = 1.0 - float(quantile_cdf(q, np.array([high]))[0]) if q[-1] > high else 0.0
        share = below + above
    else:
        return None
    evidence = QualityEvidence(
        feature=feature,
        measure="out_of_range_share",
        reference_value=0.0,
        window_value=share,
        threshold=rules.max_out_of_range_share,
        examples=examples,
    )
    return QualityFinding(evidence, share > rules.max_out_of_range_share)


Measure = Literal["missing", "unseen", "range"]
