"""The deterministic investigator: a fixed plan of diagnostic questions, answered with tools.

Used when no LLM is configured, and to finish a review when the LLM fails or runs out of budget.
It calls the very tools the LLM investigator is given (`agents._agent_tools`), on the review's
comparison, so both investigators record the same tool names and cite the same evidence
references by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agents._agent_tools import ReviewContext, call_tool
from agents._comparability_tools import comparability_of
from agents._pipeline_diagnosis import diagnose_pipeline
from agents._plausibility_questions import plausibility_questions
from agents.investigation import Investigation, Recommendation
from agents.untrusted import scan_bundle
from comparison import Comparison, Unavailable, safety_ref
from policies.decision import Conclusion, Finding, QuestionAnswer
from policies.result import CheckResult, PolicyVerdict
from tools.evidence import EvidenceBundle
from tools.segments import table_metric_name

__all__ = ["OfflineInvestigator", "check_findings"]

_PROBLEM = ("fail", "error", "warn")


def _fmt(value: float | str | None) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "n/a" if value is None else str(value)


def check_findings(checks: Sequence[CheckResult]) -> list[Finding]:
    """One finding per failing, errored or warning check, in the checks' own words."""
    findings: list[Finding] = []
    for check in checks:
        if check.status not in _PROBLEM:
            continue
        detail = check.message
        if check.how_to_fix:
            detail += f" How to fix: {check.how_to_fix}"
        findings.append(
            Finding(
                title=f"{check.id}: {check.status}",
                detail=detail,
                severity="warning" if check.status == "warn" else "blocker",
                check_id=check.id,
                evidence=list(check.evidence),
            )
        )
    return findings


_PLAN_OUTPUT_CHARS = 1_000_000
"""The plan reads whole tool results (the size cap protects an LLM's context, not this)."""


def _same_dataset_question(ctx: ReviewContext) -> QuestionAnswer:
    question = "Were both versions scored on the same evaluation dataset?"
    candidate, baseline = ctx.bundle.candidate, ctx.bundle.baseline
    if baseline is None:
        return QuestionAnswer(question=question, answer="There is no baseline to compare with.")
    result = call_tool("compare_datasets", ctx)
    cand = list(result["candidate"]["evaluation_digests"])
    base = list(result["baseline"]["evaluation_digests"])
    if not cand or not base:
        missing = [v.ref for v, d in ((candidate, cand), (baseline, base)) if not d]
        answer = (
            f"Unknown: no evaluation dataset digest was logged for {', '.join(missing)}. "
            "Log it with mlflow.log_input(dataset, context='evaluation')."
        )
    elif result["same_evaluation_dataset"]:
        answer = f"Yes: both were scored on the dataset with digest {cand[0]}."
    else:
        answer = (
            f"No: the candidate was scored on digest(s) {', '.join(cand)} and the baseline on "
            f"{', '.join(base)}, so their metrics are not directly comparable."
        )
    tools = ["compare_datasets"]
    evidence = list(result["evidence"])
    data: dict[str, Any] = {"candidate_digests": cand, "baseline_digests": base}
    # The same rows are not enough: the labels and the metric definitions must match too. The
    # answer changes (and names its tool) only when they do not.
    call_tool("check_comparability", ctx)
    found = comparability_of(ctx)
    differences = found.beyond_digest
    if differences:
        rows = f"the same rows (digest {cand[0]})" if result["same_evaluation_dataset"] else None
        answer = (
            "No, the numbers are not comparable: "
            + (f"both were scored on {rows}, but " if rows else "")
            + "; ".join(differences)
            + ". Their metric changes say nothing about the model until both versions are "
            "scored against the same labels with the same metric definitions."
            + ("" if rows else f" {answer}")
        )
        tools.append("check_comparability")
        evidence += [r for r in found.evidence if r not in evidence]
        data["comparable"] = False
        data["differences"] = differences
    return QuestionAnswer(
        question=question,
        answer=answer,
        tools=tools,
        evidence=evidence,
        data=data,
    )


def _common_cause_question(ctx: ReviewContext) -> QuestionAnswer | None:
    """Asked when several findings share one cause; None when nothing groups."""
    result = call_tool("find_common_causes", ctx)
    conclusions = [Conclusion.model_validate(c) for c in result.get("conclusions", [])]
    if not conclusions:
        return None
    answer = " ".join(
        f"Yes: {c.cause} It explains {', '.join(c.check_ids)}. {c.effect}" for c in conclusions
    )
    return QuestionAnswer(
        question="Do the failing checks share one cause?",
        answer=answer,
        tools=["find_common_causes"],
        evidence=list(result.get("evidence", [])),
        data={"conclusions": [c.model_dump(mode="json") for c in conclusions]},
    )


