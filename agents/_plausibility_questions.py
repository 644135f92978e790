"""The offline plan's questions about good news, asked on every review with the LLM's own tools.

Is the gain plausible against the model's history and the settings that changed? Could a new
input carry information known only after the outcome? Does the model now lean on one new input?
Each answer quotes the tool result and the plausibility check it explains.
"""

from __future__ import annotations

from typing import Any

from agents._agent_tools import ReviewContext, call_tool
from policies.decision import QuestionAnswer
from policies.result import CheckResult

__all__ = ["plausibility_questions"]


def _verdict_of(check: CheckResult | None) -> str:
    if check is None:
        return ""
    if check.status in ("warn", "fail"):
        action = check.details.get("action", "report")
        return f" Suspicious ({check.status}, plausibility.action: {action}): {check.message}."
    if check.status == "skip":
        return f" Not answered: {check.message}."
    return f" {check.message}."


def _gain_question(ctx: ReviewContext, check: CheckResult) -> QuestionAnswer:
    metric = check.id.removeprefix("plausibility.gain.")
    question = (
        f"Is the {metric} gain plausible against this model's history and the changed settings?"
    )
    lower = bool(check.details.get("lower_is_better", False))
    result = call_tool("check_gain_plausibility", ctx, metric=metric, lower_is_better=lower)
    if "error" in result:
        return QuestionAnswer(
            question=question,
            answer=f"Not answerable: {result['error']}.",
            check_id=check.id,
            tools=["check_gain_plausibility"],
        )
    history = result.get("history") or []
    classes = result.get("changed_setting_classes") or {}
    moved = result.get("largest_history_move")
    answer = (
        f"{metric} moved {result['baseline']} -> {result['candidate']} (gain {result['gain']:+}); "
        + (
            f"across {len(history)} earlier versions the largest move was {moved}"
            if moved is not None
            else f"{len(history)} earlier value(s), too few for a history"
        )
        + "; changed settings: "
        + (", ".join(sorted(classes)) if classes else "none")
        + "."
        + _verdict_of(check)
    )
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=["check_gain_plausibility"],
        evidence=list(result.get("evidence", [])),
        data={k: result.get(k) for k in ("gain", "history", "largest_history_move")},
    )


def _inputs_question(ctx: ReviewContext, check: CheckResult) -> QuestionAnswer:
    question = "Could a new or changed input carry information known only after the outcome?"
    result = call_tool("list_new_inputs", ctx)
    if "error" in result:
        return QuestionAnswer(
            question=question,
            answer=f"Not answerable: {result['error']}.",
            check_id=check.id,
            tools=["list_new_inputs"],
        )
    rows: list[dict[str, Any]] = list(result.get("new_inputs", []))
    names = sorted({str(r["name"]) for r in rows})
    flagged = sorted({str(r["name"]) for r in rows if r.get("post_outcome_pattern")})
    answer = (
        (f"New inputs: {', '.join(names)}" if names else "No new inputs")
        + f" (looked at: {', '.join(result.get('looked_at', [])) or 'nothing readable'})"
        + (f"; named like post-outcome data: {', '.join(flagged)}" if flagged else "")
        + "."
        + _verdict_of(check)
    )
    return QuestionAnswer(
        question=question,
        answer=answer,
        check_id=check.id,
        tools=["list_new_inputs"],
        evidence=list(result.get("evidence", [])) or list(check.evidence),
        data={"new_inputs": names, "post_outcome_named": flagged},
    )


def _importance_question(ctx: ReviewContext, check: CheckResult) -> QuestionAnswer:
    question = "Does the gain concentrate in one new input, by the model's own importances?"
    tools = ["get_feature_importances"]
    result = call_tool("get_feature_importances", ctx, version="candidate")
    if "error" in result:
        return QuestionAnswer(
            question=question,
            answer=f"Importances unavailable: {result['error']}.",
            check_id=check.id,
            tools=tools,
        )
    shares: dict[str, float] = dict(result.get("shares", {}))
    top = next(iter(shares.items()), None)
    evidence = list(result.get("evidence", []))
    base_text = ""
    if ctx.bundle.baseline is not None:
        base = call_tool("get_feature_importances", ctx, version="baseline")
        tools.append("get_feature_importances")
        if "error" not in base and top is not None:
            share = dict(base.get("shares", {})).get(top[0])
            base_text = (
                f"; the baseline's model gives it {share:.0%}"
                if share is not None
                else "; the baseline's model has no such input"
            )
            evidence += list(base.get("evidence", []))
    answer = (
        f"The largest share is {top[1]:.0%} on {top[0]!r}{base_text}." if top else ""
    ) + _verdict_of(check)
    return QuestionAnswer(
        question=question,
        answer=answer.strip(),
        check_id=check.id,
        tools=tools,
        evidence=evidence,
        data={"shares": shares},
    )


def plausibility_questions(ctx: ReviewContext) -> list[QuestionAnswer]:
    """The plausibility questions of a review, one per plausibility check the policies made.

    Asked whatever the verdict: an approval is questioned like a failure. Without plausibility
    checks (no baseline, or every applying policy disabled them) there is nothing to ask.

    Args:
        ctx: The review's tool context.
    """
    checks = [c for c in ctx.verdict.checks if c.kind == "plausibility"]
    seen: set[str] = set()
    questions: list[QuestionAnswer] = []
    for check in checks:
        if check.id in seen:
            continue
        seen.add(check.id)
        if check.id.startswith("plausibility.gain."):
            questions.append(_gain_question(ctx, check))
        elif check.id == "plausibility.post_outcome_inputs":
            questions.append(_inputs_question(ctx, check))
        elif check.id == "plausibility.importance":
            questions.append(_importance_question(ctx, check))
    return questions
