"""The MLflow-calls benchmark's counting: endpoints grouped so that reads by id count as one."""

from __future__ import annotations

import pytest

from benchmarks.mlflow_calls import CallCount, ReadTiming, _endpoint, _table, _timing_table


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


def test_the_read_timings_give_the_reused_reads_against_the_native_ones() -> None:
    rows = [
        ReadTiming(reads="reused gate", calls=5, sequential_ms=60.0, concurrent_ms=62.0),
        ReadTiming(reads="native check", calls=4, sequential_ms=40.0, concurrent_ms=39.0),
        ReadTiming(reads="reused gate, as JSON", calls=5, sequential_ms=54.0, concurrent_ms=50.0),
        ReadTiming(reads="alone: 2 runs by id", calls=1, sequential_ms=18.0, concurrent_ms=18.0),
    ]
    lines = _timing_table(rows).splitlines()
    assert lines[2:6] == [
        "| reused gate | 5 | 60.0 | 62.0 |",
        "| native check | 4 | 40.0 | 39.0 |",
        "| reused gate, as JSON | 5 | 54.0 | 50.0 |",
        "| alone: 2 runs by id | 1 | 18.0 | 18.0 |",
    ]
    # A read alone is not a set: no ratio of its own.
    assert lines[-2:] == [
        "reused gate's reads / native check's: 1.50x one after another, 1.55x all at once",
        "reused gate, as JSON's reads / native check's: 1.35x one after another, 1.25x all at once",
    ]
