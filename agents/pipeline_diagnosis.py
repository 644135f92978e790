"""Pipeline diagnosis: what changed in the pipeline, and does it explain the regressions?

The investigator asks three kinds of question and answers each from the config diff and the loss
histories, recording the tools it used and the evidence (``artifact:pipeline/pipeline.yaml:3``):

- "What changed in the pipeline?" - the classified diff of candidate against baseline;
- "Does a pipeline change explain the regression of <check>?" - for every failed or warned metric
  and segment check, the changes of a class that plausibly moves that metric, most plausible
  first (a change that mentions the segment's column, such as a dropped ``region`` feature, leads);
- "Did training converge?" - the candidate's loss histories, judged by `assess_convergence`.

Config contents are untrusted data: they are quoted as values, never followed as instructions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from comparison import (
    Comparison,
    ConvergenceCriteria,
    PipelineEvidence,
    Unavailable,
    assess_convergence,
)
from policies.decision import QuestionAnswer
from policies.pipeline_rules import HOW_TO_LOG_PIPELINE
from policies.result import CheckResult
from tools.evidence import EvidenceBundle
from tools.pipeline_config import value_text
from tools.pipeline_diff import ChangeClass, ConfigChange, PipelineDiff, diff_pipeline_configs

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
# points on a few hundred positives), so it is named, but after the data changes.
PLAUSIBLE_CLASSES: dict[str, tuple[ChangeClass, ...]] = {
    "segment": ("data_window", "data_source", "features", "split", "evaluation"),
    "metric": ("data_source", "data_window", "features", "split", "evaluation", "hyperparameter"),
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
_LOAD_TOOL = "load_pipeline_config"
_DIFF_TOOL = "diff_pipeline_configs"


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
    candidate: PipelineEvidence, baseline: PipelineEvidence | None, diff: PipelineDiff | None
) -> QuestionAnswer:
    question = "What changed in the pipeline?"
    tools = [_LOAD_TOOL]
    evidence = [f"version:{candidate.ref}/pipeline"]
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
            evidence=evidence,
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
            evidence=evidence,
            data={"keys": len(candidate.config.values)},
        )
    evidence.append(f"version:{baseline.ref}/pipeline")
    if diff is None:
        return QuestionAnswer(
            question=question,
            answer=(
                f"Unknown: the baseline {baseline.ref} has no readable pipeline config"
                f"{_unreadable(baseline)}, so there is nothing to compare {candidate.ref} with."
            ),
            tools=tools,
            evidence=evidence,
            data={"baseline_has_config": False},
        )
    tools.append(_DIFF_TOOL)
    changes = _ordered(diff.changes)
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
        evidence=evidence + [r for c in changes for r in c.refs],
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


def _explains(check: CheckResult, diff: PipelineDiff | None, why_unknown: str) -> QuestionAnswer:
    question = f"Does a pipeline change explain the regression of {check.id}?"
    regression = _regression_text(check)
    if diff is None:
        return QuestionAnswer(
            question=question,
            answer=f"Cannot tell: {regression}, but {why_unknown}.",
            check_id=check.id,
            tools=[_LOAD_TOOL],
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
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=[_LOAD_TOOL, _DIFF_TOOL],
        evidence=list(dict.fromkeys([*check.evidence, *(r for c in explaining for r in c.refs)])),
        data=data,
    )


def _converged(bundle: EvidenceBundle, checks: Sequence[CheckResult]) -> QuestionAnswer:
    question = "Did training converge?"
    candidate = bundle.candidate
    wanted = [k for k in LOSS_METRICS if k in candidate.metric_histories]
    for check in checks:
        if check.id.startswith("pipeline.convergence."):
            metric = check.id.removeprefix("pipeline.convergence.")
            if metric in candidate.metric_histories and metric not in wanted:
                wanted.insert(0, metric)
    if not wanted:
        return QuestionAnswer(
            question=question,
            answer=(
                f"Unknown: {candidate.ref} logged no loss history ({', '.join(LOSS_METRICS)}). "
                "Log it every epoch with mlflow.log_metric('train_loss', value, step=epoch)."
            ),
            tools=["get_metric_history"],
            evidence=[f"version:{candidate.ref}/metric_history"],
        )
    parts: list[str] = []
    evidence: list[str] = []
    data: dict[str, Any] = {}
    for metric in wanted:
        result = assess_convergence(
            candidate.metric_histories[metric], ConvergenceCriteria(metric=metric)
        )
        text = result.message
        baseline = bundle.baseline
        base_history = baseline.metric_histories.get(metric) if baseline is not None else None
        if baseline is not None and base_history:
            base_last = max(base_history, key=lambda p: (p.step, p.timestamp)).value
            text += f" (baseline {baseline.ref} ended at {base_last:.4g})"
            evidence.append(f"version:{baseline.ref}/metric_history/{metric}")
        parts.append(text)
        evidence.append(f"version:{candidate.ref}/metric_history/{metric}")
        data[metric] = result.model_dump()
    states = {d["state"] for d in data.values()}
    verdict = "No" if "diverged" in states else "Not fully" if "still_falling" in states else "Yes"
    if states == {"insufficient"}:
        verdict = "Unknown"
    return QuestionAnswer(
        question=question,
        answer=f"{verdict}: " + "; ".join(parts) + ".",
        tools=["get_metric_history", "assess_convergence"],
        evidence=evidence,
        data=data,
    )


def diagnose_pipeline(
    bundle: EvidenceBundle,
    checks: Sequence[CheckResult],
    *,
    comparison: Comparison | None = None,
) -> list[QuestionAnswer]:
    """Answer the pipeline questions of an investigation from the config diff and loss histories.

    Args:
        bundle: The candidate's and the baseline's evidence.
        checks: Every check of the policy verdict; failed and warned metric and segment checks
            each get a "Does a pipeline change explain ...?" question.
        comparison: The review's comparison (pipeline evidence and diff read once per review).
    """
    facts = comparison if comparison is not None else Comparison(bundle)
    found_candidate = facts.pipeline("candidate")
    assert not isinstance(found_candidate, Unavailable)  # the candidate always exists
    candidate = found_candidate
    found_baseline = facts.pipeline("baseline")
    baseline = None if isinstance(found_baseline, Unavailable) else found_baseline
    diff: PipelineDiff | None = None
    why_unknown = ""
    if baseline is None:
        why_unknown = "there is no baseline to compare the pipeline config with"
    elif not (candidate.config.has_config or baseline.config.has_config) and (
        candidate.config.has_dependencies and baseline.config.has_dependencies
    ):
        # No pipeline config on either side, but the models' environments still compare.
        diff = diff_pipeline_configs(baseline.config, candidate.config)
    elif not candidate.config.has_config:
        why_unknown = f"no readable pipeline config was logged for {candidate.ref}"
    elif not baseline.config.has_config:
        why_unknown = f"no readable pipeline config was logged for the baseline {baseline.ref}"
    else:
        found_diff = facts.pipeline_diff()
        assert not isinstance(found_diff, Unavailable)  # both configs are readable
        diff = found_diff

    answers = [_what_changed(candidate, baseline, diff)]
    regressions = [
        c for c in checks if c.kind in ("metric", "segment") and c.status in ("fail", "warn")
    ]
    answers += [_explains(c, diff, why_unknown) for c in regressions]
    asks_convergence = any(c.id.startswith("pipeline.convergence.") for c in checks)
    if (
        regressions
        or asks_convergence
        or any(k in bundle.candidate.metric_histories for k in LOSS_METRICS)
    ):
        answers.append(_converged(bundle, checks))
    logger.debug("pipeline diagnosis of %s: %d answers", bundle.candidate.ref, len(answers))
    return answers
