"""The evidence bundle: everything the gate read about a candidate and its baseline.

These models are the contract between `tools/` (which fills them from MLflow), `policies/` (which
evaluates them) and `agents/` (which investigates and decides). Everything in them is data read from
untrusted places: descriptions, tags, params and artifact contents are never instructions.
"""

from __future__ import annotations

import hashlib
import json
import uuid
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Final, Literal, TypeVar, cast

from pydantic import BaseModel, ConfigDict, Field

from tools.artifact_scan import ArtifactScan
from tools.plausibility_models import FeatureImportances, VersionHistory

__all__ = [
    "ArtifactFile",
    "DatasetInput",
    "EvalTable",
    "EvidenceBundle",
    "EvidenceGap",
    "EvidenceOrigin",
    "LoggedModelEvidence",
    "LoggedModelMetric",
    "MetricPoint",
    "RunEvidence",
    "SafetySuiteResult",
    "VersionEvidence",
    "canonical_digest",
    "canonical_json",
]

EvidenceSource = Literal[
    "registry",
    "run",
    "metric_history",
    "logged_model",
    "datasets",
    "artifacts",
    "eval_table",
    "pipeline_config",
    "safety",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class MetricPoint(_Frozen):
    """One point of a metric history."""

    step: int
    value: float
    timestamp: int = 0


class LoggedModelMetric(_Frozen):
    """A metric logged on an MLflow 3 logged model, with the dataset it was computed on."""

    key: str
    value: float
    step: int = 0
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LoggedModelEvidence(_Frozen):
    """The MLflow 3 logged model behind a model version (`models:/m-...`)."""

    model_id: str
    name: str | None = None
    flavors: list[str] = Field(default_factory=list)
    signature: dict[str, Any] | None = None
    metrics: list[LoggedModelMetric] = Field(default_factory=list)
    params: dict[str, str] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class DatasetInput(_Frozen):
    """A dataset logged with `mlflow.log_input`, and the context it was used in."""

    name: str
    digest: str
    context: str | None = None
    source_type: str | None = None
    source: str | None = None
    num_rows: int | None = None


class ArtifactFile(_Frozen):
    """A small text artifact read in full (requirements, MLmodel, pipeline configs)."""

    path: str
    owner: Literal["run", "logged_model"]
    content: str
    pipeline_config: bool = Field(
        default=False,
        description="Read as a pipeline config although it is outside the conventional places "
        "(chosen by an evidence mapping or found by content).",
    )


_DERIVED_MEMO: Final = "_derived_memo"
_T = TypeVar("_T")


class EvalTable(_Frozen):
    """A per-example evaluation table: one row per evaluation example.

    Columns follow the documented convention: `label`, `prediction` and/or `score`, an optional
    `row_id` for pairing two models' rows, and segment columns (any other string column).
    """

    path: str
    columns: list[str]
    rows: list[list[Any]]

    def canonical_json(self) -> str:
        """The table's canonical JSON, as it stands in its bundle's."""
        return canonical_json(self.model_dump(mode="json"))

    def derived(self, key: Hashable, compute: Callable[[], _T]) -> _T:
        """What `compute` derives from this table's content, computed once per table and key.

        A table is parsed once and shared (the champion's by every candidate compared with it),
        and a review asks for the same few columns and groupings dozens of times. The answer is
        shared too: callers must not change it. The memo sits outside the fields (not compared,
        dumped or hashed) and names the `columns` and `rows` it was made from, so a copy with
        other columns or rows (`model_copy(update=...)` copies the memo) makes its own.

        Args:
            key: What is derived, e.g. ``("column", "label")``.
            compute: Derives it from `columns` and `rows` alone.
        """
        memo = self.__dict__.get(_DERIVED_MEMO)
        if memo is None or memo[0] is not self.columns or memo[1] is not self.rows:
            memo = (self.columns, self.rows, {})
            self.__dict__[_DERIVED_MEMO] = memo
        kept: dict[Hashable, Any] = memo[2]
        if key not in kept:
            kept[key] = compute()
        return cast(_T, kept[key])

    def column(self, name: str) -> list[Any]:
        """The values of column `name`, in row order (a new list, which the caller may change).

        Raises:
            ValueError: No such column.
        """
        idx = self.columns.index(name)
        return list(self.derived(("column", name), lambda: [row[idx] for row in self.rows]))


class SafetySuiteResult(_Frozen):
    """Summary of one safety suite run against this version (filled from `safety/<suite>/...`)."""

    suite: str
    cases: int
    failures: int
    errors: int = 0
    attack_success_rate: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    failing_cases: list[dict[str, Any]] = Field(default_factory=list)
    artifact_path: str | None = None


class RunEvidence(_Frozen):
    """The source run of a model version."""

    run_id: str
    experiment_id: str
    status: str
    lifecycle_stage: str = "active"
    run_name: str | None = None
    description: str | None = None
    start_time: int | None = None
    end_time: int | None = None
    params: dict[str, str] = Field(default_factory=dict)
    metrics: dict[str, float] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)


class EvidenceGap(_Frozen):
    """Evidence that could not be gathered, and why. A gap is never read as a pass."""

    source: EvidenceSource
    message: str
    how_to_fix: str | None = None
    unavailable: bool = Field(
        default=False,
        description="True when MLflow failed or timed out, not when evidence was never logged.",
    )


class EvidenceOrigin(_Frozen):
    """Where one piece of evidence was read from, and how promogate knew to look there."""

    kind: Literal[
        "eval_table",
        "evaluation_dataset",
        "training_dataset",
        "pipeline_config",
        "segment_metrics",
        "metric_alias",
    ]
    source: str = Field(description="The artifact path, dataset or metric key it came from.")
    how: Literal["convention", "mapping", "discovery"]
    detail: str = ""


