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


def _row_by_row(
    table: EvalTable, column: str, metric: str, rows: list[int] | None, pos_label: Any
) -> dict[str, Any]:
    """Segment metrics gathered one row at a time, from plain lists (what the grouping by
    segment number and the memo of numeric columns must answer)."""
    from tools.significance import binary_mask, metric_value

    labels, values = metric_inputs(table, metric)  # type: ignore[arg-type]
    segments = table.column(column)
    by_segment: dict[str, list[int]] = {}
    for i in range(len(table.rows)) if rows is None else rows:
        by_segment.setdefault(str(segments[i]), []).append(i)
    out: dict[str, Any] = {}
    for seg in sorted(by_segment):
        idx = by_segment[seg]
        seg_labels = [labels[i] for i in idx]
        value = metric_value(metric, seg_labels, [values[i] for i in idx], pos_label=pos_label)  # type: ignore[arg-type]
        positives = int(binary_mask(seg_labels, pos_label).sum())
        out[seg] = (value, len(idx), positives)
    return out


_MIXED_ROWS: list[list[Any]] = [
    [f"r{i}", lab, pred, score, seg]
    for i, (lab, pred, score, seg) in enumerate(
        [
            (True, 1, 0.91, "north"),
            (1, 0.0, 0.42, "north"),
            (0, False, 0.2, 3),
            (1.0, 1, 0.8, "south"),
            (0, 1, 0.7, 3),
            (0, 0, 0.1, None),
            (1, 1, 0.55, "south"),
            (0, 1, 0.6, None),
        ]
    )
]
_TEXT_ROWS: list[list[Any]] = [
    [f"r{i}", lab, pred, score, seg]
    for i, (lab, pred, score, seg) in enumerate(
        [
            ("yes", "yes", 0.9, "a"),
            ("no", "yes", 0.6, "a"),
            ("yes", "no", 0.3, "b"),
            ("no", "no", 0.2, "b"),
            ("yes", "yes", 0.8, "c"),
        ]
    )
]
_CASES = [
    ("numeric", ROWS, None, 1),
    ("numeric-paired-subset-reordered", ROWS, [6, 3, 0, 4, 1], 1),
    ("numeric-one-segment-left-out", ROWS, [0, 1, 2], 1),
    ("numeric-empty-subset", ROWS, [], 1),
    ("bools-floats-none-and-int-segments", _MIXED_ROWS, None, 1),
    ("mixed-subset", _MIXED_ROWS, [7, 5, 2, 0], True),
    ("text-labels", _TEXT_ROWS, None, "yes"),
    ("text-labels-subset", _TEXT_ROWS, [4, 1, 0], "yes"),
    ("numeric-with-text-positive", ROWS, None, "1"),
]


@pytest.mark.parametrize(
    ("rows", "subset", "pos_label"), [c[1:] for c in _CASES], ids=[c[0] for c in _CASES]
)
@pytest.mark.parametrize("metric", ["accuracy", "recall", "precision", "f1", "roc_auc"])
def test_segment_metrics_from_table_answer_as_row_by_row(
    rows: list[list[Any]], subset: list[int] | None, pos_label: Any, metric: str
) -> None:
    table = _table(rows)
    expected = _row_by_row(table, "region", metric, subset, pos_label)
    # Twice: the second answer comes from the table's memo.
    for _ in range(2):
        out = segment_metrics_from_table(
            table,
            "region",
            metric,  # type: ignore[arg-type]
            rows=subset,
            pos_label=pos_label,
        )
        got = {seg: (m.value, m.rows, m.positives) for seg, m in out.items()}
        assert list(got) == list(expected)
        for seg, (value, n, positives) in expected.items():
            assert (got[seg][1], got[seg][2]) == (n, positives)
            assert got[seg][0] == value or (math.isnan(got[seg][0]) and math.isnan(value))


@pytest.mark.parametrize(
    ("labels_a", "labels_b"),
    [
        ([1, 0, 1, 0], [1, 1, 0, 0]),
        ([True, 0, 1.0, 0], [1, 1.0, False, 0]),
        (["1", 0, 1, "0"], [1, "1", 0, 0]),
        (["yes", "no", "yes", "no"], ["yes", "yes", "no", "no"]),
    ],
    ids=["ints", "bools-and-floats", "text-and-numbers", "text"],
)
def test_label_differences_compare_labels_as_the_metrics_read_them(
    labels_a: list[Any], labels_b: list[Any]
) -> None:
    from tools.segments import label_differences, pair_rows
    from tools.significance import normalize_label

    a = _table([[f"r{i}", lab, 0, 0.1, "x"] for i, lab in enumerate(labels_a)])
    # The candidate's rows in another order: pairing goes by row_id.
    order = [2, 0, 3, 1]
    b = _table([[f"r{i}", labels_b[i], 0, 0.1, "x"] for i in order])
    pairing = pair_rows(a, b)
    expected = [
        k
        for k, (i, j) in enumerate(zip(pairing.index_a, pairing.index_b, strict=True))
        if normalize_label(a.rows[i][1]) != normalize_label(b.rows[j][1])
    ]
    for _ in range(2):  # the second time from the tables' memo
        assert label_differences(a, b, pairing) == expected
    assert expected == [1, 2]