def _significance_question(ctx: ReviewContext, check: CheckResult) -> QuestionAnswer | None:
    bundle = ctx.bundle
    metric = str(check.details.get("metric", check.id.split(".")[1] if "." in check.id else ""))
    question = f"Is the change in {metric} significant, or could it be noise?"
    baseline = bundle.baseline
    if baseline is None:
        return None
    cand_table, base_table = bundle.candidate.eval_table, baseline.eval_table
    table_metric = table_metric_name(metric)
    if table_metric is None or cand_table is None or base_table is None:
        missing = [
            v.ref for v, t in ((bundle.candidate, cand_table), (baseline, base_table)) if t is None
        ]
        reason = (
            f"no per-example evaluation table for {', '.join(missing)}"
            if missing
            else f"{metric!r} cannot be recomputed from per-example results"
        )
        return QuestionAnswer(
            question=question,
            answer=(
                f"Not testable: {reason}. The check applied its tolerance alone. Log the table "
                "with mlflow.log_table(df, artifact_file='eval/predictions.json')."
            ),
            check_id=check.id,
        )
    result = call_tool("test_significance", ctx, metric=metric)
    if "error" in result:
        why = str(result["error"]).removeprefix("not testable: ")
        return QuestionAnswer(
            question=question,
            answer=f"Not testable: {why}.",
            check_id=check.id,
            tools=["test_significance"],
        )
    # The tool rounds what it shows; the answer quotes the full result it was computed from,
    # which the review's comparison keeps.
    test = ctx.facts.bootstrap(table_metric)
    assert not isinstance(test, Unavailable)  # the tool just computed it
    verdict = "significant" if test.p_value < 0.05 else "not significant at the 0.05 level"
    answer = (
        f"Paired bootstrap over {test.n} shared evaluation rows: {metric} changed by "
        f"{test.delta:+.4f} (95% CI {test.ci_low:+.4f} to {test.ci_high:+.4f}, "
        f"one-sided p={test.p_value:.3g}): {verdict}."
    )
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=["test_significance"],
        evidence=list(result["evidence"]),
        data=test.model_dump(),
    )


def _segments_question(ctx: ReviewContext, checks: Sequence[CheckResult]) -> QuestionAnswer | None:
    segment_checks = [c for c in checks if c.kind == "segment" and c.delta is not None]
    if not segment_checks:
        return None
    # Segment check ids read segments.<column>.<metric>.<segment>.
    asked = sorted({tuple(c.id.split(".")[1:3]) for c in segment_checks if c.id.count(".") >= 3})
    cited: set[str] = set()
    for column, metric in asked:
        cited.update(
            call_tool("get_segment_metrics", ctx, column=column, metric=metric).get("evidence", [])
        )
    regressed = sorted(
        (c for c in segment_checks if c.status in ("fail", "warn")),
        key=lambda c: c.delta if c.delta is not None else 0.0,
    )
    if regressed:
        parts = [
            f"{c.details.get('column', '?')}={c.details.get('segment', c.id)}: "
            f"{_fmt(c.baseline)} -> {_fmt(c.observed)} "
            f"({c.delta:+.3f}{', p=' + format(c.p_value, '.3g') if c.p_value is not None else ''})"
            for c in regressed
            if c.delta is not None
        ]
        answer = f"{len(regressed)} segment(s) regressed beyond tolerance: " + "; ".join(parts)
    else:
        answer = "No segment regressed beyond its tolerance."
    return QuestionAnswer(
        question="Which segments regressed, and by how much?",
        answer=answer,
        tools=["get_segment_metrics"],
        evidence=sorted({e for c in segment_checks for e in c.evidence} | cited),
        data={c.id: c.delta for c in segment_checks},
    )


