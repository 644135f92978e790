"""Collecting a version's evidence and the candidate/baseline bundle from a real registry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest

from tools.collector import await_evidence, collect_bundle, collect_version, evidence_tags
from tools.errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    RunNotFoundError,
    VersionNotFoundError,
)

MODEL = "credit-risk"


def test_collect_version_reads_every_source(mlflow_store: Any, client: Any) -> None:
    facts = mlflow_store.versions[1]
    evidence = collect_version(client, MODEL, 1)
    assert (evidence.model, evidence.version, evidence.ref) == (MODEL, 1, "credit-risk/1")
    assert evidence.aliases == ["champion"]
    assert evidence.tags == {"team": "risk"}
    assert evidence.description == "baseline model"
    assert (evidence.run_id, evidence.model_id) == (facts.run_id, facts.model_id)
    assert evidence.run is not None and evidence.run.params == facts.params
    assert evidence.metric("roc_auc") == pytest.approx(facts.metrics["roc_auc"])
    assert evidence.logged_model is not None
    assert evidence.logged_model.flavors == ["python_function", "sklearn"]
    assert [(d.context, d.digest) for d in evidence.datasets] == [
        ("evaluation", facts.eval_digest),
        ("training", facts.train_digest),
    ]
    assert [d.name for d in evidence.datasets_in("evaluation")] == ["credit-eval"]
    # Loss-like keys present on the run are read without being asked for.
    assert sorted(evidence.metric_histories) == ["loss", "val_loss"]
    assert [p.value for p in evidence.metric_histories["loss"]] == [1.0, 0.5, 0.25]
    for path, content in mlflow_store.run_files.items():
        found = evidence.artifact(path)
        assert found is not None and found.owner == "run" and found.content == content
    mlmodel = evidence.artifact("MLmodel")
    assert mlmodel is not None and mlmodel.owner == "logged_model"
    assert "notes.txt" in evidence.artifact_paths
    assert f"models:/{facts.model_id}/model.skops" in evidence.artifact_paths
    assert evidence.eval_table is not None and evidence.eval_table.path == "eval/predictions.json"
    assert evidence.safety["jailbreak-core"].failures == 25
    # The only gaps are the two pipeline files that were deliberately not readable.
    assert [g.source for g in evidence.gaps] == ["pipeline_config", "pipeline_config"]
    assert evidence.gaps[0].message == (
        f"run {facts.run_id!r}: artifact 'pipeline/blob.bin' is malformed: "
        "binary content, not UTF-8 text"
    )
    assert evidence.gaps[1].message.startswith(
        f"run {facts.run_id!r}: artifact 'pipeline/huge.txt'"
    )


def test_history_keys_and_missing_history(mlflow_store: Any, client: Any) -> None:
    evidence = collect_version(client, MODEL, 3, history_keys=["roc_auc", "f1"])
    assert sorted(evidence.metric_histories) == ["loss", "roc_auc"]
    assert [p.step for p in evidence.metric_histories["roc_auc"]] == [0, 0, 1, 2]
    history_gaps = [g for g in evidence.gaps if g.source == "metric_history"]
    assert len(history_gaps) == 1
    assert "'f1'" in history_gaps[0].message
    assert mlflow_store.versions[3].run_id in history_gaps[0].message
    assert history_gaps[0].how_to_fix is not None and "step=" in history_gaps[0].how_to_fix


def test_deleted_source_run_is_a_run_gap(mlflow_store: Any, client: Any) -> None:
    facts = mlflow_store.versions[4]
    evidence = collect_version(client, MODEL, 4)
    assert evidence.run is None
    assert evidence.run_id == facts.run_id
    run_gaps = [g for g in evidence.gaps if g.source == "run"]
    assert len(run_gaps) == 1
    assert repr(facts.run_id) in run_gaps[0].message and "deleted" in run_gaps[0].message
    assert run_gaps[0].how_to_fix is not None and "mlflow runs restore" in run_gaps[0].how_to_fix
    # Nothing read from the deleted run may pass for evidence...
    assert evidence.datasets == [] and evidence.eval_table is None and evidence.safety == {}
    assert evidence.metric_histories == {}
    assert all(a.owner == "logged_model" for a in evidence.artifacts)
    # ...while the logged model, which is not deleted, is still read.
    assert evidence.logged_model is not None and evidence.logged_model.model_id == facts.model_id


def test_malformed_eval_table_is_an_eval_table_gap(client: Any) -> None:
    evidence = collect_version(client, MODEL, 5)
    assert evidence.eval_table is None
    gaps = {g.source: g for g in evidence.gaps}
    assert set(gaps) == {"eval_table", "safety"}
    assert "'eval/predictions.json'" in gaps["eval_table"].message
    assert gaps["eval_table"].how_to_fix is not None
    assert "mlflow.log_table" in gaps["eval_table"].how_to_fix
    assert evidence.run is not None  # the rest of the version's evidence is intact


def test_version_without_logged_model(mlflow_store: Any, client: Any) -> None:
    evidence = collect_version(client, "legacy-model", 1)
    assert evidence.logged_model is None and evidence.model_id is None
    assert evidence.run is not None and evidence.run.params == {"seed": "9"}
    assert [g.source for g in evidence.gaps] == ["logged_model"]
    assert "not an MLflow 3 logged model URI" in evidence.gaps[0].message


def test_missing_source_run_is_a_run_gap(mlflow_store: Any, client: Any) -> None:
    from tools.collector import collect_resolved
    from tools.registry import resolve_version

    resolved = resolve_version(client, MODEL, 3)
    ghost = "f" * 32
    evidence = collect_resolved(client, resolved.model_copy(update={"run_id": ghost}))
    assert evidence.run is None
    run_gaps = [g for g in evidence.gaps if g.source == "run"]
    assert [g.message for g in run_gaps] == [RunNotFoundError(ghost).message]


@pytest.mark.parametrize(
    ("model", "ref", "baseline_alias", "candidate", "baseline"),
    [
        (MODEL, "@challenger", "champion", 2, 1),
        (MODEL, 3, "champion", 3, 1),
        (MODEL, "@champion", "champion", 1, None),
        (MODEL, "2", "no-such-alias", 2, None),
        (MODEL, 2, None, 2, None),
        (MODEL, 3, "challenger", 3, 2),
        ("first-model", 1, "champion", 1, None),
    ],
    ids=[
        "challenger-vs-champion",
        "number-vs-champion",
        "candidate-is-champion",
        "baseline-alias-missing",
        "no-baseline-alias",
        "other-baseline-alias",
        "first-version",
    ],
)
def test_collect_bundle_baseline(
    client: Any,
    model: str,
    ref: str | int,
    baseline_alias: str | None,
    candidate: int,
    baseline: int | None,
) -> None:
    bundle = collect_bundle(client, model, ref, baseline_alias=baseline_alias, target_alias="prod")
    assert bundle.candidate.version == candidate
    assert (bundle.baseline.version if bundle.baseline else None) == baseline
    assert bundle.baseline_alias == baseline_alias
    assert bundle.target_alias == "prod"


@pytest.mark.parametrize(
    ("model", "ref", "error"),
    [
        ("no-such-model", 1, ModelNotFoundError),
        (MODEL, 99, VersionNotFoundError),
        (MODEL, "@production", AliasNotFoundError),
    ],
    ids=["model", "version", "alias"],
)
def test_collect_bundle_unknown_raises(
    client: Any, model: str, ref: str | int, error: type[Exception]
) -> None:
    with pytest.raises(error):
        collect_bundle(client, model, ref)


def test_digest_is_stable_across_collections(client: Any) -> None:
    first = collect_bundle(client, MODEL, "@challenger")
    second = collect_bundle(client, MODEL, 2)
    assert first.digest == second.digest
    assert len(first.digest) == 64


def test_decision_tags_do_not_change_the_digest(client: Any) -> None:
    before = collect_bundle(client, MODEL, 2).digest
    client.set_model_version_tag(MODEL, "2", "promogate.verdict", "approve")
    try:
        after = collect_bundle(client, MODEL, 2)
    finally:
        client.delete_model_version_tag(MODEL, "2", "promogate.verdict")
    assert "promogate.verdict" not in after.candidate.tags
    assert after.digest == before


def test_other_tags_do_change_the_digest(client: Any) -> None:
    before = collect_bundle(client, MODEL, 2).digest
    client.set_model_version_tag(MODEL, "2", "risk_tier", "high")
    try:
        after = collect_bundle(client, MODEL, 2)
    finally:
        client.delete_model_version_tag(MODEL, "2", "risk_tier")
    assert after.candidate.tags == {"risk_tier": "high"}
    assert after.digest != before


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"team": "risk", "promogate.verdict": "block"}, {"team": "risk"}),
        ({"promogate.decision_id": "d1", "promogate_x": "kept"}, {"promogate_x": "kept"}),
        ({}, {}),
    ],
    ids=["verdict", "prefix-needs-dot", "empty"],
)
def test_evidence_tags(tags: dict[str, str], expected: dict[str, str]) -> None:
    assert evidence_tags(tags) == expected


def test_await_evidence_turns_timeouts_and_failures_into_gaps() -> None:
    def slow() -> int:
        time.sleep(1.0)
        return 1

    def broken() -> int:
        raise KeyError("boom")

    def missing() -> int:
        raise RunNotFoundError("abc")

    with ThreadPoolExecutor(max_workers=3) as pool:
        started = time.monotonic()
        value, gap = await_evidence(
            pool.submit(slow), "run", "source run 'abc'", deadline=started + 0.1, timeout_s=0.1
        )
        assert time.monotonic() - started < 0.8
        assert value is None and gap is not None
        assert (gap.source, gap.message) == (
            "run",
            "reading source run 'abc' timed out after 0.1 s",
        )

        value, gap = await_evidence(
            pool.submit(broken),
            "safety",
            "safety results",
            deadline=time.monotonic() + 5,
            timeout_s=5,
        )
        assert value is None and gap is not None
        assert gap.message == "reading safety results failed unexpectedly: KeyError: 'boom'"

        value, gap = await_evidence(
            pool.submit(missing), "run", "x", deadline=time.monotonic() + 5, timeout_s=5
        )
        assert gap is not None and gap.message == "run 'abc' not found"
        assert gap.how_to_fix == RunNotFoundError("abc").how_to_fix

        value, gap = await_evidence(
            pool.submit(lambda: 7), "run", "x", deadline=time.monotonic() + 5, timeout_s=5
        )
        assert (value, gap) == (7, None)


def test_zero_budget_never_reads_as_empty_evidence(client: Any) -> None:
    started = time.monotonic()
    evidence = collect_version(client, MODEL, 1, timeout_s=0.0)
    assert time.monotonic() - started < 5.0
    sources = {g.source for g in evidence.gaps}
    # Whatever did not arrive in time is a gap, never an empty field that reads as a pass.
    assert evidence.run is not None or "run" in sources
    assert evidence.logged_model is not None or "logged_model" in sources
    if evidence.run is not None:
        assert evidence.eval_table is not None or "eval_table" in sources
        assert evidence.safety or "safety" in sources
    assert any("timed out after 0 s" in g.message for g in evidence.gaps)


class _At:
    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri


@pytest.mark.parametrize(
    ("uri", "width"),
    [
        ("sqlite:////srv/mlflow.db", 2),
        ("SQLITE:///mlflow.db", 2),
        ("file:///srv/mlruns", 2),
        ("/srv/mlruns", 2),
        ("http://mlflow:5000", 8),
        ("https://mlflow.example.org", 8),
        ("postgresql://mlflow@db/mlflow", 8),
        ("databricks", 8),
        ("mlruns", 2),
        ("databricks://profile", 8),
    ],
    ids=[
        "sqlite",
        "sqlite-upper",
        "file",
        "path",
        "http",
        "https",
        "postgresql",
        "databricks-bare",
        "relative-path",
        "databricks",
    ],
)
def test_reads_at_once_follow_where_the_store_is(uri: str, width: int) -> None:
    from tools.collector import _read_width

    assert _read_width(_At(uri)) == width  # type: ignore[arg-type]


class _AtOnce:
    """Counts the calls running at once, and the most there were."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    @contextmanager
    def one(self) -> Iterator[None]:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1


