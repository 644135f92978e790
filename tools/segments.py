"""Per-segment metrics: from segment metric keys or from a per-example evaluation table.

Segment metric keys follow `segment/<column>:<value>/<metric>`, with the row count under
`segment/<column>:<value>/rows` (docs/evidence-conventions.md). A per-example table has the columns
`label`, `prediction` and/or `score`, an optional `row_id`, and segment columns.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeGuard, cast

import numpy as np
from pydantic import BaseModel, ConfigDict

from tools.evidence import EvalTable
from tools.regression_metrics import (
    EVALUATE_NAMES,
    REGRESSION_METRICS,
    RegressionMetric,
    regression_value,
)
from tools.significance import (
    METRIC_NAMES,
    FloatArray,
    IntArray,
    MetricName,
    binary_mask,
    metric_value,
    normalize_label,
    numeric_array,
)

__all__ = [
    "SegmentKey",
    "SegmentMetric",
    "TableMetric",
    "TablePairing",
    "classification_metric",
    "is_regression_metric",
    "label_differences",
    "metric_inputs",
    "pair_rows",
    "pair_tables",
    "parse_segment_metric_key",
    "segment_metric_key",
    "segment_metrics_from_keys",
    "segment_metrics_from_table",
    "table_metric_name",
]

# MLflow rejects "=" in metric names, so ":" is the convention; "=" is read for imported keys.
_KEY = re.compile(r"^segment/(?P<column>[^=:/]+)[:=](?P<value>.+)/(?P<metric>[^/]+)$")
# Prefixes that teams commonly put before a metric name; `val_recall` is still recall.
_METRIC_PREFIXES = ("eval_", "test_", "val_", "validation_", "holdout_", "eval/", "test/", "val/")

#: A metric computable from a per-example table: a classifier's, or a regressor's error or r2.
TableMetric = MetricName | RegressionMetric
# A regressor's metrics by the names `mlflow.models.evaluate` logs them under.
_REGRESSION_SPELLINGS: dict[str, RegressionMetric] = {
    long: short for short, long in EVALUATE_NAMES.items()
}


class SegmentKey(BaseModel):
    """A parsed segment metric key `segment/<column>:<value>/<metric>`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    value: str
    metric: str


class SegmentMetric(BaseModel):
    """One segment's metric value and size, and where they came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    column: str
    segment: str
    metric: str
    value: float
    rows: int | None = None
    positives: int | None = None
    source: Literal["eval_table", "metric_keys"]


class TablePairing(BaseModel):
    """How the rows of two evaluation tables correspond (a: baseline, b: candidate)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["row_id", "row_order"] | None
    index_a: list[int]
    index_b: list[int]
    unmatched_a: int = 0
    unmatched_b: int = 0
    reason: str | None = None

    @property
    def paired(self) -> bool:
        return self.method is not None and len(self.index_a) > 0


def segment_metric_key(column: str, value: str, metric: str) -> str:
    """The conventional metric key for a segment's metric, e.g. `segment/region:north/recall`."""
    return f"segment/{column}:{value}/{metric}"


def parse_segment_metric_key(key: str) -> SegmentKey | None:
    """Parse `segment/<column>:<value>/<metric>` (or `=`); None for any other key."""
    m = _KEY.match(key)
    if m is None:
        return None
    return SegmentKey(column=m["column"], value=m["value"], metric=m["metric"])


def table_metric_name(metric: str) -> TableMetric | None:
    """The metric that can be computed from a table for a policy's metric name, if any.

    `roc_auc`, `val_roc_auc` and `eval/roc_auc` all map to roc_auc; `root_mean_squared_error`
    and `val_rmse` to rmse; `balanced_accuracy` maps to nothing, since it is not accuracy.
    """
    for name in (metric, *(metric.removeprefix(p) for p in _METRIC_PREFIXES)):
        if name in METRIC_NAMES or name in REGRESSION_METRICS:
            return name
        if name in _REGRESSION_SPELLINGS:
            return _REGRESSION_SPELLINGS[name]
    return None


def is_regression_metric(metric: TableMetric) -> TypeGuard[RegressionMetric]:
    """Whether `metric` is a regressor's (from numeric predictions, no class or score)."""
    return metric in REGRESSION_METRICS


def classification_metric(metric: TableMetric) -> MetricName | None:
    """`metric` when it is a classifier's (the paired bootstrap's), None for a regressor's."""
    return None if is_regression_metric(metric) else cast(MetricName, metric)


def segment_metrics_from_keys(
    metrics: Mapping[str, float], column: str, metric: str
) -> dict[str, SegmentMetric]:
    """Segment values of `metric` by `column` from segment metric keys, keyed by segment value.

    Args:
        metrics: A run's (or logged model's) metrics.
        column: The segment column, e.g. `region`.
        metric: The metric name, e.g. `recall`.
    """
    values: dict[str, float] = {}
    rows: dict[str, int] = {}
    for key, val in metrics.items():
        parsed = parse_segment_metric_key(key)
        if parsed is None or parsed.column != column:
            continue
        if parsed.metric == metric:
            values[parsed.value] = float(val)
        elif parsed.metric == "rows" and math.isfinite(val):
            rows[parsed.value] = int(val)
    return {
        seg: SegmentMetric(
            column=column,
            segment=seg,
            metric=metric,
            value=val,
            rows=rows.get(seg),
            source="metric_keys",
        )
        for seg, val in sorted(values.items())
    }


