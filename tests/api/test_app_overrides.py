"""Overrides: approvers let named failing checks pass for the same evidence, not fixed ones."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import pytest
from mlflow import MlflowClient

MODEL = "gate-model"
ROC_DROP = "metrics.roc_auc.max_drop"
LATENCY = "metrics.latency_ms.max"


def _override(api: Any, who: str = "release-lead", **fields: Any) -> Any:
    body: dict[str, Any] = {
        "model": MODEL,
        "version": 3,
        "check_ids": [ROC_DROP],
        "justification": "v3 is a deliberate fallback model for the outage runbook",
        "expires_in_hours": 24,
        **fields,
    }
    body = {k: v for k, v in body.items() if v is not None}
    return api.client.post("/v1/overrides", json=body, headers=api.headers(who))


def _gate(api: Any, version: int, target: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/gate",
        json={"model": MODEL, "version": version, "target_alias": target},
        headers=api.headers("deployer"),
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_an_override_lets_a_blocked_version_through_for_the_same_evidence(
    api: Any, gate_registry: Any
) -> None:
    target = f"stage-{secrets.token_hex(3)}"
    denied = _gate(api, 3, target)
    assert denied["allowed"] is False
    assert "no active override" in denied["reasons"][-1]

    created = _override(api, target_alias=target)
    assert created.status_code == 201, created.text
    override = created.json()
    assert override["approver"] == "release-lead"
    assert override["decision_id"] == denied["decision_id"]
    assert override["check_ids"] == [ROC_DROP]

    allowed = _gate(api, 3, target)
    assert allowed["allowed"] is True
    assert allowed["reused"] is True
    assert allowed["verdict"] == "block"
    assert allowed["overrides"] == [override["id"]]
    assert allowed["reasons"][0].startswith("block overridden")

    listed = api.client.get(
        f"/v1/overrides?model={MODEL}&version=3&target_alias={target}",
        headers=api.headers("viewer"),
    )
    assert [o["id"] for o in listed.json()["overrides"]] == [override["id"]]

    promoted = api.client.post(
        "/v1/promote",
        json={"model": MODEL, "version": 3, "target_alias": target},
        headers=api.headers("deployer"),
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["overrides"] == [override["id"]]
    assert MlflowClient(gate_registry.tracking_uri).get_registered_model(MODEL).aliases[target] == 3
    # The override was for the alias it named; another alias is still denied.
    assert _gate(api, 3, f"other-{secrets.token_hex(3)}")["allowed"] is False
    assert api.ledger.verify().ok


def test_an_expired_override_no_longer_allows(api: Any) -> None:
    target = f"stage-{secrets.token_hex(3)}"
    assert _gate(api, 3, target)["allowed"] is False
    created = _override(api, target_alias=target, expires_in_hours=8 / 3600)
    assert created.status_code == 201, created.text
    assert _gate(api, 3, target)["allowed"] is True
    # Move the gate's clock past the recorded expiry instead of sleeping: a loaded machine makes
    # each gate call slow enough to outlast a short real expiry.
    expires_at = datetime.fromisoformat(created.json()["expires_at"])
    gate = api.client.app.state.promogate.gate
    gate.clock = lambda: expires_at + timedelta(seconds=1)
    assert _gate(api, 3, target)["allowed"] is False


@pytest.fixture(scope="module")
def decided(shared_api: Any) -> Any:
    """The shared app after gating v2 (approve), v3 (block) and v4 (block, latency) once."""
    for version in (2, 3, 4):
        _gate(shared_api, version, "champion")
    return shared_api


@pytest.mark.parametrize(
    ("who", "fields", "status", "kind", "text"),
    [
        ("intern", {}, 403, "forbidden", "lets only ['release-lead', 'root']"),
        ("release-lead", {"version": 4, "check_ids": [LATENCY]}, 409, "override_refused", "never"),
        ("release-lead", {"check_ids": ["metrics.nope"]}, 422, "invalid_request", "no checks"),
        ("release-lead", {"check_ids": ["metrics.roc_auc.min"]}, 422, "invalid_request", "do not"),
        ("release-lead", {"expires_in_hours": 100}, 422, "invalid_request", "at most 48 hours"),
        ("release-lead", {"version": 2}, 409, "override_refused", "approves"),
        ("release-lead", {"justification": None}, 422, "invalid_request", "justification"),
        ("release-lead", {"justification": "ok"}, 422, "invalid_request", "justification"),
        ("release-lead", {"expires_in_hours": None}, 422, "invalid_request", "expires_in_hours"),
        ("release-lead", {"expires_in_hours": 0}, 422, "invalid_request", "expires_in_hours"),
        ("release-lead", {"check_ids": []}, 422, "invalid_request", "check_ids"),
        ("release-lead", {"version": 1}, 404, "not_found", "no decision"),
        ("release-lead", {"decision_id": "nope"}, 404, "not_found", "'nope'"),
        ("release-lead", {"check_ids": ["escalation"]}, 422, "invalid_request", "escalated"),
    ],
    ids=[
        "approver-not-listed",
        "never-overridable",
        "unknown-check",
        "passing-check",
        "expiry-too-long",
        "nothing-to-override",
        "no-justification",
        "short-justification",
        "no-expiry",
        "zero-expiry",
        "no-checks",
        "no-decision",
        "unknown-decision",
        "escalation-of-a-block",
    ],
)
def test_override_refusals(
    decided: Any, who: str, fields: dict[str, Any], status: int, kind: str, text: str
) -> None:
    response = _override(decided, who, **fields)
    assert response.status_code == status, response.text
    assert response.json()["kind"] == kind
    assert text in response.json()["detail"]
    assert decided.ledger.active_overrides(MODEL, 3) == []
    assert decided.ledger.active_overrides(MODEL, 4) == []


def test_an_approver_decides_an_escalation(api: Any) -> None:
    escalated = _gate(api, 2, "canary")
    assert escalated["allowed"] is False
    assert escalated["verdict"] == "escalate"
    by_intern = _override(api, "intern", version=2, target_alias="canary", check_ids=["escalation"])
    # gate-test lists its approvers, and a human approval answers to every applied policy.
    assert by_intern.status_code == 403
    approval = _override(api, version=2, target_alias="canary", check_ids=["escalation"])
    assert approval.status_code == 201, approval.text
    allowed = _gate(api, 2, "canary")
    assert allowed["allowed"] is True
    assert allowed["reused"] is True
    assert allowed["overrides"] == [approval.json()["id"]]
    assert allowed["reasons"][0].startswith("escalate overridden")