def test_a_local_store_is_read_two_reads_at_a_time_at_most(mlflow_store: Any, client: Any) -> None:
    import threading

    at_once = _AtOnce()

    class Watched:
        def __getattr__(self, name: str) -> Any:
            attribute = getattr(client, name)
            if not callable(attribute):
                return attribute

            def call(*args: Any, **kwargs: Any) -> Any:
                if not threading.current_thread().name.startswith("promogate-evidence"):
                    return attribute(*args, **kwargs)
                with at_once.one():
                    time.sleep(0.01)  # so that reads allowed at once do overlap
                    return attribute(*args, **kwargs)

            return call

    collect_version(Watched(), MODEL, 1)  # type: ignore[arg-type]
    assert 1 <= at_once.most <= 2


def _reader(width: int) -> Any:
    from tools.collector import _Reader

    return _Reader(width, time.monotonic() + 30.0, 30.0)


@pytest.mark.parametrize("width", [1, 2, 3], ids=["one", "two", "three"])
def test_a_collection_runs_its_width_of_reads_at_once(width: int) -> None:
    import threading

    reader = _reader(width)
    at_once = _AtOnce()
    release = threading.Event()

    def read(value: int) -> int:
        with at_once.one():
            release.wait(5.0)
        return value

    futures = [reader.submit(read, i) for i in range(7)]
    waited = time.monotonic() + 5.0
    while at_once.running < width and time.monotonic() < waited:
        time.sleep(0.005)
    time.sleep(0.05)  # a read beyond the width would start now
    release.set()
    assert [f.result(timeout=5.0) for f in futures] == list(range(7))
    assert at_once.most == width
    reader.close()


