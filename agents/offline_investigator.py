"""The deterministic investigator: a fixed plan of diagnostic questions, answered with tools.

Used when no LLM is configured, and to finish a review when the LLM fails or runs out of budget.
It records the same question/answer log an LLM investigator does, so decisions read the same.
"""

from __future__ import annotations

from collections.abc import Sequence

from agents.investigation import Investigation, Recommendation
from agents.pipeline_diagnosis import diagnose_pipeline
from agents.untrusted import scan_bundle
from policies.decision import Finding, QuestionAnswer
from policies.result import CheckResult, PolicyVerdict
from tools.evidence import EvidenceBundle, VersionEvidence
from tools.segments import metric_inputs, pair_tables, table_metric_name
from tools.significance import paired_bootstrap

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


def _eval_digests(version: VersionEvidence) -> list[str]:
    digests = {d.digest for d in version.datasets_in("evaluation")}
    if version.logged_model is not None:
        digests.update(m.dataset_digest for m in version.logged_model.metrics if m.dataset_digest)
    return sorted(digests)


def _same_dataset_question(bundle: EvidenceBundle) -> QuestionAnswer:
    question = "Were both versions scored on the same evaluation dataset?"
    candidate, baseline = bundle.candidate, bundle.baseline
    if baseline is None:
        return QuestionAnswer(question=question, answer="There is no baseline to compare with.")
    cand, base = _eval_digests(candidate), _eval_digests(baseline)
    evidence = [f"version:{candidate.ref}/datasets", f"version:{baseline.ref}/datasets"]
    if not cand or not base:
        missing = [v.ref for v, d in ((candidate, cand), (baseline, base)) if not d]
        answer = (
            f"Unknown: no evaluation dataset digest was logged for {', '.join(missing)}. "
            "Log it with mlflow.log_input(dataset, context='evaluation')."
        )
    elif set(cand) == set(base):
        answer = f"Yes: both were scored on the dataset with digest {cand[0]}."
    else:
        answer = (
            f"No: the candidate was scored on digest(s) {', '.join(cand)} and the baseline on "
            f"{', '.join(base)}, so their metrics are not directly comparable."
        )
    return QuestionAnswer(
        question=question,
        answer=answer,
        tools=["get_dataset_inputs"],
        evidence=evidence,
        data={"candidate_digests": cand, "baseline_digests": base},
    )


def _significance_question(bundle: EvidenceBundle, check: CheckResult) -> QuestionAnswer | None:
    metric = str(check.details.get("metric", check.id.split(".")[1] if "." in check.id else ""))
    question = f"Is the change in {metric} significant, or could it be noise?"
    baseline = bundle.baseline
    if baseline is None:
        return None
    cand_table, base_table = bundle.candidate.eval_table, baseline.eval_table
    if table_metric_name(metric) is None or cand_table is None or base_table is None:
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
    pairing = pair_tables(base_table, cand_table)
    table_metric = table_metric_name(metric)
    if not pairing.paired or table_metric is None:
        return QuestionAnswer(
            question=question,
            answer=f"Not testable: {pairing.reason or 'not computable per example'}.",
            check_id=check.id,
            tools=["pair_tables"],
        )
    try:
        labels, base_values = metric_inputs(base_table, table_metric)
        _, cand_values = metric_inputs(cand_table, table_metric)
        result = paired_bootstrap(
            table_metric,
            [labels[i] for i in pairing.index_a],
            [base_values[i] for i in pairing.index_a],
            [cand_values[j] for j in pairing.index_b],
        )
    except ValueError as exc:
        return QuestionAnswer(
            question=question,
            answer=f"Not testable: {exc}",
            check_id=check.id,
            tools=["paired_bootstrap"],
        )
    verdict = "significant" if result.p_value < 0.05 else "not significant at the 0.05 level"
    answer = (
        f"Paired bootstrap over {result.n} shared evaluation rows: {metric} changed by "
        f"{result.delta:+.4f} (95% CI {result.ci_low:+.4f} to {result.ci_high:+.4f}, "
        f"one-sided p={result.p_value:.3g}): {verdict}."
    )
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=["get_eval_table", "paired_bootstrap"],
        evidence=[f"artifact:{bundle.candidate.ref}/{cand_table.path}"],
        data=result.model_dump(),
    )


def _segments_question(checks: Sequence[CheckResult]) -> QuestionAnswer | None:
    segment_checks = [c for c in checks if c.kind == "segment" and c.delta is not None]
    if not segment_checks:
        return None
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
        evidence=sorted({e for c in segment_checks for e in c.evidence}),
        data={c.id: c.delta for c in segment_checks},
    )


def _missing_evidence_question(
    bundle: EvidenceBundle, errors: Sequence[CheckResult]
) -> QuestionAnswer:
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
    )


def _safety_question(bundle: EvidenceBundle, check: CheckResult) -> QuestionAnswer:
    suite_name = str(check.details.get("suite", check.id.split(".")[1] if "." in check.id else ""))
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
        evidence=[f"safety:{suite_name}"],
        data={"failing_cases": cases},
    )


class OfflineInvestigator:
    """Follows a fixed plan of diagnostic questions; needs no LLM and no network."""

    name = "offline"

    def investigate(self, bundle: EvidenceBundle, verdict: PolicyVerdict) -> Investigation:
        checks = verdict.checks
        problems = [c for c in checks if c.status in _PROBLEM]
        questions: list[QuestionAnswer] = []
        regressions = [c for c in problems if c.kind in ("metric", "segment")]
        if regressions or any(c.kind == "comparability" for c in problems):
            questions.append(_same_dataset_question(bundle))
        for check in problems:
            if check.kind == "metric" and check.delta is not None:
                answer = _significance_question(bundle, check)
                if answer is not None:
                    questions.append(answer)
            elif check.kind == "eval":
                questions.append(_safety_question(bundle, check))
        segments = _segments_question(checks)
        if segments is not None:
            questions.append(segments)
        errors = [c for c in problems if c.status == "error"]
        if errors or bundle.candidate.gaps:
            questions.append(_missing_evidence_question(bundle, errors))
        if regressions or any(c.kind == "pipeline" for c in problems):
            questions.extend(diagnose_pipeline(bundle, checks))

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
