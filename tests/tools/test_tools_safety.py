"""Safety-suite results from source-run metrics, linked evaluation runs and results.json."""

from __future__ import annotations

import random
from typing import Any

import pytest

from tools._safety import (
    EVAL_TARGET_TAG,
    MAX_FAILING_CASES,
    MAX_LINKED_RUNS,
    linked_runs_among,
    linked_runs_search,
    read_safety_evidence,
    read_safety_results,
    safety_metrics,
)
from tools.errors import MalformedArtifactError
from tools.runs import read_run


def test_source_run_suite_with_capped_failing_cases(mlflow_store: Any, client: Any) -> None:
    run = read_run(client, mlflow_store.versions[1].run_id)
    results = read_safety_results(client, run, "credit-risk", 1)
    assert list(results) == ["jailbreak-core"]
    suite = results["jailbreak-core"]
    assert (suite.cases, suite.failures, suite.errors) == (30, 25, 0)
    assert suite.attack_success_rate == pytest.approx(25 / 30)
    assert suite.metrics == {
        "attack_success_rate": pytest.approx(25 / 30),
        "cases": 30.0,
        "errors": 0.0,
        "failures": 25.0,
    }
    assert suite.artifact_path == "safety/jailbreak-core/results.json"
    assert len(suite.failing_cases) == MAX_FAILING_CASES == 20
    assert [c["id"] for c in suite.failing_cases] == [f"case-{i}" for i in range(20)]
    assert all(c["passed"] is False for c in suite.failing_cases)


def test_linked_eval_runs_newest_wins(mlflow_store: Any, client: Any) -> None:
    run = read_run(client, mlflow_store.versions[2].run_id)
    results = read_safety_results(client, run, "credit-risk", 2)
    assert sorted(results) == ["jailbreak-core", "pii-leakage"]
    # Source run says 5 failures, the older eval run 3, the newest eval run 1; another
    # experiment's run (9 failures) is not linked evidence.
    jailbreak = results["jailbreak-core"]
    assert (jailbreak.cases, jailbreak.failures) == (10, 1)
    assert [c["id"] for c in jailbreak.failing_cases] == ["case-0"]
    assert jailbreak.artifact_path == "safety/jailbreak-core/results.json"
    # Only the older eval run ran pii-leakage, with metrics and no per-case artifact.
    pii = results["pii-leakage"]
    assert (pii.cases, pii.failures, pii.failing_cases, pii.artifact_path) == (8, 0, [], None)


def test_other_versions_eval_runs_are_not_linked(mlflow_store: Any, client: Any) -> None:
    run = read_run(client, mlflow_store.versions[3].run_id)
    assert read_safety_results(client, run, "credit-risk", 3) == {}


def test_malformed_results_json(mlflow_store: Any, client: Any) -> None:
    run = read_run(client, mlflow_store.versions[5].run_id)
    with pytest.raises(MalformedArtifactError) as caught:
        read_safety_results(client, run, "credit-risk", 5)
    assert caught.value.path == "safety/jailbreak-core/results.json"
    evidence = read_safety_evidence(client, run, "credit-risk", 5)
    # The metrics still give the counts; the unreadable artifact is a gap, not an empty list.
    assert (
        evidence.results["jailbreak-core"].cases,
        evidence.results["jailbreak-core"].failures,
    ) == (
        4,
        1,
    )
    assert evidence.results["jailbreak-core"].artifact_path is None
    assert [g.source for g in evidence.gaps] == ["safety"]
    assert "'safety/jailbreak-core/results.json'" in evidence.gaps[0].message
    assert run.run_id in evidence.gaps[0].message


@pytest.mark.parametrize(
    ("metrics", "expected"),
    [
        (
            {"safety/jb/cases": 3.0, "safety/jb/failures": 1.0, "roc_auc": 0.9},
            {"jb": {"cases": 3.0, "failures": 1.0}},
        ),
        ({"safety/jb": 1.0, "safety//cases": 2.0, "safety/a/b/c": 3.0}, {}),
        ({"notsafety/jb/cases": 1.0}, {}),
    ],
    ids=["grouped", "malformed-keys-ignored", "other-prefix"],
)
def test_safety_metrics_grouping(
    metrics: dict[str, float], expected: dict[str, dict[str, float]]
) -> None:
    assert safety_metrics(metrics) == expected


@pytest.fixture(scope="module")
def evaluation_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    """A store of evaluation runs as teams leave them: more runs for one version than a review
    reads, some started at the same millisecond, a deleted one, targets that share a prefix or
    differ in case, and the same target in a second experiment."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("evaluation-runs")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiments = {
        name: client.create_experiment(name, artifact_location=(root / name).as_uri())
        for name in ("a", "b")
    }
    started = 1_700_000_000_000

    def log(experiment: str, target: str, offset: int) -> str:
        run = client.create_run(
            experiments[experiment], start_time=started + offset, tags={EVAL_TARGET_TAG: target}
        )
        client.set_terminated(run.info.run_id)
        return str(run.info.run_id)

    for i in range(MAX_LINKED_RUNS + 5):
        log("a", "m/2", i // 3)  # three runs a millisecond: ties broken by run id
    client.delete_run(log("a", "m/2", 10_000))
    for target, offset in [("m/1", 5), ("m/1", 6), ("m/20", 7), ("M/2", 8), ("m/2", 9)]:
        log("b" if offset == 9 else "a", target, offset)
    return client, experiments


@pytest.mark.parametrize(
    ("experiment", "version"),
    [("a", 2), ("a", 1), ("a", 20), ("b", 2), ("b", 1)],
    ids=[
        "cut-at-the-limit-with-ties",
        "another-version",
        "a-prefix-sibling",
        "second-experiment",
        "none-linked",
    ],
)
def test_the_linked_runs_picked_from_a_wider_search_are_the_search_s_own(
    evaluation_runs: tuple[Any, dict[str, str]], experiment: str, version: int
) -> None:
    client, experiments = evaluation_runs
    wider = list(
        client.search_runs(
            sorted(experiments.values()), f"tags.`{EVAL_TARGET_TAG}` LIKE 'm/%'", max_results=1000
        )
    )
    # Whatever order the wider search gives (a server's may differ from the narrower one's).
    random.Random(version).shuffle(wider)
    args, kwargs = linked_runs_search(experiments[experiment], "m", version)
    searched = [r.info.run_id for r in client.search_runs(*args, **kwargs)]
    picked = linked_runs_among(wider, experiments[experiment], "m", version)
    assert [r.info.run_id for r in picked] == searched
    if (experiment, version) == ("a", 2):
        assert len(searched) == MAX_LINKED_RUNS
