"""The MLflow-calls benchmark's counting: endpoints grouped so that reads by id count as one."""

from __future__ import annotations

import pytest

from benchmarks.mlflow_calls import CallCount, _endpoint, _table


@pytest.mark.parametrize(
    ("path", "endpoint"),
    [
        ("/api/2.0/mlflow/runs/get", "/api/2.0/mlflow/runs/get"),
        ("/api/2.0/mlflow/logged-models/m-0123abc", "/api/2.0/mlflow/logged-models/{id}"),
        ("/api/2.0/mlflow/logged-models/search", "/api/2.0/mlflow/logged-models/search"),
        (
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
        ),
    ],
    ids=["run", "logged-model-by-id", "logged-model-search", "bulk-history"],
)
def test_endpoints_group_reads_by_id(path: str, endpoint: str) -> None:
    assert _endpoint(path) == endpoint


def test_the_table_names_each_gate_and_its_calls() -> None:
    rows = [
        CallCount(version=2, reused=False, calls=3, by_endpoint={"/api/2.0/mlflow/runs/get": 3}),
        CallCount(version=2, reused=True, calls=0, by_endpoint={}),
    ]
    assert _table(rows).splitlines()[2:] == [
        "| v2 | fresh | 3 | 3 runs/get |",
        "| v2 | reused | 0 |  |",
    ]