def _missing_evidence_question(ctx: ReviewContext, errors: Sequence[CheckResult]) -> QuestionAnswer:
    bundle = ctx.bundle
    listed = call_tool("list_evidence_gaps", ctx)
    lines = [
        f"{c.id}: {c.message}" + (f" ({c.how_to_fix})" if c.how_to_fix else "") for c in errors
    ]
    versions = [bundle.candidate] + ([bundle.baseline] if bundle.baseline is not None else [])
    lines.extend(
        f"{v.ref} {gap.source}: {gap.message}" + (f" ({gap.how_to_fix})" if gap.how_to_fix else "")
        for v in versions
        for gap in v.gaps
    )
    return QuestionAnswer(
        question="What evidence is missing, and how should it be logged?",
        answer="; ".join(lines) if lines else "Nothing is missing.",
        tools=["list_evidence_gaps"],
        evidence=list(listed.get("evidence", [])),
    )


def _safety_question(ctx: ReviewContext, check: CheckResult) -> QuestionAnswer:
    bundle = ctx.bundle
    suite_name = str(check.details.get("suite", check.id.split(".")[1] if "." in check.id else ""))
    call_tool("get_safety_results", ctx, suite=suite_name)
    suite = bundle.candidate.safety.get(suite_name)
    if suite is None:
        answer = f"No results for suite {suite_name!r} were logged for {bundle.candidate.ref}."
        cases: list[str] = []
    else:
        cases = [str(case.get("case_id", case.get("id", "?"))) for case in suite.failing_cases[:10]]
        answer = (
            f"{suite.failures} of {suite.cases} cases failed ({suite.errors} errors)"
            + (f"; failing cases: {', '.join(cases)}" if cases else "")
            + "."
        )
    return QuestionAnswer(
        question=f"Which cases of the safety suite {suite_name!r} failed?",
        answer=answer,
        check_id=check.id,
        tools=["get_safety_results"],
        evidence=[safety_ref(suite_name)],
        data={"failing_cases": cases},
    )


class OfflineInvestigator:
    """Follows a fixed plan of diagnostic questions; needs no LLM and no network."""

    name = "offline"

    def investigate(
        self,
        bundle: EvidenceBundle,
        verdict: PolicyVerdict,
        *,
        comparison: Comparison | None = None,
    ) -> Investigation:
        """Ask the fixed plan's questions with the review tools, on the review's comparison.

        Args:
            bundle: The evidence of the candidate and its baseline.
            verdict: The policy verdict.
            comparison: The review's comparison, shared with the policies (new if None).
        """
        facts = comparison if comparison is not None else Comparison(bundle)
        ctx = ReviewContext(
            bundle,
            verdict,
            caller="offline",
            max_output_chars=_PLAN_OUTPUT_CHARS,
            comparison=facts,
        )
        checks = verdict.checks
        problems = [c for c in checks if c.status in _PROBLEM]
        questions: list[QuestionAnswer] = []
        regressions = [c for c in problems if c.kind in ("metric", "segment")]
        if regressions or any(c.kind == "comparability" for c in problems):
            questions.append(_same_dataset_question(ctx))
        asked: set[str] = set()
        for check in problems:
            if check.kind == "metric" and check.delta is not None:
                answer = _significance_question(ctx, check)
                # One metric's `min` and `max_drop` failing together ask the same question.
                if answer is not None and answer.question not in asked:
                    asked.add(answer.question)
                    questions.append(answer)
            elif check.kind == "eval":
                questions.append(_safety_question(ctx, check))
        segments = _segments_question(ctx, checks)
        if segments is not None:
            questions.append(segments)
        errors = [c for c in problems if c.status == "error"]
        if errors or bundle.candidate.gaps:
            questions.append(_missing_evidence_question(ctx, errors))
        if regressions or any(c.kind == "pipeline" for c in problems):
            questions.extend(diagnose_pipeline(ctx, checks))
        if any(c.kind in ("metric", "segment") for c in problems):
            common = _common_cause_question(ctx)
            if common is not None:
                questions.append(common)
        # Good news is questioned too: on every review, approvals included.
        questions.extend(plausibility_questions(ctx))

        findings = check_findings(checks) + scan_bundle(bundle, verdict)
        # The fixed plan adds no judgement of its own: it recommends what the policies decided,
        # so an audit-mode policy's failures inform without blocking.
        recommendation: Recommendation = verdict.verdict
        failing = [c.id for c in checks if c.status in ("fail", "error")]
        summary = (
            f"{len(failing)} check(s) failed or errored: {', '.join(failing)}."
            if failing
            else f"All {len(checks)} checks passed or were skipped with a reason."
        )
        return Investigation(
            recommendation=recommendation,
            summary=summary,
            findings=findings,
            questions=questions,
        )
