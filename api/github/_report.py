"""What the bot reports for one pull request and subject, and how it reads on GitHub.

A subject is what one comment and one check are about: ``pipeline`` (the pipeline config files the
pull request changes) or ``request:<path>`` (one promotion request file). The comment carries a
hidden marker naming the subject, so the bot finds its own comment again.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote, unquote

from pydantic import BaseModel, ConfigDict, Field

from policies.decision import Decision, Finding
from policies.result import CheckResult, Verdict

__all__ = [
    "MAX_COMMENT_CHARS",
    "Annotation",
    "AnnotationLevel",
    "Conclusion",
    "SubjectReport",
    "annotation_for",
    "check_name",
    "check_output",
    "conclusion_for",
    "marker",
    "marker_subject",
    "render_comment",
]

# GitHub refuses comment bodies over 65,536 characters; leave room for the marker and the note.
MAX_COMMENT_CHARS = 65_536
_BUDGET = 60_000
_MARKER = "<!-- promogate:subject={subject} -->"
_MARKER_RE = re.compile(r"<!-- promogate:subject=(?P<subject>[^\s>]+) -->")
_SUBJECT_SAFE = "/:@._-"
_SUMMARY_LIMIT = 60_000

AnnotationLevel = Literal["notice", "warning", "failure"]
Conclusion = Literal["success", "failure", "action_required", "neutral", "cancelled"]
_ICON: dict[Verdict, str] = {"approve": "✅", "block": "⛔", "escalate": "⚠️"}
_LEVEL: dict[str, AnnotationLevel] = {"fail": "failure", "error": "failure", "warn": "warning"}


def marker(subject: str) -> str:
    """The hidden marker that identifies the bot's comment about `subject`.

    The subject is percent-encoded: it holds a model name from the pull request, and a space
    would cut the marker short (the bot would then post a new comment on every update instead of
    editing its own), a ``-->`` would close the HTML comment and show the rest. The subjects of
    plain names (letters, digits, ``._-/:@``) read as they are, as they always did.
    """
    return _MARKER.format(subject=quote(subject, safe=_SUBJECT_SAFE))


def marker_subject(body: str) -> str | None:
    """The subject named by a comment's marker, None when it has none."""
    match = _MARKER_RE.search(body)
    return unquote(match.group("subject")) if match else None


def check_name(subject: str) -> str:
    """The check run name or status context of a subject, e.g. ``promogate/pipeline``."""
    return f"promogate/{subject}"


def conclusion_for(verdict: Verdict, allowed: bool | None = None) -> Conclusion:
    """The check conclusion: approve (or an allowing override) succeeds, block fails, and
    escalate asks for action (``action_required`` is not green, unlike ``neutral``)."""
    if allowed is True or (allowed is None and verdict == "approve"):
        return "success"
    if verdict == "escalate":
        return "action_required"
    return "failure"


class Annotation(BaseModel):
    """A finding at a line of a file of the head commit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int = Field(ge=1)
    level: AnnotationLevel
    title: str
    message: str

    def as_github(self) -> dict[str, object]:
        return {
            "path": self.path,
            "start_line": self.line,
            "end_line": self.line,
            "annotation_level": self.level,
            "title": self.title[:255],
            "message": self.message[:64_000],
        }


class SubjectReport(BaseModel):
    """The bot's result for one subject of one pull request at one head commit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    title: str = Field(description="One line, e.g. 'pipeline change: block'.")
    verdict: Verdict
    conclusion: Conclusion
    summary: str = Field(description="A sentence for the check's summary and status line.")
    head_sha: str
    checks: list[CheckResult] = Field(default_factory=list)
    findings: list[Finding] = Field(default_factory=list)
    annotations: list[Annotation] = Field(default_factory=list)
    diff_lines: list[str] = Field(default_factory=list, description="Config changes, Markdown.")
    skipped: list[str] = Field(default_factory=list, description="What was not reviewed, and why.")
    decision: Decision | None = None
    decision_url: str | None = None
    allowed: bool | None = None
    gate_reasons: list[str] = Field(default_factory=list)

    @property
    def status_description(self) -> str:
        """The commit status description (GitHub allows 140 characters)."""
        text = f"{self.verdict}: {self.summary}"
        return text if len(text) <= 140 else text[:139] + "…"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("\n", " ")[:300]


