"""Per-example evaluation tables in the three supported formats, and malformed ones."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from tools.errors import ArtifactTooLargeError, MalformedArtifactError
from tools.eval_table import parse_eval_table, read_eval_table


@pytest.mark.parametrize(
    ("version", "path"),
    [
        (1, "eval/predictions.json"),
        (2, "eval/predictions.csv"),
        (3, "eval/predictions.parquet"),
    ],
    ids=["log-table-json", "csv", "parquet"],
)
def test_read_eval_table_formats(mlflow_store: Any, client: Any, version: int, path: str) -> None:
    facts = mlflow_store.versions[version]
    table = read_eval_table(client, facts.run_id)
    assert table is not None
    assert table.path == path
    expected: pd.DataFrame = facts.eval_table
    assert table.columns == list(expected.columns)
    assert len(table.rows) == len(expected) == 60
    assert table.column("row_id") == list(expected["row_id"])
    assert table.column("label") == [int(v) for v in expected["label"]]
    assert table.column("prediction") == [int(v) for v in expected["prediction"]]
    assert table.column("score") == pytest.approx([float(v) for v in expected["score"]])
    assert table.column("region") == list(expected["region"])
    # Plain Python values: the bundle digest serialises them.
    assert {type(v) for v in table.column("label")} == {int}


def test_read_eval_table_absent(mlflow_store: Any, client: Any) -> None:
    assert read_eval_table(client, mlflow_store.versions[4].run_id) is None


def test_read_eval_table_malformed_names_path(mlflow_store: Any, client: Any) -> None:
    with pytest.raises(MalformedArtifactError) as caught:
        read_eval_table(client, mlflow_store.versions[5].run_id)
    assert caught.value.path == "eval/predictions.json"
    assert "'eval/predictions.json'" in str(caught.value)
    assert "mlflow.log_table" in str(caught.value)


def test_read_eval_table_size_cap(mlflow_store: Any, client: Any) -> None:
    with pytest.raises(ArtifactTooLargeError, match=r"'eval/predictions\.json'"):
        read_eval_table(client, mlflow_store.versions[1].run_id, max_bytes=100)


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("path", "data", "reason"),
    [
        ("eval/predictions.json", b"{not json", "not valid JSON"),
        ("eval/predictions.json", b'{"columns": ["label"]}', "'columns' and 'data'"),
        ("eval/predictions.json", b'{"columns": "label", "data": []}', "must be lists"),
        ("eval/predictions.json", b'{"columns": [], "data": []}', "non-empty list of strings"),
        (
            "eval/predictions.json",
            b'{"columns": ["label", "label"], "data": []}',
            "duplicate column names",
        ),
        ("eval/predictions.json", b'{"columns": ["prediction"], "data": []}', "no 'label'"),
        ("eval/predictions.json", b'{"columns": ["label", "region"], "data": []}', "neither"),
        (
            "eval/predictions.json",
            b'{"columns": ["label", "score"], "data": [[1, 0.5], [0]]}',
            "row 1 does not have 2 values",
        ),
        ("eval/predictions.csv", b"", "cannot be read as csv"),
        ("eval/predictions.csv", b"region,score\nnorth,0.5\n", "no 'label'"),
        ("eval/predictions.parquet", b"PAR1 not parquet", "cannot be read as parquet"),
        ("eval/predictions.txt", b"label,score\n", "unknown table format"),
    ],
    ids=[
        "json-syntax",
        "json-missing-data",
        "json-not-lists",
        "json-no-columns",
        "json-duplicate-columns",
        "json-no-label",
        "json-no-prediction-or-score",
        "json-ragged-row",
        "csv-empty",
        "csv-no-label",
        "parquet-garbage",
        "unknown-extension",
    ],
)
def test_parse_eval_table_rejects_malformed(path: str, data: bytes, reason: str) -> None:
    with pytest.raises(MalformedArtifactError, match=reason) as caught:
        parse_eval_table(path, data)
    assert caught.value.path == path


def test_parse_eval_table_missing_values_become_none() -> None:
    frame = pd.DataFrame({"label": [1, 0], "score": [0.9, math.nan], "region": ["n", None]})
    for path, data in [
        ("eval/predictions.parquet", _parquet(frame)),
        ("eval/predictions.csv", frame.to_csv(index=False).encode()),
        (
            "eval/predictions.json",
            json.dumps({"columns": list(frame.columns), "data": [[1, 0.9, "n"], [0, None, None]]})
            .replace("null, null", "NaN, null")
            .encode(),
        ),
    ]:
        table = parse_eval_table(path, data)
        assert table.rows == [[1, 0.9, "n"], [0, None, None]], path


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param('[1, 0.25, "eu"]', id="plain"),
        pytest.param('[NaN, 0, "x"]', id="nan-first"),
        pytest.param("[1, NaN, NaN]", id="nan-twice"),
        pytest.param("[Infinity, -Infinity, -0.0]", id="infinite"),
        pytest.param("[true, false, null]", id="bool-null"),
        pytest.param('[[1, NaN], {"a": NaN}, 12345678901234567890]', id="nested-and-big"),
        pytest.param('["NaN", "", 1e308]', id="strings"),
    ],
)
def test_json_cells_are_what_the_general_conversion_makes(cells: str) -> None:
    from tools.eval_table import _native

    data = f'{{"columns": ["label", "score", "region"], "data": [{cells}]}}'.encode()
    table = parse_eval_table("eval/predictions.json", data, check_columns=False)
    expected = [_native(v) for v in json.loads(cells)]
    assert len(table.rows) == 1
    assert [repr(v) for v in table.rows[0]] == [repr(v) for v in expected]
    assert [type(v) for v in table.rows[0]] == [type(v) for v in expected]


def test_a_column_is_gathered_once_and_every_caller_gets_its_own_list() -> None:
    from tools.evidence import EvalTable

    table = EvalTable(path="t.json", columns=["label", "region"], rows=[[1, "eu"], [0, "us"]])
    same = EvalTable(path="t.json", columns=["label", "region"], rows=[[1, "eu"], [0, "us"]])
    first = table.column("label")
    first.append(9)
    assert table.column("label") == [1, 0]
    assert table.column("label") is not table.column("label")
    # The memo is not part of the table: equality, dumps and the digest's JSON ignore it.
    assert table == same
    assert table.model_dump() == same.model_dump()
    assert table.canonical_json() == same.canonical_json()
    # A copy with its columns renamed (as `rename_columns` makes one) answers from its own.
    swapped = table.model_copy(update={"columns": ["region", "label"]})
    assert swapped.column("label") == ["eu", "us"]
    assert table.column("label") == [1, 0]
    with pytest.raises(ValueError, match="nope"):
        table.column("nope")
