"""Plain text for output that is not a terminal (CI logs, pipes, files).

Rich tables wrap at 80 columns when stdout is not a terminal, which folds model names, check ids
and reasons over several lines. Outside a terminal every command prints one readable item per line
instead.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from policies.decision import Decision

__all__ = ["decision_lines", "decisions_lines", "is_terminal"]


def is_terminal(stream: TextIO | None = None) -> bool:
    """Whether `stream` (stdout by default) is an interactive terminal."""
    target = stream if stream is not None else sys.stdout
    isatty = getattr(target, "isatty", None)
    return bool(isatty()) if callable(isatty) else False


def _num(value: float | str | None) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else f"{value:.4g}"


def decision_lines(decision: Decision) -> list[str]:
    """A decision as plain lines: verdict, reasons, every check, findings, where evidence was."""
    baseline = f" vs v{decision.baseline_version}" if decision.baseline_version is not None else ""
    lines = [
        f"{decision.verdict} {decision.model} v{decision.version}{baseline} -> "
        f"@{decision.target_alias} (decision {decision.id})"
    ]
    if decision.error:
        lines.append(f"error: {decision.error}")
    lines += [f"reason: {reason}" for reason in decision.reasons]
    for conclusion in decision.conclusions:
        lines.append(f"conclusion {conclusion.kind}: {conclusion.cause} {conclusion.effect}")
        lines += [f"  explains {check_id}" for check_id in conclusion.check_ids]
    for check in decision.checks:
        numbers = f" observed={_num(check.observed)} threshold={_num(check.threshold)}"
        if check.baseline is not None:
            numbers += f" baseline={_num(check.baseline)}"
        lines.append(f"check {check.status} {check.id}:{numbers} {check.message}")
    lines += [f"finding {f.severity}: {f.title}: {f.detail}" for f in decision.findings]
    if decision.questions:
        lines.append(f"Diagnostic questions ({len(decision.questions)}):")
        lines += [f"question: {q.question} answer: {q.answer}" for q in decision.questions]
    for ref, origins in sorted(decision.evidence_origins.items()):
        lines += [f"evidence {ref} {o.kind}: {o.source} ({o.how}; {o.detail})" for o in origins]
    return lines


def decisions_lines(decisions: Sequence[Decision]) -> Iterable[str]:
    """One line per decision: the plain form of `api.render.decisions_table`."""
    for d in decisions:
        failed = ",".join(c.id for c in d.checks if c.status in ("fail", "error")) or "-"
        reason = d.reasons[0] if d.reasons else ""
        yield f"{d.id} {d.model} v{d.version} {d.verdict} failed={failed} {reason}"
