"""Reuse by evidence fingerprint: every way the evidence can change forces the evidence to be read
again, and every change the review would see forces a fresh review.

A real MLflow SQLite store with local artifacts, real scikit-learn models, a real SQLite ledger.
Each test first gates the registry as it stands (so the ledger holds a decision and its
fingerprint), checks that a repeat is answered from the fingerprint alone (nothing appended to
the ledger), then changes the evidence one way and gates again. The same store is also served by
a real `mlflow server`, where the fingerprint batches its reads (one run search, one logged-model
search, one bulk read per metric history): taken there, it must equal the store's own, before and
after every change. Besides the versions' own runs and logged models, the sources a review reads
elsewhere are changed too: safety evaluations logged in runs of their own, runs that logged
metrics on a logged model (with the traces a GenAI evaluation leaves), and earlier versions.
"""

from __future__ import annotations

import json
import shutil
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agents.offline_investigator import OfflineInvestigator
from benchmarks._http_relay import HttpRelay
from benchmarks._mlflow_server import MlflowServer
from ledger.fingerprints import find_fingerprint
from ledger.store import Ledger
from review._fingerprint import FingerprintUnavailableError, _directory_stat
from review.gate import GateService
from review.service import ReviewConfig, ReviewService

MODEL = "fp-model"
CANDIDATE = 2
POLICY = textwrap.dedent(
    f"""\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {{name: fp-test, revision: 1}}
    match: {{model: {MODEL}}}
    metrics:
      - {{name: roc_auc, min: 0.6, max_drop: 0.05}}
    comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
    agent: {{may_approve: true}}
    """
)
PIPELINE = "data:\n  source: warehouse\nseed: 42\n"


@dataclass(frozen=True)
class Registry:
    root: Path
    tracking_uri: str
    policies_dir: Path
    run_ids: dict[int, str]
    model_dirs: dict[int, Path]

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    import mlflow
    import pandas as pd
    from mlflow.entities import Metric
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    root = tmp_path_factory.mktemp("fingerprint-registry")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("fp", artifact_location=(root / "artifacts").as_uri())
    client.create_registered_model(MODEL)
    features, labels = make_classification(n_samples=600, n_features=6, random_state=3)
    eval_frame = pd.DataFrame(features[400:], columns=[f"f{i}" for i in range(6)])
    eval_frame["label"] = labels[400:]
    run_ids: dict[int, str] = {}
    model_dirs: dict[int, Path] = {}
    with pytest.MonkeyPatch.context() as patch, _use_tracking_uri(uri):
        patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
        patch.setenv("MLFLOW_LOG_UV_FILES", "false")
        for number, c in enumerate((1.0, 0.9, 0.8), start=1):
            model = LogisticRegression(C=c, max_iter=300).fit(features[:400], labels[:400])
            auc = float(roc_auc_score(labels[400:], model.predict_proba(features[400:])[:, 1]))
            with mlflow.start_run(experiment_id=experiment, run_name=f"v{number}") as run:
                mlflow.log_params({"C": c, "seed": 42})
                mlflow.log_metric("roc_auc", auc)
                mlflow.log_text(PIPELINE, "pipeline/pipeline.yaml")
                dataset = mlflow.data.from_pandas(eval_frame, name="eval-v1")
                mlflow.log_input(dataset, context="evaluation")
                now = int(time.time() * 1000)
                client.log_batch(
                    run.info.run_id,
                    metrics=[Metric("train_loss", 1.0 / s, now, s) for s in range(1, 6)],
                )
                info = mlflow.sklearn.log_model(
                    model, name="model", pip_requirements=["scikit-learn"]
                )
            mv = client.create_model_version(MODEL, info.model_uri, run_id=run.info.run_id)
            assert int(mv.version) == number
            run_ids[number] = run.info.run_id
            logged = client.get_logged_model(info.model_id)
            model_dirs[number] = Path(logged.artifact_location.removeprefix("file://"))
    client.set_registered_model_alias(MODEL, "champion", "1")
    policies = root / "policies"
    policies.mkdir()
    (policies / "fp-test.yaml").write_text(POLICY)
    yield Registry(root, uri, policies, run_ids, model_dirs)


@pytest.fixture(scope="module")
def gate(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GateService]:
    """One gate and ledger for the module: each test starts from the state the last one left."""
    directory = tmp_path_factory.mktemp("fingerprint-gate")
    policies = directory / "policies"
    shutil.copytree(registry.policies_dir, policies)
    config = ReviewConfig(
        tracking_uri=registry.tracking_uri, policies_dir=policies, publish_tags=True
    )
    ledger = Ledger(f"sqlite:///{directory / 'ledger.db'}")
    service = GateService(ReviewService(config, ledger=ledger, investigator=OfflineInvestigator()))
    yield service
    service.drain()
    ledger.close()


