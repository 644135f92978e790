"""A review scans the candidate's artifacts when a matching policy has a security section."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from support.model_artifacts import (
    SecurityRegistry,
    logged_model_dir,
)

from policies.loader import load_policy_dir
from review import evaluate_evidence, gather_evidence
from review.artifact_security import DEFAULT_SECURITY_POLICY, scan_version


@pytest.fixture(scope="module")
def registry(security_registry: SecurityRegistry) -> SecurityRegistry:
    return security_registry


@pytest.fixture(scope="module")
def client(registry: SecurityRegistry) -> object:
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)


def _evaluated(client: Any, model: str, version: int, policies: list[Any]) -> Any:
    bundle = gather_evidence(client, model, version, policies=policies, baseline_alias=None)
    return evaluate_evidence(bundle, policies)


def _statuses(checks: list[object]) -> dict[str, str]:
    return {c.id: c.status for c in checks if c.id.startswith("security.")}  # type: ignore[attr-defined]


def test_clean_signed_version_passes_and_its_digest_is_in_the_evidence(
    registry: SecurityRegistry, client: object
) -> None:
    policies = load_policy_dir(registry.policies_dir)
    evaluated = _evaluated(client, registry.model, 1, policies)
    scan = evaluated.bundle.candidate.artifact_scan
    assert scan is not None and scan.digest is not None
    assert set(_statuses(evaluated.verdict.checks).values()) == {"pass"}
    assert evaluated.verdict.verdict == "approve"
    assert scan.digest in evaluated.bundle.model_dump_json()


def test_payload_version_is_blocked_and_unoverridable(
    registry: SecurityRegistry, client: object
) -> None:
    policies = load_policy_dir(registry.policies_dir)
    evaluated = _evaluated(client, registry.model, 2, policies)
    statuses = _statuses(evaluated.verdict.checks)
    assert statuses["security.formats"] == "fail"
    assert statuses["security.pickles.picklescan"] == "fail"
    assert statuses["security.pickles.fickling"] == "fail"
    assert statuses["security.signature"] == "fail"
    assert evaluated.verdict.verdict == "block"
    assert not any(c.overridable for c in evaluated.verdict.checks if c.status == "fail")


def test_versions_without_a_security_policy_are_not_scanned(
    registry: SecurityRegistry, client: object, tmp_path: Path
) -> None:
    policies_dir = tmp_path / "policies"
    policies_dir.mkdir()
    text = (registry.policies_dir / "secure.yaml").read_text()
    (policies_dir / "plain.yaml").write_text(text.split("security:")[0])
    policies = load_policy_dir(policies_dir)
    evaluated = _evaluated(client, registry.model, 1, policies)
    assert evaluated.bundle.candidate.artifact_scan is None
    assert "artifact_scan" not in evaluated.bundle.candidate.model_dump()


def test_artifacts_edited_after_signing_fail_and_change_the_digest(
    registry: SecurityRegistry, client: object, tmp_path: Path
) -> None:
    policies = load_policy_dir(registry.policies_dir)
    before = scan_version(client, registry.model, 3, policies=policies)  # type: ignore[arg-type]
    assert before.status == "pass"
    files = logged_model_dir(client, registry.model, 3)
    backup = Path(shutil.copytree(files, tmp_path / "backup"))
    try:
        (files / "requirements.txt").write_text("scikit-learn==1.5.2\nevil-helper==6.6.6\n")
        after = scan_version(client, registry.model, 3, policies=policies)  # type: ignore[arg-type]
    finally:
        shutil.copy2(backup / "requirements.txt", files / "requirements.txt")
    assert after.artifact_digest != before.artifact_digest
    assert {c.id: c.status for c in after.checks}["security.signature"] == "fail"


def test_scan_without_a_matching_security_policy_uses_the_default_rules(
    registry: SecurityRegistry, client: object
) -> None:
    report = scan_version(client, registry.model, 2, policies=[])  # type: ignore[arg-type]
    assert report.default_rules and report.policies == [DEFAULT_SECURITY_POLICY]
    assert report.status == "fail"
    assert "security.signature" not in {c.id for c in report.checks}
