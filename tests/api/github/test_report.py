"""The PR comment opens with the decision's conclusions, and says nothing of them when there are
none."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from api._plain_output import decision_lines
from api.github._report import SubjectReport, marker, marker_subject, render_comment
from api.render import decision_markdown
from policies.decision import Conclusion, Decision
from policies.result import CheckResult

SEGMENTS = [f"segments.region.recall.{r}" for r in ("north", "south")]
CHECKS = [
    CheckResult(id=i, policy="p", kind="segment", status="fail", message=f"{i} fell")
    for i in SEGMENTS
]
CONCLUSION = Conclusion(
    kind="decision_threshold_moved",
    cause="The decision threshold moved: model.decision_threshold changed from 0.5 to 0.75.",
    effect="These 2 check(s) judge metrics counted from predicted classes.",
    check_ids=SEGMENTS,
    evidence=["file:pipeline/pipeline.yaml:16"],
)


def _decision(conclusions: list[Conclusion]) -> Decision:
    return Decision(
        id="d1",
        model="churn",
        version=5,
        baseline_version=1,
        verdict="block",
        policy_verdict="block",
        reasons=["p@1: segments.region.recall.north fail"],
        checks=CHECKS,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        conclusions=conclusions,
    )


def _comment(decision: Decision) -> str:
    report = SubjectReport(
        subject="request:promote.yaml",
        title="promotion request: block",
        verdict="block",
        conclusion="failure",
        summary="2 checks failed",
        head_sha="a" * 40,
        checks=CHECKS,
        decision=decision,
    )
    return render_comment(report)


def _plain(decision: Decision) -> str:
    return "\n".join(decision_lines(decision))


# (id, renderer, a line that must come after the conclusions)
RENDERERS: list[tuple[str, Callable[[Decision], str], str]] = [
    ("pr-comment", _comment, "#### Failed checks"),
    ("markdown", decision_markdown, "| check | status |"),
    ("plain", _plain, "check fail segments.region.recall.north"),
]


@pytest.mark.parametrize(
    ("render", "after"), [r[1:] for r in RENDERERS], ids=[r[0] for r in RENDERERS]
)
def test_conclusions_come_before_the_checks(render: Callable[[Decision], str], after: str) -> None:
    text = render(_decision([CONCLUSION]))
    cause = text.index("The decision threshold moved")
    assert cause < text.index(after)
    grouped = text[cause : text.index(after)]
    for check_id in SEGMENTS:
        assert check_id in grouped


@pytest.mark.parametrize(
    ("render", "after"), [r[1:] for r in RENDERERS], ids=[r[0] for r in RENDERERS]
)
def test_nothing_is_said_without_conclusions(render: Callable[[Decision], str], after: str) -> None:
    text = render(_decision([]))
    assert "onclusion" not in text
    assert after in text


def test_the_terminal_shows_the_conclusions_first() -> None:
    from rich.console import Console

    from api.render import decision_renderable

    console = Console(record=True, width=200)
    console.print(decision_renderable(_decision([CONCLUSION])))
    text = console.export_text()
    assert text.index("Conclusions") < text.index("Checks")
    assert "The decision threshold moved" in text


@pytest.mark.parametrize(
    ("subject", "written"),
    [
        ("review:credit-risk@7", "review:credit-risk@7"),
        ("request:promotions/credit.yaml", "request:promotions/credit.yaml"),
        ("review:credit risk@7", "review:credit%20risk@7"),
        ("review:a-->b@7", "review:a--%3Eb@7"),
        ("review:o'brien@@champion", "review:o%27brien@@champion"),
        ("review:modèle@2", "review:mod%C3%A8le@2"),
    ],
    ids=["plain", "request-file", "space", "comment-end", "quote", "accented"],
)
def test_a_comment_marker_names_its_subject_whatever_the_model_name(
    subject: str, written: str
) -> None:
    """The bot finds its own comment by the marker: a subject cut short at a space, or a marker
    ended early by ``-->``, would have it post a new comment on every update."""
    body = f"the report\n\n{marker(subject)}\n"
    assert f"subject={written} -->" in body
    assert marker_subject(body) == subject
