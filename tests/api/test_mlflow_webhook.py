"""`POST /v1/mlflow/webhook` in the app: refusals before parsing, replays, faults behind it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from support.webhook_delivery import delivery_headers

from api.mlflow_events_service import MlflowEvents
from benchmarks._events_stack import NotificationSink
from benchmarks._mlflow_server import FaultProxy, free_port
from ledger.records import AliasMove
from tests.api.conftest import ApiHarness, AppFactory, GateRegistry
from tests.api.test_alias_guard import DEPLOYER, GUARD_POLICY, register_copy

SECRET = "webhook-test-secret"
PATH = "/v1/mlflow/webhook"


def _body(entity: str, action: str, **data: Any) -> bytes:
    return json.dumps(
        {"entity": entity, "action": action, "timestamp": "2026-12-02T00:00:00+00:00", "data": data}
    ).encode()


def _headers(
    body: bytes,
    *,
    secret: str = SECRET,
    delivery_id: str | None = None,
    timestamp: int | None = None,
) -> dict[str, str]:
    return delivery_headers(body, secret=secret, delivery_id=delivery_id, timestamp=timestamp)


def _events(api: ApiHarness) -> MlflowEvents:
    events: MlflowEvents = api.client.app.state.promogate_events  # type: ignore[attr-defined]
    return events


def _deliveries(api: ApiHarness, outcome: str) -> float:
    value = _events(api).metrics.deliveries.labels(outcome=outcome)._value.get()
    return float(value)


def _new_version(gate_registry: GateRegistry) -> bytes:
    return _body("model_version", "created", name=gate_registry.model, version="2")


def _refusals(body: bytes) -> list[tuple[str, dict[str, str], int, str]]:
    stale = int(time.time()) - 3600
    good = _headers(body)
    return [
        ("unsigned", {k: v for k, v in good.items() if k != "X-MLflow-Signature"}, 401, "unsigned"),
        ("wrong-secret", _headers(body, secret="guess"), 401, "bad_signature"),
        (
            "tampered",
            {**good, "X-MLflow-Signature": good["X-MLflow-Signature"][:-4] + "AAA="},
            401,
            "bad_signature",
        ),
        ("stale", _headers(body, timestamp=stale), 401, "stale"),
        ("future", _headers(body, timestamp=int(time.time()) + 3600), 401, "stale"),
        ("no-timestamp", {**good, "X-MLflow-Timestamp": ""}, 400, "bad_timestamp"),
        ("no-delivery-id", {**good, "X-MLflow-Delivery-Id": ""}, 400, "bad_delivery_id"),
    ]


def test_every_bad_delivery_is_refused_and_none_is_processed(
    make_api: AppFactory, gate_registry: GateRegistry
) -> None:
    api = make_api(mlflow_webhook_secret=SECRET)
    body = _new_version(gate_registry)
    for name, headers, status, outcome in _refusals(body):
        response = api.client.post(PATH, content=body, headers=headers)
        assert (response.status_code, response.json()["kind"]) == (status, outcome), name
    # A replay of a delivery that was accepted once.
    accepted = _headers(body)
    first = api.client.post(PATH, content=body, headers=accepted)
    assert first.status_code == 202, first.text
    _events(api).processor.flush()
    decided = api.ledger.list_decisions(gate_registry.model, 2)
    for _ in range(3):
        replay = api.client.post(PATH, content=body, headers=accepted)
        assert (replay.status_code, replay.json()["kind"]) == (409, "replayed")
    _events(api).processor.flush()
    assert api.ledger.list_decisions(gate_registry.model, 2) == decided
    # One review per target alias the policies name (gate-test: champion; gate-canary: canary).
    assert sorted(d.target_alias for d in decided) == ["canary", "champion"]
    assert _deliveries(api, "accepted") == 1
    assert _deliveries(api, "replayed") == 3
    metrics = api.client.get("/metrics").text
    assert 'promogate_mlflow_webhook_deliveries_total{outcome="bad_signature"} 2.0' in metrics


def test_refused_deliveries_queue_nothing(
    make_api: AppFactory, gate_registry: GateRegistry
) -> None:
    api = make_api(mlflow_webhook_secret=SECRET)
    body = _new_version(gate_registry)
    for name, headers, _, _ in _refusals(body):
        assert api.client.post(PATH, content=body, headers=headers).status_code >= 400, name
    _events(api).processor.flush()
    assert api.ledger.list_decisions(gate_registry.model, 2) == []


def test_without_a_secret_every_delivery_is_refused(
    make_api: AppFactory, gate_registry: GateRegistry
) -> None:
    api = make_api()
    body = _new_version(gate_registry)
    response = api.client.post(PATH, content=body, headers=_headers(body))
    assert (response.status_code, response.json()["kind"]) == (404, "not_configured")


def test_a_verified_body_that_is_not_an_event_is_refused(make_api: AppFactory) -> None:
    api = make_api(mlflow_webhook_secret=SECRET)
    body = b'{"hello": "world"}'
    response = api.client.post(PATH, content=body, headers=_headers(body))
    assert (response.status_code, response.json()["kind"]) == (400, "invalid")


def test_a_burst_of_duplicate_creations_reviews_once(
    make_api: AppFactory, gate_registry: GateRegistry
) -> None:
    api = make_api(mlflow_webhook_secret=SECRET)
    body = _body("model_version", "created", name=gate_registry.model, version="3")
    answers = [api.client.post(PATH, content=body, headers=_headers(body)) for _ in range(4)]
    assert [a.status_code for a in answers] == [202] * 4
    _events(api).processor.flush()
    assert sorted(answers[0].json()["queued"]) == [
        f"review {gate_registry.model}/3@canary",
        f"review {gate_registry.model}/3@champion",
    ]
    decisions = api.ledger.list_decisions(gate_registry.model, 3)
    assert sorted(d.target_alias for d in decisions) == ["canary", "champion"]


def test_the_ledger_down_answers_503_so_mlflow_retries(
    make_api: AppFactory, gate_registry: GateRegistry
) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    api = make_api(ledger_url=url, with_tokens=False, mlflow_webhook_secret=SECRET)
    body = _new_version(gate_registry)
    response = api.client.post(PATH, content=body, headers=_headers(body))
    assert response.status_code == 503, response.text


@pytest.fixture
def guard_dir(tmp_path: Path) -> Path:
    import textwrap

    directory = tmp_path / "policies"
    directory.mkdir()
    (directory / "guard.yaml").write_text(textwrap.dedent(GUARD_POLICY))
    return directory


def test_mlflow_down_while_a_webhook_arrives(
    make_api: AppFactory,
    gate_registry: GateRegistry,
    mlflow_proxy: FaultProxy,
    guard_dir: Path,
    request: pytest.FixtureRequest,
) -> None:
    import mlflow

    api = make_api(
        tracking_uri=mlflow_proxy.url, policies_dir=guard_dir, mlflow_webhook_secret=SECRET
    )
    events = _events(api)
    events.processor.backoff_s = 0.1
    client = mlflow.MlflowClient(tracking_uri=mlflow_proxy.url, registry_uri=mlflow_proxy.url)
    model = "guard-webhook-mlflow-down"
    register_copy(client, gate_registry, model)
    assert events.state.reviews.review(model, 1, target_alias="champion").decision.verdict == (
        "approve"
    )
    events.state.gate.promote(model, 1, target_alias="champion", actor=DEPLOYER)
    client.set_registered_model_alias(model, "champion", "3")
    mlflow_proxy.set("refuse")

    body = _body("model_version_alias", "created", name=model, alias="champion", version="3")
    response = api.client.post(PATH, content=body, headers=_headers(body))
    events.processor.flush()

    assert response.status_code == 202, "accepted: MLflow's availability is the job's concern"
    failed = events.metrics.event_jobs.labels(event="model_version_alias.created", outcome="failed")
    assert failed._value.get() == 1
    assert not [r for r in api.ledger.alias_history(model, "champion") if isinstance(r, AliasMove)]
    mlflow_proxy.set("pass")
    report = events.reconcile_once()
    assert [(o.model, o.action) for o in report.outcomes if o.model == model] == [
        (model, "reverted")
    ]


def test_a_notification_sink_that_is_down_never_blocks_the_guard(
    make_api: AppFactory,
    gate_registry: GateRegistry,
    mlflow_server: Any,
    guard_dir: Path,
) -> None:
    import mlflow

    with NotificationSink() as sink:
        sink.mode = "http_503"
        api = make_api(
            policies_dir=guard_dir,
            mlflow_webhook_secret=SECRET,
            notify_url=sink.url,
            notify_attempts=2,
        )
        events = _events(api)
        events.notifier.backoff_s = 0.05
        client = mlflow.MlflowClient(tracking_uri=mlflow_server.url)
        model = "guard-webhook-sink-down"
        register_copy(client, gate_registry, model)
        client.set_registered_model_alias(model, "champion", "3")
        body = _body("model_version_alias", "created", name=model, alias="champion", version="3")

        response = api.client.post(PATH, content=body, headers=_headers(body))
        events.processor.flush()
        events.notifier.flush()

    assert response.status_code == 202
    assert "champion" not in dict(client.get_registered_model(model).aliases or {})
    metrics = api.client.get("/metrics").text
    assert (
        'promogate_notifications_total{kind="unapproved_alias_move",outcome="failed"} 1.0'
        in metrics
    )
    assert 'promogate_notifications_total{kind="alias_revert",outcome="failed"} 1.0' in metrics
