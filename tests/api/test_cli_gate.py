"""`promogate gate` decides here exactly as `POST /v1/gate` does: it reuses a decision made on the
same evidence and lets an approver's override through, where it once reviewed afresh and ignored
overrides."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app

pytestmark = pytest.mark.slow

runner = CliRunner()
MODEL = "gate-model"
ROC_DROP = "metrics.roc_auc.max_drop"


def _local_gate(api: Any, version: int, target: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app,
        [
            "gate",
            MODEL,
            str(version),
            "--target-alias",
            target,
            "--policies",
            str(api.settings.policies_dir),
            "--tracking-uri",
            api.settings.tracking_uri,
            "--ledger-url",
            api.settings.ledger_url,
            "--json",
        ],
        catch_exceptions=False,
    )
    answer: dict[str, Any] = json.loads(result.output)
    return result.exit_code, answer


def _http_gate(api: Any, version: int, target: str) -> dict[str, Any]:
    response = api.client.post(
        "/v1/gate",
        json={"model": MODEL, "version": version, "target_alias": target},
        headers=api.headers("deployer"),
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_local_gate_honours_an_override_like_the_http_gate(api: Any) -> None:
    target = f"stage-{secrets.token_hex(3)}"
    code, denied = _local_gate(api, 3, target)
    assert code == 1, denied
    assert denied["allowed"] is False and denied["verdict"] == "block"
    assert "no active override" in denied["reasons"][-1]

    created = api.client.post(
        "/v1/overrides",
        json={
            "model": MODEL,
            "version": 3,
            "target_alias": target,
            "check_ids": [ROC_DROP],
            "justification": "v3 is a deliberate fallback model for the outage runbook",
            "expires_in_hours": 24,
        },
        headers=api.headers("release-lead"),
    )
    assert created.status_code == 201, created.text
    override = created.json()
    assert override["decision_id"] == denied["decision_id"]

    code, allowed = _local_gate(api, 3, target)
    over_http = _http_gate(api, 3, target)
    assert code == 0, allowed
    assert allowed["allowed"] is True and allowed["reused"] is True
    assert allowed["overrides"] == [override["id"]]
    assert allowed == over_http
    # One review on this evidence: both gates reused it.
    assert [d.id for d in api.ledger.list_decisions(MODEL, 3)] == [denied["decision_id"]]


def test_local_gate_denies_what_the_http_gate_denies(api: Any) -> None:
    target = f"stage-{secrets.token_hex(3)}"
    code, local = _local_gate(api, 4, target)
    assert code == 1 and local["allowed"] is False and local["reused"] is False
    over_http = _http_gate(api, 4, target)
    assert over_http["reused"] is True
    assert {**local, "reused": True} == over_http
