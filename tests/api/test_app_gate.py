"""The gate and promotion over HTTP, against a real `mlflow server` and a real SQLite ledger."""

from __future__ import annotations

import logging
import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

MODEL = "gate-model"


def _gate(api: Any, version: int | str, target: str | None = None, model: str = MODEL) -> Any:
    body: dict[str, Any] = {"model": model, "version": version}
    if target is not None:
        body["target_alias"] = target
    return api.client.post("/v1/gate", json=body, headers=api.headers("deployer"))


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{re.escape(name)}(?:\{{(.*)\}})? (\S+)", line)
        if match and ",".join(sorted((match.group(1) or "").split(","))).strip(",") == wanted:
            return float(match.group(2))
    return 0.0


def test_gate_allows_an_approving_decision_and_reuses_it(api: Any, gate_registry: Any) -> None:
    first = _gate(api, 2)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["allowed"] is True
    assert answer["verdict"] == "approve"
    assert answer["reused"] is False
    assert answer["error"] is None
    decision = api.ledger.get_decision(answer["decision_id"])
    assert decision.evidence_digest == answer["evidence_digest"]
    assert [(p.name, p.revision) for p in decision.policies] == [("gate-test", 1)]

    again = _gate(api, "2").json()
    assert again["reused"] is True
    assert again["decision_id"] == answer["decision_id"]
    assert again["allowed"] is True
    assert len(api.ledger.list_decisions(MODEL, 2)) == 1

    tags = MlflowClient(gate_registry.tracking_uri).get_model_version(MODEL, "2").tags
    assert tags["promogate.verdict"] == "approve"
    assert tags["promogate.evidence_digest"] == answer["evidence_digest"]

    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert _metric(metrics.text, "promogate_reviews_total", verdict="approve") == 1.0
    assert (
        _metric(metrics.text, "promogate_gate_answers_total", outcome="allow", reused="true") == 1
    )
    assert _metric(metrics.text, "promogate_gate_duration_seconds_count") == 2.0
    assert "promogate_http_request_duration_seconds_bucket" in metrics.text


@pytest.mark.parametrize(
    ("model", "version", "target", "verdict", "error", "reason"),
    [
        (MODEL, 3, None, "block", False, "metrics.roc_auc.max_drop fail"),
        (MODEL, 4, None, "block", False, "policy forbids overriding"),
        (MODEL, 2, "canary", "escalate", False, "forbids agent approval"),
        (MODEL, 99, None, "block", True, "version 99"),
        ("no-such-model", 1, None, "block", True, "'no-such-model' not found"),
        (MODEL, "@no-such-alias", None, "block", True, "no-such-alias"),
    ],
    ids=[
        "regression",
        "never-overridable",
        "escalation",
        "unknown-version",
        "unknown-model",
        "unknown-alias",
    ],
)
def test_gate_denies_everything_but_an_approval(
    api: Any,
    model: str,
    version: int | str,
    target: str | None,
    verdict: str,
    error: bool,
    reason: str,
) -> None:
    response = _gate(api, version, target, model=model)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["allowed"] is False
    assert answer["verdict"] == verdict
    assert (answer["error"] is not None) is error
    assert reason in " ".join(answer["reasons"]) + (answer["error"] or "")
    if error:
        # No version was resolved: the review is counted but is no ledger record.
        from ledger.errors import RecordNotFoundError

        with pytest.raises(RecordNotFoundError):
            api.ledger.get_decision(answer["decision_id"])
        return
    recorded = api.ledger.get_decision(answer["decision_id"])
    assert recorded.verdict == verdict
    assert recorded.error is None


