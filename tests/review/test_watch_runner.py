"""Watch passes on a real registry: a champion promoted by the gate, windows logged to MLflow."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.watch_scenario import WatchScenario

from review.watch_runner import WATCH_ACTOR, Watcher, WatchNotice


@pytest.fixture
def scenario(watch_models: Any, tmp_path: Path) -> Iterator[WatchScenario]:
    running = WatchScenario(watch_models, tmp_path)
    yield running
    running.close()


@pytest.fixture
def notices() -> list[WatchNotice]:
    return []


@pytest.fixture
def watcher(scenario: WatchScenario, notices: list[WatchNotice]) -> Watcher:
    return Watcher(scenario.gate, notify=notices.append)


def test_stable_windows_are_recorded_once_and_late_labels_reevaluate_a_window(
    scenario: WatchScenario, watcher: Watcher
) -> None:
    scenario.log_window(0)
    unlabelled = scenario.log_window(1, labels=False)

    first = watcher.watch(scenario.name)

    assert first.errors == []
    assert first.version == 2
    assert [w.level for w in first.windows if w.level == "alert"] == []
    assert first.decision_id is None and first.advice is None
    records = scenario.ledger.list_watch(scenario.name, target_alias="champion", version=2)
    assert len(records) == 2
    assert {r.window_id: r.labelled for r in records}[unlabelled] is False
    assert watcher.watch(scenario.name).windows == []

    scenario.log_labels(1)
    again = watcher.watch(scenario.name)

    assert [w.window_id for w in again.windows] == [unlabelled]
    latest = scenario.ledger.list_watch(scenario.name)[0]
    earlier = next(r for r in records if r.window_id == unlabelled)
    assert (latest.window_id, latest.supersedes, latest.labelled) == (unlabelled, earlier.id, True)
    assert latest.reevaluation_reason is not None
    assert latest.reevaluation_reason.startswith("labels arrived late")
    assert any(c["id"] == "performance.recall" for c in latest.report["checks"])
    assert scenario.ledger.verify().ok


def test_drift_in_one_region_reopens_the_decision_and_names_the_rollback_target(
    scenario: WatchScenario, watcher: Watcher, notices: list[WatchNotice]
) -> None:
    scenario.log_window(0)
    watcher.watch(scenario.name)
    drifted = scenario.log_window(1, drift=True)

    result = watcher.watch(scenario.name)

    assert result.level == "alert"
    (window,) = result.windows
    assert window.window_id == drifted
    assert "f0" in window.drifted_features
    assert "f0" in window.drifted_segments["region=north"]
    assert "performance.recall.region=north" in window.failing
    decision = scenario.ledger.get_decision(result.decision_id or "")
    assert (decision.model, decision.version, decision.verdict) == (scenario.name, 2, "block")
    assert decision.requested_by == WATCH_ACTOR
    north = next(c for c in decision.checks if c.id == "watch.performance.recall.region=north")
    assert (north.kind, north.status) == ("watch", "fail")
    assert north.p_value is not None and north.p_value < 0.05
    questions = {q.question: q for q in decision.questions}
    moved = questions["Which features moved, since when, and which segments do they affect?"]
    assert "f0" in moved.answer and "region=north" in moved.answer
    assert moved.data["since"]["f0"].startswith("2026-11-03")
    assert questions["Is the realised drop significant?"].answer.startswith("Yes.")
    previous = scenario.promotions[1]
    assert result.advice is not None and result.advice.target is not None
    assert result.advice.target.version == 1
    assert result.advice.target.decision_id == previous.decision_id
    assert previous.decision_id in result.advice.summary
    north_recall = next(
        c for c in result.advice.costs if c.segment == "region=north" and c.metric == "recall"
    )
    assert north_recall.delta is not None and north_recall.delta > 0.2
    record = scenario.ledger.list_watch(scenario.name)[0]
    assert record.decision_id == decision.id
    assert f"re_review:{decision.id}" in record.actions
    assert scenario.champion() == 2
    assert [n.kind for n in notices][-1] == "watch_alert"
    assert notices[-1].record_id == decision.id


def test_a_small_window_is_skip_and_a_broken_artifact_is_an_error(
    scenario: WatchScenario, watcher: Watcher
) -> None:
    from watch.monitoring import SAMPLE_PATH

    scenario.log_window(0, rows=120, labels=False)
    broken = scenario.log_window(1)
    scenario.client.log_text(broken, '{"columns": ["f0"], "data": "not rows"}', SAMPLE_PATH)

    result = watcher.watch(scenario.name)

    assert result.level == "error"
    levels = {w.window_id: w for w in result.windows}
    assert levels[broken].error is not None and SAMPLE_PATH in levels[broken].error
    assert levels[broken].level == "alert"
    small = next(w for w in result.windows if w.window_id != broken)
    assert small.level == "skip"
    assert result.decision_id is None
    # The broken window stays as it is until its evidence changes: not evaluated again.
    assert watcher.watch(scenario.name).windows == []


def test_automatic_rollback_moves_the_alias_through_promote(
    watch_models: Any, tmp_path: Path
) -> None:
    scenario = WatchScenario(watch_models, tmp_path, rollback="automatic")
    try:
        scenario.log_window(0, drift=True)

        result = Watcher(scenario.gate).watch(scenario.name)

        assert result.rollback is not None and result.rollback.done, result.rollback
        assert scenario.champion() == 1
        promotion = scenario.ledger.list_promotions(scenario.name, version=1)[0]
        assert (promotion.promoted_by, promotion.previous_version) == (WATCH_ACTOR, 2)
        assert promotion.id == result.rollback.promotion_id
        record = scenario.ledger.list_watch(scenario.name)[0]
        assert f"rollback:{promotion.id}" in record.actions
        assert scenario.ledger.verify().ok
    finally:
        scenario.close()


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            """\
            apiVersion: promogate/v1
            kind: PromotionPolicy
            metadata: {name: watched, revision: 2}
            match: {model: "watched-*"}
            metrics:
              - {name: recall, min: 0.5}
            """,
            "no trusted policy with a watch: section",
        ),
    ],
    ids=["no-watch-section"],
)
def test_a_pass_without_a_usable_watch_policy_is_an_error(
    scenario: WatchScenario, watcher: Watcher, policy: str, expected: str
) -> None:
    scenario.log_window(0)
    (scenario.policies_dir / "watched.yaml").write_text(textwrap.dedent(policy))

    result = watcher.watch(scenario.name)

    assert result.level == "error"
    assert expected in result.errors[0]
    assert scenario.ledger.list_watch(scenario.name) == []
