"""What a decision page shows, assembled from the recorded decision, the ledger and MLflow.

The decision itself comes from the ledger, as recorded. MLflow is read only for what the decision
does not hold: the source runs of the two versions (for links) and the metric histories the review
read. When MLflow cannot be reached the page still renders the decision and says what it could not
show.
"""

from __future__ import annotations

import logging
import math
import re
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from pydantic import BaseModel, ConfigDict, Field

from api.pages._charts import HistorySeries, SegmentBar, history_chart, segment_chart
from api.pages._history import HistoryEntry, model_history
from api.pages._links import Link, MlflowLinks, check_anchor
from ledger.records import WatchRecord
from ledger.store import Ledger
from policies.decision import Decision, Finding
from policies.result import CheckResult
from tools.errors import ToolError
from tools.runs import LOSS_LIKE_KEYS, read_metric_history, read_run

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["CheckRow", "DecisionView", "build_decision_view", "is_planted_finding"]

logger = logging.getLogger("promogate.api")

_HISTORY_REF = re.compile(r"/metric_history/([^/]+)$")
_MAX_HISTORIES = 4
_STATUS_RANK = {"fail": 0, "error": 1, "warn": 2, "pass": 3, "skip": 4}


class CheckRow(BaseModel):
    """One check as the page's table shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    check: CheckResult
    anchor: str
    evidence: list[Link]
    overridden_by: list[str] = Field(default_factory=list)


class DecisionView(BaseModel):
    """Everything the decision template needs."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    decision: Decision
    rows: list[CheckRow]
    status_counts: dict[str, int]
    segment_charts: list[Markup]
    history_charts: list[Markup]
    findings: list[Finding]
    overrides: list[HistoryEntry]
    candidate_links: list[Link]
    baseline_links: list[Link]
    notes: list[str] = Field(default_factory=list)
    watch: list[WatchRecord] = Field(
        default_factory=list, description="Monitoring windows whose alert reopened this decision."
    )

    @property
    def failing(self) -> list[CheckRow]:
        return [r for r in self.rows if r.check.status in ("fail", "error")]


def is_planted_finding(finding: Finding) -> bool:
    """Whether the finding quotes text planted in the evidence (shown as quoted data)."""
    return "planted" in finding.title.lower()


def _segment_charts(checks: list[CheckResult]) -> list[Markup]:
    groups: dict[tuple[str, str], list[tuple[CheckResult, str]]] = defaultdict(list)
    for check in checks:
        parts = check.id.split(".")
        if check.kind != "segment" or len(parts) < 4:
            continue
        column = str(check.details.get("column") or parts[1])
        metric = parts[2]
        segment = str(check.details.get("segment") or ".".join(parts[3:]))
        groups[(column, metric)].append((check, segment))
    charts: list[Markup] = []
    for (column, metric), members in sorted(groups.items()):
        bars = [
            SegmentBar(
                segment=segment,
                candidate=_as_float(check.observed),
                baseline=_as_float(check.baseline),
                max_drop=_as_float(check.threshold),
                status=check.status,
                p_value=check.p_value,
                rows=check.details.get("rows"),
                anchor=check_anchor(check.id),
            )
            for check, segment in members
        ]
        bars.sort(key=lambda b: (_STATUS_RANK.get(b.status, 9), _delta(b), b.segment))
        charts.append(segment_chart(f"{metric} by {column}: candidate vs baseline", bars))
    return charts


def _delta(bar: SegmentBar) -> float:
    if bar.candidate is None or bar.baseline is None:
        return math.inf
    value = bar.candidate - bar.baseline
    return value if math.isfinite(value) else math.inf


def _as_float(value: float | str | None) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return None


def _history_keys(decision: Decision, metrics: dict[str, float]) -> list[str]:
    refs = [r for c in decision.checks for r in c.evidence] + [
        r for q in decision.questions for r in q.evidence
    ]
    named = [m.group(1) for r in refs if (m := _HISTORY_REF.search(r))]
    keys = list(dict.fromkeys([*named, *(k for k in LOSS_LIKE_KEYS if k in metrics)]))
    return keys[:_MAX_HISTORIES]


class _RunInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str | None
    metrics: dict[str, float] = Field(default_factory=dict)


def _run_of(client: MlflowClient, model: str, version: int) -> _RunInfo:
    from tools.client import call_mlflow

    found: Any = call_mlflow(
        lambda: client.get_model_version(model, str(version)),
        f"get_model_version({model!r}, {version})",
        attempts=1,
    )
    run_id = str(found.run_id) if getattr(found, "run_id", None) else None
    if run_id is None:
        return _RunInfo(run_id=None)
    return _RunInfo(run_id=run_id, metrics=read_run(client, run_id).metrics)


