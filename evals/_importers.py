"""Import external safety datasets (CSV, JSONL or JSON) into suites.

Supported column layouts:

- AdvBench (`goal,target`): harmful requests; the model must refuse.
- HarmBench (`Behavior,FunctionalCategory,SemanticCategory,Tags,ContextString,BehaviorID`):
  harmful behaviours; `ContextString` becomes the case context. Copyright behaviours need a
  reproduction check rather than a refusal judge, so they are skipped unless asked for.
- XSTest (`id,prompt,type,label,focus,note`): `safe` prompts become over-refusal cases (the model
  must answer), `unsafe` prompts refusal cases.
- JailbreakBench (`Index,Goal,Target,Behavior,Category,Source`): the harmful behaviours (refuse) or
  the benign ones (answer).

Column names are matched case-insensitively. Errors name the file and the line. The imported
suite's version is a digest of the file, so results say exactly which data they came from.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from evals.errors import DatasetImportError
from evals.suite import Case, Suite, SuiteCategory, SuiteHeader, SuiteThresholds, save_suite

__all__ = [
    "DATASET_COLUMNS",
    "DatasetFormat",
    "JailbreakBenchSplit",
    "Record",
    "XSTestSplit",
    "detect_format",
    "import_advbench",
    "import_dataset",
    "import_harmbench",
    "import_jailbreakbench",
    "import_xstest",
    "read_records",
    "write_suite",
]

logger = logging.getLogger("promogate.evals")

DatasetFormat = Literal["advbench", "harmbench", "xstest", "jailbreakbench"]
XSTestSplit = Literal["safe", "unsafe", "all"]
JailbreakBenchSplit = Literal["harmful", "benign"]

# The columns that identify each layout (lower case); other columns are allowed and ignored.
DATASET_COLUMNS: dict[DatasetFormat, frozenset[str]] = {
    "harmbench": frozenset({"behavior", "functionalcategory", "semanticcategory", "behaviorid"}),
    "jailbreakbench": frozenset({"goal", "target", "behavior", "category"}),
    "xstest": frozenset({"id", "prompt", "type", "label"}),
    "advbench": frozenset({"goal", "target"}),
}

Record = tuple[int | None, dict[str, str]]
"""A data row: its line number in the file (None for JSON arrays) and its lower-cased columns."""

write_suite = save_suite


def _clean_row(raw: dict[Any, Any]) -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in raw.items():
        if key is None:
            continue  # csv puts surplus fields under None
        row[str(key).strip().lower()] = "" if value is None else str(value)
    return row


def read_records(path: Path) -> list[Record]:
    """Read a CSV, JSONL or JSON-array file into rows with their line numbers.

    Args:
        path: The dataset file; the format follows the suffix (`.csv`, `.jsonl`, `.json`).

    Raises:
        DatasetImportError: The file is missing, unreadable or malformed.
    """
    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DatasetImportError("dataset file not found", path=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetImportError(f"cannot read dataset: {exc}", path=path) from exc
    records: list[Record] = []
    if suffix == ".csv":
        reader = csv.DictReader(text.splitlines(keepends=True))
        start = 2
        try:
            for raw in reader:
                records.append((start, _clean_row(raw)))
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DatasetImportError(
                f"invalid CSV: {exc}", path=path, line=reader.line_num
            ) from exc
        if reader.fieldnames is None:
            raise DatasetImportError("empty CSV file (no header row)", path=path, line=1)
    elif suffix == ".jsonl":
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetImportError(
                    f"invalid JSON: {exc.msg} (column {exc.colno})", path=path, line=number
                ) from exc
            if not isinstance(data, dict):
                raise DatasetImportError(
                    f"a row must be a JSON object, got {type(data).__name__}",
                    path=path,
                    line=number,
                )
            records.append((number, _clean_row(data)))
    elif suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DatasetImportError(
                f"invalid JSON: {exc.msg}", path=path, line=exc.lineno
            ) from exc
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise DatasetImportError("a JSON dataset must be an array of objects", path=path)
        records = [(None, _clean_row(d)) for d in data]
    else:
        raise DatasetImportError(
            f"unsupported dataset suffix {suffix!r}; expected .csv, .jsonl or .json", path=path
        )
    if not records:
        raise DatasetImportError("the dataset has no rows", path=path)
    return records


def detect_format(columns: Iterable[str]) -> DatasetFormat | None:
    """The dataset layout whose identifying columns are all present, most specific first.

    Args:
        columns: Column names (any case).
    """
    present = {c.strip().lower() for c in columns}
    for name, required in DATASET_COLUMNS.items():
        if required <= present:
            return name
    return None


def _require(records: list[Record], path: Path, columns: Iterable[str]) -> None:
    line, first = records[0]
    missing = sorted(set(columns) - set(first))
    if missing:
        raise DatasetImportError(
            f"missing columns {missing!r}; found {sorted(first)!r}",
            path=path,
            line=1 if path.suffix.lower() == ".csv" else line,
        )


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.").lower() or "dataset"


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _build(
    path: Path,
    *,
    name: str,
    category: SuiteCategory,
    detector: str,
    description: str,
    numbered: list[tuple[int | None, dict[str, Any]]],
) -> Suite:
    cases: list[Case] = []
    seen: dict[str, int | None] = {}
    for line, data in numbered:
        try:
            case = Case.model_validate(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise DatasetImportError(f"{where}: {err['msg']}", path=path, line=line) from exc
        if case.id in seen:
            raise DatasetImportError(
                f"duplicate case id {case.id!r} (first on line {seen[case.id]})",
                path=path,
                line=line,
            )
        seen[case.id] = line
        cases.append(case)
    if not cases:
        raise DatasetImportError("no cases left after filtering", path=path)
    try:
        header = SuiteHeader(
            name=name,
            version=_digest(path),
            category=category,
            target_kind="llm",
            detector=detector,
            description=description,
            thresholds=SuiteThresholds(),
        )
    except ValidationError as exc:
        raise DatasetImportError(
            f"invalid suite header: {exc.errors()[0]['msg']}", path=path
        ) from exc
    logger.info("imported %d cases from %s as suite %s", len(cases), path.name, name)
    return Suite(header=header, cases=cases, path=str(path))


def _prompt(row: dict[str, str], column: str, path: Path, line: int | None) -> str:
    value = row.get(column, "").strip()
    if not value:
        raise DatasetImportError(f"empty {column!r}", path=path, line=line)
    return value


def import_advbench(path: Path, *, name: str | None = None) -> Suite:
    """Import an AdvBench `harmful_behaviors` file (`goal,target`): the model must refuse.

    Args:
        path: The CSV/JSONL/JSON file.
        name: Suite name; `advbench-<file stem>` by default.

    Raises:
        DatasetImportError: Missing columns, empty prompts or malformed rows (with the line).
    """
    records = read_records(path)
    _require(records, path, ("goal", "target"))
    numbered: list[tuple[int | None, dict[str, Any]]] = []
    for index, (line, row) in enumerate(records, start=1):
        numbered.append(
            (
                line,
                {
                    "id": f"advbench-{index:04d}",
                    "prompt": _prompt(row, "goal", path, line),
                    "expected": {"refuse": True, "target": row.get("target", "").strip()},
                    "tags": ["advbench"],
                },
            )
        )
    return _build(
        path,
        name=name or _slug(f"advbench-{path.stem}"),
        category="harmful_content",
        detector="refusal",
        description=f"Imported from {path.name} (AdvBench layout); the model must refuse.",
        numbered=numbered,
    )


def import_harmbench(
    path: Path,
    *,
    name: str | None = None,
    functional_categories: Iterable[str] = ("standard", "contextual"),
) -> Suite:
    """Import a HarmBench behaviours file: the model must refuse each behaviour.

    Args:
        path: The CSV/JSONL/JSON file.
        name: Suite name; `harmbench-<file stem>` by default.
        functional_categories: `FunctionalCategory` values to keep. Copyright behaviours are
            left out by default: a refusal judge cannot tell whether lyrics were reproduced.

    Raises:
        DatasetImportError: Missing columns, empty behaviours or duplicate ids (with the line).
    """
    records = read_records(path)
    _require(records, path, ("behavior", "functionalcategory", "semanticcategory", "behaviorid"))
    keep = {c.lower() for c in functional_categories}
    numbered: list[tuple[int | None, dict[str, Any]]] = []
    for line, row in records:
        functional = row.get("functionalcategory", "").strip().lower()
        if functional not in keep:
            continue
        tags = [functional, row.get("semanticcategory", "").strip()]
        tags += [t.strip() for t in row.get("tags", "").split(",") if t.strip()]
        context = row.get("contextstring", "").strip() or None
        numbered.append(
            (
                line,
                {
                    "id": row.get("behaviorid", "").strip() or f"harmbench-{len(numbered) + 1:04d}",
                    "prompt": _prompt(row, "behavior", path, line),
                    "context": context,
                    "expected": {"refuse": True},
                    "tags": [t for t in tags if t],
                },
            )
        )
    return _build(
        path,
        name=name or _slug(f"harmbench-{path.stem}"),
        category="harmful_content",
        detector="refusal",
        description=(
            f"Imported from {path.name} (HarmBench layout; functional categories "
            f"{', '.join(sorted(keep))}); the model must refuse."
        ),
        numbered=numbered,
    )


def import_xstest(path: Path, *, name: str | None = None, split: XSTestSplit = "safe") -> Suite:
    """Import XSTest prompts: safe prompts must be answered, unsafe ones refused.

    Args:
        path: `xstest_prompts.csv` or the same columns as JSONL/JSON.
        name: Suite name; `xstest-<split>` by default.
        split: `safe` (an over-refusal suite), `unsafe` (a refusal suite) or `all` (an
            over-refusal suite whose unsafe cases expect a refusal; each case says which).

    Raises:
        DatasetImportError: Missing columns or a `label` other than safe/unsafe (with the line).
    """
    records = read_records(path)
    _require(records, path, ("id", "prompt", "type", "label"))
    numbered: list[tuple[int | None, dict[str, Any]]] = []
    for line, row in records:
        label = row.get("label", "").strip().lower()
        if label not in {"safe", "unsafe"}:
            raise DatasetImportError(
                f"label must be 'safe' or 'unsafe', got {row.get('label')!r}", path=path, line=line
            )
        if split != "all" and label != split:
            continue
        tags = [t for t in (row.get("type", "").strip(), row.get("focus", "").strip(), label) if t]
        numbered.append(
            (
                line,
                {
                    "id": f"xstest-{row.get('id', '').strip() or len(numbered) + 1}",
                    "prompt": _prompt(row, "prompt", path, line),
                    "expected": {"refuse": label == "unsafe"},
                    "tags": tags,
                },
            )
        )
    unsafe_only = split == "unsafe"
    return _build(
        path,
        name=name or f"xstest-{split}",
        category="harmful_content" if unsafe_only else "over_refusal",
        detector="refusal" if unsafe_only else "over_refusal",
        description=(
            f"Imported from {path.name} (XSTest layout, split {split!r}); safe prompts must be "
            "answered, unsafe prompts refused."
        ),
        numbered=numbered,
    )


def import_jailbreakbench(
    path: Path, *, name: str | None = None, split: JailbreakBenchSplit | None = None
) -> Suite:
    """Import JailbreakBench behaviours (`Index,Goal,Target,Behavior,Category,Source`).

    Args:
        path: The CSV/JSONL/JSON file.
        name: Suite name; `jbb-<split>` by default.
        split: `harmful` (the model must refuse) or `benign` (it must answer). When omitted, a
            file whose name contains "benign" is the benign split, any other the harmful one.

    Raises:
        DatasetImportError: Missing columns, empty goals or duplicate indices (with the line).
    """
    records = read_records(path)
    _require(records, path, ("goal", "target", "behavior", "category"))
    chosen: JailbreakBenchSplit = split or (
        "benign" if "benign" in path.name.lower() else "harmful"
    )
    benign = chosen == "benign"
    numbered: list[tuple[int | None, dict[str, Any]]] = []
    for position, (line, row) in enumerate(records, start=1):
        index = row.get("index", "").strip() or str(position)
        tags = [row.get(c, "").strip() for c in ("category", "behavior", "source")]
        numbered.append(
            (
                line,
                {
                    "id": f"jbb-{chosen}-{index}",
                    "prompt": _prompt(row, "goal", path, line),
                    "expected": {"refuse": not benign, "target": row.get("target", "").strip()},
                    "tags": [t for t in tags if t],
                },
            )
        )
    return _build(
        path,
        name=name or f"jbb-{chosen}",
        category="over_refusal" if benign else "harmful_content",
        detector="over_refusal" if benign else "refusal",
        description=(
            f"Imported from {path.name} (JailbreakBench layout, {chosen} behaviours); the model "
            f"must {'answer' if benign else 'refuse'}."
        ),
        numbered=numbered,
    )


def import_dataset(
    path: Path,
    *,
    dataset_format: DatasetFormat | None = None,
    name: str | None = None,
) -> Suite:
    """Import a dataset in any supported layout, detected from its columns when not given.

    Args:
        path: The CSV/JSONL/JSON file.
        dataset_format: `advbench`, `harmbench`, `xstest` or `jailbreakbench`; detected when
            omitted (XSTest imports its safe split, JailbreakBench picks its split by file name).
        name: Suite name; derived from the layout and file when omitted.

    Raises:
        DatasetImportError: The layout cannot be recognised, or the file does not validate.
    """
    chosen = dataset_format
    if chosen is None:
        records = read_records(path)
        chosen = detect_format(records[0][1])
        if chosen is None:
            raise DatasetImportError(
                f"cannot recognise the dataset layout from columns {sorted(records[0][1])!r}; "
                f"expected one of: "
                + "; ".join(f"{k} ({', '.join(sorted(v))})" for k, v in DATASET_COLUMNS.items()),
                path=path,
                line=1,
            )
    if chosen == "advbench":
        return import_advbench(path, name=name)
    if chosen == "harmbench":
        return import_harmbench(path, name=name)
    if chosen == "xstest":
        return import_xstest(path, name=name)
    return import_jailbreakbench(path, name=name)
