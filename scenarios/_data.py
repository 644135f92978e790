"""The demo's synthetic credit-risk applications: segments whose risk drivers differ by region.

The data is built so that real defects can be planted in real models: each region has a risk driver
of its own (`west` depends on `rent_burden` far more than on `utilization`, `east` has a higher base
rate and an `employment_years` effect), and `east` applications are concentrated in the older part
of the year. A model that loses
a region's driver, or most of a region's rows, gets worse in that region while it can still get
better overall. Everything is generated deterministically from a seed; no environment is read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "AS_OF",
    "FEATURE_COLUMNS",
    "LABEL_COLUMN",
    "REGIONS",
    "ROW_ID_COLUMN",
    "SEGMENT_COLUMN",
    "TIME_COLUMN",
    "CreditApplications",
    "make_credit_applications",
    "parse_window_days",
]

REGIONS: Final = ("north", "south", "east", "west")
FEATURE_COLUMNS: Final = (
    "income",
    "debt_ratio",
    "credit_history_months",
    "late_payments",
    "utilization",
    "loan_amount",
    "employment_years",
    "rent_burden",
)
ROW_ID_COLUMN: Final = "row_id"
LABEL_COLUMN: Final = "label"
SEGMENT_COLUMN: Final = "region"
TIME_COLUMN: Final = "application_date"
# A fixed as-of date rather than today, so that the same seed always gives the same data.
AS_OF: Final = dt.date(2025, 6, 30)

_HISTORY_DAYS: Final = 365
# The share of `east` applications that fall in the last 90 days: the branch stopped most new
# originations in spring, so a 90-day training window leaves the region sparse.
_EAST_RECENT_SHARE: Final = 0.01
_RECENT_DAYS: Final = 90


@dataclass(frozen=True)
class CreditApplications:
    """A holdout split of the synthetic applications.

    Attributes:
        train: Training rows (all regions, the whole year).
        eval: The evaluation holdout (disjoint from `train`).
        eval_default_probability: The true default probability of each `eval` row, aligned on its
            index. Used only to curate the demo's "easier" evaluation set; never a model feature.
    """

    train: pd.DataFrame
    eval: pd.DataFrame
    eval_default_probability: pd.Series

    def train_within(self, window_days: int) -> pd.DataFrame:
        """Training rows whose application date falls in the last `window_days` days."""
        cutoff = pd.Timestamp(AS_OF - dt.timedelta(days=window_days))
        return self.train[self.train[TIME_COLUMN] > cutoff].reset_index(drop=True)

    def easy_eval_subset(self, rows: int, seed: int) -> pd.DataFrame:
        """A smaller evaluation set with the ambiguous cases removed, which flatters any model."""
        p = self.eval_default_probability
        clear = self.eval[(p < 0.12) | (p > 0.6)]
        n = min(rows, len(clear))
        return clear.sample(n=n, random_state=seed).sort_index().reset_index(drop=True)


def parse_window_days(window: str) -> int:
    """Days in a data window written as `<n>d`, e.g. `365d`.

    Args:
        window: The window, e.g. "90d".

    Raises:
        ValueError: When the window is not `<positive int>d`.
    """
    text = window.strip().lower()
    if not text.endswith("d") or not text[:-1].isdigit() or int(text[:-1]) <= 0:
        raise ValueError(f"data window {window!r} is not of the form '<days>d', e.g. '365d'")
    return int(text[:-1])


def _standardise(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    standardised: npt.NDArray[np.float64] = (x - x.mean()) / x.std()
    return standardised


def make_credit_applications(
    seed: int, *, n_rows: int = 9400, eval_fraction: float = 0.5
) -> CreditApplications:
    """Generate the applications and split them into training and evaluation rows.

    Args:
        seed: Seed of every random draw; the same seed gives the same frames.
        n_rows: Applications to generate before the split.
        eval_fraction: Share of rows held out for evaluation.
    """
    rng = np.random.default_rng(seed)
    region = rng.choice(np.array(REGIONS), size=n_rows)

    days_ago = rng.integers(0, _HISTORY_DAYS, size=n_rows)
    is_east = region == "east"
    east_recent = rng.random(n_rows) < _EAST_RECENT_SHARE
    east_days = np.where(
        east_recent,
        rng.integers(0, _RECENT_DAYS, size=n_rows),
        rng.integers(_RECENT_DAYS, _HISTORY_DAYS, size=n_rows),
    )
    days_ago = np.where(is_east, east_days, days_ago)
    dates = pd.Timestamp(AS_OF) - pd.to_timedelta(days_ago, unit="D")

    income = rng.lognormal(np.log(55.0), 0.45, size=n_rows)
    debt_ratio = rng.beta(2.0, 5.0, size=n_rows)
    history = np.clip(np.round(rng.gamma(3.0, 30.0, size=n_rows)), 1, 480)
    late = rng.poisson(0.4 + 1.5 * debt_ratio)
    utilization = rng.beta(2.0, 3.0, size=n_rows)
    loan = rng.lognormal(np.log(12.0), 0.6, size=n_rows)
    employment = np.clip(rng.gamma(2.0, 3.0, size=n_rows), 0.0, 40.0)
    rent_burden = rng.beta(2.0, 4.0, size=n_rows)

    logit = (
        -2.1
        + 0.9 * _standardise(debt_ratio)
        + 0.7 * _standardise(late.astype(float))
        - 0.6 * _standardise(np.log(income))
        - 0.4 * _standardise(history)
        + 0.2 * _standardise(np.log(loan))
    )
    # Revolving-credit utilization drives risk everywhere except in west, where rent does.
    logit = logit + np.where(region == "west", 1.0, 1.8) * _standardise(utilization)
    logit = logit + np.where(region == "south", 0.35 * _standardise(np.log(loan)), 0.0)
    logit = logit + np.where(is_east, 1.0 - 1.4 * _standardise(employment), 0.0)
    logit = logit + np.where(region == "west", 3.0 * _standardise(rent_burden), 0.0)
    probability = 1.0 / (1.0 + np.exp(-logit))
    label = (rng.random(n_rows) < probability).astype(np.int64)

    frame = pd.DataFrame(
        {
            ROW_ID_COLUMN: [f"app-{seed}-{i:05d}" for i in range(n_rows)],
            TIME_COLUMN: dates,
            SEGMENT_COLUMN: region,
            "income": np.round(income, 2),
            "debt_ratio": np.round(debt_ratio, 4),
            "credit_history_months": history.astype(np.int64),
            "late_payments": late.astype(np.int64),
            "utilization": np.round(utilization, 4),
            "loan_amount": np.round(loan, 2),
            "employment_years": np.round(employment, 2),
            "rent_burden": np.round(rent_burden, 4),
            LABEL_COLUMN: label,
        }
    )
    is_eval = rng.random(n_rows) < eval_fraction
    train = frame[~is_eval].reset_index(drop=True)
    evaluation = frame[is_eval].reset_index(drop=True)
    eval_probability = pd.Series(probability[is_eval], name="default_probability")
    return CreditApplications(
        train=train, eval=evaluation, eval_default_probability=eval_probability
    )
