"""OpenSSF model signatures, key and certificate modes, offline; any swap fails verification."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from support.model_artifacts import Keys, make_keys, save_sklearn_model, trained_tree

from tools.artifact_manifest import build_manifest
from tools.model_signature import (
    SIGNATURE_FILE,
    SignerSpec,
    sign_model_directory,
    verify_model_directory,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_sklearn_model(tmp_path_factory.mktemp("saved") / "model", trained_tree())


def _copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def _files(root: Path) -> list[str]:
    return [f.path for f in build_manifest(root, exclude=[SIGNATURE_FILE]).files]


def _key_signer(keys: Keys) -> SignerSpec:
    return SignerSpec(method="key", public_key=keys.public_key_pem)


def _cert_signer(keys: Keys, identity: str | None = "ml-team@example.com") -> SignerSpec:
    return SignerSpec(
        method="certificate", root_certificates=[keys.root_cert_pem], identity=identity
    )


def _sign_key(root: Path, keys: Keys) -> None:
    sign_model_directory(root, private_key=keys.private_key)


def _sign_cert(root: Path, keys: Keys) -> None:
    sign_model_directory(
        root,
        private_key=keys.leaf_key,
        certificate=keys.leaf_cert,
        certificate_chain=[keys.root_cert],
    )


MODES: list[tuple[Callable[[Path, Keys], None], Callable[[Keys], SignerSpec]]] = [
    (_sign_key, _key_signer),
    (_sign_cert, _cert_signer),
]


@pytest.mark.parametrize(("sign", "signer"), MODES, ids=["key", "certificate"])
def test_signed_model_verifies(
    saved: Path,
    tmp_path: Path,
    keys: Keys,
    sign: Callable[[Path, Keys], None],
    signer: Callable[[Keys], SignerSpec],
) -> None:
    root = _copy(saved, tmp_path)
    sign(root, keys)
    [result] = verify_model_directory(root, [signer(keys)], _files(root))
    assert result.status == "verified", result.message
    assert result.signed_files == len(_files(root))


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            lambda r: (r / "MLmodel").write_text((r / "MLmodel").read_text() + "\n# edited\n"),
            "changed since signing: 'MLmodel'",
        ),
        (lambda r: (r / "extra.pkl").write_bytes(b"\x80\x04N."), "Extra files"),
        (lambda r: (r / "requirements.txt").unlink(), "Missing files"),
    ],
    ids=["changed", "added", "removed"],
)
@pytest.mark.parametrize(("sign", "signer"), MODES, ids=["key", "certificate"])
def test_any_change_after_signing_fails(
    saved: Path,
    tmp_path: Path,
    keys: Keys,
    sign: Callable[[Path, Keys], None],
    signer: Callable[[Keys], SignerSpec],
    tamper: Callable[[Path], object],
    expected: str,
) -> None:
    root = _copy(saved, tmp_path)
    sign(root, keys)
    tamper(root)
    [result] = verify_model_directory(root, [signer(keys)], _files(root))
    assert result.status == "failed"
    assert expected in result.message


def test_other_key_fails(saved: Path, tmp_path: Path, keys: Keys) -> None:
    root = _copy(saved, tmp_path)
    _sign_key(root, keys)
    other = make_keys(tmp_path / "other")
    [result] = verify_model_directory(root, [_key_signer(other)], _files(root))
    assert result.status == "failed"


def test_certificate_from_another_root_or_identity_fails(
    saved: Path, tmp_path: Path, keys: Keys
) -> None:
    root = _copy(saved, tmp_path)
    _sign_cert(root, keys)
    other = make_keys(tmp_path / "other")
    results = verify_model_directory(
        root,
        [_cert_signer(other), _cert_signer(keys, identity="someone-else@example.com")],
        _files(root),
    )
    assert [r.status for r in results] == ["failed", "failed"]
    assert "someone-else@example.com" in results[1].message


def test_unsigned_model_is_missing_and_misconfigured_signers_error(
    saved: Path, tmp_path: Path
) -> None:
    root = _copy(saved, tmp_path)
    [missing] = verify_model_directory(root, [SignerSpec(method="key", public_key="x")], [])
    assert missing.status == "missing"
    _sign_key(root, make_keys(tmp_path / "k"))
    results = verify_model_directory(
        root,
        [SignerSpec(method="certificate"), SignerSpec(method="sigstore", identity="a@b.c")],
        _files(root),
    )
    assert [r.status for r in results] == ["error", "error"]


def test_signature_file_stays_in_place(saved: Path, tmp_path: Path, keys: Keys) -> None:
    root = _copy(saved, tmp_path)
    _sign_key(root, keys)
    before = (root / SIGNATURE_FILE).read_bytes()
    verify_model_directory(root, [_key_signer(keys)], _files(root))
    assert (root / SIGNATURE_FILE).read_bytes() == before