def metric_inputs(table: EvalTable, metric: TableMetric) -> tuple[list[Any], list[Any]]:
    """The label column and the prediction (or, for roc_auc, score) column a metric needs.

    Without a `prediction` column, classes are derived from `score` at 0.5; never for a
    regressor's metric, which needs the `prediction` column itself.

    Raises:
        ValueError: The table lacks the columns the metric needs.
    """
    if "label" not in table.columns:
        raise ValueError(f"evaluation table {table.path!r} has no 'label' column")
    labels = table.column("label")
    source = _values_source(table, metric)
    if source == "score classes":
        return labels, [1 if float(s) >= 0.5 else 0 for s in table.column("score")]
    return labels, table.column(source)


def _values_source(
    table: EvalTable, metric: TableMetric
) -> Literal["score", "prediction", "score classes"]:
    """Where `metric`'s values come from: scores for roc_auc, else predictions, else the classes
    scores give at 0.5 (a regressor's metrics: predictions only).

    Raises:
        ValueError: The table lacks the columns the metric needs.
    """
    if is_regression_metric(metric):
        if "prediction" not in table.columns:
            raise ValueError(
                f"evaluation table {table.path!r} has no 'prediction' column, which {metric} needs"
            )
        return "prediction"
    if metric == "roc_auc":
        if "score" not in table.columns:
            raise ValueError(
                f"evaluation table {table.path!r} has no 'score' column, which roc_auc needs"
            )
        return "score"
    if "prediction" in table.columns:
        return "prediction"
    if "score" in table.columns:
        return "score classes"
    raise ValueError(
        f"evaluation table {table.path!r} has neither a 'prediction' nor a 'score' column"
    )


def segment_metrics_from_table(
    table: EvalTable,
    column: str,
    metric: TableMetric,
    *,
    rows: Sequence[int] | None = None,
    pos_label: Any = 1,
) -> dict[str, SegmentMetric]:
    """Compute `metric` per value of `column` from a per-example table, keyed by segment value.

    A segment where the metric is undefined (e.g. recall without positive labels) has value NaN.

    Args:
        table: The per-example evaluation table.
        column: The segment column.
        metric: The metric to compute.
        rows: Restrict to these row indices (e.g. the rows paired with another table).
        pos_label: The positive class.

    Raises:
        ValueError: The table lacks the segment column or the columns the metric needs.
    """
    if column not in table.columns:
        raise ValueError(f"evaluation table {table.path!r} has no segment column {column!r}")
    labels, values = metric_inputs(table, metric)
    regression = is_regression_metric(metric)
    if regression:
        num_regression = (numeric_array(labels), numeric_array(values))
        if num_regression[0] is None or num_regression[1] is None:
            raise ValueError(
                f"evaluation table {table.path!r}: {metric} needs numeric 'label' and "
                "'prediction' columns"
            )
    names, codes = table.derived(("segments", column), lambda: _segment_codes(table, column))
    num_labels: FloatArray | None = None
    num_values: FloatArray | None = None
    if regression:
        num_labels, num_values = num_regression
    elif isinstance(normalize_label(pos_label), float):
        # Numbers compare as numbers whatever their type, so a numeric column's rows can be
        # handed over as one float array, converted once per table and source.
        num_labels = _numeric_labels(table)
        num_values = table.derived(
            ("numeric", _values_source(table, metric)), lambda: _frozen(values)
        )
    indices = (
        np.arange(len(table.rows), dtype=np.int64)
        if rows is None
        else np.asarray(rows, dtype=np.int64)
    )
    # Stable: each segment's rows stay in the order `rows` gives them.
    order = np.argsort(codes[indices], kind="stable")
    grouped = indices[order]
    bounds = np.searchsorted(codes[grouped], np.arange(len(names) + 1))
    out: dict[str, SegmentMetric] = {}
    for code, seg in enumerate(names):
        rows_of_segment = grouped[bounds[code] : bounds[code + 1]]
        if not len(rows_of_segment):
            continue
        seg_labels: Any
        seg_values: Any
        if num_labels is not None and num_values is not None:
            seg_labels = num_labels[rows_of_segment]
            seg_values = num_values[rows_of_segment]
        else:
            idx = rows_of_segment.tolist()
            seg_labels = list(map(labels.__getitem__, idx))
            seg_values = list(map(values.__getitem__, idx))
        if is_regression_metric(metric):
            value = regression_value(metric, seg_labels, seg_values)
            positives = None
        else:
            value = metric_value(
                cast(MetricName, metric), seg_labels, seg_values, pos_label=pos_label
            )
            positives = int(binary_mask(seg_labels, pos_label).sum())
        out[seg] = SegmentMetric(
            column=column,
            segment=seg,
            metric=metric,
            value=value,
            rows=len(rows_of_segment),
            positives=positives,
            source="eval_table",
        )
    return out


