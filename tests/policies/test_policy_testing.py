"""`promogate policy test`: example evidence against expected verdicts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from policies.errors import PolicyDirectoryError, PolicyTestError
from policies.testing import load_policy_tests, run_policy_tests


@pytest.fixture
def policy_dir(tmp_path: Path, kit: Any) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(kit.examples, target)
    return target


@pytest.fixture
def evidence_files(tmp_path: Path, kit: Any, eval_data: Any) -> Path:
    folder = tmp_path / "tests" / "evidence"
    folder.mkdir(parents=True)
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    clean = kit.table(eval_data, kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.8))
    regressed = kit.table(
        eval_data,
        kit.scores(eval_data, seed=5, rho=0.85, noise_scale=0.6, region_shift={"north": -1.0}),
    )
    baseline = kit.version(1, table=base, datasets=kit.datasets(train="train-v1"))
    datasets = kit.datasets(train="train-v2")
    for name, table in (("clean", clean), ("regressed", regressed)):
        bundle = kit.bundle(kit.version(2, table=table, datasets=datasets), baseline)
        (folder / f"{name}.json").write_text(bundle.model_dump_json())
    return folder


TESTS = """\
cases:
  - name: a clean better candidate is approved
    evidence: evidence/clean.json
    expected: approve
    applied: [credit-risk]
    checks:
      metrics.roc_auc.max_drop: pass
      "segments.region.recall.*": pass
  - name: a hidden regression in the north is blocked
    evidence: evidence/regressed.json
    expected: block
    checks:
      segments.region.recall.north: fail
      metrics.roc_auc.min: pass
  - name: no policy covers other models
    bundle: {candidate: {model: fraud, version: 1}}
    expected: block
    applied: [promogate.deny-by-default]
    checks: {match: fail}
  - name: inline JSON bundle
    bundle: '{"candidate": {"model": "support-bot", "version": 2}}'
    expected: block
    checks: {evals.pii-leakage.max_failures: error}
"""


def test_run_policy_tests_passing(policy_dir: Path, evidence_files: Path) -> None:
    tests = evidence_files.parent / "credit.yaml"
    tests.write_text(TESTS)
    results = run_policy_tests(policy_dir, tests)
    assert [(r.name, r.passed) for r in results] == [
        ("a clean better candidate is approved", True),
        ("a hidden regression in the north is blocked", True),
        ("no policy covers other models", True),
        ("inline JSON bundle", True),
    ], [r.failures for r in results]
    assert [r.line for r in results] == [2, 9, 15, 20]
    assert results[1].actual == "block"
    assert results[1].checks["segments.region.recall.north"] == "fail"


def test_run_policy_tests_reports_mismatches(policy_dir: Path, evidence_files: Path) -> None:
    tests = evidence_files.parent / "wrong.yaml"
    tests.write_text(
        """\
- name: wrong expectations
  evidence: evidence/regressed.json
  expected: approve
  applied: [other]
  checks:
    segments.region.recall.north: pass
    "segments.region.channel.*": pass
    metrics.f1.min: pass
- name: evidence file missing
  evidence: evidence/nope.json
  expected: block
"""
    )
    wrong, missing = run_policy_tests(policy_dir, tests)
    assert not wrong.passed
    assert wrong.failures[0] == "verdict is 'block', expected 'approve'"
    assert wrong.failures[1] == "applied policies are ['credit-risk'], expected ['other']"
    assert "check 'segments.region.recall.north' is 'fail', expected 'pass'" in wrong.failures
    assert any(f.startswith("no check 'segments.region.channel.*'") for f in wrong.failures)
    assert any(f.startswith("no check 'metrics.f1.min'") for f in wrong.failures)
    assert not missing.passed
    assert missing.actual is None
    assert "cannot read evidence file" in missing.failures[0] and "nope.json" in missing.failures[0]


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        (
            "- name: x\n  expected: maybe\n  bundle: {candidate: {model: m, version: 1}}\n",
            2,
            "expected",
        ),
        ("- name: x\n  expected: block\n", 1, "exactly one of 'evidence'"),
        (
            "- name: x\n  expected: block\n  evidence: a.json\n  colour: red\n",
            4,
            "unknown field 'colour'",
        ),
        ("name: x\n", 1, "a list of cases"),
        ("- name: x\n  expected: block\n  bundle: '{not json'\n", 3, "not valid JSON"),
    ],
    ids=["bad-verdict", "no-evidence", "unknown-field", "not-a-list", "bad-inline-json"],
)
def test_malformed_test_files_name_file_and_line(
    tmp_path: Path, text: str, line: int, needle: str
) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(PolicyTestError) as info:
        load_policy_tests(path)
    assert info.value.path == str(path)
    assert info.value.line == line, str(info.value)
    assert needle in str(info.value)


def test_test_directory_prefers_test_files_beside_policies(policy_dir: Path) -> None:
    (policy_dir / "deny.test.yaml").write_text(
        "- name: deny\n  bundle: {candidate: {model: fraud, version: 1}}\n  expected: block\n"
    )
    results = run_policy_tests(policy_dir, policy_dir)
    assert [(r.name, r.passed) for r in results] == [("deny", True)]


def test_missing_tests_path(tmp_path: Path, policy_dir: Path) -> None:
    with pytest.raises(PolicyDirectoryError, match="does not exist"):
        run_policy_tests(policy_dir, tmp_path / "none")