@pytest.fixture(scope="module")
def served(registry: Registry, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A real `mlflow server` over the module's store (its artifacts stay local files)."""
    import os

    directory = tmp_path_factory.mktemp("fingerprint-server")
    with MlflowServer(
        registry.tracking_uri,
        directory / "served-artifacts",
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
        log_path=directory / "mlflow-server.log",
    ) as server:
        yield server


def _gate_on(tracking_uri: str, gate: GateService, ledger: Ledger) -> GateService:
    """A gate reading MLflow at `tracking_uri`, under `gate`'s policy directory."""
    config = ReviewConfig(tracking_uri=tracking_uri, policies_dir=gate.config.policies_dir)
    return GateService(ReviewService(config, ledger=ledger, investigator=OfflineInvestigator()))


@pytest.fixture(scope="module")
def http_gate(
    gate: GateService, served: MlflowServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GateService]:
    """A gate on the same store through the MLflow server (only its fingerprints are taken)."""
    ledger = Ledger(f"sqlite:///{tmp_path_factory.mktemp('fingerprint-http') / 'ledger.db'}")
    service = _gate_on(served.url, gate, ledger)
    yield service
    service.drain()
    ledger.close()


def _assert_same(taken: Any, expected: Any) -> None:
    """`taken` (batched reads over HTTP) equals `expected` (the store read directly)."""
    assert taken is not None and expected is not None
    assert taken == expected, f"parts that differ: {taken.changed_parts(expected)!r}"


def _records(gate: GateService) -> int:
    # What follows the answers given so far (their fingerprints) is in the ledger first.
    gate.drain()
    return gate.ledger.head()[0]


def _settled(gate: GateService) -> str:
    """Gate until the decision is answered from its fingerprint alone; its decision id."""
    first = gate.gate(MODEL, CANDIDATE)
    assert first.error is None, first
    before = _records(gate)
    again = gate.gate(MODEL, CANDIDATE)
    assert again.reused and again.decision_id == first.decision_id
    assert _records(gate) == before, "a reuse by fingerprint appends nothing"
    assert again.decision_id is not None
    return again.decision_id


Change = Callable[[Registry, GateService], None]


def _log_metric_later_step(reg: Registry, _: GateService) -> None:
    reg.client().log_metric(reg.run_ids[CANDIDATE], "roc_auc", 0.99, step=7)


def _log_new_metric(reg: Registry, _: GateService) -> None:
    reg.client().log_metric(reg.run_ids[CANDIDATE], f"extra_{time.time_ns()}", 1.0)


def _backfill_history(reg: Registry, _: GateService) -> None:
    # An earlier step leaves the latest value as it was; only the history shows it.
    reg.client().log_metric(reg.run_ids[CANDIDATE], "train_loss", 9.0, step=0)


def _replace_config_same_size(reg: Registry, _: GateService) -> None:
    client = reg.client()
    path = "pipeline/pipeline.yaml"
    current = Path(client.download_artifacts(reg.run_ids[CANDIDATE], path)).read_text()
    seed = "seed: 43" if "seed: 42" in current else "seed: 42"
    changed = current.replace("seed: 42", seed) if seed == "seed: 43" else current
    changed = changed.replace("seed: 43", "seed: 42") if seed == "seed: 42" else changed
    assert len(changed) == len(current) and changed != current
    client.log_text(reg.run_ids[CANDIDATE], changed, path)


def _replace_model_file_same_size(reg: Registry, _: GateService) -> None:
    path = reg.model_dirs[CANDIDATE] / "requirements.txt"
    text = path.read_text()
    swapped = text.replace("scikit-learn", "scikit_learn", 1)
    if swapped == text:
        swapped = text.replace("scikit_learn", "scikit-learn", 1)
    assert len(swapped) == len(text)
    path.write_text(swapped)


def _edit_version_tag(reg: Registry, _: GateService) -> None:
    reg.client().set_model_version_tag(MODEL, str(CANDIDATE), "team", f"t{time.time_ns()}")


def _edit_run_tag(reg: Registry, _: GateService) -> None:
    reg.client().set_tag(reg.run_ids[CANDIDATE], "owner", f"o{time.time_ns()}")


def _edit_version_description(reg: Registry, _: GateService) -> None:
    reg.client().update_model_version(MODEL, str(CANDIDATE), description=f"d{time.time_ns()}")


def _alias_on_candidate(reg: Registry, _: GateService) -> None:
    reg.client().set_registered_model_alias(MODEL, f"staging{time.time_ns()}", str(CANDIDATE))


def _champion(reg: Registry) -> int:
    return int(reg.client().get_registered_model(MODEL).aliases["champion"])


def _move_champion(reg: Registry, _: GateService) -> None:
    moved_to = "3" if _champion(reg) == 1 else "1"
    reg.client().set_registered_model_alias(MODEL, "champion", moved_to)


def _champion_metric(reg: Registry, _: GateService) -> None:
    holder = _champion(reg)
    reg.client().log_metric(reg.run_ids[holder], "roc_auc_extra", float(time.time_ns() % 1000))


def _revise_policy(_: Registry, gate: GateService) -> None:
    directory = gate.config.policies_dir
    assert directory is not None
    path = directory / "fp-test.yaml"
    path.write_text(path.read_text().replace("revision: 1", "revision: 2"))


def _safety_run(reg: Registry, failures: int = 0) -> str:
    """A safety evaluation of the candidate logged apart from its source run, as
    `promogate eval run` logs one: its own run in the experiment, tagged with its target."""
    client = reg.client()
    experiment = client.get_run(reg.run_ids[CANDIDATE]).info.experiment_id
    run = client.create_run(
        experiment,
        tags={
            "promogate.eval_target": f"{MODEL}/{CANDIDATE}",
            "promogate.kind": "safety-evaluation",
        },
    )
    run_id = str(run.info.run_id)
    cases = [{"id": f"case-{i}", "status": "fail" if i < failures else "pass"} for i in range(4)]
    client.log_metric(run_id, "safety/jailbreak/cases", 4.0)
    client.log_metric(run_id, "safety/jailbreak/failures", float(failures))
    client.log_text(run_id, json.dumps(cases), "safety/jailbreak/results.json")
    client.set_terminated(run_id)
    return run_id


def _add_dataset_input(reg: Registry, _: GateService) -> None:
    import mlflow
    import pandas as pd
    from mlflow.entities import DatasetInput, InputTag

    frame = pd.DataFrame({"x": [time.time_ns() % 97, 2, 3], "label": [0, 1, 0]})
    dataset = mlflow.data.from_pandas(frame, name=f"extra-{time.time_ns()}")
    reg.client().log_inputs(
        reg.run_ids[CANDIDATE],
        datasets=[
            DatasetInput(
                dataset._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", "training")]
            )
        ],
    )


def _add_param(reg: Registry, _: GateService) -> None:
    # A finished run takes new parameters (never new values for the ones it has).
    reg.client().log_param(reg.run_ids[CANDIDATE], f"extra_{time.time_ns()}", "1")


def _add_file_beside_config(reg: Registry, _: GateService) -> None:
    text = "stage: extra\n"
    reg.client().log_text(reg.run_ids[CANDIDATE], text, f"pipeline/extra-{time.time_ns()}.yaml")


def _add_file_to_model(reg: Registry, _: GateService) -> None:
    (reg.model_dirs[CANDIDATE] / f"notes-{time.time_ns()}.txt").write_text("added after review")


def _edit_champion_run_tag(reg: Registry, _: GateService) -> None:
    reg.client().set_tag(reg.run_ids[_champion(reg)], "owner", f"o{time.time_ns()}")


def _add_file_to_champion_model(reg: Registry, _: GateService) -> None:
    (reg.model_dirs[_champion(reg)] / f"notes-{time.time_ns()}.txt").write_text("added")


def _tag_logged_model(reg: Registry, _: GateService) -> None:
    client = reg.client()
    run_id = reg.run_ids[CANDIDATE]
    experiment = client.get_run(run_id).info.experiment_id
    (logged,) = client.search_logged_models(
        experiment_ids=[experiment], filter_string=f"source_run_id = '{run_id}'"
    )
    client.set_logged_model_tags(logged.model_id, {"stage": f"s{time.time_ns()}"})


CHANGES: list[tuple[str, Change]] = [
    ("metric-logged-after-review", _log_metric_later_step),
    ("new-metric-key", _log_new_metric),
    ("history-backfilled-at-earlier-step", _backfill_history),
    ("config-replaced-same-size", _replace_config_same_size),
    ("model-file-replaced-same-size", _replace_model_file_same_size),
    ("version-tag-edited", _edit_version_tag),
    ("run-tag-edited", _edit_run_tag),
    ("version-description-edited", _edit_version_description),
    ("alias-set-on-candidate", _alias_on_candidate),
    ("champion-moved", _move_champion),
    ("champion-metric-logged", _champion_metric),
    ("policy-revised", _revise_policy),
    ("dataset-input-added", _add_dataset_input),
    ("param-added", _add_param),
    ("file-added-beside-config", _add_file_beside_config),
    ("file-added-to-model", _add_file_to_model),
    ("champion-run-tag-edited", _edit_champion_run_tag),
    ("file-added-to-champion-model", _add_file_to_champion_model),
    ("logged-model-tag-set", _tag_logged_model),
]


@pytest.mark.parametrize("change", [c for _, c in CHANGES], ids=[n for n, _ in CHANGES])
def test_every_evidence_change_forces_a_fresh_review(
    gate: GateService, http_gate: GateService, registry: Registry, change: Change
) -> None:
    _assert_a_fresh_review_after(gate, http_gate, lambda: change(registry, gate))


def _assert_a_fresh_review_after(
    gate: GateService, http_gate: GateService, change: Callable[[], None], *, reverts: bool = False
) -> None:
    """Settled on the evidence as it stands, `change` makes the next gate review afresh.

    A change that `reverts` the evidence to what an earlier decision was made on is answered
    with that decision, found by its evidence digest after the evidence is read in full.
    """
    settled = _settled(gate)
    decisions = len(gate.ledger.list_decisions(MODEL, CANDIDATE, limit=1000))
    before = gate.fingerprint(MODEL, CANDIDATE)
    _assert_same(http_gate.fingerprint(MODEL, CANDIDATE), before)
    change()
    after = gate.fingerprint(MODEL, CANDIDATE)
    assert before is not None and after is not None
    assert after.digest != before.digest, "the fingerprint must see the change"
    _assert_same(http_gate.fingerprint(MODEL, CANDIDATE), after)
    answer = gate.gate(MODEL, CANDIDATE)
    assert answer.decision_id != settled and answer.error is None, answer
    assert answer.reused == reverts, answer
    fresh = 0 if reverts else 1
    assert len(gate.ledger.list_decisions(MODEL, CANDIDATE, limit=1000)) == decisions + fresh
    # The fresh decision carries the new fingerprint: the next call is answered from it.
    _settled(gate)


def _deleted(reg: Registry, run_ids: list[str]) -> None:
    """Delete the evaluation runs a test logged: later tests count the reads of a review."""
    client = reg.client()
    for run_id in run_ids:
        if client.get_run(run_id).info.lifecycle_stage != "deleted":
            client.delete_run(run_id)


def _rewrite_results_same_size(reg: Registry, run_id: str) -> None:
    # A passing case turned failing in place: the file keeps its name and its size.
    client = reg.client()
    path = "safety/jailbreak/results.json"
    text = Path(client.download_artifacts(run_id, path)).read_text()
    changed = text.replace('"status": "pass"', '"status": "fail"', 1)
    assert changed != text and len(changed) == len(text)
    client.log_text(run_id, changed, path)


LinkedChange = Callable[[Registry, str], None]
LINKED_CHANGES: list[tuple[str, LinkedChange, bool]] = [
    (
        "metric-logged",
        lambda reg, run_id: reg.client().log_metric(run_id, "safety/jailbreak/failures", 3.0),
        False,
    ),
    ("results-rewritten-same-size", _rewrite_results_same_size, False),
    # Back to the evidence before the run was logged, on which a decision was made already.
    ("run-deleted", lambda reg, run_id: reg.client().delete_run(run_id), True),
    (
        "retargeted",
        lambda reg, run_id: reg.client().set_tag(run_id, "promogate.eval_target", f"{MODEL}/99"),
        True,
    ),
]


@pytest.mark.parametrize(
    ("change", "reverts"),
    [(c, r) for _, c, r in LINKED_CHANGES],
    ids=[n for n, _, _ in LINKED_CHANGES],
)
def test_a_change_to_a_safety_evaluation_logged_apart_forces_a_fresh_review(
    gate: GateService,
    http_gate: GateService,
    registry: Registry,
    change: LinkedChange,
    reverts: bool,
) -> None:
    """The review reads safety results from runs tagged with the version as well as from its
    source run; a newer failing evaluation must never be answered with an older approval."""
    run_id = _safety_run(registry)
    try:
        _assert_a_fresh_review_after(
            gate, http_gate, lambda: change(registry, run_id), reverts=reverts
        )
    finally:
        _deleted(registry, [run_id])


def test_a_safety_evaluation_logged_apart_forces_a_fresh_review(
    gate: GateService, http_gate: GateService, registry: Registry
) -> None:
    logged: list[str] = []
    try:
        _assert_a_fresh_review_after(
            gate, http_gate, lambda: logged.append(_safety_run(registry, failures=1))
        )
    finally:
        _deleted(registry, logged)


SAFETY_POLICY = POLICY.replace("name: fp-test", "name: fp-safety") + textwrap.dedent(
    """\
    evals:
      - {suite: jailbreak, max_failures: 0}
    plausibility: {enabled: false}
    """
)


def test_an_approval_is_not_reused_after_a_failing_safety_evaluation(
    registry: Registry, tmp_path: Path
) -> None:
    """The fail-open case: a suite passed, the gate approved; a newer run of the suite fails
    (logged apart from the source run, as `promogate eval run` does), and the gate blocks."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "fp-safety.yaml").write_text(SAFETY_POLICY)
    config = ReviewConfig(tracking_uri=registry.tracking_uri, policies_dir=policies)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    gate = GateService(ReviewService(config, ledger=ledger, investigator=OfflineInvestigator()))
    logged = [_safety_run(registry)]
    try:
        approved = gate.gate(MODEL, CANDIDATE)
        assert approved.allowed and approved.verdict == "approve", approved
        assert gate.gate(MODEL, CANDIDATE).reused
        time.sleep(0.01)  # the newest run of a suite is the one that counts
        logged.append(_safety_run(registry, failures=1))
        blocked = gate.gate(MODEL, CANDIDATE)
        assert not blocked.reused and not blocked.allowed and blocked.verdict == "block", blocked
    finally:
        _deleted(registry, logged)
        gate.drain()
        ledger.close()


def _feedback(client: Any, run_id: str, trace_id: str) -> None:
    import mlflow

    with _tracking(client):
        mlflow.log_feedback(trace_id=trace_id, name="human", value=False)


def _tracking(client: Any) -> Any:
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    return _use_tracking_uri(client.tracking_uri)


MetricRunChange = Callable[[Any, str, str], None]
METRIC_RUN_CHANGES: list[tuple[str, MetricRunChange, str]] = [
    (
        "tag-edited",
        lambda client, run_id, _: client.set_tag(run_id, "note", f"n{time.time_ns()}"),
        "candidate.metric_runs",
    ),
    (
        "artifact-logged",
        lambda client, run_id, _: client.log_text(run_id, "x", f"eval/{time.time_ns()}.json"),
        "candidate.metric_runs.artifacts.{run_id}",
    ),
    ("feedback-on-a-trace", _feedback, "candidate.metric_runs.traces.{run_id}"),
    (
        "trace-deleted",
        lambda client, run_id, trace_id: client.delete_traces(
            client.get_run(run_id).info.experiment_id, trace_ids=[trace_id]
        ),
        "candidate.metric_runs.traces.{run_id}",
    ),
]


EVALUATED = "fp-evaluated"


@pytest.fixture(scope="module")
def evaluated(registry: Registry) -> tuple[str, str]:
    """A model of its own (version 1) for evaluations logged on its logged model: the
    metrics they log stay on the logged model after their runs are deleted."""
    import mlflow
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    client = registry.client()
    experiment = client.get_run(registry.run_ids[1]).info.experiment_id
    features, labels = make_classification(n_samples=100, n_features=4, random_state=5)
    with (
        pytest.MonkeyPatch.context() as patch,
        _tracking(client),
        mlflow.start_run(experiment_id=experiment) as run,
    ):
        patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
        patch.setenv("MLFLOW_LOG_UV_FILES", "false")
        info = mlflow.sklearn.log_model(
            LogisticRegression().fit(features, labels),
            name="model",
            pip_requirements=["scikit-learn"],
        )
        client.create_registered_model(EVALUATED)
        client.create_model_version(EVALUATED, info.model_uri, run_id=run.info.run_id)
    return str(info.model_id), str(experiment)


@pytest.mark.parametrize(
    ("change", "part"),
    [(c, p) for _, c, p in METRIC_RUN_CHANGES],
    ids=[n for n, _, _ in METRIC_RUN_CHANGES],
)
def test_an_evaluation_that_logged_metrics_on_the_logged_model_is_covered(
    gate: GateService,
    http_gate: GateService,
    registry: Registry,
    evaluated: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
    change: MetricRunChange,
    part: str,
) -> None:
    """``mlflow.genai.evaluate(model_id=...)`` outside the logging run logs its metrics on the
    logged model from a run of its own, which the review reads: its tags, datasets, table and
    the traces with their assessments that the per-example table is built from."""
    import mlflow

    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    client = registry.client()
    model_id, experiment = evaluated
    evaluation = client.create_run(experiment, tags={"mlflow.runType": "genai_evaluate"})
    run_id = str(evaluation.info.run_id)
    try:
        with _tracking(client), mlflow.start_run(run_id=run_id):
            with mlflow.start_span("answer") as span:
                span.set_inputs({"question": "refund?"})
                span.set_outputs({"answer": "within 30 days"})
            mlflow.log_metric("exact_match/mean", 0.9, model_id=model_id)
        before = gate.fingerprint(EVALUATED, 1)
        assert before is not None and f"candidate.metric_runs.traces.{run_id}" in before.parts
        _assert_same(http_gate.fingerprint(EVALUATED, 1), before)
        change(client, run_id, span.trace_id)
        after = gate.fingerprint(EVALUATED, 1)
        assert after is not None
        assert after.changed_parts(before) == [part.format(run_id=run_id)]
        _assert_same(http_gate.fingerprint(EVALUATED, 1), after)
    finally:
        client.delete_run(run_id)


def test_an_evaluation_in_the_source_run_is_covered_with_its_traces(
    gate: GateService,
    http_gate: GateService,
    registry: Registry,
    evaluated: tuple[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``mlflow.genai.evaluate`` in the run that logged the model: the review builds the
    per-example table from the run's traces and their assessments."""
    import mlflow

    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    client = registry.client()
    run_id = str(client.get_model_version(EVALUATED, "1").run_id)
    client.set_tag(run_id, "mlflow.runType", "genai_evaluate")
    try:
        with (
            _tracking(client),
            mlflow.start_run(run_id=run_id),
            mlflow.start_span("answer") as span,
        ):
            span.set_inputs({"question": "opening hours?"})
            span.set_outputs({"answer": "nine to five"})
        before = gate.fingerprint(EVALUATED, 1)
        assert before is not None and "candidate.traces" in before.parts
        _assert_same(http_gate.fingerprint(EVALUATED, 1), before)
        _feedback(client, run_id, span.trace_id)
        after = gate.fingerprint(EVALUATED, 1)
        assert after is not None and after.changed_parts(before) == ["candidate.traces"]
        _assert_same(http_gate.fingerprint(EVALUATED, 1), after)
    finally:
        client.delete_tag(run_id, "mlflow.runType")


def test_a_metric_logged_on_an_earlier_version_forces_a_fresh_review(
    gate: GateService, http_gate: GateService, registry: Registry
) -> None:
    """Version 1 is only in the candidate's history (the plausibility questions read it) once
    the champion is version 3."""
    client = registry.client()
    holder = client.get_registered_model(MODEL).aliases["champion"]
    client.set_registered_model_alias(MODEL, "champion", "3")
    try:
        earlier = registry.run_ids[1]
        value = client.get_run(earlier).data.metrics["roc_auc"]
        _assert_a_fresh_review_after(
            gate, http_gate, lambda: client.log_metric(earlier, "roc_auc", value - 0.001, step=9)
        )
    finally:
        client.set_registered_model_alias(MODEL, "champion", str(holder))


def test_the_answer_leaves_before_its_tags_and_the_next_call_waits_for_them(
    gate: GateService, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish = gate.reviews.publish
    release = threading.Event()

    def held_publish(decision: Any, record_hash: str, *, read_as_model: bool = False) -> None:
        assert release.wait(30.0)
        publish(decision, record_hash, read_as_model=read_as_model)

    monkeypatch.setattr(gate.reviews, "publish", held_publish)
    target = "staging"  # no decision for this alias yet: a fresh review
    answer = gate.gate(MODEL, CANDIDATE, target_alias=target)
    assert not answer.reused and answer.error is None, answer
    tags = registry.client().get_model_version(MODEL, str(CANDIDATE)).tags
    assert tags.get("promogate.decision_id") != answer.decision_id
    again: list[Any] = []
    waiter = threading.Thread(
        target=lambda: again.append(gate.gate(MODEL, CANDIDATE, target_alias=target))
    )
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive(), "the next call on the version waits for the tags"
    release.set()
    waiter.join(60.0)
    assert again and again[0].reused and again[0].decision_id == answer.decision_id
    tags = registry.client().get_model_version(MODEL, str(CANDIDATE)).tags
    assert tags["promogate.decision_id"] == answer.decision_id
    assert tags["promogate.target_alias"] == target


def test_a_touched_file_with_the_same_bytes_reads_again_and_reuses_by_digest(
    gate: GateService, registry: Registry
) -> None:
    settled = _settled(gate)
    config = registry.root / "artifacts"
    path = next(config.rglob("pipeline.yaml"))
    for candidate_path in config.rglob("pipeline.yaml"):
        if registry.run_ids[CANDIDATE] in str(candidate_path):
            path = candidate_path
    before = gate.fingerprint(MODEL, CANDIDATE)
    time.sleep(0.01)
    path.write_bytes(path.read_bytes())
    after = gate.fingerprint(MODEL, CANDIDATE)
    assert before is not None and after is not None
    assert after.changed_parts(before) == ["candidate.artifacts.run"]
    records = _records(gate)
    answer = gate.gate(MODEL, CANDIDATE)
    # Read in full: the same evidence digest, so the same decision, now with a new fingerprint.
    assert answer.reused and answer.decision_id == settled
    assert _records(gate) == records + 1
    found = find_fingerprint(gate.ledger, MODEL, CANDIDATE, "champion", after.digest, after.format)
    assert found is not None and found.decision_id == settled


def test_a_decision_without_a_fingerprint_is_reused_after_a_full_read(
    gate: GateService, registry: Registry
) -> None:
    # A review made elsewhere (POST /v1/reviews) on evidence no gate has fingerprinted yet.
    _edit_run_tag(registry, gate)
    reviewed = gate.reviews.review(MODEL, CANDIDATE).decision
    records = _records(gate)
    answer = gate.gate(MODEL, CANDIDATE)
    assert answer.reused and answer.decision_id == reviewed.id
    assert _records(gate) == records + 1  # its fingerprint, recorded now
    again = gate.gate(MODEL, CANDIDATE)
    assert again.reused and _records(gate) == records + 1


def test_an_unverifiable_fingerprint_record_is_not_trusted(gate: GateService) -> None:
    from sqlalchemy import update

    from ledger.tables import LedgerRecordRow

    settled = _settled(gate)
    fingerprint = gate.fingerprint(MODEL, CANDIDATE)
    assert fingerprint is not None
    found = find_fingerprint(
        gate.ledger, MODEL, CANDIDATE, "champion", fingerprint.digest, fingerprint.format
    )
    assert found is not None
    with gate.ledger.database.write() as session:
        session.execute(
            update(LedgerRecordRow)
            .where(LedgerRecordRow.record_id == found.id)
            .values(payload=LedgerRecordRow.payload + " ")
        )
    records = _records(gate)
    answer = gate.gate(MODEL, CANDIDATE)
    # The edited record does not verify: the evidence is read in full and the decision found by
    # its digest; a fresh fingerprint record is chained.
    assert answer.reused and answer.decision_id == settled
    assert _records(gate) == records + 1


@pytest.mark.parametrize(
    "uri",
    ["mlflow-artifacts:/1/abc/artifacts", "s3://bucket/1/abc/artifacts", "http://host/a"],
    ids=["mlflow-artifacts", "s3", "http"],
)
def test_artifacts_outside_a_local_directory_cannot_be_fingerprinted(uri: str) -> None:
    with pytest.raises(FingerprintUnavailableError, match="same size"):
        _directory_stat(uri, "candidate run")


def test_an_unknown_version_has_no_fingerprint_and_blocks(gate: GateService) -> None:
    assert gate.fingerprint(MODEL, 99) is None
    assert gate.fingerprint(MODEL, "@no-such-alias") is None
    assert gate.fingerprint(MODEL, "latest") is None
    answer = gate.gate(MODEL, 99)
    assert not answer.allowed and answer.error is not None


def _cold_fingerprint(
    gate: GateService, monkeypatch: pytest.MonkeyPatch, ref: int = CANDIDATE, model: str = MODEL
) -> Any:
    """The fingerprint taken with nothing remembered from earlier ones (no read guessed)."""
    import review._fingerprint as fingerprints

    with monkeypatch.context() as patch:
        patch.setattr(fingerprints, "_MEMO", fingerprints._Memo(fingerprints._MEMO_ENTRIES))
        return gate.fingerprint(model, ref)


def _log_version(reg: Registry, experiment: str, *, with_loss: bool) -> int:
    """A new version of the model, logged in `experiment` (created when missing) as the
    fixture logs its versions, with or without a `train_loss` history; its number."""
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    client = reg.client()
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id
        if found is not None
        else client.create_experiment(
            experiment, artifact_location=(reg.root / experiment).as_uri()
        )
    )
    features, labels = make_classification(n_samples=600, n_features=6, random_state=3)
    model = LogisticRegression(C=0.7, max_iter=300).fit(features[:400], labels[:400])
    with pytest.MonkeyPatch.context() as patch, _use_tracking_uri(reg.tracking_uri):
        patch.setenv("MLFLOW_UV_AUTO_DETECT", "false")
        patch.setenv("MLFLOW_LOG_UV_FILES", "false")
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_metric("roc_auc", 0.9)
            mlflow.log_text(PIPELINE, "pipeline/pipeline.yaml")
            if with_loss:
                now = int(time.time() * 1000)
                client.log_batch(run.info.run_id, metrics=[Metric("train_loss", 0.5, now, 1)])
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mv = client.create_model_version(MODEL, info.model_uri, run_id=run.info.run_id)
    return int(mv.version)


@pytest.mark.parametrize(
    ("experiment", "with_loss"),
    [("fp", True), ("fp-elsewhere", False)],
    ids=["logged-where-the-champion-was", "logged-elsewhere-without-its-loss-history"],
)
@pytest.mark.parametrize("store", ["gate", "http_gate"], ids=["store", "server"])
def test_a_new_candidate_is_fingerprinted_as_with_nothing_remembered(
    registry: Registry,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    experiment: str,
    with_loss: bool,
    store: str,
) -> None:
    """A candidate no fingerprint has seen has its later reads guessed from the champion's
    (its loss history, the evaluation runs and version history in the champion's experiment):
    right or wrong, the guesses change nothing the fingerprint covers."""
    import review._fingerprint as fingerprints

    gate: GateService = request.getfixturevalue(store)
    assert gate.fingerprint(MODEL, CANDIDATE) is not None  # the champion is remembered
    guessed: list[int | None] = []
    start_guesses = fingerprints._Plan.start_guesses

    def spied(plan: Any, model: str, pointed: Any, history_of: int | None) -> None:
        guessed.append(history_of)
        start_guesses(plan, model, pointed, history_of)

    number = _log_version(registry, experiment, with_loss=with_loss)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(fingerprints._Plan, "start_guesses", spied)
            taken = gate.fingerprint(MODEL, number)
        assert guessed == [number]
        assert taken is not None and taken.baseline_version is not None
        assert taken == _cold_fingerprint(gate, monkeypatch, number)
    finally:
        registry.client().delete_model_version(MODEL, str(number))


def test_reads_guessed_from_an_earlier_fingerprint_never_stand_in_for_the_current_ones(
    gate: GateService, registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    _settled(gate)
    warm = gate.fingerprint(MODEL, CANDIDATE)
    assert warm is not None and warm == _cold_fingerprint(gate, monkeypatch)
    # The remembered champion (and its run, logged model and histories) is now the wrong guess.
    _move_champion(registry, gate)
    moved = gate.fingerprint(MODEL, CANDIDATE)
    assert moved is not None and moved.baseline_version != warm.baseline_version
    assert moved == _cold_fingerprint(gate, monkeypatch)
    _move_champion(registry, gate)


def test_a_baseline_alias_no_version_holds_is_fingerprinted_as_absent(
    gate: GateService, registry: Registry
) -> None:
    from review._fingerprint import PolicyState, evidence_fingerprint

    def taken() -> Any:
        return evidence_fingerprint(
            gate.client,
            MODEL,
            CANDIDATE,
            policy_state=lambda: PolicyState([], {}, []),
            target_alias="champion",
            baseline_alias="incumbent",
        )

    absent = taken()
    assert absent.baseline_version is None
    client = registry.client()
    client.set_registered_model_alias(MODEL, "incumbent", "1")
    try:
        held = taken()
        assert held.baseline_version == 1 and held.digest != absent.digest
    finally:
        client.delete_registered_model_alias(MODEL, "incumbent")
    assert taken() == absent


def test_a_policy_file_rewritten_at_once_with_the_same_size_is_hashed_again(
    tmp_path: Path,
) -> None:
    from review._fingerprint import policy_dir_digests

    path = tmp_path / "policy.yaml"
    path.write_text("revision: 1\n")
    first = policy_dir_digests(tmp_path)
    # Within the file system clock's granularity: size and times may all be as before.
    path.write_text("revision: 2\n")
    assert policy_dir_digests(tmp_path) != first


def test_a_settled_policy_file_is_read_once_and_again_after_any_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import review._fingerprint as fingerprints
    from tools import file_hashes

    hashes = file_hashes.FileHashes()
    monkeypatch.setattr(fingerprints, "_FILE_HASHES", hashes)
    # A settled file is one last changed this long ago (two seconds in production).
    monkeypatch.setattr(file_hashes, "RACY_NS", 50_000_000)
    path = tmp_path / "policy.yaml"
    path.write_text("revision: 1\n")
    time.sleep(0.1)
    first = fingerprints.policy_dir_digests(tmp_path)
    assert str(path) in hashes._hashes, "a settled file's hash is kept"
    assert fingerprints.policy_dir_digests(tmp_path) == first
    path.write_text("revision: 2\n")
    assert fingerprints.policy_dir_digests(tmp_path) != first
    (tmp_path / "extra.yaml").write_text("x: 1\n")
    assert set(fingerprints.policy_dir_digests(tmp_path)) == {"extra.yaml", "policy.yaml"}


def _request_kinds(requests: list[tuple[str, str]]) -> list[str]:
    return sorted(path.rsplit("/", 2)[-2] + "/" + path.rsplit("/", 1)[-1] for _, path in requests)


@pytest.mark.parametrize("champion", [1, 3], ids=["champion-in-the-history", "champion-after"])
def test_over_http_a_fingerprint_takes_seven_calls_and_sees_what_the_store_does(
    gate: GateService, registry: Registry, served: MlflowServer, tmp_path: Path, champion: int
) -> None:
    """Warm: both versions, the model's versions, one search for the runs (source runs and
    earlier versions' runs), one for the evaluation runs, one logged-model search and one bulk
    history (also when the champion is one of the candidate's earlier versions)."""
    client = registry.client()
    holder = client.get_registered_model(MODEL).aliases["champion"]
    client.set_registered_model_alias(MODEL, "champion", str(champion))
    try:
        _assert_seven_calls(gate, served, tmp_path)
    finally:
        client.set_registered_model_alias(MODEL, "champion", str(holder))


def _assert_seven_calls(gate: GateService, served: MlflowServer, tmp_path: Path) -> None:
    expected = gate.fingerprint(MODEL, CANDIDATE)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with HttpRelay(served.port) as relay:
        relayed = _gate_on(relay.url, gate, ledger)
        assert relayed.fingerprint(MODEL, CANDIDATE) == expected
        relay.take_requests()
        assert relayed.fingerprint(MODEL, CANDIDATE) == expected
        assert _request_kinds(relay.take_requests()) == [
            "logged-models/search",
            "metrics/get-history-bulk",
            "model-versions/get",
            "model-versions/search",
            "registered-models/alias",
            "runs/search",
            "runs/search",
        ]
    ledger.close()


def test_a_fresh_gate_reads_what_its_first_fingerprint_read_once(
    gate: GateService,
    served: MlflowServer,
    registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cold (nothing remembered, so the fingerprint reads each run and history on its own):
    the evidence is gathered from those reads, not from a second read of each."""
    import review._fingerprint as fingerprints

    monkeypatch.setattr(fingerprints, "_MEMO", fingerprints._Memo(fingerprints._MEMO_ENTRIES))
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with HttpRelay(served.port, with_queries=True) as relay:
        relayed = _gate_on(relay.url, gate, ledger)
        relay.take_requests()
        answer = relayed.gate(MODEL, CANDIDATE)
        relayed.drain()
        assert not answer.reused and answer.error is None, answer
        paths = [path for _, path in relay.take_requests()]
    ledger.close()
    # Depending on what earlier tests of this module logged, the fingerprint and the review read
    # more runs than the candidate's and the baseline's (runs that logged metrics on a logged
    # model, earlier versions' runs); none is read twice.
    runs = [p for p in paths if "/runs/get?" in p]
    assert len(runs) >= 2 and len(runs) == len(set(runs)), paths
    holder = int(registry.client().get_registered_model(MODEL).aliases["champion"])
    for number in (CANDIDATE, holder):
        assert sum(registry.run_ids[number] in p for p in runs) == 1, paths
    assert sum("/metrics/get-history?" in p for p in paths) == 2, paths
    # The candidate by number before the answer and again by the fingerprint after it; the
    # baseline, read by alias, is not read again by number.
    assert sum("/model-versions/get?" in p for p in paths) == 2, paths
    by_id = [p for p in paths if "/logged-models/m-" in p]
    assert len(by_id) == len(set(by_id)), paths


def _fresh_gate_requests(
    gate: GateService, served: MlflowServer, ledger: Ledger, number: int
) -> list[str]:
    """The requests (with their queries) of a fresh gate of `number` through a relay, once the
    candidate of the module is fingerprinted (so the champion is remembered); the gate must
    answer what a review without a fingerprint gathers."""
    with HttpRelay(served.port, with_queries=True) as relay:
        relayed = _gate_on(relay.url, gate, ledger)
        assert relayed.fingerprint(MODEL, CANDIDATE) is not None
        expected = relayed.reviews.gather(MODEL, number).bundle.digest
        relay.take_requests()
        answer = relayed.gate(MODEL, number)
        relayed.drain()
        assert not answer.reused and answer.error is None, answer
        assert answer.evidence_digest == expected
        return [path for _, path in relay.take_requests()]


def test_a_fresh_gate_reads_nothing_its_remembered_fingerprint_read_in_batches(
    gate: GateService, served: MlflowServer, tmp_path: Path
) -> None:
    """Warm (the fingerprint searches the runs, the logged models and the model's evaluation
    runs): the review takes each run, logged model and version's evaluation runs from those
    searches instead of reading them again, and gathers what a review without a fingerprint
    gathers."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        paths = _fresh_gate_requests(gate, served, ledger, CANDIDATE)
    finally:
        ledger.close()
    assert not [p for p in paths if "/runs/get?" in p or "/logged-models/m-" in p], paths
    # Two searches of runs by the fingerprint taken before the answer (the runs; the evaluation
    # runs) and two by the one taken after it: none by the review.
    assert sum(p.endswith("/runs/search") for p in paths) == 4, paths


@pytest.mark.parametrize(
    ("experiment", "with_loss"),
    [("fp", True), ("fp-elsewhere", False)],
    ids=["logged-where-the-champion-was", "logged-elsewhere-without-its-loss-history"],
)
def test_a_new_candidate_is_read_with_its_champion_in_batches_and_once(
    gate: GateService,
    served: MlflowServer,
    registry: Registry,
    tmp_path: Path,
    experiment: str,
    with_loss: bool,
) -> None:
    """A version no fingerprint has seen, beside a remembered champion: both versions' runs,
    logged models and loss histories are read in one search, one search and one bulk read, with
    the logged models each run logged, and the review reads none of them again; it gathers what
    a review without a fingerprint gathers. A candidate logged in an experiment of its own is
    missing from the searches made in the champion's and is read on its own, once."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    number = _log_version(registry, experiment, with_loss=with_loss)
    try:
        paths = _fresh_gate_requests(gate, served, ledger, number)
    finally:
        ledger.close()
        registry.client().delete_model_version(MODEL, str(number))
    singles = [p for p in paths if "/runs/get?" in p or "/logged-models/m-" in p]
    assert len(singles) == len(set(singles)), paths
    histories = [p for p in paths if "/metrics/get-history?" in p]
    assert len(histories) == len(set(histories)), paths
    # Before the answer: one search of runs, one of evaluation runs, one of logged models and one
    # of both runs' logged models by source run; after it, the fingerprint of a version now
    # remembered.
    searches = sum(p.endswith("/logged-models/search") for p in paths)
    if experiment == "fp":
        assert not singles and not histories, paths
        assert sum(p.endswith("/runs/search") for p in paths) == 4, paths
        assert searches == 3, paths
    else:
        # The candidate's run, logged model and logged models by source run, read on their own
        # (and after the answer the champion's loss history alone: the candidate has none).
        assert len(singles) == 2 and len(histories) <= 1, paths
        assert searches == 4, paths


def test_a_server_that_refuses_the_bulk_history_is_read_run_by_run(
    gate: GateService, served: MlflowServer, tmp_path: Path
) -> None:
    expected = gate.fingerprint(MODEL, CANDIDATE)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    with HttpRelay(served.port, refused_prefixes=("/ajax-api/",)) as relay:
        relayed = _gate_on(relay.url, gate, ledger)
        for _ in range(3):
            assert relayed.fingerprint(MODEL, CANDIDATE) == expected
        kinds = _request_kinds(relay.take_requests())
        # Asked once, refused, and not asked again: the histories are read one run at a time.
        assert kinds.count("metrics/get-history-bulk") == 1
        assert kinds.count("metrics/get-history") >= 4
    ledger.close()


def test_a_run_is_covered_alike_whether_read_alone_or_in_a_search(registry: Registry) -> None:
    from mlflow.entities import LoggedModelInput, ViewType

    from review._fingerprint import _run_part

    client = registry.client()
    run_id = registry.run_ids[3]
    # get_run also returns a run's logged-model inputs, which MLflow's run search does not.
    model_id = client.get_run(run_id).outputs.model_outputs[0].model_id
    client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
    alone = client.get_run(run_id)
    assert alone.inputs.model_inputs
    (searched,) = client.search_runs(
        [alone.info.experiment_id],
        f"attributes.run_id IN ('{run_id}')",
        run_view_type=ViewType.ALL,
    )
    assert _run_part(alone) == _run_part(searched)


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ([{"key": "a"}, {"key": "b"}], [{"key": "b"}, {"key": "a"}], True),
        ({"a": 1, "b": ""}, {"a": 1}, True),
        ({"a": 1, "b": None}, {"a": 1}, True),
        ({"a": 0}, {"a": False}, False),
        ([("f.txt", 100, 200)], [("f.txt", 200, 100)], False),
        ([(1, 10, 0.5), (2, 20, 0.25)], [(2, 20, 0.25), (1, 10, 0.5)], True),
        ({"a": "x"}, {"a": "x "}, False),
    ],
    ids=[
        "store-order",
        "empty-string",
        "none",
        "zero-is-not-false",
        "positional-fields-keep-their-order",
        "records-in-any-order",
        "whitespace",
    ],
)
def test_what_the_digest_tells_apart(one: Any, other: Any, same: bool) -> None:
    from review._fingerprint import _digest

    assert (_digest(one) == _digest(other)) is same


@pytest.mark.parametrize(
    "record",
    [
        ("models/model.skops", 1024, 1_700_000_000_000_000_000, 1_700_000_000_000_000_001),
        (3, 1_700_000_000_123, 0.1),
        (3, 1_700_000_000_123, float("nan")),
        (3, 1_700_000_000_123, float("-inf")),
        ('ünïcode/ファイル "quoted"\n', 0, -1.5e-300),
        ("<absent>",),
        (True, None, False, 2**70),
        (("nested", 1), {"b": 2, "a": ""}, [2, 1]),
    ],
    ids=["file-stat", "metric-point", "nan", "infinity", "unicode", "absent", "literals", "nested"],
)
def test_a_record_is_written_as_its_fields_in_order(record: tuple[Any, ...]) -> None:
    import json

    from review._fingerprint import _canonical

    # What the digest has always hashed for a record: each field's canonical text, in order.
    fields = ",".join(_canonical(v) for v in record)
    assert _canonical(record) == "[" + fields + "]"
    if not any(isinstance(v, tuple | dict | list) for v in record):
        compact = json.dumps(list(record), ensure_ascii=False, separators=(",", ":"))
        assert _canonical(record) == compact


def test_a_model_with_more_versions_than_a_search_answers_is_fingerprinted(
    registry: Registry, gate: GateService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The version history reads only the newest versions before the candidate, so a model
    with more versions than one page of MLflow's search is fingerprinted like any other."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    client = registry.client()
    model = "fp-many-versions"
    client.create_registered_model(model)
    pointing = {1000: 1, 1001: CANDIDATE}  # the champion and the candidate: real versions
    # MLflow reads a `models:/` source's logged model through the current tracking URI.
    with _use_tracking_uri(registry.tracking_uri):
        for number in range(1, 1002):
            if number in pointing:
                source = client.get_model_version(MODEL, str(pointing[number]))
                client.create_model_version(model, source.source, run_id=source.run_id)
            else:
                client.create_model_version(model, str(registry.root / "bare" / str(number)))
    client.set_registered_model_alias(model, "champion", "1000")
    taken = gate.fingerprint(model, 1001)
    assert taken is not None and taken.baseline_version == 1000
    assert _cold_fingerprint(gate, monkeypatch, 1001, model) == taken


def test_runs_logged_models_are_searched_once_and_answer_each_runs_own_search(
    registry: Registry, served: MlflowServer
) -> None:
    """Several runs' logged models by source run, in one search through the server: each run's
    own search (in its experiment, or in one where it logged nothing) is then answered as MLflow
    answers it, without reading."""
    from mlflow import MlflowClient

    from review._fingerprint import _run_models_read
    from tools import run_logged_models
    from tools.read_once import ReadOnceClient

    store = registry.client()
    found = store.get_experiment_by_name("fp-models")
    other = found.experiment_id if found is not None else store.create_experiment("fp-models")
    run_id = store.create_run(other).info.run_id
    for name in ("model", "other", "model"):
        store.create_logged_model(other, name=name, source_run_id=run_id)
    fp = store.get_experiment_by_name("fp").experiment_id
    searched = ((registry.run_ids[1], fp), (registry.run_ids[2], fp), (run_id, other), (run_id, fp))
    plain = MlflowClient(tracking_uri=served.url)
    kept: Any = ReadOnceClient(plain)
    _run_models_read(kept, searched)
    assert kept.calls == 1
    for run, experiment in searched:
        answer = run_logged_models(kept, run, experiment)
        expected = run_logged_models(plain, run, experiment)
        assert {n: m.model_id for n, m in answer.items()} == {
            n: m.model_id for n, m in expected.items()
        }, (run, experiment)
    assert kept.calls == 1
    assert sorted(run_logged_models(kept, run_id, other)) == ["model", "other"]