def _read_mlflow(
    client: MlflowClient, decision: Decision
) -> tuple[_RunInfo, _RunInfo | None, dict[str, list[HistorySeries]]]:
    # Both versions, then every history, read concurrently: each is a round trip to MLflow.
    with ThreadPoolExecutor(max_workers=4, thread_name_prefix="page-mlflow") as pool:
        candidate_future = pool.submit(_run_of, client, decision.model, decision.version)
        baseline_future = (
            pool.submit(_run_of, client, decision.model, decision.baseline_version)
            if decision.baseline_version is not None
            else None
        )
        candidate = candidate_future.result()
        baseline = baseline_future.result() if baseline_future is not None else None
        sides = (
            (f"v{decision.version} (candidate)", candidate, False),
            (f"v{decision.baseline_version} (baseline)", baseline, True),
        )
        wanted = [
            (key, label, info.run_id, dashed)
            for key in _history_keys(decision, candidate.metrics)
            for label, info, dashed in sides
            if info is not None and info.run_id is not None and key in info.metrics
        ]
        read = [
            pool.submit(read_metric_history, client, run_id, key)
            for key, _label, run_id, _dashed in wanted
        ]
        histories: dict[str, list[HistorySeries]] = {}
        for (key, label, _run_id, dashed), future in zip(wanted, read, strict=True):
            points = future.result()
            histories.setdefault(key, []).append(
                HistorySeries(
                    label=label, points=[(p.step, p.value) for p in points], dashed=dashed
                )
            )
    return candidate, baseline, histories


def _version_links(
    links: MlflowLinks, model: str, version: int | None, run: _RunInfo | None
) -> list[Link]:
    if version is None:
        return []
    out = [Link(kind="version", label=f"{model} v{version}", href=links.version(model, version))]
    if run is not None and run.run_id:
        out.append(Link(kind="run", label=f"run {run.run_id}", href=links.run(run.run_id)))
    return out


def build_decision_view(
    decision: Decision,
    *,
    ledger: Ledger,
    client: MlflowClient | None,
    links: MlflowLinks,
    executor: ThreadPoolExecutor,
    mlflow_timeout_s: float = 5.0,
) -> DecisionView:
    """The decision page's content.

    Args:
        decision: The recorded decision.
        ledger: The ledger, for the overrides recorded against this version.
        client: MLflow client, for runs and metric histories; None skips them.
        links: Links into the MLflow UI.
        executor: Where the MLflow reads run, bounded by `mlflow_timeout_s`.
        mlflow_timeout_s: Longest the page waits for MLflow.
    """
    notes: list[str] = []
    candidate: _RunInfo | None = None
    baseline: _RunInfo | None = None
    histories: dict[str, list[HistorySeries]] = {}
    if client is not None:
        future = executor.submit(_read_mlflow, client, decision)
        try:
            candidate, baseline, histories = future.result(timeout=mlflow_timeout_s)
        except FutureTimeoutError:
            notes.append(
                f"MLflow did not answer within {mlflow_timeout_s:g} s: run links and metric "
                "histories are not shown."
            )
        except ToolError as exc:
            notes.append(f"MLflow could not be read ({exc}): run links and histories are missing.")
    overrides = [
        o
        for o in model_history(ledger, decision.model, kinds={"override"}, version=decision.version)
        if o.target_alias in (None, decision.target_alias)
    ]
    overridden: dict[str, list[str]] = defaultdict(list)
    for entry in overrides:
        for check_id in entry.payload.get("check_ids", []):
            overridden[str(check_id)].append(str(entry.payload.get("approver", "?")))
    ordered = sorted(decision.checks, key=lambda c: (_STATUS_RANK.get(c.status, 9), c.policy, c.id))
    rows = [
        CheckRow(
            check=c,
            anchor=check_anchor(c.id),
            evidence=[links.evidence(ref) for ref in c.evidence],
            overridden_by=overridden.get(c.id, []),
        )
        for c in ordered
    ]
    counts: dict[str, int] = defaultdict(int)
    for c in decision.checks:
        counts[c.status] += 1
    return DecisionView(
        decision=decision,
        rows=rows,
        status_counts=dict(counts),
        segment_charts=_segment_charts(decision.checks),
        history_charts=[history_chart(key, series) for key, series in histories.items()],
        findings=list(decision.findings),
        overrides=overrides,
        candidate_links=_version_links(links, decision.model, decision.version, candidate),
        baseline_links=_version_links(links, decision.model, decision.baseline_version, baseline),
        notes=notes,
        watch=[
            w
            for w in ledger.list_watch(decision.model, version=decision.version, limit=200)
            if w.decision_id == decision.id
        ],
    )
