"""The watch's event hook end to end: a window logged through a real `mlflow server` runs a pass.

`promogate monitor log` logs the window and tags the version with
``promogate.watch.latest_window``; MLflow's ``model_version_tag.set`` webhook (installed by
`promogate mlflow install-webhook`) reaches a real `promogate serve`, which runs the watch and
records the window in the ledger. The stack (`events_stack`) is started once per test run and
shared with the MLflow-events tests; the champion is the watch scenario's, its models logged
through that server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from support.polling import wait_for
from support.watch_scenario import START, WatchModels, WatchScenario, build_watch_models
from support.webhook_delivery import delivery_headers
from typer.testing import CliRunner

from api._event_processor import MONITORING_TAG
from benchmarks._events_stack import EventsStack
from ledger.records import WatchRecord
from ledger.store import Ledger

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served_models(
    events_stack: EventsStack, tmp_path_factory: pytest.TempPathFactory
) -> WatchModels:
    """The watch scenario's two models, logged through the stack's MLflow server."""
    with pytest.MonkeyPatch.context() as patch:
        # log_model otherwise inspects this checkout's uv project for seconds per model.
        patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
        patch.setenv("MLFLOW_LOG_UV_FILES", "false")
        return build_watch_models(
            tmp_path_factory.mktemp("served-watch-models"), tracking_uri=events_stack.mlflow.url
        )


@pytest.fixture
def scenario(
    served_models: WatchModels, events_stack: EventsStack, tmp_path: Path
) -> Iterator[WatchScenario]:
    """v1 then v2 of a fresh `watched-*` model promoted by the gate, in the stack's ledger."""
    running = WatchScenario(
        served_models,
        tmp_path,
        tracking_uri=events_stack.mlflow.url,
        ledger_url=events_stack.ledger_url,
    )
    yield running
    running.close()


def _window_records(ledger: Ledger, model: str, window_id: str) -> list[WatchRecord]:
    return [r for r in ledger.list_watch(model) if r.window_id == window_id]


def _monitor_log(stack: EventsStack, model: str, file: Path, day: int, *extra: str) -> str:
    """`promogate monitor log` for v2's window of `day`; returns the run it logged."""
    import api.cli

    api.cli._mount_optional_apps()
    start, end = START + timedelta(days=day), START + timedelta(days=day + 1)
    result = CliRunner().invoke(
        api.cli.app,
        [
            *("monitor", "log", model, "2", "--file", str(file)),
            *("--start", start.isoformat(), "--end", end.isoformat(), *extra),
            *("--tracking-uri", stack.mlflow.url, "--json"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    run_id: str = json.loads(result.stdout)["run_id"]
    return run_id


def _refused(stack: EventsStack, outcome: str) -> float:
    """How many deliveries `promogate serve` has refused for `outcome`, from its /metrics."""
    text = httpx.get(
        f"{stack.api.url}/metrics",
        headers={"Authorization": f"Bearer {stack.token}"},
        timeout=30.0,
    ).text
    prefix = f'promogate_mlflow_webhook_deliveries_total{{outcome="{outcome}"}} '
    return next(
        (float(line[len(prefix) :]) for line in text.splitlines() if line.startswith(prefix)), 0.0
    )


def test_a_window_logged_through_mlflow_runs_the_watch(
    scenario: WatchScenario, events_stack: EventsStack, events_ledger: Ledger, tmp_path: Path
) -> None:
    frame = scenario.frame(0, drift=True)
    inputs, labels = tmp_path / "day0.csv", tmp_path / "labels0.parquet"
    frame.drop(columns=["label"]).to_csv(inputs, index=False)
    frame[["row_id", "label", "prediction", "score", "region"]].to_parquet(labels)

    window = _monitor_log(events_stack, scenario.name, inputs, 0)
    _monitor_log(events_stack, scenario.name, labels, 0, "--labels")

    # The tag of the window, then the tag of its labels: the pass that sees the labels (the
    # first one, or a second one re-evaluating the window) records a labelled window.
    records = wait_for(
        "the watch record of the labelled window",
        lambda: [r for r in _window_records(events_ledger, scenario.name, window) if r.labelled],
    )
    record = records[0]
    assert (record.version, record.target_alias, record.error) == (2, "champion", None)
    assert (record.window_start, record.window_end) == (START, START + timedelta(days=1))
    assert record.level == "alert", record.summary
    checks = {c["id"]: c for c in record.report["checks"]}
    north = checks["performance.recall.region=north"]
    assert north["status"] == "alert"
    assert north["metric"]["realised_value"] < north["metric"]["promotion_value"]
    assert record.report["labelled_rows"] == record.report["rows"] == len(frame)
    assert any(
        c["kind"] == "feature_drift" and c["drift"]["feature"] == "f0" and c["status"] != "ok"
        for c in record.report["checks"]
    )
    # The alert reopened v2's decision through the serve process's own re-review.
    assert record.decision_id is not None
    reopened = events_ledger.get_decision(record.decision_id)
    assert (reopened.model, reopened.version, reopened.verdict) == (scenario.name, 2, "block")
    alerts = wait_for(
        "the watch alert notification",
        lambda: [
            p
            for p in events_stack.sink.payloads()
            if p["kind"] == "watch_alert" and p["model"] == scenario.name
        ],
    )
    assert alerts[0]["version"] == 2


def test_a_wrongly_signed_window_event_is_refused_and_runs_no_watch(
    scenario: WatchScenario, events_stack: EventsStack, events_ledger: Ledger
) -> None:
    from watch.monitoring import log_monitoring_window

    # The window is logged without the tag: MLflow sends nothing, so the only
    # event naming this window is the one posted here.
    frame = scenario.frame(1)
    window = log_monitoring_window(
        frame.drop(columns=["label"]),
        scenario.name,
        2,
        START + timedelta(days=1),
        START + timedelta(days=2),
        client=scenario.client,
        tag_version=False,
    )
    body = json.dumps(
        {
            "entity": "model_version_tag",
            "action": "set",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"name": scenario.name, "version": "2", "key": MONITORING_TAG, "value": window},
        }
    ).encode()
    refused_before = _refused(events_stack, "bad_signature")

    forged = httpx.post(
        events_stack.webhook_url,
        content=body,
        headers=delivery_headers(body, secret="not-the-webhook-secret"),
        timeout=30.0,
    )

    # Refused before anything was parsed or queued: the answer says so, the refusal is counted,
    # and the ledger holds no watch record for the model.
    assert forged.status_code == 401, forged.text
    assert forged.json()["kind"] == "bad_signature"
    assert _refused(events_stack, "bad_signature") == refused_before + 1
    assert events_ledger.list_watch(scenario.name) == []

    # The same event signed with the webhook's secret runs the pass.
    genuine = httpx.post(
        events_stack.webhook_url,
        content=body,
        headers=delivery_headers(body, secret=events_stack.secret),
        timeout=30.0,
    )
    assert genuine.status_code == 202, genuine.text
    assert genuine.json()["queued"] == [f"watch {scenario.name}/2"]
    (record,) = wait_for(
        "the watch record", lambda: _window_records(events_ledger, scenario.name, window)
    )
    assert (record.level, record.labelled) == ("ok", False)