def test_gate_reviews_again_when_a_policy_revision_changes(
    make_api: Any, gate_registry: Any, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(gate_registry.policies_dir, policies)
    api = make_api(policies_dir=policies)
    first = _gate(api, 2).json()
    assert _gate(api, 2).json()["reused"] is True
    text = (policies / "gate-test.yaml").read_text()
    (policies / "gate-test.yaml").write_text(text.replace("revision: 1", "revision: 2"))
    second = _gate(api, 2).json()
    assert second["reused"] is False
    assert second["decision_id"] != first["decision_id"]
    assert second["evidence_digest"] == first["evidence_digest"]
    revisions = [p.revision for p in api.ledger.get_decision(second["decision_id"]).policies]
    assert revisions == [2]


def test_promote_moves_the_alias_only_on_an_approving_decision(
    api: Any, gate_registry: Any
) -> None:
    target = f"staging-{secrets.token_hex(3)}"
    client = MlflowClient(gate_registry.tracking_uri)
    deploy = api.headers("deployer")

    refused = api.client.post(
        "/v1/promote", json={"model": MODEL, "version": 2, "target_alias": target}, headers=deploy
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["kind"] == "promotion_refused"
    assert "no decision on the current evidence" in refused.json()["detail"]
    assert target not in client.get_registered_model(MODEL).aliases

    approval = _gate(api, 2, target).json()
    assert approval["allowed"] is True
    promoted = api.client.post(
        "/v1/promote", json={"model": MODEL, "version": 2, "target_alias": target}, headers=deploy
    )
    assert promoted.status_code == 200, promoted.text
    body = promoted.json()
    assert body["promoted"] is True
    assert body["previous_version"] is None
    assert body["promoted_by"] == "deployer"
    assert client.get_registered_model(MODEL).aliases[target] == 2
    promotion = api.ledger.get_promotion(body["record_id"])
    assert (promotion.model, promotion.version, promotion.target_alias) == (MODEL, 2, target)
    assert (promotion.previous_version, promotion.promoted_by) == (None, "deployer")
    assert promotion.decision_id == body["decision_id"] == approval["decision_id"]
    assert promotion.evidence_digest == body["evidence_digest"]
    assert promotion.overrides == body["overrides"] == []
    assert api.ledger.get_record(body["record_id"]).kind == "promotion"
    chain = api.ledger.verify()
    assert chain.ok
    assert chain.head_hash == api.ledger.get_record(body["record_id"]).record_hash
    # The promotion is no decision: later gate answers rest on decisions only. (The moved alias
    # and the promotion tags are part of the evidence, so the next gate may review again.)
    assert body["record_id"] not in {d.id for d in api.ledger.list_decisions(MODEL, 2)}
    again = _gate(api, 2, target).json()
    assert again["allowed"] is True
    assert api.ledger.get_decision(again["decision_id"]).verdict == "approve"
    reused = _gate(api, 2, target).json()
    assert (reused["allowed"], reused["reused"]) == (True, True)
    assert reused["decision_id"] == again["decision_id"] != body["record_id"]
    tags = client.get_model_version(MODEL, "2").tags
    assert tags["promogate.promoted_to"] == target
    assert tags["promogate.promotion_record"] == body["record_id"]

    assert _gate(api, 3, target).json()["allowed"] is False
    blocked = api.client.post(
        "/v1/promote", json={"model": MODEL, "version": 3, "target_alias": target}, headers=deploy
    )
    assert blocked.status_code == 409
    assert "does not allow" in blocked.json()["detail"]
    assert client.get_registered_model(MODEL).aliases[target] == 2


def test_health_and_readiness(api: Any) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"ready": True, "checks": None}
    ready = api.client.get("/readyz", headers=api.headers("viewer"))
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert set(body["checks"]) == {"mlflow", "ledger", "jobs", "warm_up"}
    assert all(check["ok"] for check in body["checks"].values())


def test_gate_reuses_on_an_unchanged_fingerprint_and_reviews_a_changed_version(
    api: Any, gate_registry: Any, mlflow_server: Any
) -> None:
    first = _gate(api, 2).json()
    api.settle()
    records = api.ledger.head()[0]
    again = _gate(api, 2).json()
    assert again["reused"] is True and again["decision_id"] == first["decision_id"]
    # Answered from the fingerprint: nothing read in full, nothing appended.
    assert api.ledger.head()[0] == records
    client = MlflowClient(mlflow_server.url)
    run_id = client.get_model_version(MODEL, "2").run_id
    assert run_id is not None
    client.log_metric(run_id, f"logged_after_review_{secrets.token_hex(3)}", 1.0)
    changed = _gate(api, 2).json()
    assert changed["reused"] is False
    assert changed["decision_id"] != first["decision_id"]
    assert changed["evidence_digest"] != first["evidence_digest"]
    assert _gate(api, 2).json()["decision_id"] == changed["decision_id"]


def test_a_fresh_gate_keeps_its_connections_to_mlflow(
    api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A gate reads both versions' evidence many reads at a time: past MLflow's default pool of
    10 connections, each extra read opened a connection, dropped it after, and logged a warning."""
    caplog.set_level(logging.WARNING, logger="urllib3.connectionpool")
    for version in (2, 3):
        assert _gate(api, version).json()["reused"] is False
    api.settle()
    dropped = [r.getMessage() for r in caplog.records if "pool is full" in r.getMessage()]
    assert dropped == []


def test_what_follows_a_gate_answer_starts_once_the_answer_is_sent(
    api: Any, gate_registry: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision's tags and fingerprint wait for the answer to leave; the route says when.
    Held far longer than the wait below, they are written only if the route released them."""
    monkeypatch.setattr("review._followups.HOLD_S", 60.0)
    answer = _gate(api, 2).json()
    assert answer["reused"] is False
    api.client.app.state.promogate.gate.drain(15.0)  # type: ignore[attr-defined]
    tags = MlflowClient(gate_registry.tracking_uri).get_model_version(MODEL, "2").tags
    assert tags["promogate.decision_id"] == answer["decision_id"]


def test_gate_reads_in_full_when_artifacts_are_served_by_mlflow(
    make_api: Any, gate_registry: Any, mlflow_server: Any, tmp_path: Path
) -> None:
    """Artifacts behind `mlflow-artifacts:` list names and sizes only: no fingerprint, and a
    decision is still reused, found by its evidence digest after a full read."""
    model = f"served-{secrets.token_hex(3)}"
    policies = tmp_path / "policies"
    shutil.copytree(gate_registry.policies_dir, policies)
    (policies / "served.yaml").write_text(
        "apiVersion: promogate/v1\nkind: PromotionPolicy\n"
        f"metadata: {{name: served, revision: 1}}\nmatch: {{model: {model}}}\n"
        "metrics:\n  - {name: roc_auc, min: 0.5}\n"
    )
    client = MlflowClient(mlflow_server.url)
    experiment = client.create_experiment(model)
    run = client.create_run(experiment)
    client.log_metric(run.info.run_id, "roc_auc", 0.9)
    client.log_text(run.info.run_id, "seed: 1\n", "pipeline/pipeline.yaml")
    client.set_terminated(run.info.run_id)
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    client.create_registered_model(model)
    client.create_model_version(model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
    api = make_api(policies_dir=policies)
    first = _gate(api, 1, model=model).json()
    assert first["error"] is None, first
    api.settle()
    records = api.ledger.head()[0]
    again = _gate(api, 1, model=model).json()
    assert again["reused"] is True and again["decision_id"] == first["decision_id"]
    # No fingerprint could be taken, so none was recorded.
    assert api.ledger.head()[0] == records