def test_queued_reads_run_in_order_and_may_wait_on_earlier_ones() -> None:
    reader = _reader(1)
    order: list[str] = []
    listing = reader.submit(lambda: order.append("listing") or ["a.json"])
    # Each waits on the listing, as the artifact readers do; with one slot they run after it.
    texts = reader.submit(lambda: order.append("texts") or listing.result(timeout=5.0))
    table = reader.submit(lambda: order.append("table") or listing.result(timeout=5.0)[0])
    assert texts.result(timeout=5.0) == ["a.json"]
    assert table.result(timeout=5.0) == "a.json"
    assert order == ["listing", "texts", "table"]


def test_a_failing_read_fails_its_future_and_frees_its_slot() -> None:
    reader = _reader(1)
    failing = reader.submit(lambda: 1 / 0)
    after = reader.submit(lambda: "next")
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=5.0)
    assert after.result(timeout=5.0) == "next"


def test_closing_cancels_the_reads_not_started() -> None:
    import threading

    reader = _reader(1)
    started = threading.Event()
    release = threading.Event()
    ran: list[str] = []

    def slow() -> str:
        started.set()
        release.wait(5.0)
        return "slow"

    first = reader.submit(slow)
    queued = reader.submit(lambda: ran.append("queued"))
    assert started.wait(5.0)
    reader.close()
    release.set()
    # The read that was running finishes on its own; the queued one never runs.
    assert first.result(timeout=5.0) == "slow"
    assert queued.cancelled()
    time.sleep(0.05)
    assert ran == []
