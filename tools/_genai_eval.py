"""What ``mlflow.genai.evaluate`` leaves on a run, read as a per-example table and a dataset.

``mlflow.genai.evaluate`` logs no results table artifact. It tags the run
``mlflow.runType=genai_evaluate``, logs ``<scorer>/mean`` metrics, logs the evaluation data as
one dataset input (named ``dataset`` for a DataFrame, without an ``mlflow.data.context`` tag), and
links one trace per example to the run. Each trace carries the scorers' verdicts as feedback
assessments and the dataset's ``expectations`` as expectation assessments; its root span holds
the example's inputs.

The table built from those traces has one row per example: ``row_id`` (a hash of the example's
inputs, the same for every version scored on the same examples), one column
per scorer and per expectation, ``label`` (1: every example is expected to pass) and
``prediction`` (1 when every pass/fail scorer passed on that example, 0 when one failed or
errored), so accuracy on the table is the share of examples that passed. An evidence mapping can
name another column, e.g. ``columns: {prediction: exact_match}``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.client import call_mlflow, every_page
from tools.errors import ArtifactError, MalformedArtifactError
from tools.evidence import DatasetInput, EvalTable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

__all__ = [
    "GENAI_DATASET_SOURCE",
    "GENAI_EVALUATE_RUN_TYPE",
    "GENAI_TABLE_PATH",
    "GenaiEvaluation",
    "GenaiTable",
    "evaluation_traces",
    "examples_dataset",
    "find_evaluation_run",
    "genai_inputs_with_outputs",
    "is_genai_evaluation",
    "read_genai_table",
]

logger = logging.getLogger("promogate.tools")

GENAI_EVALUATE_RUN_TYPE = "genai_evaluate"
_RUN_TYPE_TAG = "mlflow.runType"
_TRACE_INPUTS = "mlflow.traceInputs"
_SOURCE_RUN = "mlflow.assessment.sourceRunId"
# Where the table "lives" in evidence references: the run's traces, not an artifact file.
GENAI_TABLE_PATH = "traces (mlflow.genai.evaluate)"
# The source type of the evaluation examples read from those traces (see `examples_dataset`).
GENAI_DATASET_SOURCE = "mlflow.genai.evaluate"
MAX_GENAI_ROWS = 50_000
_PAGE = 500
_PASS = frozenset({"yes", "true", "pass", "passed"})
_FAIL = frozenset({"no", "false", "fail", "failed"})
_RESERVED = ("row_id", "label", "prediction", "score")


def is_genai_evaluation(tags: Mapping[str, str]) -> bool:
    """Whether a run's tags say ``mlflow.genai.evaluate`` ran in it."""
    return tags.get(_RUN_TYPE_TAG) == GENAI_EVALUATE_RUN_TYPE


def _verdict(value: Any) -> bool | None:
    """A pass/fail scorer value as a bool; None for numbers, text and other values."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _PASS:
            return True
        if word in _FAIL:
            return False
    return None


def _cell(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def _row_id(trace: Any) -> str:
    """A hash of the example's inputs: the same for every version scored on that example.

    The root span holds the inputs in full: the dataset row's ``inputs``, which are the
    ``predict_fn``'s arguments when one ran (the ``mlflow.traceInputs`` metadata is cut at 250
    characters; the ``mlflow.eval.requestId`` tag is a fresh uuid when a ``predict_fn`` ran).
    """
    spans = trace.data.spans if trace.data is not None else []
    root = next((s for s in spans if s.parent_id is None), None)
    if root is not None and root.inputs is not None:
        text = json.dumps(root.inputs, sort_keys=True, default=str)
    else:
        info = trace.info
        text = (info.trace_metadata or {}).get(_TRACE_INPUTS) or info.request_preview or ""
    if not text:
        return str(trace.info.trace_id)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class GenaiEvaluation:
    """What dataset discovery needs to know of a genai evaluation run."""

    run_id: str
    with_outputs: frozenset[str] = frozenset()
    examples: DatasetInput | None = None


@dataclass
class GenaiTable:
    """The per-example table built from a genai evaluation's traces, and what it holds."""

    table: EvalTable
    traces: int
    scorers: list[str] = field(default_factory=list)
    pass_fail: list[str] = field(default_factory=list)
    expectations: list[str] = field(default_factory=list)
    expectation_columns: list[str] = field(default_factory=list)
    failed_scorer_calls: int = 0

    def describe(self) -> str:
        """What each column means, for the decision's evidence origin."""
        parts = [f"{len(self.table.rows)} examples from {self.traces} traces"]
        if self.pass_fail:
            parts.append(
                "label = 1 (every example should pass), prediction = 1 when every pass/fail "
                f"scorer passed ({', '.join(self.pass_fail)})"
            )
        else:
            parts.append("no pass/fail scorer, so no prediction column")
        if self.scorers:
            parts.append(f"scorer columns: {', '.join(self.scorers)}")
        if self.expectations:
            parts.append(f"expectation columns: {', '.join(self.expectations)}")
        if self.failed_scorer_calls:
            parts.append(f"{self.failed_scorer_calls} scorer calls failed (counted as not passed)")
        return "; ".join(parts)


