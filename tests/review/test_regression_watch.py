"""A promoted regressor watched on a real registry: its realised error after roadworks in one
region reopens the decision, and the rollback advice prices moving back in minutes of error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.regression_watch import DeliveryScenario
from support.watch_scenario import WatchModels

from review.watch_runner import Watcher, WatchNotice


@pytest.fixture
def scenario(delivery_models: WatchModels, tmp_path: Path) -> Iterator[DeliveryScenario]:
    running = DeliveryScenario(delivery_models, tmp_path)
    yield running
    running.close()


@pytest.mark.slow
def test_roadworks_in_the_west_reopen_the_regressor_and_price_the_rollback_in_error(
    scenario: DeliveryScenario,
) -> None:
    notices: list[WatchNotice] = []
    watcher = Watcher(scenario.gate, notify=notices.append)
    scenario.log_window(0)
    stable = watcher.watch(scenario.name)
    assert stable.errors == [] and stable.version == 2
    assert [w.level for w in stable.windows] == ["ok"], stable.windows
    (record,) = scenario.ledger.list_watch(scenario.name, target_alias="champion", version=2)
    rmse = next(c for c in record.report["checks"] if c["id"] == "performance.rmse")
    assert rmse["status"] == "ok" and rmse["metric"]["lower_is_better"] is True

    scenario.log_window(1, drift=True)
    result = watcher.watch(scenario.name)

    assert result.level == "alert", result
    (window,) = result.windows
    assert "performance.rmse" in window.failing
    assert "performance.rmse.region=west" in window.failing
    assert not any(f.startswith("performance.rmse.region=north") for f in window.failing)
    decision = scenario.ledger.get_decision(result.decision_id or "")
    assert (decision.version, decision.verdict) == (2, "block")
    advice = result.advice
    assert advice is not None and advice.target is not None and advice.target.version == 1
    assert {c.metric for c in advice.costs} == {"rmse"}, advice.summary
    assert "accuracy" not in advice.summary
    assert any(n.kind == "watch_alert" for n in notices)
