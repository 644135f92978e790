"""Segment metrics from metric keys and from per-example tables, and pairing two tables."""

from __future__ import annotations

import math
from typing import Any

import pytest
from sklearn.metrics import recall_score, roc_auc_score

from tools.evidence import EvalTable
from tools.segments import (
    metric_inputs,
    pair_tables,
    parse_segment_metric_key,
    segment_metric_key,
    segment_metrics_from_keys,
    segment_metrics_from_table,
    table_metric_name,
)


def _table(
    rows: list[list[Any]],
    columns: tuple[str, ...] = ("row_id", "label", "prediction", "score", "region"),
) -> EvalTable:
    return EvalTable(path="eval/predictions.json", columns=list(columns), rows=rows)


ROWS: list[list[Any]] = [
    ["a", 1, 1, 0.9, "north"],
    ["b", 1, 0, 0.4, "north"],
    ["c", 0, 0, 0.2, "north"],
    ["d", 1, 1, 0.8, "south"],
    ["e", 0, 1, 0.7, "south"],
    ["f", 0, 0, 0.1, "south"],
    ["g", 0, 0, 0.3, "east"],
]


@pytest.mark.parametrize(
    ("key", "parsed"),
    [
        ("segment/region:north/recall", ("region", "north", "recall")),
        ("segment/channel:web/app/f1", ("channel", "web/app", "f1")),
        ("segment/region:north/rows", ("region", "north", "rows")),
        ("segment/region=north/recall", ("region", "north", "recall")),
        ("recall", None),
        ("segment/region/recall", None),
        ("segment/=north/recall", None),
    ],
    ids=[
        "simple",
        "value-with-slash",
        "rows",
        "imported-equals",
        "plain-metric",
        "no-separator",
        "no-column",
    ],
)
def test_parse_segment_metric_key(key: str, parsed: tuple[str, str, str] | None) -> None:
    result = parse_segment_metric_key(key)
    assert (None if result is None else (result.column, result.value, result.metric)) == parsed
    if parsed is not None:
        assert segment_metric_key(*parsed) == key.replace("=", ":", 1)


def test_segment_metrics_from_keys() -> None:
    metrics = {
        "segment/region:north/recall": 0.8,
        "segment/region:north/rows": 240.0,
        "segment/region:south/recall": 0.7,
        "segment/region:south/precision": 0.5,
        "segment/channel:web/recall": 0.9,
        "recall": 0.75,
    }
    out = segment_metrics_from_keys(metrics, "region", "recall")
    assert list(out) == ["north", "south"]
    assert (out["north"].value, out["north"].rows, out["north"].source) == (0.8, 240, "metric_keys")
    assert out["south"].rows is None


def test_segment_metrics_from_table_match_sklearn() -> None:
    out = segment_metrics_from_table(_table(ROWS), "region", "recall")
    assert list(out) == ["east", "north", "south"]
    assert out["north"].value == pytest.approx(recall_score([1, 1, 0], [1, 0, 0]))
    assert (out["north"].rows, out["north"].positives) == (3, 2)
    assert math.isnan(out["east"].value)  # no positives: recall is undefined
    auc = segment_metrics_from_table(_table(ROWS), "region", "roc_auc")
    assert auc["south"].value == pytest.approx(roc_auc_score([1, 0, 0], [0.8, 0.7, 0.1]))


def test_segment_metrics_from_table_restricted_rows() -> None:
    out = segment_metrics_from_table(_table(ROWS), "region", "recall", rows=[0, 1, 3])
    assert {k: v.rows for k, v in out.items()} == {"north": 2, "south": 1}


@pytest.mark.parametrize(
    ("columns", "metric", "needle"),
    [
        (("row_id", "label", "prediction", "score"), "recall", "no segment column 'region'"),
        (("row_id", "y", "prediction", "score", "region"), "recall", "no 'label' column"),
        (("row_id", "label", "prediction", "p", "region"), "roc_auc", "no 'score' column"),
        (("row_id", "label", "x", "y", "region"), "recall", "neither a 'prediction' nor a 'score'"),
    ],
    ids=["no-segment-column", "no-label", "no-score-for-auc", "no-prediction"],
)
def test_missing_columns_are_named(columns: tuple[str, ...], metric: str, needle: str) -> None:
    rows = [row[: len(columns)] for row in ROWS]
    with pytest.raises(ValueError, match=needle):
        segment_metrics_from_table(_table(rows, columns), "region", metric)  # type: ignore[arg-type]


def test_predictions_derived_from_scores_without_prediction_column() -> None:
    table = _table([[r[0], r[1], r[3], r[4]] for r in ROWS], ("row_id", "label", "score", "region"))
    _, preds = metric_inputs(table, "recall")
    assert preds == [1, 0, 0, 1, 1, 0, 0]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("roc_auc", "roc_auc"),
        ("val_recall", "recall"),
        ("eval/f1", "f1"),
        ("balanced_accuracy", None),
        ("p95_latency_ms", None),
    ],
    ids=["exact", "prefix", "slash-prefix", "not-accuracy", "unknown"],
)
def test_table_metric_name(name: str, expected: str | None) -> None:
    assert table_metric_name(name) == expected


def test_pair_on_row_id_in_any_order() -> None:
    a = _table(ROWS)
    b = _table(list(reversed(ROWS[1:])))
    pairing = pair_tables(a, b)
    assert pairing.method == "row_id"
    assert pairing.paired
    assert [a.rows[i][0] for i in pairing.index_a] == [b.rows[j][0] for j in pairing.index_b]
    assert (len(pairing.index_a), pairing.unmatched_a, pairing.unmatched_b) == (6, 1, 0)


NO_ID = ("label", "prediction", "score", "region")


@pytest.mark.parametrize(
    ("a", "b", "method", "reason"),
    [
        (
            _table([r[1:] for r in ROWS], NO_ID),
            _table([r[1:] for r in ROWS], NO_ID),
            "row_order",
            None,
        ),
        (
            _table([r[1:] for r in ROWS], NO_ID),
            _table([r[1:] for r in ROWS[:-1]], NO_ID),
            None,
            "differ in length",
        ),
        (_table(ROWS), _table([r[1:] for r in ROWS], NO_ID), None, "only one of the two tables"),
        (_table(ROWS), _table([["z", *r[1:]] for r in ROWS[:1]]), None, "share no row_id"),
        (_table(ROWS), _table([ROWS[0], ROWS[0]]), None, "duplicate values"),
        (
            _table(ROWS),
            _table([[r[0], 1 - r[1], *r[2:]] for r in ROWS]),
            None,
            "labels differ on 7 of 7",
        ),
        (_table(ROWS), _table([[r[0], float(r[1]), *r[2:]] for r in ROWS]), "row_id", None),
    ],
    ids=[
        "row-order",
        "lengths-differ",
        "one-row-id",
        "disjoint-ids",
        "duplicate-ids",
        "labels-differ",
        "label-1-vs-1.0",
    ],
)
def test_pair_tables(a: EvalTable, b: EvalTable, method: str | None, reason: str | None) -> None:
    pairing = pair_tables(a, b)
    assert pairing.method == method
    assert pairing.paired is (method is not None)
    if reason is None:
        assert pairing.reason is None
    else:
        assert pairing.reason is not None and reason in pairing.reason
