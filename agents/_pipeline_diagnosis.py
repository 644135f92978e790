"""Pipeline diagnosis: what changed in the pipeline, and does it explain the regressions?

The investigator asks three kinds of question and answers each with the LLM's own review tools
(`get_pipeline_diff`, `get_metric_history`), recording those calls and citing the evidence the
tools returned (``artifact:pipeline/pipeline.yaml:3``), so an LLM asking the same questions
records the same tools and references:

- "What changed in the pipeline?" - the classified diff of candidate against baseline;
- "Does a pipeline change explain the regression of <check>?" - for every failed or warned metric
  and segment check, the changes of a class that plausibly moves that metric, most plausible
  first (a change that mentions the segment's column, such as a dropped ``region`` feature, leads);
- "Did training converge?" - the candidate's loss histories, judged by the comparison's
  convergence fact.

Config contents are untrusted data: they are quoted as values, never followed as instructions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from agents._agent_tools import ReviewContext, call_tool
from comparison import ConvergenceCriteria, PipelineEvidence, Unavailable
from policies.decision import QuestionAnswer
from policies.pipeline_rules import HOW_TO_LOG_PIPELINE
from policies.result import CheckResult
from tools.pipeline_config import value_text
from tools.pipeline_diff import ChangeClass, ConfigChange, PipelineDiff

__all__ = ["LESS_LIKELY_CLASSES", "LOSS_METRICS", "PLAUSIBLE_CLASSES", "diagnose_pipeline"]

logger = logging.getLogger("promogate.agents")

LOSS_METRICS: tuple[str, ...] = (
    "train_loss",
    "loss",
    "training_loss",
    "val_loss",
    "validation_loss",
)

# Change classes that plausibly move a metric, most plausible first, and those that usually move
# it less. Segment regressions follow the population (window, source, features); overall metrics
# follow the data and the model. A new seed alone moves a segment's recall by noise (several
# points on a few hundred positives), so it is named, but after the data changes. A changed label
# comes first: every metric then measures another target.
PLAUSIBLE_CLASSES: dict[str, tuple[ChangeClass, ...]] = {
    "segment": ("label", "data_window", "data_source", "features", "split", "evaluation"),
    "metric": (
        "label",
        "data_source",
        "data_window",
        "features",
        "split",
        "evaluation",
        "hyperparameter",
    ),
}
LESS_LIKELY_CLASSES: dict[str, tuple[ChangeClass, ...]] = {
    "segment": ("seed", "hyperparameter", "dependency"),
    "metric": ("seed", "dependency"),
}
_REPORT_ORDER: tuple[ChangeClass, ...] = (
    *PLAUSIBLE_CLASSES["metric"],
    *LESS_LIKELY_CLASSES["metric"],
    "other",
)
_MAX_LISTED = 12
_MAX_EXPLAINING = 5
_DIFF_TOOL = "get_pipeline_diff"
_HISTORY_TOOL = "get_metric_history"
# The tool's own ceiling: the plan asks for every change it will show.
_DIFF_LIMIT = 100


def _fmt(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def _ordered(changes: Sequence[ConfigChange]) -> list[ConfigChange]:
    return sorted(changes, key=lambda c: (_REPORT_ORDER.index(c.change_class), c.key))


def _listing(changes: Sequence[ConfigChange], limit: int = _MAX_LISTED) -> str:
    shown = [c.explain() for c in changes[:limit]]
    more = len(changes) - len(shown)
    return "; ".join(shown) + (f"; and {more} more" if more > 0 else "")


def _unreadable(side: PipelineEvidence) -> str:
    notes = [f"{p.location}: {p.message}" for p in side.config.problems]
    return f" ({'; '.join(notes)})" if notes else ""


def _what_changed(
    candidate: PipelineEvidence,
    baseline: PipelineEvidence | None,
    diff: PipelineDiff | None,
    cited: list[str],
) -> QuestionAnswer:
    question = "What changed in the pipeline?"
    tools = [_DIFF_TOOL]
    env_only = ""
    if diff is not None and not candidate.config.has_config:
        env_only = (
            f" No pipeline config was logged for either version; only the logged models' "
            f"environments were compared. To compare configs, {HOW_TO_LOG_PIPELINE}."
        )
    elif not candidate.config.has_config:
        return QuestionAnswer(
            question=question,
            answer=(
                f"Unknown: no readable pipeline config was logged for {candidate.ref}"
                f"{_unreadable(candidate)}. To make this answerable, {HOW_TO_LOG_PIPELINE}."
            ),
            tools=tools,
            evidence=cited,
            data={"candidate_has_config": False},
        )
    files = ", ".join(f.path for f in candidate.config.files) or "run params only"
    if baseline is None:
        return QuestionAnswer(
            question=question,
            answer=(
                f"There is no baseline to compare with. {candidate.ref}'s pipeline config has "
                f"{len(candidate.config.values)} keys (from {files})."
            ),
            tools=tools,
            evidence=cited,
            data={"keys": len(candidate.config.values)},
        )
    if diff is None:
        return QuestionAnswer(
            question=question,
            answer=(
                f"Unknown: the baseline {baseline.ref} has no readable pipeline config"
                f"{_unreadable(baseline)}, so there is nothing to compare {candidate.ref} with."
            ),
            tools=tools,
            evidence=cited,
            data={"baseline_has_config": False},
        )
    changes = _ordered(diff.changes)
    returned = set(cited)
    problems = _unreadable(candidate) + _unreadable(baseline)
    if not changes:
        answer = (
            f"Nothing: {candidate.ref} and {baseline.ref} have the same pipeline config "
            f"({len(candidate.config.values)} keys compared, from {files})."
        )
    else:
        answer = (
            f"{diff.summary().capitalize()} from {baseline.ref} to {candidate.ref}: "
            f"{_listing(changes)}."
        )
    if problems:
        answer += f" Some files could not be read{problems}."
    answer += env_only
    return QuestionAnswer(
        question=question,
        answer=answer,
        tools=tools,
        # The changes' references in the order the answer lists them, as the tool returned them.
        evidence=[r for c in changes for r in c.refs if r in returned],
        data={"classes": diff.classes, "changes": [c.as_data(with_refs=True) for c in changes]},
    )


def _metric_name(check: CheckResult) -> str:
    metric = check.details.get("metric")
    if isinstance(metric, str):
        return metric
    parts = check.id.split(".")
    if check.kind == "segment" and len(parts) >= 3:
        return parts[2]
    return parts[1] if len(parts) >= 2 else check.id


def _segment(check: CheckResult) -> tuple[str | None, str | None]:
    column, segment = check.details.get("column"), check.details.get("segment")
    if column is None and check.kind == "segment":
        parts = check.id.split(".")
        column = parts[1] if len(parts) >= 2 else None
    return (
        str(column) if column is not None else None,
        str(segment) if segment is not None else None,
    )


def _regression_text(check: CheckResult) -> str:
    metric = _metric_name(check)
    column, segment = _segment(check)
    subject = metric
    if check.kind == "segment" and segment is not None:
        subject = f"{metric} on segment {column}={segment}" if column else f"{metric} on {segment}"
    if check.delta is None:
        return f"{subject} {check.status}ed its check ({check.message})"
    direction = "fell" if check.delta < 0 else "rose" if check.delta > 0 else "did not move"
    text = f"{subject} {direction} {abs(check.delta):.3g}"
    if check.baseline is not None and check.observed is not None:
        text += f" ({_fmt(check.baseline)} -> {_fmt(check.observed)})"
    return text


def _mentions(change: ConfigChange, word: str) -> bool:
    word = word.lower()
    values = [v.value for v in (change.old, change.new) if v is not None]
    return word in change.key.lower() or any(word in value_text(v).lower() for v in values)


def _explains(
    check: CheckResult, diff: PipelineDiff | None, why_unknown: str, cited: list[str]
) -> QuestionAnswer:
    question = f"Does a pipeline change explain the regression of {check.id}?"
    regression = _regression_text(check)
    if diff is None:
        return QuestionAnswer(
            question=question,
            answer=f"Cannot tell: {regression}, but {why_unknown}.",
            check_id=check.id,
            tools=[_DIFF_TOOL],
            evidence=list(check.evidence),
        )
    kind = "segment" if check.kind == "segment" else "metric"
    likely, less_likely = PLAUSIBLE_CLASSES[kind], LESS_LIKELY_CLASSES[kind]
    column, _ = _segment(check)

    def rank(classes: tuple[ChangeClass, ...]) -> list[ConfigChange]:
        found = [c for c in diff.changes if c.change_class in classes]
        # A change naming the segment's own column (a dropped `region` feature) leads.
        direct = [c for c in found if column and _mentions(c, column)]
        rest = sorted(
            (c for c in found if c not in direct),
            key=lambda c: (classes.index(c.change_class), c.key),
        )
        return direct + rest

    ranked, weaker = rank(likely), rank(less_likely)
    data: dict[str, Any] = {
        "regression": {
            "metric": _metric_name(check),
            "segment": _segment(check)[1],
            "delta": check.delta,
            "observed": check.observed,
            "baseline": check.baseline,
        },
        "explaining_changes": [c.as_data(with_refs=True) for c in ranked],
        "less_likely_changes": [c.as_data(with_refs=True) for c in weaker],
    }
    confirm = " Retraining with the baseline's values would confirm which change is responsible."
    if ranked:
        answer = f"Plausibly: {regression}; {_listing(ranked, _MAX_EXPLAINING)}."
        if column and _mentions(ranked[0], column):
            answer += (
                f" The change to {ranked[0].key} involves the segment column {column!r} itself."
            )
        if weaker:
            counts = ", ".join(
                f"{cls} {n}"
                for cls in less_likely
                if (n := sum(1 for c in weaker if c.change_class == cls))
            )
            answer += f" Also changed, less likely to explain it: {counts}."
        answer += confirm
    elif weaker:
        answer = (
            f"Possibly: {regression}; no data, feature, split or evaluation change, but "
            f"{_listing(weaker, _MAX_EXPLAINING)}. Such changes usually move this metric less "
            "(a new seed moves segment metrics by noise)." + confirm
        )
    elif diff.changes:
        answer = (
            f"Not by the config: {regression}, but only bookkeeping changed in the pipeline "
            f"({_listing(_ordered(diff.changes))}). Look at data drift or run-to-run noise."
        )
    else:
        answer = (
            f"No: {regression}, yet the pipeline config did not change. Look at the data behind "
            "an unchanged config (a moving source or window) or at run-to-run noise."
        )
    explaining = ranked[:_MAX_EXPLAINING] if ranked else weaker[:_MAX_EXPLAINING]
    returned = set(cited)
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=[_DIFF_TOOL],
        # The changes' references as the diff tool returned them: what an LLM could cite.
        evidence=list(
            dict.fromkeys(
                [*check.evidence, *(r for c in explaining for r in c.refs if r in returned)]
            )
        ),
        data=data,
    )


def _converged(ctx: ReviewContext, checks: Sequence[CheckResult]) -> QuestionAnswer:
    question = "Did training converge?"
    bundle = ctx.bundle
    candidate = bundle.candidate
    wanted = [k for k in LOSS_METRICS if k in candidate.metric_histories]
    for check in checks:
        if check.id.startswith("pipeline.convergence."):
            metric = check.id.removeprefix("pipeline.convergence.")
            if metric in candidate.metric_histories and metric not in wanted:
                wanted.insert(0, metric)
    if not wanted:
        # Asked for the usual loss: the tool's answer is that there is none.
        call_tool(_HISTORY_TOOL, ctx, name=LOSS_METRICS[0])
        return QuestionAnswer(
            question=question,
            answer=(
                f"Unknown: {candidate.ref} logged no loss history ({', '.join(LOSS_METRICS)}). "
                "Log it every epoch with mlflow.log_metric('train_loss', value, step=epoch)."
            ),
            tools=[_HISTORY_TOOL],
        )
    parts: list[str] = []
    evidence: list[str] = []
    data: dict[str, Any] = {}
    baseline = bundle.baseline
    for metric in wanted:
        read = call_tool(_HISTORY_TOOL, ctx, name=metric)
        result = ctx.facts.convergence(ConvergenceCriteria(metric=metric))
        assert not isinstance(result, Unavailable)  # the candidate logged this history
        text = result.message
        base_history = baseline.metric_histories.get(metric) if baseline is not None else None
        if baseline is not None and base_history:
            base_read = call_tool(_HISTORY_TOOL, ctx, name=metric, version="baseline")
            base_last = max(base_history, key=lambda p: (p.step, p.timestamp)).value
            text += f" (baseline {baseline.ref} ended at {base_last:.4g})"
            evidence.extend(base_read.get("evidence", []))
        parts.append(text)
        evidence.extend(read.get("evidence", []))
        data[metric] = result.model_dump()
    states = {d["state"] for d in data.values()}
    verdict = "No" if "diverged" in states else "Not fully" if "still_falling" in states else "Yes"
    if states == {"insufficient"}:
        verdict = "Unknown"
    return QuestionAnswer(
        question=question,
        answer=f"{verdict}: " + "; ".join(parts) + ".",
        tools=[_HISTORY_TOOL],
        evidence=evidence,
        data=data,
    )


def diagnose_pipeline(
    ctx: ReviewContext, checks: Sequence[CheckResult] | None = None
) -> list[QuestionAnswer]:
    """Answer the pipeline questions of an investigation with the review tools.

    Args:
        ctx: The review's tool context (its comparison holds the pipeline evidence and diff,
            read once per review; the tools called here record the references they return).
        checks: The checks to diagnose; those of `ctx.verdict` when None. Failed and warned
            metric and segment checks each get a "Does a pipeline change explain ...?" question.
    """
    checks = ctx.verdict.checks if checks is None else checks
    facts = ctx.facts
    found_candidate = facts.pipeline("candidate")
    assert not isinstance(found_candidate, Unavailable)  # the candidate always exists
    candidate = found_candidate
    found_baseline = facts.pipeline("baseline")
    baseline = None if isinstance(found_baseline, Unavailable) else found_baseline
    listed = call_tool(_DIFF_TOOL, ctx, limit=_DIFF_LIMIT)
    cited = [str(r) for r in listed.get("evidence", [])]
    found_diff = facts.pipeline_diff()
    diff = None if isinstance(found_diff, Unavailable) else found_diff
    if diff is not None and len(cited) < sum(len(c.refs) for c in diff.changes):
        # The tool caps the references of one answer; asked class by class, as an LLM narrows a
        # long diff, it returns those of every change the answers may cite.
        for change_class in diff.classes:
            narrowed = call_tool(_DIFF_TOOL, ctx, change_class=change_class, limit=_DIFF_LIMIT)
            cited += [str(r) for r in narrowed.get("evidence", [])]
    why_unknown = found_diff.reason if isinstance(found_diff, Unavailable) else ""

    answers = [_what_changed(candidate, baseline, diff, cited)]
    regressions = [
        c for c in checks if c.kind in ("metric", "segment") and c.status in ("fail", "warn")
    ]
    answers += [_explains(c, diff, why_unknown, cited) for c in regressions]
    asks_convergence = any(c.id.startswith("pipeline.convergence.") for c in checks)
    if (
        regressions
        or asks_convergence
        or any(k in ctx.bundle.candidate.metric_histories for k in LOSS_METRICS)
    ):
        answers.append(_converged(ctx, checks))
    logger.debug("pipeline diagnosis of %s: %d answers", ctx.bundle.candidate.ref, len(answers))
    return answers
