"""The `security:` section judged on scans of real model directories (nothing is ever loaded)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
from support.model_artifacts import (
    Keys,
    make_keys,
    malicious_pickle,
    pytorch_style_zip,
    save_sklearn_model,
    trained_tree,
)

from policies.evaluator import evaluate_policies
from policies.result import CheckResult, PolicyVerdict
from tools.artifact_scan import ArtifactScan, ScanRequest, scan_model_directory
from tools.model_signature import SignerSpec, sign_model_directory
from tools.pickle_scan import ScanLimits

LIMITS = ScanLimits(timeout_s=120, memory_mb=2048)
ML_GLOBALS = ["sklearn.*", "numpy.*", "_codecs.encode"]


@dataclass(frozen=True)
class Scans:
    keys: Keys
    by_name: dict[str, ArtifactScan]


def _scan(root: Path, keys: Keys) -> ArtifactScan:
    signers = [SignerSpec(method="key", public_key=keys.public_key_pem)]
    return scan_model_directory(root, ScanRequest(limits=LIMITS, signers=signers), source=root.name)


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> Scans:
    root = tmp_path_factory.mktemp("security")
    keys = make_keys(root / "keys")
    model = trained_tree()
    dirs: dict[str, Path] = {}
    dirs["skops"] = save_sklearn_model(root / "skops", model)
    sign_model_directory(dirs["skops"], private_key=keys.private_key)
    dirs["cloudpickle"] = save_sklearn_model(
        root / "cloudpickle", model, serialization_format="cloudpickle"
    )
    # The same model with a payload beside it in the pickle MLflow would load.
    dirs["malicious"] = Path(shutil.copytree(dirs["cloudpickle"], root / "malicious"))
    (dirs["malicious"] / "model.pkl").write_bytes(malicious_pickle("os.system", wrap_model=model))
    # Indirect payload in an extra PyTorch-style zip next to a clean skops model.
    dirs["indirect"] = Path(shutil.copytree(dirs["skops"], root / "indirect"))
    (dirs["indirect"] / "model.sig").unlink()
    pytorch_style_zip(dirs["indirect"] / "extra.pt", malicious_pickle("timeit.timeit"))
    # A crafted MLmodel whose skops trusted types whitelist a command runner.
    dirs["trusted-types"] = Path(shutil.copytree(dirs["skops"], root / "trusted-types"))
    mlmodel = dirs["trusted-types"] / "MLmodel"
    mlmodel.write_text(
        mlmodel.read_text().replace(
            "    - sklearn.tree._tree.Tree", "    - sklearn.tree._tree.Tree\n    - posix.system"
        )
    )
    # Unpinned, VCS and denied requirements.
    dirs["requirements"] = save_sklearn_model(
        root / "requirements",
        model,
        requirements=[
            "scikit-learn>=1.0",
            "numpy==2.1.0",
            "git+https://github.com/acme/features.git",
            "pickle5==0.0.12",
        ],
    )
    # Signed, then one file changed / one file added.
    dirs["signed-changed"] = Path(shutil.copytree(dirs["skops"], root / "signed-changed"))
    (dirs["signed-changed"] / "requirements.txt").write_text("scikit-learn==1.5.2\nevil==1.0\n")
    dirs["signed-added"] = Path(shutil.copytree(dirs["skops"], root / "signed-added"))
    (dirs["signed-added"] / "hook.pkl").write_bytes(cloudpickle.dumps({"a": 1}))
    return Scans(keys=keys, by_name={name: _scan(path, keys) for name, path in dirs.items()})


def _verdict(kit: Any, scan: ArtifactScan | None, security: dict[str, Any]) -> PolicyVerdict:
    candidate = kit.version(7).model_copy(update={"artifact_scan": scan})
    policy = kit.policy("secure", security=security)
    return evaluate_policies([policy], kit.bundle(candidate, baseline_alias=None))


def _statuses(verdict: PolicyVerdict) -> dict[str, str]:
    return {c.id: c.status for c in verdict.checks if c.id.startswith("security.")}


def _signed(scans: Scans) -> dict[str, Any]:
    return {"signers": [{"method": "key", "public_key": scans.keys.public_key_pem}]}


def test_clean_signed_skops_model_passes_every_check(kit: Any, scans: Scans) -> None:
    verdict = _verdict(
        kit,
        scans.by_name["skops"],
        {
            "skops_trusted_types": ["sklearn.tree._tree.Tree"],
            "requirements": {"mlflow_version": ">=3.0,<4"},
            "signatures": _signed(scans),
        },
    )
    assert _statuses(verdict) == {
        "security.artifacts": "pass",
        "security.formats": "pass",
        "security.skops_trusted_types": "pass",
        "security.load_code": "pass",
        "security.pickles.picklescan": "pass",
        "security.pickles.fickling": "pass",
        "security.requirements.pins": "pass",
        "security.requirements.sources": "pass",
        "security.requirements.mlflow_version": "pass",
        "security.signature": "pass",
    }
    assert verdict.verdict == "approve"


CASES: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "cloudpickle",
        {"skops_trusted_types": []},
        {"security.formats": "fail", "security.pickles.picklescan": "fail"},
    ),
    (
        "cloudpickle",
        {
            "formats": {"allow": ["skops", "cloudpickle"]},
            "pickles": {"allowed_globals": ML_GLOBALS},
        },
        {
            "security.formats": "pass",
            "security.pickles.picklescan": "pass",
            "security.pickles.fickling": "pass",
        },
    ),
    (
        "malicious",
        {
            "formats": {"allow": ["skops", "cloudpickle"]},
            "pickles": {"allowed_globals": ML_GLOBALS},
        },
        {"security.pickles.picklescan": "fail", "security.pickles.fickling": "fail"},
    ),
    (
        "indirect",
        {
            "skops_trusted_types": ["sklearn.tree._tree.Tree"],
            "pickles": {"allowed_globals": ML_GLOBALS},
        },
        {
            "security.formats": "pass",
            "security.pickles.picklescan": "fail",
            "security.pickles.fickling": "fail",
        },
    ),
    (
        "trusted-types",
        {"skops_trusted_types": ["sklearn.tree._tree.Tree"]},
        {"security.skops_trusted_types": "fail"},
    ),
    (
        "requirements",
        {
            "skops_trusted_types": ["sklearn.tree._tree.Tree"],
            "requirements": {"deny": ["pickle5"], "mlflow_version": "<3"},
        },
        {
            "security.requirements.pins": "fail",
            "security.requirements.sources": "fail",
            "security.requirements.deny": "fail",
            "security.requirements.mlflow_version": "fail",
        },
    ),
    (
        "requirements",
        {
            "skops_trusted_types": ["sklearn.tree._tree.Tree"],
            "requirements": {"pinned": False, "allow_sources": ["vcs"], "deny": ["torch"]},
        },
        {
            "security.requirements.pins": "pass",
            "security.requirements.sources": "pass",
            "security.requirements.deny": "pass",
        },
    ),
]


@pytest.mark.parametrize(
    ("scan_name", "security", "expected"),
    CASES,
    ids=[
        "cloudpickle-refused",
        "cloudpickle-allowed-with-ml-globals",
        "reduce-payload-beside-model",
        "indirect-timeit-in-pytorch-zip",
        "edited-skops-trusted-types",
        "unpinned-vcs-denied-old-mlflow",
        "requirement-rules-relaxed",
    ],
)
def test_security_rules(
    kit: Any, scans: Scans, scan_name: str, security: dict[str, Any], expected: dict[str, str]
) -> None:
    statuses = _statuses(_verdict(kit, scans.by_name[scan_name], security))
    assert {k: statuses.get(k) for k in expected} == expected


@pytest.mark.parametrize("scan_name", ["signed-changed", "signed-added"])
def test_signed_then_changed_or_added_fails(kit: Any, scans: Scans, scan_name: str) -> None:
    verdict = _verdict(
        kit,
        scans.by_name[scan_name],
        {"skops_trusted_types": ["sklearn.tree._tree.Tree"], "signatures": _signed(scans)},
    )
    check = kit.check(verdict, "security.signature")
    assert check.status == "fail"
    assert verdict.verdict == "block"


def test_unsigned_model_fails_when_a_signature_is_required(kit: Any, scans: Scans) -> None:
    verdict = _verdict(kit, scans.by_name["cloudpickle"], {"signatures": _signed(scans)})
    assert kit.check(verdict, "security.signature").status == "fail"


def test_security_checks_cannot_be_overridden_by_default(kit: Any, scans: Scans) -> None:
    locked = _verdict(kit, scans.by_name["malicious"], {})
    opened = _verdict(kit, scans.by_name["malicious"], {"overridable": True})
    assert all(not c.overridable for c in locked.checks if c.id.startswith("security."))
    assert all(c.overridable for c in opened.checks if c.id.startswith("security."))


def test_unscanned_or_unreadable_artifacts_are_errors(kit: Any) -> None:
    unscanned = _verdict(kit, None, {})
    unreadable = _verdict(kit, ArtifactScan(source="models:/m-1", error="download failed"), {})
    for verdict in (unscanned, unreadable):
        [check] = [c for c in verdict.checks if c.id.startswith("security.")]
        assert (check.id, check.status, check.overridable) == ("security.artifacts", "error", False)
        assert verdict.verdict == "block"


def test_a_scanner_limit_fails_the_check_with_the_limit_named(kit: Any, tmp_path: Path) -> None:
    root = save_sklearn_model(tmp_path / "m", trained_tree(), serialization_format="cloudpickle")
    scan = scan_model_directory(root, ScanRequest(limits=ScanLimits(timeout_s=0.01)))
    verdict = _verdict(kit, scan, {"formats": {"allow": ["cloudpickle"]}})
    check: CheckResult = kit.check(verdict, "security.pickles.fickling")
    assert check.status == "fail"
    assert "time limit of 0.01 s" in check.message
