"""Decisions for people: rich tables for the terminal and Markdown for PR comments."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console, Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from policies.decision import Decision

__all__ = [
    "conclusions_markdown",
    "decision_markdown",
    "decision_renderable",
    "decisions_table",
    "print_decision",
]

_VERDICT_STYLE = {"approve": "bold green", "block": "bold red", "escalate": "bold yellow"}
_STATUS_STYLE = {
    "pass": "green",
    "fail": "red",
    "error": "magenta",
    "warn": "yellow",
    "skip": "dim",
}
_STATUS_ICON = {"pass": "✅", "fail": "❌", "error": "⛔", "warn": "⚠️", "skip": "⏭️"}


def _num(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _policy_list(decision: Decision, template: str) -> str:
    names = [template.format(f"{p.name}@{p.revision}") for p in decision.policies]
    return ", ".join(names) or "none"


def decision_renderable(decision: Decision, *, show_passing: bool = True) -> Group:
    """A rich renderable: verdict panel, checks table, findings and the question/answer log."""
    style = _VERDICT_STYLE[decision.verdict]
    baseline = (
        f" vs v{decision.baseline_version}"
        if decision.baseline_version is not None
        else " (no baseline)"
    )
    header = Text.assemble(
        (decision.verdict.upper(), style),
        f"  {decision.model} v{decision.version}{baseline} → @{decision.target_alias}",
    )
    lines = [header]
    for reason in decision.reasons:
        lines.append(Text(f"• {reason}"))
    parts: list[Table | Panel | Text] = [Panel(Group(*lines), title="promogate decision")]
    if decision.conclusions:
        conclusions = Table(title="Conclusions", expand=True)
        conclusions.add_column("cause", overflow="fold")
        conclusions.add_column("explains", overflow="fold")
        for conclusion in decision.conclusions:
            conclusions.add_row(
                f"{conclusion.cause}\n{conclusion.effect}", "\n".join(conclusion.check_ids)
            )
        parts.append(conclusions)

    checks = Table(title="Checks", show_lines=False, expand=True)
    for column in ("check", "status", "observed", "threshold", "baseline", "Δ", "p"):
        checks.add_column(column, overflow="fold")
    for check in decision.checks:
        if not show_passing and check.status in ("pass", "skip"):
            continue
        checks.add_row(
            check.id,
            Text(check.status, style=_STATUS_STYLE[check.status]),
            _num(check.observed),
            _num(check.threshold),
            _num(check.baseline),
            f"{check.delta:+.4f}" if check.delta is not None else "",
            f"{check.p_value:.3g}" if check.p_value is not None else "",
        )
    parts.append(checks)

    if decision.findings:
        findings = Table(title="Findings", expand=True)
        findings.add_column("severity")
        findings.add_column("finding", overflow="fold")
        for finding in decision.findings:
            findings.add_row(finding.severity, f"{finding.title}: {finding.detail}")
        parts.append(findings)
    if decision.questions:
        qa = Table(title="Diagnostic questions", expand=True)
        qa.add_column("question", overflow="fold")
        qa.add_column("answer", overflow="fold")
        for item in decision.questions:
            qa.add_row(item.question, item.answer)
        parts.append(qa)
    parts.append(
        Text(
            f"decision {decision.id} · evidence {(decision.evidence_digest or 'none')[:12]} · "
            f"policies {_policy_list(decision, '{}')} · "
            f"{decision.investigator} investigator · {decision.duration_ms:.0f} ms",
            style="dim",
        )
    )
    return Group(*parts)


def print_decision(decision: Decision, console: Console | None = None) -> None:
    (console or Console()).print(decision_renderable(decision))


def decisions_table(decisions: Sequence[Decision], *, title: str = "Decisions") -> Table:
    """One row per decision: the summary the demo and `ledger list` print."""
    table = Table(title=title, expand=True)
    for column in ("model", "version", "verdict", "failed checks", "reason"):
        table.add_column(column, overflow="fold")
    for decision in decisions:
        failed = [c.id for c in decision.checks if c.status in ("fail", "error")]
        table.add_row(
            decision.model,
            str(decision.version),
            Text(decision.verdict, style=_VERDICT_STYLE[decision.verdict]),
            "\n".join(failed) or "-",
            decision.reasons[0] if decision.reasons else "",
        )
    return table


def conclusions_markdown(decision: Decision, *, heading_level: int = 4) -> list[str]:
    """The decision's conclusions as Markdown lines: each cause, then the checks it explains
    (nothing when there are none)."""
    if not decision.conclusions:
        return []
    out = ["", f"{'#' * heading_level} Conclusions", ""]
    for conclusion in decision.conclusions:
        out.append(f"- **{conclusion.cause}** {conclusion.effect}")
        out.extend(f"  - `{check_id}`" for check_id in conclusion.check_ids)
    return out


def decision_markdown(decision: Decision, *, heading_level: int = 3) -> str:
    """Markdown for a PR comment or `review --markdown`."""
    h = "#" * heading_level
    icon = {"approve": "✅", "block": "❌", "escalate": "⚠️"}[decision.verdict]
    baseline = f" vs v{decision.baseline_version}" if decision.baseline_version is not None else ""
    out = [
        f"{h} {icon} promogate: **{decision.verdict}** `{decision.model}` v{decision.version}"
        f"{baseline} → `@{decision.target_alias}`",
        "",
    ]
    out.extend(f"- {reason}" for reason in decision.reasons)
    out += conclusions_markdown(decision, heading_level=heading_level + 1)
    out += [
        "",
        "| check | status | observed | threshold | baseline | Δ | p |",
        "|---|---|---|---|---|---|---|",
    ]
    for check in decision.checks:
        delta = f"{check.delta:+.4f}" if check.delta is not None else ""
        p_value = f"{check.p_value:.3g}" if check.p_value is not None else ""
        out.append(
            f"| `{check.id}` | {_STATUS_ICON[check.status]} {check.status} "
            f"| {_num(check.observed)} "
            f"| {_num(check.threshold)} | {_num(check.baseline)} | {delta} | {p_value} |"
        )
    if decision.findings:
        out += ["", f"{h}# Findings", ""]
        out.extend(f"- **{f.severity}** {f.title}: {f.detail}" for f in decision.findings)
    if decision.questions:
        out += [
            "",
            f"<details><summary>Diagnostic questions ({len(decision.questions)})</summary>",
            "",
        ]
        out.extend(f"- **{q.question}** {q.answer}" for q in decision.questions)
        out += ["", "</details>"]
    out += [
        "",
        f"<sub>decision `{decision.id}` · evidence `{(decision.evidence_digest or 'none')[:12]}` · "
        f"policies {_policy_list(decision, '`{}`')}</sub>",
    ]
    return "\n".join(out)