class VersionEvidence(_Frozen):
    """Everything gathered about one model version."""

    model: str
    version: int
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    source: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    creation_timestamp: int | None = None
    run: RunEvidence | None = None
    metric_histories: dict[str, list[MetricPoint]] = Field(default_factory=dict)
    logged_model: LoggedModelEvidence | None = None
    datasets: list[DatasetInput] = Field(default_factory=list)
    artifacts: list[ArtifactFile] = Field(default_factory=list)
    artifact_paths: list[str] = Field(default_factory=list)
    eval_table: EvalTable | None = None
    safety: dict[str, SafetySuiteResult] = Field(default_factory=dict)
    gaps: list[EvidenceGap] = Field(default_factory=list)
    # Read only when a policy has a `security:` section; left out of dumps (and so of the
    # evidence digest) when absent, so digests of reviews without one are unchanged.
    artifact_scan: ArtifactScan | None = Field(default=None, exclude_if=lambda v: v is None)
    origins: list[EvidenceOrigin] = Field(default_factory=list)
    # What the logged model says about its inputs (read by the plausibility questions through a
    # loader that never unpickles); left out of dumps when it was not read, like artifact_scan.
    feature_importances: FeatureImportances | None = Field(
        default=None, exclude_if=lambda v: v is None
    )

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    def metric(self, name: str) -> float | None:
        """The metric's latest value: the run's metric first, else the logged model's."""
        if self.run is not None and name in self.run.metrics:
            return self.run.metrics[name]
        if self.logged_model is not None:
            for m in self.logged_model.metrics:
                if m.key == name:
                    return m.value
        return None

    def datasets_in(self, context: str) -> list[DatasetInput]:
        return [d for d in self.datasets if d.context == context]

    def artifact(self, path: str) -> ArtifactFile | None:
        for a in self.artifacts:
            if a.path == path:
                return a
        return None


def canonical_json(payload: Any) -> str:
    """The canonical JSON form of `payload` (sorted keys, no whitespace)."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)


def canonical_digest(payload: Any) -> str:
    """SHA-256 of the canonical JSON form of `payload` (sorted keys, no whitespace)."""
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def _remembered(memo: dict[int, str], owner: object, compute: Callable[[], str]) -> str:
    """`compute()` kept for as long as `owner` lives: `owner` is frozen, so the value is fixed.

    Kept outside the model: `model_copy(update=...)` copies a model's own attributes, so a copy
    with other content would inherit the old value. An entry leaves when its owner is collected,
    before its id can be reused.
    """
    found = memo.get(id(owner))
    if found is None:
        found = compute()
        memo[id(owner)] = found
        weakref.finalize(owner, memo.pop, id(owner), None)
    return found


# Digests of live bundles by object id: a review asks for one several times (screening,
# investigation, decision), and each dump of the evidence costs as much as reading part of it.
_DIGESTS: dict[int, str] = {}
# Canonical JSON of live evaluation tables by object id. The tables are nine tenths of a
# bundle's JSON, and a parsed table is shared by every bundle that read the same bytes
# (`tools.discovery.TABLE_CACHE`): the champion's by every candidate compared with it.
_TABLE_TEXTS: dict[int, str] = {}
# Stands for a table in a bundle's dump until the table's text is put in its place; the random
# part keeps evidence text from ever holding it (it is checked for anyway).
_TABLE_SLOT = f"promogate-eval-table-{uuid.uuid4().hex}"


class EvidenceBundle(_Frozen):
    """The candidate's and the baseline's evidence, as one hashable object."""

    candidate: VersionEvidence
    baseline: VersionEvidence | None = None
    baseline_alias: str | None = "champion"
    target_alias: str = "champion"
    # The candidate's model's earlier versions and their metrics (plausibility questions); left
    # out of dumps when it was not read.
    version_history: VersionHistory | None = Field(default=None, exclude_if=lambda v: v is None)

    def unavailable_gaps(self) -> list[EvidenceGap]:
        """Gaps caused by MLflow failing or timing out while the evidence was read."""
        versions = [self.candidate] + ([self.baseline] if self.baseline is not None else [])
        return [gap for version in versions for gap in version.gaps if gap.unavailable]

    @property
    def digest(self) -> str:
        """Content digest: the same evidence always gives the same digest."""
        return _remembered(_DIGESTS, self, self._digest)

    def _digest(self) -> str:
        sides = {"candidate": self.candidate, "baseline": self.baseline}
        tables = {
            name: side.eval_table
            for name, side in sides.items()
            if side is not None and side.eval_table is not None
        }
        payload = self.model_dump(
            mode="json", exclude={name: {"eval_table"} for name in tables} or None
        )
        for name in tables:
            payload[name]["eval_table"] = f"{_TABLE_SLOT}-{name}"
        text = canonical_json(payload)
        # The same text `canonical_json(self.model_dump(mode="json"))` gives: a dict's canonical
        # JSON is its keys' and values' canonical JSON side by side, so a table's own is spliced
        # in where its placeholder was.
        for name, table in tables.items():
            slot = json.dumps(f"{_TABLE_SLOT}-{name}")
            if text.count(slot) != 1:
                return canonical_digest(self.model_dump(mode="json"))
            text = text.replace(slot, _remembered(_TABLE_TEXTS, table, table.canonical_json), 1)
        return hashlib.sha256(text.encode()).hexdigest()
