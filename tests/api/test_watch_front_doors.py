"""The watch at the front doors: the MLflow event hook, the gauges, the pages and the CLI."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from support.watch_scenario import START, WatchScenario
from support.webhook_delivery import delivery_headers
from typer.testing import CliRunner

from api._event_processor import MONITORING_TAG
from api._watch_commands import pass_exit_code
from api._watch_metrics import WatchCollector
from api.app import create_app
from api.settings import Settings
from ledger.records import WatchRecord
from ledger.store import Ledger
from review.watch_runner import WatchPass, WindowOutcome

SECRET = "watch-webhook-secret"


@pytest.fixture
def scenario(watch_models: Any, tmp_path: Path) -> Iterator[WatchScenario]:
    running = WatchScenario(watch_models, tmp_path)
    yield running
    running.close()


def _gauge(exposition: str, name: str, **labels: str) -> float | None:
    for line in exposition.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(
            part.split("=", 1) for part in line[len(name) + 1 : line.index("}")].split(",")
        )
        if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_a_logged_window_event_runs_the_watch_and_shows_on_metrics_and_pages(
    scenario: WatchScenario,
) -> None:
    scenario.log_window(0, drift=True)
    settings = Settings(
        tracking_uri=scenario.tracking_uri,
        ledger_url=scenario.ledger_url,
        policies_dir=scenario.policies_dir,
        mlflow_webhook_secret=SECRET,
        allow_anonymous=True,
        mlflow_http_retries=0,
    )
    body = json.dumps(
        {
            "entity": "model_version_tag",
            "action": "set",
            "timestamp": datetime.now(UTC).isoformat(),
            "data": {"name": scenario.name, "version": "2", "key": MONITORING_TAG, "value": "r"},
        }
    ).encode()
    with TestClient(create_app(settings)) as client:
        answer = client.post(
            "/v1/mlflow/webhook", content=body, headers=delivery_headers(body, secret=SECRET)
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["queued"] == [f"watch {scenario.name}/2"]
        client.app.state.promogate_events.processor.flush(timeout=120)  # type: ignore[attr-defined]

        records = scenario.ledger.list_watch(scenario.name)
        assert [r.level for r in records] == ["alert"]
        assert records[0].decision_id is not None
        metrics = client.get("/metrics").text
        model_page = client.get(f"/models/{scenario.name}")
        decision_page = client.get(f"/decisions/{records[0].decision_id}")
        # The in-process periodic pass (SQLite deployments) picks up the next window.
        later = scenario.log_window(1)
        loop = client.app.state.promogate_watch  # type: ignore[attr-defined]
        (periodic,) = [p for p in loop.run_once() if p.model == scenario.name]
        assert [w.window_id for w in periodic.windows] == [later]

    assert _gauge(metrics, "promogate_watch_level", model=scenario.name, version="2") == 2.0
    f0 = _gauge(metrics, "promogate_watch_drift_score", model=scenario.name, feature="f0")
    assert f0 is not None and f0 > 0.0
    north = _gauge(
        metrics,
        "promogate_watch_check_level",
        model=scenario.name,
        check="performance.recall.region=north",
    )
    assert north == 2.0
    assert _gauge(
        metrics, "promogate_watch_last_window_end_timestamp_seconds", model=scenario.name
    ) == pytest.approx((START + timedelta(days=1)).timestamp())
    assert model_page.status_code == 200 and 'id="watch"' in model_page.text
    assert "region=north" in model_page.text
    assert decision_page.status_code == 200
    assert "reopened this decision" in decision_page.text
    assert "Is the realised drop significant?" in decision_page.text


def _record(level: str, checks: list[dict[str, Any]], **extra: Any) -> WatchRecord:
    return WatchRecord.model_validate(
        {
            "model": "m",
            "version": 3,
            "target_alias": "champion",
            "window_id": f"run-{uuid.uuid4().hex[:6]}",
            "window_start": START,
            "window_end": START + timedelta(hours=6),
            "window_digest": "d",
            "labelled": True,
            "level": level,
            "report": {"drift_share": 0.25, "checks": checks},
            **extra,
        }
    )


def test_the_gauges_follow_the_latest_window_of_each_alias(tmp_path: Path) -> None:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    drift = {
        "id": "drift.feature.income",
        "kind": "feature_drift",
        "status": "alert",
        "drift": {"feature": "income", "method": "psi", "statistic": 0.31},
    }
    metric = {
        "id": "performance.recall.region=north",
        "kind": "performance",
        "status": "watch",
        "metric": {"metric": "recall", "segment": "region=north", "realised_value": 0.7},
    }
    ledger.append_watch(_record("ok", []))
    ledger.append_watch(_record("alert", [drift, metric]))
    ledger.append_watch(_record("skip", []).model_copy(update={"target_alias": "canary"}))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(ledger))

    text = generate_latest(registry).decode()

    assert _gauge(text, "promogate_watch_level", model="m", alias="champion") == 2.0
    assert _gauge(text, "promogate_watch_level", model="m", alias="canary") == -1.0
    assert _gauge(text, "promogate_watch_drift_score", feature="income", method="psi") == 0.31
    assert _gauge(text, "promogate_watch_drift_share", alias="champion") == 0.25
    assert (
        _gauge(
            text,
            "promogate_watch_check_level",
            check="performance.recall.region=north",
            kind="performance",
        )
        == 1.0
    )
    assert (
        _gauge(text, "promogate_watch_realised_metric", metric="recall", segment="region=north")
        == 0.7
    )


@pytest.mark.parametrize(
    ("levels", "errors", "code"),
    [
        ([], [], 0),
        (["ok", "skip"], [], 0),
        (["ok", "watch"], [], 2),
        (["watch", "alert"], [], 1),
        (["alert"], ["MLflow could not be read"], 3),
    ],
    ids=["nothing-new", "ok-and-skip", "watch", "alert", "error-wins"],
)
def test_watch_exit_codes(levels: list[str], errors: list[str], code: int) -> None:
    windows = [
        WindowOutcome.model_validate({"window_id": f"w{i}", "level": level})
        for i, level in enumerate(levels)
    ]
    passes = [WatchPass(model="m", alias="champion", windows=windows, errors=errors)]

    assert pass_exit_code(passes) == code


@pytest.mark.slow
def test_promogate_watch_end_to_end(scenario: WatchScenario, tmp_path: Path) -> None:
    """Windows logged with `promogate monitor log` from files; `promogate watch` catches the
    drift in one region and the realised recall drop there, records, exports and advises."""
    import api.cli
    from api.cli import app

    api.cli._mount_optional_apps()
    runner = CliRunner()
    where = ["--tracking-uri", scenario.tracking_uri]
    ledger = ["--ledger-url", scenario.ledger_url, "--policies", str(scenario.policies_dir)]
    for day, drift in ((0, False), (1, False), (2, True)):
        frame = scenario.frame(day, drift=drift)
        inputs, labels = tmp_path / f"day{day}.csv", tmp_path / f"labels{day}.parquet"
        frame.drop(columns=["label"]).to_csv(inputs, index=False)
        frame[["row_id", "label", "prediction", "score", "region"]].to_parquet(labels)
        start = (START + timedelta(days=day)).isoformat()
        end = (START + timedelta(days=day + 1)).isoformat()
        for extra in ([], ["--labels"]):
            logged = runner.invoke(
                app,
                [
                    *("monitor", "log", scenario.name, "2"),
                    *("--file", str(labels if extra else inputs)),
                    *("--start", start, "--end", end, *extra, *where),
                ],
                catch_exceptions=False,
            )
            assert logged.exit_code == 0, logged.output
        tags = scenario.client.get_model_version(scenario.name, "2").tags
        assert tags[MONITORING_TAG] in logged.output
        if day == 1:
            stable = runner.invoke(
                app, ["watch", f"{scenario.name}@champion", *where, *ledger, "--json"]
            )
            assert stable.exit_code in (0, 2), stable.output
            assert all(w["level"] != "alert" for w in json.loads(stable.output)[0]["windows"])

    metrics_file = tmp_path / "watch.prom"
    result = runner.invoke(
        app,
        [
            "watch",
            f"{scenario.name}@champion",
            *where,
            *ledger,
            "--metrics-file",
            str(metrics_file),
        ],
    )

    assert result.exit_code == 1, result.output
    assert "alert" in result.output and "region=north: f0" in result.output
    previous = scenario.promotions[1].decision_id
    assert (
        "Rollback target: v1, the last version promogate approved for @champion "
        f"(decision {previous})" in result.output
    )
    (window,) = [r for r in scenario.ledger.list_watch(scenario.name) if r.level == "alert"]
    decision = scenario.ledger.get_decision(window.decision_id or "")
    drop = next(q for q in decision.questions if q.question == "Is the realised drop significant?")
    assert "recall in region=north" in drop.answer and drop.answer.startswith("Yes.")
    text = metrics_file.read_text()
    assert _gauge(text, "promogate_watch_level", model=scenario.name) == 2.0
    assert _gauge(text, "promogate_watch_drift_score", model=scenario.name, feature="f0")
    assert scenario.champion() == 2
    nothing_new = runner.invoke(app, ["watch", scenario.name, *where, *ledger])
    assert nothing_new.exit_code == 0, nothing_new.output
    assert scenario.ledger.verify().ok