def _checks_table(checks: list[CheckResult]) -> list[str]:
    rows = [
        "| check | status | observed | threshold | baseline | delta | p | message |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in checks:
        rows.append(
            f"| `{c.id}` | {c.status} | {_cell(c.observed)} | {_cell(c.threshold)} | "
            f"{_cell(c.baseline)} | {_cell(c.delta)} | {_cell(c.p_value)} | {_cell(c.message)} |"
        )
    return rows


def _quote_block(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() or [""])


def _body(report: SubjectReport, *, budget: int) -> tuple[list[str], bool]:
    """The comment's sections, each dropped from the end while the budget is exceeded."""
    head = [
        f"### {_ICON[report.verdict]} promogate · {report.title}",
        "",
        f"**Verdict: {report.verdict}** · check `{check_name(report.subject)}` "
        f"on `{report.head_sha[:12]}` · {report.summary}",
    ]
    decision = report.decision
    if decision is not None:
        link = (
            f"[`{decision.id}`]({report.decision_url})"
            if report.decision_url
            else f"`{decision.id}`"
        )
        gate = ""
        if report.allowed is not None:
            gate = " · gate: **allowed**" if report.allowed else " · gate: **not allowed**"
        head += [
            "",
            f"Decision {link} · `{decision.model}` v{decision.version} → "
            f"@{decision.target_alias} · evidence digest `{(decision.evidence_digest or '-')[:16]}`"
            f"{gate}",
        ]
        if decision.error:
            head += ["", f"**The review could not complete:** {_cell(decision.error)}"]
    sections: list[list[str]] = []
    if decision is not None and decision.conclusions:
        lines = ["", f"#### Conclusions ({len(decision.conclusions)})", ""]
        for conclusion in decision.conclusions:
            lines.append(f"- **{_cell(conclusion.cause)}** {_cell(conclusion.effect)}")
            lines += [f"  - `{check_id}`" for check_id in conclusion.check_ids]
        sections.append(lines)
    failing = [c for c in report.checks if c.status in ("fail", "error")]
    warning = [c for c in report.checks if c.status == "warn"]
    if failing:
        sections.append(["", f"#### Failed checks ({len(failing)})", "", *_checks_table(failing)])
    if warning:
        sections.append(["", f"#### Warnings ({len(warning)})", "", *_checks_table(warning)])
    if report.gate_reasons:
        sections.append(["", "#### Gate", "", *(f"- {_cell(r)}" for r in report.gate_reasons[:10])])
    if report.diff_lines:
        sections.append(
            [
                "",
                f"<details><summary>Config diff ({len(report.diff_lines)} change(s))</summary>",
                "",
                *report.diff_lines,
                "",
                "</details>",
            ]
        )
    if decision is not None and decision.questions:
        qa = ["", f"<details><summary>Diagnostic questions ({len(decision.questions)})</summary>"]
        for item in decision.questions:
            qa += ["", f"**{_cell(item.question)}**", "", _quote_block(item.answer[:2000])]
            if item.evidence:
                qa.append("\n_evidence: " + ", ".join(f"`{e}`" for e in item.evidence[:8]) + "_")
        qa += ["", "</details>"]
        sections.append(qa)
    if report.findings:
        lines = ["", f"<details><summary>Findings ({len(report.findings)})</summary>", ""]
        lines += [
            f"- **{_cell(f.title)}** ({f.severity}): {_cell(f.detail)}" for f in report.findings
        ]
        lines += ["", "</details>"]
        sections.append(lines)
    if report.skipped:
        sections.append(["", "#### Not reviewed", "", *(f"- {_cell(s)}" for s in report.skipped)])
    lines = list(head)
    shortened = False
    used = sum(len(x) + 1 for x in lines)
    for section in sections:
        size = sum(len(x) + 1 for x in section)
        if used + size > budget:
            shortened = True
            continue
        lines += section
        used += size
    return lines, shortened


def render_comment(report: SubjectReport, *, budget: int = _BUDGET) -> str:
    """The comment's Markdown, with its hidden marker; shortened (and saying so) to fit GitHub."""
    lines, shortened = _body(report, budget=budget)
    if shortened:
        where = (
            f"the full decision is at {report.decision_url}"
            if report.decision_url
            else "the check run lists every annotation"
        )
        lines += [
            "",
            f"_This comment was shortened to fit GitHub's size limit; {where}._",
        ]
    lines += ["", marker(report.subject)]
    text = "\n".join(lines)
    return text[: MAX_COMMENT_CHARS - 1] if len(text) >= MAX_COMMENT_CHARS else text


def check_output(report: SubjectReport) -> dict[str, str]:
    """The check run's ``output`` (title, summary, text) without annotations."""
    text = render_comment(report, budget=_SUMMARY_LIMIT)
    return {
        "title": f"{report.verdict}: {report.summary}"[:255],
        "summary": report.summary[:_SUMMARY_LIMIT],
        "text": text[:_SUMMARY_LIMIT],
    }


def annotation_for(check: CheckResult, path: str, line: int) -> Annotation | None:
    """An annotation for a failing or warning check at a file line, None for other statuses."""
    level = _LEVEL.get(check.status)
    if level is None:
        return None
    return Annotation(path=path, line=line, level=level, title=check.id, message=check.message)
