"""The demo's post-promotion watch: stable days pass, the drifting day in north alerts and
names v1 as the rollback target, on the real demo registry (built once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd  # type: ignore[import-untyped]
import pytest

from demo.command import EXAMPLE_POLICIES
from review.watch_runner import WATCH_ACTOR
from scenarios.watch_windows import (
    DRIFT_FEATURE,
    DRIFT_REGION,
    WATCH_DAYS,
    DemoWatch,
    WatchDay,
    describe_watch,
    production_day,
    run_watch_scenario,
    watch_command,
)

NORTH = f"region={DRIFT_REGION}"


@pytest.mark.parametrize(
    ("day", "north_ratio"),
    [(WATCH_DAYS[0], 1.0), (WATCH_DAYS[-1], 1.0 / 3.0)],
    ids=["stable-day", "drifting-day"],
)
def test_the_drifting_day_misreports_utilization_in_north_only(
    day: WatchDay, north_ratio: float
) -> None:
    seen = production_day(day, seed=0)
    true = production_day(WatchDay(day.day, drifting=False), seed=0)
    north = seen["region"] == DRIFT_REGION

    ratio = seen.loc[north, DRIFT_FEATURE].sum() / true.loc[north, DRIFT_FEATURE].sum()

    assert ratio == pytest.approx(north_ratio, rel=1e-3)
    pd.testing.assert_frame_equal(seen[~north], true[~north])
    assert seen["label"].tolist() == true["label"].tolist()


@pytest.fixture(scope="module")
def ledger_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("demo-watch")) / "promogate.db"


@pytest.fixture(scope="module")
def watched(demo_registry: Any, ledger_path: Path) -> Iterator[DemoWatch]:
    import mlflow

    ledger = ledger_path
    try:
        yield run_watch_scenario(demo_registry, ledger, EXAMPLE_POLICIES)
    finally:
        # The registry is shared by the session: put @champion back where the build left it.
        client = mlflow.MlflowClient(demo_registry.tracking_uri, demo_registry.tracking_uri)
        client.set_registered_model_alias(
            demo_registry.model_name, "champion", str(demo_registry.champion_version)
        )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("day", "level"),
    [(d.day, "alert" if d.drifting else "ok") for d in WATCH_DAYS],
    ids=[f"day-{d.day}-{'drifting' if d.drifting else 'stable'}" for d in WATCH_DAYS],
)
def test_each_production_day_gets_its_level(watched: DemoWatch, day: int, level: str) -> None:
    window = next(w for w in watched.watch.windows if w.window_id == watched.window_ids[day])

    assert window.level == level
    assert window.error is None
    if level == "ok":
        assert window.drifted_features == []
        assert window.failing == []
    else:
        assert DRIFT_FEATURE in window.drifted_features
        assert DRIFT_FEATURE in window.drifted_segments[NORTH]


@pytest.mark.slow
def test_the_realised_recall_drop_is_caught_in_north_only(watched: DemoWatch) -> None:
    drifting = [m for m in watched.realised if m.window_id == watched.drifting_window_id]
    north = next(m for m in drifting if m.metric == "recall" and m.segment == NORTH)

    assert north.status == "alert"
    assert north.realised_value < north.promotion_value - 0.3
    assert north.p_value is not None and north.p_value < 0.05
    others = {m.segment for m in drifting if m.segment is not None and m.status == "alert"}
    assert others == {NORTH}
    stable = [m for m in watched.realised if m.window_id != watched.drifting_window_id]
    assert stable and {m.status for m in stable} <= {"ok"}


@pytest.mark.slow
def test_the_watch_reopens_v2_and_advises_moving_back_to_v1(
    watched: DemoWatch, demo_registry: Any, ledger_path: Path
) -> None:
    from ledger.store import Ledger

    result = watched.watch
    ledger = Ledger(f"sqlite:///{ledger_path}")
    try:
        decision = ledger.get_decision(result.decision_id or "")
        promotion = ledger.list_promotions("credit-risk", version=2)[0]
    finally:
        ledger.close()

    assert (result.level, result.version, result.errors) == ("alert", 2, [])
    assert result.decision_verdict == "block"
    assert (decision.version, decision.verdict, decision.requested_by) == (2, "block", WATCH_ACTOR)
    assert (promotion.id, promotion.previous_version) == (watched.promotion_id, 1)
    advice = result.advice
    assert advice is not None and advice.target is not None
    assert advice.target.version == watched.previous_version == 1
    assert advice.target.record_id == watched.previous_promotion_id
    assert "Rollback target: v1, the last version promogate approved for @champion" in (
        advice.summary
    )
    assert result.rollback is None
    lines = describe_watch(watched, watch_command(demo_registry.workdir, EXAMPLE_POLICIES))
    text = "\n".join(lines)
    assert f"{WATCH_DAYS[-1].start:%Y-%m-%d}: alert; drifted: {DRIFT_FEATURE}" in text
    assert f"realised recall in {NORTH}" in text
    assert "decision reopened: " + str(result.decision_id) in text
    assert lines[-1].startswith("Run it again: promogate watch credit-risk@champion ")


@pytest.mark.slow
def test_the_rollback_advice_scores_v1_on_the_labelled_windows(watched: DemoWatch) -> None:
    """v1 is loaded (its tree type trusted by `watch.skops_trusted_types`) and scored on
    the rows v2 served: moving back recovers recall in north, where v2 lost it."""
    advice = watched.watch.advice
    assert advice is not None and advice.target is not None and advice.target.version == 1

    assert advice.not_scored is None, advice.summary
    scored = {c.window_id for c in advice.costs if c.segment is None}
    assert scored == set(watched.window_ids.values())
    recall = {
        c.segment: c
        for c in advice.costs
        if c.window_id == watched.drifting_window_id and c.metric == "recall"
    }
    north, overall = recall[NORTH], recall[None]
    assert north.current is not None and north.previous is not None and north.delta is not None
    assert north.delta == pytest.approx(north.previous - north.current)
    assert north.delta > 0.1
    realised = next(
        m
        for m in watched.realised
        if m.window_id == watched.drifting_window_id and m.metric == "recall" and m.segment == NORTH
    )
    assert north.current == pytest.approx(realised.realised_value)
    assert overall.rows == north.rows + sum(
        c.rows for key, c in recall.items() if key not in (None, NORTH)
    )
    assert (
        f"recall in {NORTH} {north.current:.3f} -> {north.previous:.3f} ({north.delta:+.3f})"
        in advice.summary
    )
    assert "was not measured" not in advice.summary
