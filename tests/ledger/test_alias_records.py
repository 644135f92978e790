"""Alias moves and reverts as ledger records of their own kinds, on both backends."""

from __future__ import annotations

from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger
from tests.ledger.conftest import DecisionFactory


def test_alias_history_reads_each_kind_back_newest_first(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    decision = make_decision(model="fraud", version=6, verdict="approve")
    ledger.append_decision(decision)
    promotion = Promotion(
        model="fraud",
        version=6,
        target_alias="champion",
        decision_id=decision.id,
        promoted_by="deployer",
        evidence_digest=decision.evidence_digest or "",
    )
    ledger.append_promotion(promotion)
    move = AliasMove(
        model="fraud",
        version=7,
        target_alias="champion",
        expected_version=6,
        approved=False,
        mode="enforce",
        action="reverting",
        source="webhook",
        delivery_id="d-1",
        reasons=["no decision about v7 for @champion in the ledger"],
    )
    ledger.append_alias_move(move)
    revert = AliasRevert(
        model="fraud",
        version=7,
        target_alias="champion",
        restored_version=6,
        move_id=move.id,
        reverted_by="promogate-alias-guard",
    )
    record = ledger.append_alias_revert(revert)
    ledger.append_alias_move(move.model_copy(update={"id": "amv-other", "target_alias": "canary"}))

    assert record.kind == "alias_revert" and record.target_alias == "champion"
    assert ledger.alias_history("fraud", "champion") == [revert, move, promotion]
    assert ledger.alias_history("fraud", "champion", limit=1) == [revert]
    assert ledger.alias_history("churn", "champion") == []
    assert ledger.get_record(move.id).kind == "alias_move"
    assert ledger.list_decisions("fraud") == [decision], "alias records are not decisions"
    assert ledger.verify().ok
