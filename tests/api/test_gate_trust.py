"""The gate verifies a ledger record before it trusts it, and four eyes hold for approvals.

Today's defect: after one ``UPDATE`` turning v3's block into approve, ``ledger verify`` failed, yet
``POST /v1/gate`` answered ``allowed: true`` and ``POST /v1/promote`` moved the alias to v3, whose
own recorded checks still failed. The tampering runs on SQLite and on the real PostgreSQL.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from mlflow import MlflowClient
from sqlalchemy import select
from support.postgres_schema import postgres_schema

from ledger._chain import compute_record_hash
from ledger.tables import HEAD_ROW_ID, LedgerHeadRow, LedgerRecordRow

MODEL = "gate-model"
ROC_DROP = "metrics.roc_auc.max_drop"
TURN_BLOCK_INTO_APPROVE = (
    "UPDATE ledger_records SET verdict = 'approve', "
    'payload = REPLACE(payload, \'"verdict":"block"\', \'"verdict":"approve"\') '
    "WHERE record_id = :record_id"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh ledger database, once per backend (a schema of its own on PostgreSQL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
        return
    postgres_url: str = request.getfixturevalue("postgres_url")
    with postgres_schema(postgres_url, "promogate_trust") as url:
        yield url


def _sql(api: Any, statement: str, **params: Any) -> None:
    with api.ledger.database.engine.begin() as connection:
        connection.execute(sqlalchemy.text(statement), params)


def _gate(api: Any, version: int, target: str, who: str = "deployer") -> dict[str, Any]:
    response = api.client.post(
        "/v1/gate",
        json={"model": MODEL, "version": version, "target_alias": target},
        headers=api.headers(who),
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def _promote(api: Any, version: int, target: str) -> Any:
    return api.client.post(
        "/v1/promote",
        json={"model": MODEL, "version": version, "target_alias": target},
        headers=api.headers("deployer"),
    )


def test_an_edited_record_is_neither_reused_nor_promoted_on(
    make_api: Any, ledger_url: str, gate_registry: Any
) -> None:
    api = make_api(ledger_url=ledger_url)
    target = f"trust-{secrets.token_hex(3)}"
    blocked = _gate(api, 3, target)
    assert blocked["allowed"] is False
    _sql(api, TURN_BLOCK_INTO_APPROVE, record_id=blocked["decision_id"])
    assert not api.ledger.verify().ok

    answer = _gate(api, 3, target)
    assert answer["allowed"] is False
    assert answer["decision_id"] == blocked["decision_id"]
    assert "does not verify" in answer["error"]
    promoted = _promote(api, 3, target)
    assert promoted.status_code == 409, promoted.text
    assert "does not verify" in promoted.json()["detail"]
    assert (
        target not in MlflowClient(gate_registry.tracking_uri).get_registered_model(MODEL).aliases
    )


def _forge(api: Any, record_id: str) -> None:
    """A careful forger: turn the block into an approval and recompute every hash after it."""
    with api.ledger.database.write() as session:
        rows = {r.seq: r for r in session.execute(select(LedgerRecordRow)).scalars()}
        for seq in sorted(rows):
            row = rows[seq]
            if row.record_id == record_id:
                row.verdict = "approve"
                row.payload = row.payload.replace('"verdict":"block"', '"verdict":"approve"')
            if seq > 1:
                row.prev_hash = rows[seq - 1].record_hash
            row.record_hash = compute_record_hash(row)
        head = session.get(LedgerHeadRow, HEAD_ROW_ID)
        assert head is not None
        head.record_hash = rows[max(rows)].record_hash


def test_an_approval_whose_checks_fail_is_refused_whatever_its_verdict(
    make_api: Any, ledger_url: str, gate_registry: Any
) -> None:
    api = make_api(ledger_url=ledger_url)
    target = f"forged-{secrets.token_hex(3)}"
    blocked = _gate(api, 3, target)
    _forge(api, blocked["decision_id"])
    assert api.ledger.verify().ok
    assert api.ledger.get_decision(blocked["decision_id"]).verdict == "approve"

    answer = _gate(api, 3, target)
    assert answer["allowed"] is False
    assert ROC_DROP in answer["error"]
    promoted = _promote(api, 3, target)
    assert promoted.status_code == 409
    assert (
        target not in MlflowClient(gate_registry.tracking_uri).get_registered_model(MODEL).aliases
    )


def test_an_intact_approval_is_still_reused_and_promoted(make_api: Any, ledger_url: str) -> None:
    api = make_api(ledger_url=ledger_url)
    target = f"intact-{secrets.token_hex(3)}"
    first = _gate(api, 2, target)
    again = _gate(api, 2, target)
    assert (first["allowed"], again["allowed"], again["reused"]) == (True, True, True)
    assert _promote(api, 2, target).status_code == 200


def test_a_decision_the_policies_no_longer_give_is_neither_reused_nor_promoted_on(
    make_api: Any, gate_registry: Any, tmp_path: Path
) -> None:
    """An earlier release read a rule differently and approved v3 on this very evidence under
    these very policy files (its record verifies, its checks pass). The policies block v3 now, so
    that approval is not promoted on and the gate reviews again instead of reusing it."""
    api = make_api(ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    blocked = api.ledger.get_decision(_gate(api, 3, f"now-{secrets.token_hex(3)}")["decision_id"])
    target = f"then-{secrets.token_hex(3)}"
    app: Any = api.client.app
    evidence = app.state.promogate.gate.reviews.gather(MODEL, 3, target_alias=target)
    then = blocked.model_copy(
        update={
            "id": secrets.token_hex(16),
            "target_alias": target,
            "evidence_digest": evidence.bundle.digest,
            "verdict": "approve",
            "policy_verdict": "approve",
            "reasons": ["all checks passed"],
            "findings": [],
            "conclusions": [],
            "checks": [
                c.model_copy(update={"status": "pass"}) if c.status in ("fail", "error") else c
                for c in blocked.checks
            ],
        }
    )
    api.ledger.append_decision(then)
    assert api.ledger.verify().ok

    promoted = _promote(api, 3, target)
    assert promoted.status_code == 409, promoted.text
    assert "they give 'block' now" in promoted.json()["detail"]
    answer = _gate(api, 3, target)
    assert (answer["allowed"], answer["reused"]) == (False, False)
    assert answer["decision_id"] not in (then.id, blocked.id)
    assert any(ROC_DROP in r for r in answer["reasons"])
    assert (
        target not in MlflowClient(gate_registry.tracking_uri).get_registered_model(MODEL).aliases
    )


# -- four eyes ------------------------------------------------------------------------------------


def _override(api: Any, who: str, version: int, target: str, check_ids: list[str]) -> Any:
    return api.client.post(
        "/v1/overrides",
        json={
            "model": MODEL,
            "version": version,
            "target_alias": target,
            "check_ids": check_ids,
            "justification": "fallback model for the outage runbook, accepted by risk",
            "expires_in_hours": 24,
        },
        headers=api.headers(who),
    )


def _review(api: Any, who: str, version: int, target: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/reviews",
        json={"model": MODEL, "version": version, "target_alias": target},
        headers=api.headers(who),
    )
    assert response.status_code == 201, response.text
    decision: dict[str, Any] = response.json()["decision"]
    return decision


def _with_root(api: Any) -> Any:
    api.tokens["root"] = api.ledger.tokens.create_token("root", "approver")[1]
    return api


def test_the_requester_cannot_override_its_own_review(make_api: Any) -> None:
    api = _with_root(make_api())
    target = f"eyes-{secrets.token_hex(3)}"
    decision = _review(api, "release-lead", 3, target)
    assert decision["verdict"] == "block"
    assert decision["requested_by"] == "release-lead"
    own = _override(api, "release-lead", 3, target, [ROC_DROP])
    assert own.status_code == 403, own.text
    assert "requested" in own.json()["detail"]
    other = _override(api, "root", 3, target, [ROC_DROP])
    assert other.status_code == 201, other.text
    assert _gate(api, 3, target)["allowed"] is True


def test_the_requester_cannot_approve_its_own_escalation(make_api: Any) -> None:
    api = _with_root(make_api())
    decision = _review(api, "release-lead", 2, "canary")
    assert decision["verdict"] == "escalate"
    own = _override(api, "release-lead", 2, "canary", ["escalation"])
    assert own.status_code == 403, own.text
    assert _override(api, "root", 2, "canary", ["escalation"]).status_code == 201
    assert _gate(api, 2, "canary")["allowed"] is True


def test_a_policy_may_require_two_distinct_approvers(
    make_api: Any, gate_registry: Any, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(gate_registry.policies_dir, policies)
    text = (policies / "gate-test.yaml").read_text()
    (policies / "gate-test.yaml").write_text(
        text.replace("  expires_hours: 48\n", "  expires_hours: 48\n  min_approvers: 2\n")
    )
    api = _with_root(make_api(policies_dir=policies))
    target = f"two-{secrets.token_hex(3)}"
    assert _gate(api, 3, target)["allowed"] is False
    assert _override(api, "release-lead", 3, target, [ROC_DROP]).status_code == 201
    one = _gate(api, 3, target)
    assert one["allowed"] is False
    assert "2 distinct approvers" in one["reasons"][-1]
    # The same approver twice is still one pair of eyes.
    assert _override(api, "release-lead", 3, target, [ROC_DROP]).status_code == 201
    assert _gate(api, 3, target)["allowed"] is False
    assert _override(api, "root", 3, target, [ROC_DROP]).status_code == 201
    assert _gate(api, 3, target)["allowed"] is True
