"""Rollback advice: the target comes from the ledger's alias history; the cost from real scoring."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger
from policies.decision import Decision
from review._watch_advice import ScoredWindow, classification_metrics, measure_cost, rollback_target


def _decision(version: int) -> Decision:
    return Decision(
        id=f"dec-v{version}",
        model="m",
        version=version,
        verdict="approve",
        policy_verdict="approve",
        evidence_digest=f"digest-{version}",
        created_at=datetime.now(UTC),
    )


def _promote(ledger: Ledger, version: int, previous: int | None) -> Promotion:
    ledger.append_decision(_decision(version))
    promotion = Promotion(
        model="m",
        version=version,
        target_alias="champion",
        previous_version=previous,
        decision_id=f"dec-v{version}",
        promoted_by="deployer",
        evidence_digest=f"digest-{version}",
    )
    ledger.append_promotion(promotion)
    return promotion


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


def test_the_target_is_the_last_approved_holder_before_the_current_one(ledger: Ledger) -> None:
    _promote(ledger, 1, None)
    second = _promote(ledger, 2, 1)
    _promote(ledger, 3, 2)

    target = rollback_target(ledger, "m", "champion", current=3)

    assert target is not None
    assert (target.version, target.record_id, target.decision_id) == (2, second.id, "dec-v2")


def test_unapproved_moves_are_never_a_target_but_reverts_and_accepted_moves_are(
    ledger: Ledger,
) -> None:
    _promote(ledger, 1, None)
    reported = AliasMove(
        model="m",
        version=5,
        target_alias="champion",
        expected_version=1,
        approved=False,
        mode="enforce",
        action="reported",
        source="webhook",
    )
    ledger.append_alias_move(reported)
    revert = AliasRevert(
        model="m",
        version=5,
        target_alias="champion",
        restored_version=1,
        move_id=reported.id,
        reverted_by="guard",
    )
    ledger.append_alias_revert(revert)
    _promote(ledger, 2, 1)

    target = rollback_target(ledger, "m", "champion", current=2)

    assert target is not None
    assert (target.version, target.record_id, target.decision_id) == (1, revert.id, None)


def test_no_target_when_promogate_never_approved_another_version(ledger: Ledger) -> None:
    _promote(ledger, 1, None)

    assert rollback_target(ledger, "m", "champion", current=1) is None
    assert rollback_target(ledger, "m", "canary", current=1) is None


@pytest.mark.parametrize(
    ("labels", "predictions", "expected"),
    [
        ([1, 1, 0, 0], [1, 0, 0, 1], {"accuracy": 0.5, "recall": 0.5, "precision": 0.5, "f1": 0.5}),
        ([1, 1, 1, 0], [0.9, 0.2, 0.7, 0.1], {"accuracy": 0.75, "recall": 2 / 3, "precision": 1.0}),
        ([0, 0], [0, 0], {"accuracy": 1.0}),
        ([], [], {}),
    ],
    ids=["hard-labels", "scores-thresholded", "no-positives", "empty"],
)
def test_classification_metrics(
    labels: list[int], predictions: list[float], expected: dict[str, float]
) -> None:
    found = classification_metrics(labels, predictions)

    for name, value in expected.items():
        assert found[name] == pytest.approx(value)
    assert set(expected) <= set(found)
    if not labels:
        assert found == {}


def test_the_cost_compares_both_versions_on_the_same_labelled_rows() -> None:
    window = ScoredWindow(window_id="run-1", features=[0, 1, 2, 3], labels=[1.0, 1.0, 0.0, 1.0])

    costs = measure_cost(
        windows=[window, ScoredWindow(window_id="unlabelled", features=[], labels=[])],
        metrics=["recall"],
        score_current=lambda rows: [0, 0, 0, 1],
        score_previous=lambda rows: [1, 1, 0, 1],
    )

    assert [(c.window_id, c.metric, c.rows) for c in costs] == [("run-1", "recall", 4)]
    assert costs[0].current == pytest.approx(1 / 3)
    assert costs[0].previous == pytest.approx(1.0)
    assert costs[0].delta == pytest.approx(2 / 3)


def test_a_regressors_cost_is_its_error_never_a_thresholded_accuracy() -> None:
    """Delivery minutes predicted by the holder and by the rollback target: moving back changes
    the error; no class is made of a prediction of 27 minutes."""
    window = ScoredWindow(window_id="run-2", features=[0, 1, 2, 3], labels=[20.0, 35.0, 28.0, 41.0])

    costs = measure_cost(
        windows=[window],
        metrics=["mae", "rmse"],
        score_current=lambda rows: [26.0, 29.0, 22.0, 47.0],
        score_previous=lambda rows: [21.0, 33.0, 29.0, 40.0],
    )

    by_metric = {c.metric: c for c in costs}
    assert set(by_metric) == {"mae", "rmse"}
    assert by_metric["mae"].current == pytest.approx(6.0)
    assert by_metric["mae"].previous == pytest.approx(1.25)
    assert by_metric["mae"].delta == pytest.approx(-4.75)
    assert by_metric["rmse"].current == pytest.approx(6.0)
