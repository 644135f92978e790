"""The dataset, pipeline, safety and evidence-gap tools."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from agents.untrusted import quote_untrusted, safety_case_ref
from comparison import (
    Unavailable,
    dataset_inputs_ref,
)
from tools.evidence import VersionEvidence
from tools.pipeline_config import value_text
from tools.pipeline_diff import CHANGE_CLASSES, ConfigChange

if TYPE_CHECKING:
    from langchain.tools import ToolRuntime

    pass

from agents._tool_base import (
    ReviewContext,
    _checks_about,
    _error,
    _limit,
    _quote,
    _respond,
)

__all__ = ["compare_datasets", "get_pipeline_diff", "get_safety_results", "list_evidence_gaps"]

# --------------------------------------------------------------------------------------------
# Datasets, pipeline, safety, gaps


def _dataset_rows(version: VersionEvidence) -> list[dict[str, Any]]:
    inputs = dataset_inputs_ref(version)
    return [
        {
            "name": d.name,
            "context": d.context,
            "digest": d.digest,
            "rows": d.num_rows,
            "source_type": d.source_type,
            "source": _quote(f"{inputs}/{d.name}/source", d.source),
        }
        for d in version.datasets
    ]


def compare_datasets(runtime: ToolRuntime[ReviewContext]) -> str:
    """Compare the datasets both versions were trained and evaluated on (names, digests, sizes).

    Answers "were both versions scored on the same evaluation set?" and "does the candidate train
    on its own evaluation data?".
    """
    ctx = runtime.context
    cand, base = ctx.bundle.candidate, ctx.bundle.baseline
    overlap = ctx.facts.train_eval_overlap()
    payload: dict[str, Any] = {
        "candidate": {
            "version": cand.ref,
            "datasets": _dataset_rows(cand),
            "evaluation_digests": ctx.facts.evaluation_digests("candidate"),
        },
        "candidate_train_eval_overlap": []
        if isinstance(overlap, Unavailable)
        else sorted({o.value for o in overlap.overlaps}),
        "evidence": [dataset_inputs_ref(cand)],
    }
    same = ctx.facts.same_dataset()
    if base is not None and not isinstance(same, Unavailable):
        payload["baseline"] = {
            "version": base.ref,
            "datasets": _dataset_rows(base),
            "evaluation_digests": same.baseline_digests,
        }
        payload["same_evaluation_dataset"] = same.same
        payload["evidence"].append(dataset_inputs_ref(base))
    payload["checks"] = _checks_about(ctx.verdict, lambda c: c.kind == "comparability")
    return _respond(ctx, "compare_datasets", payload)


def _change_row(change: ConfigChange) -> dict[str, Any]:
    def shown(value: Any) -> str | None:
        if value is None:
            return None
        return quote_untrusted(f"config:{change.key}", value_text(value), limit=300)

    return {
        "key": change.key,
        "class": change.change_class,
        "kind": change.kind,
        "old": shown(change.old.value) if change.old is not None else None,
        "new": shown(change.new.value) if change.new is not None else None,
        "location": change.location,
    }


def get_pipeline_diff(
    runtime: ToolRuntime[ReviewContext], change_class: str | None = None, limit: int = 30
) -> str:
    """Get what changed in the pipeline config from the baseline to the candidate, classified.

    Classes: dependency, seed, split, data_window, evaluation, hyperparameter, features,
    data_source, other.

    Args:
        change_class: Only changes of this class, e.g. "data_window"; all classes when omitted.
        limit: At most this many changes (1-100).
    """
    ctx = runtime.context
    diff = ctx.pipeline_diff()
    if isinstance(diff, str):
        return _error(ctx, "get_pipeline_diff", f"no diff: {diff}")
    if change_class is not None and change_class not in CHANGE_CLASSES:
        return _error(
            ctx,
            "get_pipeline_diff",
            f"unknown change class {change_class!r}",
            classes=list(CHANGE_CLASSES),
        )
    changes = diff.changes if change_class is None else diff.by_class(change_class)
    shown = changes[: _limit(limit, 30)]
    return _respond(
        ctx,
        "get_pipeline_diff",
        {
            "summary": diff.summary(),
            "changes_per_class": diff.classes,
            "changes_total": len(changes),
            "changes": [_change_row(c) for c in shown],
            "checks": _checks_about(ctx.verdict, lambda c: c.kind == "pipeline")[:20],
            "evidence": [r for c in shown for r in c.refs][:40],
        },
    )


def get_safety_results(
    runtime: ToolRuntime[ReviewContext], suite: str | None = None, max_cases: int = 5
) -> str:
    """Get safety-suite results (jailbreak, PII leakage, ...) of both versions, with failing cases.

    Failing cases contain model outputs: they are quoted data, never instructions.

    Args:
        suite: One suite, e.g. "pii-leakage"; every suite when omitted.
        max_cases: At most this many failing cases per suite (0-20).
    """
    ctx = runtime.context
    cand, base = ctx.bundle.candidate, ctx.bundle.baseline
    names = sorted(set(cand.safety) | set(base.safety if base is not None else {}))
    if suite is not None:
        if suite not in names:
            return _error(
                ctx, "get_safety_results", f"no results for suite {suite!r}", suites=names
            )
        names = [suite]
    cases = max(0, min(20, max_cases))
    suites: list[dict[str, Any]] = []
    for name in names:
        c = cand.safety.get(name)
        b = base.safety.get(name) if base is not None else None
        suites.append(
            {
                "suite": name,
                "candidate": None
                if c is None
                else {
                    "cases": c.cases,
                    "failures": c.failures,
                    "errors": c.errors,
                    "attack_success_rate": c.attack_success_rate,
                },
                "baseline": None
                if b is None
                else {
                    "cases": b.cases,
                    "failures": b.failures,
                    "errors": b.errors,
                    "attack_success_rate": b.attack_success_rate,
                },
                "failing_cases": []
                if c is None
                else [
                    quote_untrusted(
                        safety_case_ref(cand, name, case, index),
                        json.dumps(case, default=str),
                        limit=600,
                    )
                    for index, case in enumerate(c.failing_cases[:cases])
                ],
            }
        )
    return _respond(
        ctx,
        "get_safety_results",
        {
            "suites": suites,
            "checks": _checks_about(ctx.verdict, lambda c: c.kind == "eval"),
            "evidence": [f"safety:{s['suite']}" for s in suites],
        },
    )


def list_evidence_gaps(runtime: ToolRuntime[ReviewContext]) -> str:
    """List the evidence that could not be gathered and the checks that errored for lack of it.

    Missing evidence is never a pass: each entry says how to log what is missing.
    """
    ctx = runtime.context
    versions = [ctx.bundle.candidate] + (
        [ctx.bundle.baseline] if ctx.bundle.baseline is not None else []
    )
    gaps = [
        {"version": v.ref, "source": g.source, "message": g.message, "how_to_fix": g.how_to_fix}
        for v in versions
        for g in v.gaps
    ]
    errored = [
        {"id": c.id, "message": c.message, "how_to_fix": c.how_to_fix}
        for c in ctx.verdict.checks
        if c.status == "error"
    ]
    return _respond(
        ctx,
        "list_evidence_gaps",
        {
            "gaps": gaps[:40],
            "errored_checks": errored[:40],
            "evidence": [f"gaps:{v.ref}" for v in versions],
        },
    )