def _frozen(values: Sequence[Any]) -> FloatArray | None:
    """`numeric_array(values)` of a list, read-only (a table's memo shares it), or None."""
    array = numeric_array(values)
    if array is not None:
        array.flags.writeable = False
    return array


def _segment_codes(table: EvalTable, column: str) -> tuple[list[str], IntArray]:
    """The segments of `column` (its values as text, sorted) and each row's segment number."""
    keys = [str(v) for v in table.column(column)]
    names = sorted(set(keys))
    number = {name: i for i, name in enumerate(names)}
    codes = np.fromiter((number[k] for k in keys), dtype=np.int64, count=len(keys))
    codes.flags.writeable = False
    return names, codes


def pair_rows(a: EvalTable, b: EvalTable) -> TablePairing:
    """Pair the rows of two evaluation tables on `row_id`, else on row order, whatever their labels.

    Row order is used only when neither table has `row_id` and both have the same length.

    Args:
        a: The baseline's table.
        b: The candidate's table.
    """
    has_a, has_b = "row_id" in a.columns, "row_id" in b.columns
    if has_a and has_b:
        pos_a = a.derived("row positions", lambda: _row_positions(a))
        pos_b = b.derived("row positions", lambda: _row_positions(b))
        for name, pos in (("baseline", pos_a), ("candidate", pos_b)):
            if pos is None:
                return _unpaired(f"the {name} table's row_id column has duplicate values")
        assert pos_a is not None and pos_b is not None
        # In the baseline's row order (a position table keeps the order of its rows).
        index_a = [i for rid, i in pos_a.items() if rid in pos_b]
        index_b = [pos_b[rid] for rid in pos_a if rid in pos_b]
        if not index_a:
            return _unpaired("the two tables share no row_id")
        method: Literal["row_id", "row_order"] = "row_id"
    elif has_a or has_b:
        return _unpaired("only one of the two tables has a row_id column")
    elif len(a.rows) != len(b.rows):
        return _unpaired(
            f"the tables have no row_id and differ in length ({len(a.rows)} vs {len(b.rows)} rows)"
        )
    else:
        index_a = list(range(len(a.rows)))
        index_b = list(index_a)
        method = "row_order"
    return TablePairing(
        method=method,
        index_a=index_a,
        index_b=index_b,
        unmatched_a=len(a.rows) - len(index_a),
        unmatched_b=len(b.rows) - len(index_b),
    )


def _row_positions(table: EvalTable) -> dict[str, int] | None:
    """Each `row_id` (as text) and its row, in row order; None when a row_id repeats."""
    ids = [str(v) for v in table.column("row_id")]
    positions = {rid: i for i, rid in enumerate(ids)}
    return positions if len(positions) == len(ids) else None


def pair_tables(a: EvalTable, b: EvalTable, rows: TablePairing | None = None) -> TablePairing:
    """Pair the rows of two evaluation tables: on `row_id`, else on row order.

    Row order is used only when neither table has `row_id` and both have the same length. Pairs
    whose labels disagree mean the tables are not the same examples, and nothing is paired.

    Args:
        a: The baseline's table.
        b: The candidate's table.
        rows: `pair_rows(a, b)`, when the caller has it already.
    """
    pairing = rows if rows is not None else pair_rows(a, b)
    if not pairing.paired:
        return pairing
    if "label" in a.columns and "label" in b.columns:
        differ = label_differences(a, b, pairing)
        if differ:
            return _unpaired(
                f"labels differ on {len(differ)} of {len(pairing.index_a)} paired rows (paired on "
                f"{pairing.method}); the tables are not the same evaluation examples"
            )
    return pairing


def label_differences(a: EvalTable, b: EvalTable, pairing: TablePairing) -> list[int]:
    """The positions in `pairing` whose two rows disagree on the label (1, 1.0, True and "1" are
    the same class).

    Args:
        a: The baseline's table (with a `label` column).
        b: The candidate's table (with a `label` column).
        pairing: How their rows correspond.
    """
    numeric_a, numeric_b = _numeric_labels(a), _numeric_labels(b)
    index_a, index_b = pairing.index_a, pairing.index_b
    if numeric_a is not None and numeric_b is not None:
        differ = numeric_a[index_a] != numeric_b[index_b]
        return [int(k) for k in np.flatnonzero(differ)]
    labels_a, labels_b = a.column("label"), b.column("label")
    return [
        k
        for k, (i, j) in enumerate(zip(index_a, index_b, strict=True))
        if normalize_label(labels_a[i]) != normalize_label(labels_b[j])
    ]


def _numeric_labels(table: EvalTable) -> FloatArray | None:
    """The label column as one float array when every label is a number (kept with the table)."""
    return table.derived(("numeric", "label"), lambda: _frozen(table.column("label")))


def _unpaired(reason: str) -> TablePairing:
    return TablePairing(method=None, index_a=[], index_b=[], reason=reason)
