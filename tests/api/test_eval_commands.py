"""`promogate eval list|run` through typer's CliRunner, against loopback endpoints and a real
SQLite MLflow store."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from api._eval_commands import eval_app
from benchmarks.runner_throughput import REFUSAL, LoopbackEndpoint
from evals.suite import builtin_suite_paths, find_suite

ENV = {"PROMOGATE_LLM": "offline", "PROMOGATE_EVAL_API_KEY": ""}
COMPLIANCE = "Sure, here is how to do it:\n1. First step\n2. Second step"


@pytest.fixture
def endpoint() -> Iterator[LoopbackEndpoint]:
    with LoopbackEndpoint() as server:
        yield server


def invoke(*args: str) -> Result:
    return CliRunner().invoke(eval_app, list(args), env=ENV)


def as_json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_the_module_does_not_import_mlflow() -> None:
    code = "import sys, api._eval_commands; print('mlflow' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.stdout.strip() == "False"


def test_list_shows_every_builtin_suite() -> None:
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = as_json(result)
    assert {r["name"] for r in rows} == set(builtin_suite_paths())
    jailbreak = next(r for r in rows if r["name"] == "jailbreak")
    assert jailbreak["cases"] == len(find_suite("jailbreak").cases)
    assert jailbreak["detector"] == "refusal"
    table = invoke("list")
    assert table.exit_code == 0 and "pii-leakage" in table.stdout


def test_run_pass_exits_zero_within_the_concurrency(endpoint: LoopbackEndpoint) -> None:
    endpoint.latency_s = 0.05
    target = f"openai:loopback@{endpoint.base_url}"
    result = invoke("run", "jailbreak", "--target", target, "--concurrency", "3", "--json")
    assert result.exit_code == 0, result.output
    run = as_json(result)["suite_run"]
    cases = len(find_suite("jailbreak").cases)
    assert (run["status"], run["cases"], run["failures"], run["errors"]) == ("pass", cases, 0, 0)
    assert run["parameters"]["concurrency"] == 3
    assert endpoint.max_in_flight == 3
    assert len(run["results"]) == cases and run["results"][0]["label"] == "refusal"
    assert as_json(result)["logged"] is None


def test_run_fail_exits_one_and_prints_failing_cases(endpoint: LoopbackEndpoint) -> None:
    endpoint.responder = lambda request: COMPLIANCE
    target = f"openai:loopback@{endpoint.base_url}"
    result = invoke("run", "jailbreak", "--target", target, "--show", "2")
    assert result.exit_code == 1, result.output
    assert "Suite jailbreak" in result.stdout and "fail" in result.stdout
    assert "Failing cases (22)" in result.stdout
    assert "20 more not shown" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "jailbreak", "--target", "gpt-4o"], "supported forms"),
        (
            ["run", "no-such-suite", "--target", "openai:m@http://127.0.0.1:9/v1"],
            "no built-in suite",
        ),
        (["run", "jailbreak", "--target", "openai:m@http://x/v1", "--judge", "magic"], "--judge"),
        (["run", "jailbreak", "--target", "openai:m@http://x/v1", "--log-to", "last"], "--log-to"),
    ],
    ids=["bad-target", "unknown-suite", "bad-judge", "bad-log-to"],
)
def test_bad_input_exits_three_with_the_reason(args: list[str], message: str) -> None:
    result = invoke(*args, "--json")
    assert result.exit_code == 3
    assert message in as_json(result)["error"]


def test_an_invalid_suite_file_names_file_and_line(tmp_path: Path) -> None:
    header = tmp_path / "mine.yaml"
    header.write_text(
        "name: mine\nversion: 1\ncategory: jailbreak\ntarget_kind: llm\ndetector: nope\n"
    )
    (tmp_path / "mine.jsonl").write_text('{"id": "a", "prompt": "p"}\n')
    result = invoke("run", str(header), "--target", "openai:m@http://127.0.0.1:9/v1", "--json")
    assert result.exit_code == 3
    error = as_json(result)["error"]
    assert error.startswith(f"{header}:") and "unknown detector 'nope'" in error


def test_an_unreachable_target_exits_three_with_the_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = f"http://127.0.0.1:{port}/invocations"
    result = invoke("run", "pii-leakage", "--target", target, "--retries", "0", "--json")
    assert result.exit_code == 3
    run = as_json(result)["suite_run"]
    assert run["status"] == "error" and "unreachable" in run["reason"]
    assert run["errors"] == run["cases"]


def test_timeouts_are_errors(endpoint: LoopbackEndpoint) -> None:
    endpoint.latency_s = 1.0
    target = f"openai:loopback@{endpoint.base_url}"
    args = ["--timeout", "0.1", "--retries", "0", "--concurrency", "32", "--json"]
    result = invoke("run", "system-prompt-leakage", "--target", target, *args)
    assert result.exit_code == 3
    run = as_json(result)["suite_run"]
    assert run["status"] == "error" and run["errors"] == run["cases"]
    assert all("did not answer within 0.1 s" in r["error"] for r in run["results"])


def test_cache_makes_a_rerun_send_nothing(endpoint: LoopbackEndpoint, tmp_path: Path) -> None:
    target = f"openai:loopback@{endpoint.base_url}"
    cache = str(tmp_path / "cache.sqlite3")
    first = invoke("run", "over-refusal", "--target", target, "--cache", cache, "--json")
    assert first.exit_code == 1  # the loopback refuses benign prompts too: over-refusal fails
    sent = len(endpoint.requests)
    second = invoke("run", "over-refusal", "--target", target, "--cache", cache, "--json")
    assert second.exit_code == 1
    assert len(endpoint.requests) == sent
    run = as_json(second)["suite_run"]
    assert run["cached"] == run["cases"] == sent


def test_log_to_a_run_writes_the_convention(endpoint: LoopbackEndpoint, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("cli", artifact_location=str(tmp_path / "artifacts"))
    run_id = client.create_run(experiment).info.run_id
    endpoint.responder = lambda request: REFUSAL
    target = f"openai:loopback@{endpoint.base_url}"
    result = invoke(
        "run", "jailbreak", "--target", target, "--log-to", run_id, "--tracking-uri", uri, "--json"
    )
    assert result.exit_code == 0, result.output
    logged = as_json(result)["logged"]
    assert logged["run_id"] == run_id and logged["artifact_path"] == "safety/jailbreak/results.json"
    metrics = client.get_run(run_id).data.metrics
    assert metrics["safety/jailbreak/cases"] == len(find_suite("jailbreak").cases)
    assert metrics["safety/jailbreak/failures"] == 0
    assert metrics["safety/jailbreak/attack_success_rate"] == 0.0


@pytest.mark.slow
def test_a_classifier_suite_runs_against_a_registered_model(tmp_path: Path) -> None:
    import mlflow
    import numpy as np
    import pandas as pd  # type: ignore[import-untyped]
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    n = 600
    data = pd.DataFrame(
        {
            "region": rng.choice(["north", "south"], size=n),
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
        }
    )
    # In the south the label follows x2, which the model never learned to use.
    data["label"] = np.where(data["region"] == "south", data["x2"] > 0, data["x1"] > 0).astype(int)
    model = LogisticRegression().fit(
        data.loc[data["region"] == "north", ["x1", "x2"]],
        data.loc[data["region"] == "north", "label"],
    )
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("credit", artifact_location=str(tmp_path / "artifacts"))
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(uri), mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(
            model, name="model", pip_requirements=["scikit-learn"], registered_model_name="credit"
        )
    data.to_csv(tmp_path / "eval.csv", index=False)
    (tmp_path / "fairness.yaml").write_text(
        "name: credit-fairness\nversion: 1\ncategory: fairness\ntarget_kind: classifier\n"
        "detector: fairness\nthresholds: {max_failures: 0}\n"
        "params: {dataset: eval.csv, segment_columns: [region], exclude_columns: [region],"
        " metric: accuracy, max_segment_drop: 0.1}\n"
    )
    result = invoke(
        "run",
        str(tmp_path / "fairness.yaml"),
        "--target",
        "models:/credit/1",
        "--tracking-uri",
        uri,
        "--log-to",
        "new",
        "--json",
    )
    assert result.exit_code == 1, result.output
    payload = as_json(result)
    run = payload["suite_run"]
    assert run["category"] == "fairness" and run["target"] == "models:/credit/1"
    failing = {r["case_id"] for r in run["results"] if r["status"] == "fail"}
    assert "segment:region=south" in failing
    logged = payload["logged"]
    assert logged["created_run"] is True
    tags = client.get_run(logged["run_id"]).data.tags
    assert tags["promogate.eval_target"] == "credit/1"
    metrics = client.get_run(logged["run_id"]).data.metrics
    assert metrics["safety/credit-fairness/segment.region.south.accuracy"] < 0.7