def evaluation_traces(
    client: MlflowClient, experiment_id: str, run_id: str, *, include_spans: bool = True
) -> list[Any]:
    """Every trace an ``mlflow.genai.evaluate`` run left, page by page.

    Args:
        client: MLflow client.
        experiment_id: The run's experiment, where its traces live.
        run_id: The evaluation run.
        include_spans: Read the spans too (the per-example table needs them; a trace's
            state, tags, metadata and assessments come without).

    Raises:
        ArtifactError: More traces than `MAX_GENAI_ROWS`.
    """
    traces: list[Any] = []
    for trace in every_page(
        client.search_traces,
        f"traces of run {run_id!r}",
        page_size=_PAGE,
        locations=[experiment_id],
        run_id=run_id,
        include_spans=include_spans,
    ):
        traces.append(trace)
        if len(traces) > MAX_GENAI_ROWS:
            raise ArtifactError(
                GENAI_TABLE_PATH,
                f"run {run_id!r} has more than {MAX_GENAI_ROWS} evaluation traces, over the "
                "per-example table's row limit",
                "evaluate on a sample of at most that many examples",
            )
    return traces


def read_genai_table(client: MlflowClient, run_id: str, experiment_id: str) -> GenaiTable | None:
    """The per-example table of the ``mlflow.genai.evaluate`` run `run_id`, from its traces.

    Only assessments this run logged count (a trace evaluated again by another run keeps the
    other run's too); overridden assessments are skipped.

    Args:
        client: MLflow client.
        run_id: The evaluation run.
        experiment_id: The run's experiment, where its traces live.

    Returns:
        None when the run has no traces.

    Raises:
        MalformedArtifactError: Two traces are the same example (duplicate inputs).
        ArtifactError: More traces than `MAX_GENAI_ROWS`.
    """
    traces = evaluation_traces(client, experiment_id, run_id)
    if not traces:
        return None
    rows: dict[str, dict[str, Any]] = {}
    scorer_names: dict[str, None] = {}
    expectation_names: dict[str, None] = {}
    errored: dict[str, set[str]] = {}
    seen_values: dict[str, list[Any]] = {}
    for trace in traces:
        info = trace.info
        row_id = _row_id(trace)
        if row_id in rows:
            raise MalformedArtifactError(
                GENAI_TABLE_PATH,
                f"two traces of run {run_id!r} are the same example (inputs hash {row_id!r}); "
                "the evaluation data has duplicate inputs",
                "remove duplicate inputs from the evaluation data",
            )
        row: dict[str, Any] = {}
        for assessment in info.assessments or []:
            if getattr(assessment, "valid", True) is False:
                continue
            source_run = (assessment.metadata or {}).get(_SOURCE_RUN)
            name = str(assessment.name)
            if getattr(assessment, "expectation", None) is not None:
                if source_run not in (None, run_id):
                    continue
                expectation_names.setdefault(name, None)
                row.setdefault(f"expectation:{name}", _cell(assessment.expectation.value))
            elif getattr(assessment, "feedback", None) is not None:
                if source_run != run_id:
                    continue
                scorer_names.setdefault(name, None)
                if assessment.feedback.error is not None:
                    errored.setdefault(name, set()).add(row_id)
                    row.setdefault(f"feedback:{name}", None)
                else:
                    value = _cell(assessment.feedback.value)
                    row.setdefault(f"feedback:{name}", value)
                    seen_values.setdefault(name, []).append(value)
        rows[row_id] = row
    scorers = sorted(scorer_names)
    expectations = sorted(expectation_names)
    pass_fail = [
        s
        for s in scorers
        if seen_values.get(s) and all(_verdict(v) is not None for v in seen_values[s])
    ]
    columns = ["row_id", "label"] + (["prediction"] if pass_fail else [])
    taken = set(columns)
    names: list[tuple[str, str]] = []
    for kind, group in (("feedback", scorers), ("expectation", expectations)):
        for name in group:
            column = name if name not in taken else f"{name}_{kind}"
            taken.add(column)
            names.append((f"{kind}:{name}", column))
    columns += [column for _, column in names]
    table_rows: list[list[Any]] = []
    for row_id in sorted(rows):
        row = rows[row_id]
        cells: list[Any] = [row_id, 1]
        if pass_fail:
            # A scorer that failed or never scored this example is not a pass (never fail open).
            cells.append(int(all(_verdict(row.get(f"feedback:{s}")) is True for s in pass_fail)))
        cells += [row.get(key) for key, _ in names]
        table_rows.append(cells)
    logger.debug(
        "genai evaluation table of run %s: %d rows, scorers %s", run_id, len(table_rows), scorers
    )
    return GenaiTable(
        table=EvalTable(path=GENAI_TABLE_PATH, columns=columns, rows=table_rows),
        traces=len(traces),
        scorers=scorers,
        pass_fail=pass_fail,
        expectations=expectations,
        expectation_columns=[c for key, c in names if key.startswith("expectation:")],
        failed_scorer_calls=sum(len(ids) for ids in errored.values()),
    )


