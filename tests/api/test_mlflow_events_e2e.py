"""End to end: a real `mlflow server` delivers real webhooks to a real `promogate serve`.

One stack for the whole test run (`events_stack` in conftest.py: MLflow with webhooks on,
promogate serve, a loopback notification sink). Versions and aliases change through MLflow's REST
API, as a notebook or the MLflow UI would.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from support.polling import wait_for

from api.webhook_signature import verify_delivery
from benchmarks._events_stack import EventsStack, register_version
from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger

pytestmark = pytest.mark.slow


def _decision(ledger: Ledger, model: str, version: int) -> Any:
    decisions = ledger.list_decisions(model, version)
    return decisions[0] if decisions else None


def _champion(client: Any, model: str) -> int | None:
    aliases = dict(client.get_registered_model(model).aliases or {})
    return int(aliases["champion"]) if "champion" in aliases else None


def _setup_model(
    stack: EventsStack, client: Any, experiment_id: str, ledger: Ledger, model: str
) -> tuple[int, int]:
    """Register a good and a bad version (each reviewed on arrival) and promote the good one."""
    client.create_registered_model(model)
    good = register_version(client, experiment_id, model, {"roc_auc": 0.91})
    bad = register_version(client, experiment_id, model, {"roc_auc": 0.52})
    first = wait_for(f"a review of {model} v{good}", lambda: _decision(ledger, model, good))
    assert first.verdict == "approve", first.reasons
    blocked = wait_for(f"a review of {model} v{bad}", lambda: _decision(ledger, model, bad))
    assert blocked.verdict == "block", blocked.reasons
    response = httpx.post(
        f"{stack.api.url}/v1/promote",
        json={"model": model, "version": good},
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=60.0,
    )
    assert response.status_code == 200, response.text
    return good, bad


def _notifications(stack: EventsStack, kind: str, model: str) -> list[dict[str, Any]]:
    return [p for p in stack.sink.payloads() if p["kind"] == kind and p["model"] == model]


def test_a_new_version_is_reviewed_on_arrival(
    events_stack: EventsStack, events_client: Any, events_experiment_id: str, events_ledger: Ledger
) -> None:
    events_client.create_registered_model("guarded-arrival")
    version = register_version(
        events_client, events_experiment_id, "guarded-arrival", {"roc_auc": 0.5}
    )

    decision = wait_for("the review", lambda: _decision(events_ledger, "guarded-arrival", version))

    assert (decision.verdict, decision.target_alias) == ("block", "champion")
    blocked = wait_for(
        "the block notification", lambda: _notifications(events_stack, "block", "guarded-arrival")
    )
    headers, body = next(
        (h, b) for h, b in events_stack.sink.received if b"guarded-arrival" in b and b'"block"' in b
    )
    verify_delivery(
        secret=events_stack.secret,
        body=body,
        signature=headers["X-Promogate-Signature"],
        delivery_id=headers["X-Promogate-Delivery-Id"],
        timestamp=headers["X-Promogate-Timestamp"],
        now=time.time(),
        tolerance_s=300,
    )
    assert blocked[0]["record_id"] == decision.id


def test_enforce_puts_a_hand_moved_champion_back(
    events_stack: EventsStack, events_client: Any, events_experiment_id: str, events_ledger: Ledger
) -> None:
    model = "guarded-fraud"
    good, bad = _setup_model(
        events_stack, events_client, events_experiment_id, events_ledger, model
    )
    assert _champion(events_client, model) == good

    events_client.set_registered_model_alias(model, "champion", str(bad))

    wait_for(
        "the alias guard to put @champion back",
        lambda: (
            _champion(events_client, model) == good
            and any(
                isinstance(r, AliasRevert) for r in events_ledger.alias_history(model, "champion")
            )
        ),
    )
    history = events_ledger.alias_history(model, "champion")
    revert = next(r for r in history if isinstance(r, AliasRevert))
    move = next(r for r in history if isinstance(r, AliasMove))
    assert (revert.version, revert.restored_version, revert.move_id) == (bad, good, move.id)
    assert (move.version, move.expected_version, move.approved, move.mode, move.source) == (
        bad,
        good,
        False,
        "enforce",
        "webhook",
    )
    assert any(isinstance(r, Promotion) for r in history), "promogate's own promotion is kept"
    reverted = wait_for(
        "the revert notification", lambda: _notifications(events_stack, "alias_revert", model)
    )
    assert reverted[0]["record_id"] == revert.id
    assert _notifications(events_stack, "unapproved_alias_move", model)
    # The revert's own webhook finds the alias approved: no second move, no loop.
    time.sleep(3.0)
    assert [type(r).__name__ for r in events_ledger.alias_history(model, "champion")] == [
        "AliasRevert",
        "AliasMove",
        "Promotion",
    ]
    assert _champion(events_client, model) == good


def test_audit_records_and_notifies_but_leaves_the_alias(
    events_stack: EventsStack, events_client: Any, events_experiment_id: str, events_ledger: Ledger
) -> None:
    model = "audited-churn"
    _good, bad = _setup_model(
        events_stack, events_client, events_experiment_id, events_ledger, model
    )

    events_client.set_registered_model_alias(model, "champion", str(bad))

    moves = wait_for(
        "the audit record",
        lambda: [
            r for r in events_ledger.alias_history(model, "champion") if isinstance(r, AliasMove)
        ],
    )
    assert (moves[0].version, moves[0].mode, moves[0].action) == (bad, "audit", "reported")
    wait_for(
        "the notification", lambda: _notifications(events_stack, "unapproved_alias_move", model)
    )
    time.sleep(2.0)
    assert _champion(events_client, model) == bad
    assert not any(
        isinstance(r, AliasRevert) for r in events_ledger.alias_history(model, "champion")
    )


def test_a_hand_written_verdict_tag_is_reported(
    events_stack: EventsStack, events_client: Any, events_experiment_id: str, events_ledger: Ledger
) -> None:
    model = "guarded-tagged"
    events_client.create_registered_model(model)
    version = register_version(events_client, events_experiment_id, model, {"roc_auc": 0.4})
    wait_for("the review", lambda: _decision(events_ledger, model, version))
    # Let promogate's own tags land first; they are consistent with the events_ledger.
    wait_for(
        "the decision tags",
        lambda: events_client.get_model_version(model, str(version)).tags.get("promogate.verdict"),
    )

    events_client.set_model_version_tag(model, str(version), "promogate.verdict", "approve")

    forged = wait_for("the report", lambda: _notifications(events_stack, "forged_tag", model))
    assert forged[0]["version"] == version
    assert "not a decision" in forged[0]["reasons"][0]


def test_install_webhook_dry_run_changes_nothing_and_a_rerun_updates_in_place(
    events_stack: EventsStack, events_client: Any
) -> None:
    import json
    import os
    import subprocess
    import sys

    def install(*extra: str) -> dict[str, Any]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "api.cli",
                "mlflow",
                "install-webhook",
                "--url",
                events_stack.webhook_url,
                "--tracking-uri",
                events_stack.mlflow.url,
                "--json",
                *extra,
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "PROMOGATE_MLFLOW_WEBHOOK_SECRET": events_stack.secret},
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        parsed: dict[str, Any] = json.loads(result.stdout)
        return parsed

    before = [(w.webhook_id, w.url) for w in events_client.list_webhooks()]
    planned = install("--dry-run")
    assert (planned["action"], planned["dry_run"], planned["applied_id"]) == ("update", True, None)
    assert sorted(planned["current_events"]) == sorted(planned["events"])
    applied = install()
    assert (applied["action"], applied["applied_id"]) == ("update", before[0][0])
    assert [(w.webhook_id, w.url) for w in events_client.list_webhooks()] == before
