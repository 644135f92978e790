"""What a reopened decision says about the watch: findings and diagnostic questions.

Answered from the alerting windows' reports and the version's earlier windows in the ledger:
which features moved, since when, and within which segments; whether the realised drop is
significant; where a rollback would go and what it would cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.records import WatchRecord
from policies.decision import Finding, QuestionAnswer
from review._watch_advice import RollbackAdvice
from watch.report import WatchCheck, WindowReport

__all__ = ["diagnose"]


def _segment_label(segment: str | None) -> str:
    return f" in {segment}" if segment else ""


def diagnose(
    history: Sequence[WatchRecord],
    alerts: Sequence[tuple[WatchRecord, WindowReport]],
    advice: RollbackAdvice | None,
) -> tuple[list[Finding], list[QuestionAnswer]]:
    """The findings and diagnostic questions a reopened decision carries.

    Args:
        history: The version's earlier watch records for the alias, newest first.
        alerts: The alerting windows of this pass, with their reports.
        advice: The rollback advice, if any.
    """
    history = [r for r in history if r.error is None]
    latest_by_window: dict[str, dict[str, Any]] = {}
    for r in reversed(history):  # oldest first; later records supersede
        latest_by_window[r.window_id] = {
            "start": r.window_start,
            "drifted": r.report.get("drifted_features") or [],
            "segments": r.report.get("drifted_segments") or {},
        }
    for record, report in alerts:
        latest_by_window[record.window_id] = {
            "start": report.window_start,
            "drifted": report.drifted_features,
            "segments": report.drifted_segments,
        }
    ordered = sorted(
        latest_by_window.items(),
        key=lambda kv: kv[1]["start"] or datetime.min.replace(tzinfo=UTC),
    )
    moved = sorted({f for _, rep in alerts for f in rep.drifted_features})
    since: dict[str, str] = {}
    for feature in moved:
        first: datetime | None = None
        for _, info in reversed(ordered):  # walk back while the feature keeps drifting
            if feature in info["drifted"]:
                first = info["start"]
            else:
                break
        since[feature] = first.isoformat() if first is not None else "unknown"
    segments: dict[str, list[str]] = {}
    for _, rep in alerts:
        for segment, features in rep.drifted_segments.items():
            for feature in features:
                segments.setdefault(feature, [])
                if segment not in segments[feature]:
                    segments[feature].append(segment)
    perf = [
        c
        for _, rep in alerts
        for c in rep.checks
        if c.kind == "performance" and c.metric is not None and c.status != "skip"
    ]
    for _, rep in alerts:
        for c in rep.checks:
            if c.kind == "performance" and c.status in ("watch", "alert") and c.metric:
                where = c.metric.segment
                if where:
                    segments.setdefault("(realised performance)", [])
                    if where not in segments["(realised performance)"]:
                        segments["(realised performance)"].append(where)
    evidence = [f"run:{record.window_id}" for record, _ in alerts]
    if moved:
        parts = [
            f"{f} since the window starting {since[f]}"
            + (f", within {', '.join(segments[f])}" if segments.get(f) else " (across segments)")
            for f in moved
        ]
        moved_answer = "Moved: " + "; ".join(parts) + "."
    else:
        moved_answer = "No feature drifted beyond its threshold in the alerting windows."
    if segments.get("(realised performance)"):
        moved_answer += (
            " Realised performance fell in: " + ", ".join(segments["(realised performance)"]) + "."
        )
    significant = [c for c in perf if c.status == "alert"]
    # Drops beyond tolerance that are not significant, whatever level the policy gives them.
    unconfirmed = [
        c
        for c in perf
        if c.status in ("ok", "watch")
        and c.metric is not None
        and c.metric.worsening > c.metric.max_drop
    ]

    def describe(c: WatchCheck) -> str:
        m = c.metric
        assert m is not None
        p = f", one-sided p={m.p_value:.3g}" if m.p_value is not None else ""
        return (
            f"{m.metric}{_segment_label(m.segment)}: {m.promotion_value:.3f} at promotion, "
            f"{m.realised_value:.3f} realised on {m.window_rows} labelled rows "
            f"(delta {m.delta:+.3f}{p}, significance {m.significance:g}, {m.method})"
        )

    if significant:
        drop_answer = "Yes. " + "; ".join(describe(c) for c in significant) + "."
    elif unconfirmed:
        drop_answer = (
            "Not confirmed: the drop exceeds the tolerance but is not significant. "
            + "; ".join(describe(c) for c in unconfirmed)
            + "."
        )
    elif perf:
        drop_answer = "No: realised metrics are within tolerance of their promotion values."
    else:
        drop_answer = (
            "Unknown: no labels have arrived for the alerting windows yet (or below the "
            "label floor), so realised performance could not be judged."
        )
    questions = [
        QuestionAnswer(
            question="Which features moved, since when, and which segments do they affect?",
            answer=moved_answer,
            tools=["watch.evaluate_window", "ledger.list_watch"],
            evidence=evidence,
            data={"features": moved, "since": since, "segments": segments},
        ),
        QuestionAnswer(
            question="Is the realised drop significant?",
            answer=drop_answer,
            tools=["watch.evaluate_window"],
            evidence=evidence,
            data={
                "significant": [c.id for c in significant],
                "unconfirmed": [c.id for c in unconfirmed],
            },
        ),
    ]
    findings = [
        Finding(
            title=f"Watch alert on window {record.window_id}",
            detail=record.summary,
            severity="blocker" if record.level == "alert" else "warning",
            evidence=[f"run:{record.window_id}"],
        )
        for record, _ in alerts
    ]
    if advice is not None:
        questions.append(
            QuestionAnswer(
                question="Where would a rollback go, and what would moving back cost?",
                answer=advice.summary,
                tools=["ledger.alias_history", "review._watch_advice.measure_cost"],
                evidence=evidence,
                data=advice.model_dump(mode="json"),
            )
        )
        findings.append(
            Finding(
                title="Rollback advice",
                detail=advice.summary,
                severity="warning",
                evidence=[f"ledger:{advice.target.record_id}"] if advice.target else [],
            )
        )
    return findings, questions