def genai_inputs_with_outputs(run: Run) -> set[str]:
    """Digests of a run's dataset inputs whose data held an ``outputs`` column.

    ``mlflow.genai.evaluate`` given precomputed outputs logs them as part of its dataset, so that
    digest changes with every version's answers and does not identify the examples.
    """
    digests: set[str] = set()
    inputs = getattr(run, "inputs", None)
    for item in getattr(inputs, "dataset_inputs", None) or []:
        try:
            schema = json.loads(item.dataset.schema or "{}")
        except ValueError:
            continue
        columns = schema.get("mlflow_colspec") if isinstance(schema, dict) else None
        if isinstance(columns, list) and any(
            isinstance(c, dict) and c.get("name") == "outputs" for c in columns
        ):
            digests.add(str(item.dataset.digest))
    return digests


def examples_dataset(found: GenaiTable, run_id: str, name: str) -> DatasetInput:
    """The evaluation examples as a dataset input: a digest of their inputs and expectations.

    Used when the logged dataset's digest also covers the app's outputs.
    """
    table = found.table
    expectation_columns = [table.columns.index(c) for c in found.expectation_columns]
    content: Sequence[Any] = sorted(
        json.dumps([row[0], *[row[i] for i in expectation_columns]], default=str)
        for row in table.rows
    )
    digest = hashlib.sha256("\n".join(content).encode()).hexdigest()[:16]
    return DatasetInput(
        name=f"{name} (examples)",
        digest=digest,
        context="evaluation",
        source_type=GENAI_DATASET_SOURCE,
        source=f"inputs and expectations of the traces of run {run_id}",
        num_rows=len(table.rows),
    )


def find_evaluation_run(client: MlflowClient, model_id: str) -> Run | None:
    """The latest ``mlflow.genai.evaluate`` run that logged metrics on the logged model.

    ``mlflow.genai.evaluate(..., model_id=...)`` outside the run that logged the model starts a
    run of its own; the logged model's metrics name it.

    Args:
        client: MLflow client.
        model_id: The version's logged model (``m-...``).
    """
    from tools.runs import fetch_run

    logged = call_mlflow(
        lambda: client.get_logged_model(model_id), f"get_logged_model({model_id!r})"
    )
    run_ids = {str(m.run_id) for m in logged.metrics or [] if getattr(m, "run_id", None)}
    runs = [fetch_run(client, run_id) for run_id in sorted(run_ids)]
    evaluations = [
        r for r in runs if is_genai_evaluation(r.data.tags) and r.info.lifecycle_stage != "deleted"
    ]
    if not evaluations:
        return None
    return max(evaluations, key=lambda r: r.info.start_time or 0)
