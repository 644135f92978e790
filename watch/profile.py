"""Compact profiles of a table: per-feature quantiles, category counts, missing share, row count.

A profile is what a team logs when it cannot (or may not) log a sample of its inputs. Drift
computed from two profiles is approximate (KS and Wasserstein from 101 quantiles, PSI from the
reference's quantile bins); category counts are exact. Profiles are JSON (`profile.json`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped]
from pydantic import BaseModel, ConfigDict, Field

from watch.errors import WindowDataError

__all__ = [
    "MAX_CATEGORIES",
    "PROFILE_FORMAT",
    "QUANTILE_LEVELS",
    "CategoricalProfile",
    "ColumnProfile",
    "DatasetProfile",
    "NumericProfile",
    "category_counts",
    "category_key",
    "category_values",
    "column_kind",
    "profile_frame",
]

PROFILE_FORMAT = 1
QUANTILE_LEVELS: npt.NDArray[np.float64] = np.linspace(0.0, 1.0, 101)
MAX_CATEGORIES = 200
"""Categories kept by name; the rest are counted together as `other`."""


class _Profile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class NumericProfile(_Profile):
    """A numeric column: 101 quantiles (0, 0.01, ..., 1) of its present values."""

    kind: Literal["numeric"] = "numeric"
    rows: int = Field(ge=0, description="Present (non-missing) values.")
    missing: int = Field(ge=0)
    mean: float | None = None
    std: float | None = None
    quantiles: list[float] = Field(default_factory=list)


class CategoricalProfile(_Profile):
    """A categorical column: counts of its values (as strings)."""

    kind: Literal["categorical"] = "categorical"
    rows: int = Field(ge=0, description="Present (non-missing) values.")
    missing: int = Field(ge=0)
    counts: dict[str, int] = Field(default_factory=dict)
    other: int = Field(default=0, ge=0, description="Values beyond the kept categories.")


ColumnProfile = Annotated[NumericProfile | CategoricalProfile, Field(discriminator="kind")]


class DatasetProfile(_Profile):
    """The profile of one table (a window's inputs or the reference)."""

    format: Literal[1] = 1
    rows: int = Field(ge=0)
    columns: dict[str, ColumnProfile] = Field(default_factory=dict)


def category_key(value: Any) -> str:
    """The string a category is counted under: 1, 1.0 and "1" are one category."""
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)


def column_kind(
    series: pd.Series, categorical: Iterable[str] = ()
) -> Literal["numeric", "categorical"]:
    """Numeric for real-valued dtypes (not bool), unless the column is named in `categorical`."""
    if series.name in set(categorical):
        return "categorical"
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    return "categorical"


def numeric_values(series: pd.Series) -> npt.NDArray[np.float64]:
    """The present values of a numeric column as float64."""
    try:
        values = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise WindowDataError(f"column {series.name!r} is not numeric: {exc}") from exc
    present: npt.NDArray[np.float64] = values[~np.isnan(values)]
    return present


def category_values(series: pd.Series) -> pd.Series:
    """The present values of a categorical column as category keys (strings).

    Vectorised for the common dtypes (strings, integers, integral floats); other values go
    through `category_key` one by one.
    """
    present = series[series.notna()]
    dtype = present.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return present.map({True: "true", False: "false"}).astype(object)
    if pd.api.types.is_integer_dtype(dtype):
        return present.astype(str)
    if pd.api.types.is_float_dtype(dtype):
        values = present.to_numpy(dtype=np.float64)
        if np.all(np.mod(values, 1.0) == 0.0):
            return pd.Series(values.astype(np.int64).astype(str), index=present.index)
        return present.map(category_key)
    if pd.api.types.infer_dtype(present, skipna=True) == "string":
        return present
    return present.map(category_key)


def category_counts(series: pd.Series) -> dict[str, int]:
    """How often each category key occurs among the present values, most frequent first."""
    counts = category_values(series).value_counts()
    return {str(k): int(v) for k, v in counts.items()}


def _numeric_profile(series: pd.Series) -> NumericProfile:
    values = numeric_values(series)
    missing = len(series) - len(values)
    if values.size == 0:
        return NumericProfile(rows=0, missing=missing)
    if not np.all(np.isfinite(values)):
        raise WindowDataError(f"column {series.name!r} holds infinite values")
    quantiles = np.quantile(values, QUANTILE_LEVELS)
    return NumericProfile(
        rows=int(values.size),
        missing=missing,
        mean=float(values.mean()),
        std=float(values.std(ddof=1)) if values.size > 1 else 0.0,
        quantiles=[float(q) for q in quantiles],
    )


def _categorical_profile(series: pd.Series) -> CategoricalProfile:
    values = category_values(series)
    counts = values.value_counts()
    kept = counts.iloc[:MAX_CATEGORIES]
    return CategoricalProfile(
        rows=len(values),
        missing=len(series) - len(values),
        counts={str(k): int(v) for k, v in kept.items()},
        other=int(counts.iloc[MAX_CATEGORIES:].sum()),
    )


def profile_frame(
    frame: pd.DataFrame, *, columns: Iterable[str] | None = None, categorical: Iterable[str] = ()
) -> DatasetProfile:
    """Profile the given columns (default: all) of `frame`.

    Args:
        frame: One row per example.
        columns: Columns to profile.
        categorical: Numeric columns to profile as categories.

    Raises:
        WindowDataError: A named column is absent, or a numeric one holds infinities.
    """
    names = list(frame.columns) if columns is None else list(columns)
    absent = [c for c in names if c not in frame.columns]
    if absent:
        raise WindowDataError(f"columns {absent!r} are not in the frame ({list(frame.columns)!r})")
    categorical = list(categorical)
    profiles: dict[str, NumericProfile | CategoricalProfile] = {}
    for name in names:
        series = frame[name]
        if column_kind(series, categorical) == "numeric":
            profiles[str(name)] = _numeric_profile(series)
        else:
            profiles[str(name)] = _categorical_profile(series)
    return DatasetProfile(rows=len(frame), columns=profiles)


def missing_share(profile: NumericProfile | CategoricalProfile) -> float:
    """Share of missing values of a column (0 for an empty column)."""
    total = profile.rows + profile.missing
    return profile.missing / total if total else math.nan
