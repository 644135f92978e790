"""The per-example evaluation table of a run: ``eval/predictions.{json,csv,parquet}``.

The JSON form is what ``mlflow.log_table(df, artifact_file="eval/predictions.json")`` writes:
``{"columns": [...], "data": [[...], ...]}``. Columns follow the documented convention: ``label``,
``prediction`` and/or ``score``, an optional ``row_id``, and segment columns.
"""

from __future__ import annotations

import io
import json
import math
from typing import TYPE_CHECKING, Any

from tools.artifacts import download_artifact, list_run_artifacts
from tools.errors import MalformedArtifactError
from tools.evidence import EvalTable

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "EVAL_TABLE_DIR",
    "EVAL_TABLE_MAX_BYTES",
    "EVAL_TABLE_PATHS",
    "parse_eval_table",
    "read_eval_table",
]

EVAL_TABLE_DIR = "eval"
EVAL_TABLE_PATHS: tuple[str, ...] = (
    "eval/predictions.json",
    "eval/predictions.csv",
    "eval/predictions.parquet",
)
EVAL_TABLE_MAX_BYTES = 64 * 1024 * 1024

_FIX = (
    "log the table with mlflow.log_table(df, artifact_file='eval/predictions.json'), one row per "
    "evaluation example with columns label, prediction and/or score, and segment columns"
)


def _native(value: Any) -> Any:
    """A JSON-friendly Python value: numpy scalars unwrapped, NaN as None."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, str | bytes):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _json_row(row: list[Any]) -> list[Any]:
    """`_native` of each value of a row `json.loads` made: only a NaN changes (JSON's values
    have no `item`), so the row is kept as it is when it holds none."""
    for value in row:
        if value.__class__ is float and value != value:
            return [None if v.__class__ is float and v != v else v for v in row]
    return row


def _validated(
    path: str,
    columns: list[Any],
    rows: list[Any],
    check_columns: bool = True,
    *,
    from_json: bool = False,
) -> EvalTable:
    if not columns or not all(isinstance(c, str) for c in columns):
        raise MalformedArtifactError(path, "'columns' must be a non-empty list of strings", _FIX)
    if len(set(columns)) != len(columns):
        raise MalformedArtifactError(path, f"duplicate column names in {columns!r}", _FIX)
    if check_columns and "label" not in columns:
        raise MalformedArtifactError(path, f"no 'label' column (columns: {columns!r})", _FIX)
    if check_columns and "prediction" not in columns and "score" not in columns:
        raise MalformedArtifactError(
            path, f"neither a 'prediction' nor a 'score' column (columns: {columns!r})", _FIX
        )
    clean: list[list[Any]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise MalformedArtifactError(
                path, f"row {index} does not have {len(columns)} values: {row!r:.200}", _FIX
            )
        # Most of a table's parse went to `_native` on every value of a JSON table.
        clean.append(_json_row(row) if from_json else [_native(v) for v in row])
    return EvalTable(path=path, columns=list(columns), rows=clean)


def _parse_json(path: str, data: bytes, check_columns: bool = True) -> EvalTable:
    try:
        parsed = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedArtifactError(path, f"not valid JSON ({exc})", _FIX) from exc
    if not isinstance(parsed, dict) or "columns" not in parsed or "data" not in parsed:
        raise MalformedArtifactError(
            path, "expected an object with 'columns' and 'data' (mlflow.log_table format)", _FIX
        )
    columns, rows = parsed["columns"], parsed["data"]
    if not isinstance(columns, list) or not isinstance(rows, list):
        raise MalformedArtifactError(path, "'columns' and 'data' must be lists", _FIX)
    return _validated(path, columns, rows, check_columns, from_json=True)


def _parse_frame(path: str, data: bytes, kind: str, check_columns: bool = True) -> EvalTable:
    import pandas as pd  # type: ignore[import-untyped]

    try:
        if kind == "csv":
            frame = pd.read_csv(io.BytesIO(data))
        else:
            frame = pd.read_parquet(io.BytesIO(data))
    # pandas and pyarrow raise a wide, version-dependent set of parse errors (ParserError,
    # EmptyDataError, ArrowInvalid, UnicodeDecodeError...): all ValueError or OSError subclasses.
    except (ValueError, OSError) as exc:
        raise MalformedArtifactError(path, f"cannot be read as {kind} ({exc})", _FIX) from exc
    columns = [str(c) for c in frame.columns]
    rows = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    return _validated(path, columns, rows, check_columns)


def parse_eval_table(path: str, data: bytes, *, check_columns: bool = True) -> EvalTable:
    """Parse an evaluation table from its bytes; the format follows the file extension.

    Args:
        path: The artifact path (``.json``, ``.csv`` or ``.parquet``), named in errors.
        data: The file's bytes.
        check_columns: Require the conventional ``label`` and ``prediction``/``score`` columns
            (off when the columns are matched to their roles afterwards).

    Raises:
        MalformedArtifactError: The table cannot be parsed or breaks the column convention.
    """
    if path.endswith(".json"):
        return _parse_json(path, data, check_columns)
    if path.endswith(".csv"):
        return _parse_frame(path, data, "csv", check_columns)
    if path.endswith(".parquet"):
        return _parse_frame(path, data, "parquet", check_columns)
    raise MalformedArtifactError(path, "unknown table format (expected .json, .csv or .parquet)")


def read_eval_table(
    client: MlflowClient, run_id: str, *, max_bytes: int = EVAL_TABLE_MAX_BYTES
) -> EvalTable | None:
    """The run's per-example evaluation table, or None when it logged none.

    Looks for ``eval/predictions.json``, then ``.csv``, then ``.parquet``; reads the first found.

    Args:
        client: MLflow client.
        run_id: The run id (a model version's source run).
        max_bytes: Size cap of the table file.

    Raises:
        MalformedArtifactError: The table exists but cannot be parsed (the message names its path).
        ArtifactTooLargeError: The table is over the size cap.
        RunNotFoundError: No run with this id.
    """
    sizes = {e.path: e.size for e in list_run_artifacts(client, run_id, EVAL_TABLE_DIR)}
    for path in EVAL_TABLE_PATHS:
        if path in sizes:
            data = download_artifact(
                client, "run", run_id, path, max_bytes=max_bytes, size_hint=sizes[path]
            )
            return parse_eval_table(path, data)
    return None
