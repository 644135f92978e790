"""Model files read in a process of their own, started ahead of the review: the decision is the
one a review reading them itself makes, each file is parsed once, a reader that fails leaves the
importances unavailable with the reason, never kept, and the work done while the files are
parsed (the gate's significance tests) changes no evidence.

The registry is the plausibility scenarios' (real gradient-boosting models saved by MLflow with
skops); the reader is a real `tools.importance_process` child.
"""

from __future__ import annotations

import sys
import textwrap
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.offline_investigator import OfflineInvestigator
from ledger.store import Ledger
from policies.decision import Decision
from policies.loader import LoadedPolicy, load_policy_dir
from review import _plausibility_evidence, decide, evaluate_evidence, gather_evidence
from review._plausibility_evidence import start_importance_reads
from review.gate import GateService
from review.service import ReviewConfig, ReviewService
from scenarios.plausibility_registry import LEAK, MORE_DATA, PICKLED, SEEDS
from tools import model_importance
from tools.client import make_client
from tools.file_hashes import FileHashes
from tools.importance_process import ImportanceProcess

_POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {name: fraud-scoring, revision: 1}
match: {model: "fraud-*"}
metrics: [{name: roc_auc, min: 0.7, max_drop: 0.02}]
plausibility: {skops_trusted_types: [sklearn.tree._tree.Tree]}
"""


@pytest.fixture(scope="module")
def policies_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("importance-reads-policies")
    (directory / "fraud.yaml").write_text(textwrap.dedent(_POLICY))
    return directory


@pytest.fixture
def reader(importance_reader: ImportanceProcess) -> ImportanceProcess:
    return importance_reader


@pytest.fixture(autouse=True)
def nothing_kept(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts with no importances or file hashes kept, and no reader in use."""
    monkeypatch.setattr(model_importance, "_MODEL_FILE_HASHES", FileHashes())
    monkeypatch.setattr(model_importance, "_disk_cache", None)
    monkeypatch.setattr(_plausibility_evidence, "_read_ahead", OrderedDict())
    monkeypatch.setattr(_plausibility_evidence, "_sources_ahead", OrderedDict())
    model_importance.IMPORTANCE_CACHE.clear()
    yield
    model_importance.use_importance_process(None)
    model_importance.IMPORTANCE_CACHE.clear()


def _decide(tracking_uri: str, model: str, version: int, policies: list[LoadedPolicy]) -> Decision:
    client = make_client(tracking_uri)
    bundle = gather_evidence(client, model, version, policies=policies)
    return decide(
        evaluate_evidence(bundle, policies),
        investigator=OfflineInvestigator(),
        target_alias="champion",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        started=0.0,
    )


def _comparable(decision: Decision) -> dict[str, Any]:
    return decision.model_dump(mode="json", exclude={"id", "duration_ms", "created_at"})


@pytest.mark.parametrize(
    ("model", "version", "skops_files"),
    [(LEAK, 4, 2), (MORE_DATA, 3, 2), (SEEDS, 2, 2), (PICKLED, 2, 1)],
    ids=["leak", "more-data", "seed", "pickled-candidate"],
)
def test_a_review_decides_the_same_with_the_reader_process(
    plausibility_registry: Any,
    policies_dir: Path,
    reader: ImportanceProcess,
    model: str,
    version: int,
    skops_files: int,
) -> None:
    policies = load_policy_dir(policies_dir)
    here = _decide(plausibility_registry.tracking_uri, model, version, policies)
    model_importance.IMPORTANCE_CACHE.clear()
    model_importance.use_importance_process(reader)
    before = reader.answered
    there = _decide(plausibility_registry.tracking_uri, model, version, policies)
    assert there.evidence_digest == here.evidence_digest
    assert _comparable(there) == _comparable(here)
    # Read ahead, then asked for by the review: each skops file is parsed once.
    assert reader.answered == before + skops_files
    _decide(plausibility_registry.tracking_uri, model, version, policies)
    assert reader.answered == before + skops_files


def test_a_gate_reads_both_files_ahead_once_each(
    plausibility_registry: Any,
    policies_dir: Path,
    reader: ImportanceProcess,
    tmp_path: Path,
) -> None:
    config = ReviewConfig(
        tracking_uri=plausibility_registry.tracking_uri, policies_dir=policies_dir
    )
    answers = []
    for process in (None, reader):
        model_importance.IMPORTANCE_CACHE.clear()
        model_importance.use_importance_process(process)
        ledger = Ledger(f"sqlite:///{tmp_path / f'ledger-{process is None}.db'}")
        gate = GateService(ReviewService(config, ledger=ledger, investigator=OfflineInvestigator()))
        before = reader.answered
        answer = gate.gate(LEAK, 4)
        gate.drain()
        answers.append((answer, ledger.get_decision(answer.decision_id), reader.answered - before))
        ledger.close()
    (plain, plain_decision, none_parsed), (read, read_decision, parsed) = answers
    assert (none_parsed, parsed) == (0, 2)
    assert (read.verdict, read.reused) == (plain.verdict, False) == ("escalate", False)
    assert read_decision.evidence_digest == plain_decision.evidence_digest
    assert _comparable(read_decision) == _comparable(plain_decision)


def test_reads_start_ahead_only_with_a_reader_and_only_for_files_not_kept(
    plausibility_registry: Any, policies_dir: Path, reader: ImportanceProcess
) -> None:
    policies = load_policy_dir(policies_dir)
    client = make_client(plausibility_registry.tracking_uri)
    options: dict[str, Any] = {"target_alias": "champion", "baseline_alias": "champion"}
    assert start_importance_reads(client, LEAK, 4, policies, **options) == 0
    model_importance.use_importance_process(reader)
    before = reader.answered
    assert start_importance_reads(client, LEAK, 4, policies, **options) == 2
    # Under way or kept: nothing starts again.
    assert start_importance_reads(client, LEAK, 4, policies, **options) == 0
    # The review waits for the reads under way, and they were the only parses.
    gathered = gather_evidence(client, LEAK, 4, policies=policies)
    assert gathered.candidate.feature_importances is not None
    assert gathered.candidate.feature_importances.available
    assert reader.answered == before + 2
    gather_evidence(client, LEAK, 4, policies=policies)
    assert reader.answered == before + 2
    # A version is read ahead once per process, even when nothing is kept any more.
    model_importance.IMPORTANCE_CACHE.clear()
    assert start_importance_reads(client, LEAK, "4", policies, **options) == 0
    assert reader.answered == before + 2
    # An unknown version starts nothing and raises nothing: the review reports it.
    assert start_importance_reads(client, LEAK, 99, policies, **options) == 0
    assert start_importance_reads(client, "no-such-model", 1, policies, **options) == 0
    # A champion's file is read ahead with its first candidate only: the next candidate's
    # baseline is the same file, whose importances the review then finds kept.
    before = reader.answered
    assert start_importance_reads(client, SEEDS, 2, policies, **options) == 2
    assert start_importance_reads(client, SEEDS, 3, policies, **options) == 1
    for version in (2, 3):
        gathered = gather_evidence(client, SEEDS, version, policies=policies)
        for evidence in (gathered.candidate, gathered.baseline):
            assert evidence is not None and evidence.feature_importances is not None
            assert evidence.feature_importances.available
    assert reader.answered == before + 3


def test_a_failed_reader_leaves_importances_unavailable_and_unkept(
    plausibility_registry: Any, policies_dir: Path, reader: ImportanceProcess, tmp_path: Path
) -> None:
    script = tmp_path / "dies.py"
    script.write_text("import sys\nsys.exit(9)\n")
    failing = ImportanceProcess(command=[sys.executable, str(script)], start_timeout_s=30.0)
    policies = load_policy_dir(policies_dir)
    client = make_client(plausibility_registry.tracking_uri)
    model_importance.use_importance_process(failing)
    try:
        failed = gather_evidence(client, LEAK, 4, policies=policies)
    finally:
        failing.close()
    for version in (failed.candidate, failed.baseline):
        assert version is not None and version.feature_importances is not None
        assert not version.feature_importances.available
        assert "reader process ended (exit code 9)" in str(version.feature_importances.reason)
    # Nothing of the failure was kept: a working reader reads the files.
    model_importance.use_importance_process(reader)
    read = gather_evidence(client, LEAK, 4, policies=policies)
    for version in (read.candidate, read.baseline):
        assert version is not None and version.feature_importances is not None
        assert version.feature_importances.available


@pytest.mark.parametrize(
    ("under_way", "fails", "runs"),
    [(True, False, 1), (False, False, 0), (True, True, 1)],
    ids=["while-a-read-is-under-way", "nothing-under-way", "work-that-fails"],
)
def test_work_while_files_are_parsed_runs_only_then_and_changes_no_evidence(
    plausibility_registry: Any,
    policies_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    under_way: bool,
    fails: bool,
    runs: int,
) -> None:
    policies = load_policy_dir(policies_dir)
    client = make_client(plausibility_registry.tracking_uri)
    plain = gather_evidence(client, LEAK, 4, policies=policies)
    model_importance.IMPORTANCE_CACHE.clear()
    seen: list[Any] = []

    def meanwhile(bundle: Any) -> None:
        seen.append(bundle)
        if fails:
            raise RuntimeError("the work failed")

    monkeypatch.setattr(_plausibility_evidence, "importance_reads_under_way", lambda: under_way)
    with caplog.at_level("WARNING", logger="promogate.review"):
        gathered = gather_evidence(client, LEAK, 4, policies=policies, while_parsing=meanwhile)
    assert len(seen) == runs
    # The work sees the evidence before the importances join it.
    assert all(bundle.candidate.feature_importances is None for bundle in seen)
    assert gathered.digest == plain.digest
    assert ("work while the model files were parsed failed" in caplog.text) is fails


@pytest.mark.parametrize("caller", ["gate", "review"])
def test_the_gate_runs_the_significance_tests_while_files_are_parsed(
    plausibility_registry: Any,
    policies_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    caller: str,
) -> None:
    """A gate's caller waits for the answer; a review's (a worker's job) does not, and its
    cores are busy with other reviews."""
    import review.service

    ran: list[Any] = []
    run_tests = review.service.run_significance_tests

    def counted(policies: Any, bundle: Any) -> None:
        ran.append(bundle.candidate.ref)
        run_tests(policies, bundle)

    monkeypatch.setattr(review.service, "run_significance_tests", counted)
    monkeypatch.setattr(_plausibility_evidence, "importance_reads_under_way", lambda: True)
    config = ReviewConfig(
        tracking_uri=plausibility_registry.tracking_uri, policies_dir=policies_dir
    )
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    service = ReviewService(config, ledger=ledger, investigator=OfflineInvestigator())
    try:
        if caller == "gate":
            gate = GateService(service)
            gate.gate(LEAK, 4)
            gate.drain()
        else:
            service.review(LEAK, 4)
    finally:
        ledger.close()
    assert ran == ([f"{LEAK}/4"] if caller == "gate" else [])
