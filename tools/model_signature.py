"""Verify (and, for tests and tooling, create) OpenSSF model signatures over an artifact directory.

The signature is an OpenSSF model-signing bundle (the `model-signing` package) stored as
`model.sig` at the root of the model's artifacts. It signs a manifest of every file's SHA-256.
Verification here:

- checks the bundle against the verifier a policy names: an elliptic-curve public key, a
  certificate chain ending in one of the policy's root certificates (optionally with a required
  signer identity in the leaf certificate), or a Sigstore identity and OIDC issuer;
- re-hashes the files and refuses changed, missing and extra files (model-signing's own rule);
- refuses a signature whose manifest leaves out files of the directory, so a signer's
  `ignore_paths` cannot hide a file added later.

Key and certificate verification run offline. Sigstore verification fetches Sigstore's trust root
and checks the transparency log, so it needs the network (or a `trust_config` file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SIGNATURE_FILE",
    "SignatureStatus",
    "SignatureVerification",
    "SignerSpec",
    "sign_model_directory",
    "verify_model_directory",
]

logger = logging.getLogger("promogate.tools")

#: Where a model's signature lives, relative to its artifact root.
SIGNATURE_FILE = "model.sig"
SignatureStatus = Literal["verified", "failed", "missing", "error"]


class SignerSpec(BaseModel):
    """Whom a signature must come from (one entry of a policy's `security.signatures.signers`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    method: Literal["key", "certificate", "sigstore"]
    public_key: str | None = Field(default=None, description="PEM public key (method: key).")
    root_certificates: list[str] = Field(
        default_factory=list, description="PEM certificates trusted as roots (method: certificate)."
    )
    identity: str | None = Field(
        default=None,
        description="certificate: a SAN (email, URI, DNS name) or subject CN the leaf certificate "
        "must carry; sigstore: the signer identity (e.g. an email or a workflow URI).",
    )
    oidc_issuer: str | None = Field(default=None, description="sigstore: the identity's issuer.")

    @property
    def label(self) -> str:
        """A stable name for results: the method plus the identity or a key fingerprint."""
        if self.method == "key":
            text = "".join((self.public_key or "").split())
            return "key:" + hashlib.sha256(text.encode()).hexdigest()[:12]
        if self.method == "certificate":
            roots = "".join("".join(p.split()) for p in self.root_certificates)
            fingerprint = hashlib.sha256(roots.encode()).hexdigest()[:12]
            return f"certificate:{self.identity or '*'}@{fingerprint}"
        return f"sigstore:{self.identity}@{self.oidc_issuer}"


class SignatureVerification(BaseModel):
    """The outcome of verifying the artifact directory against one signer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    signer: str
    status: SignatureStatus
    message: str
    signed_files: int = 0


def _write(tmp: Path, name: str, pem: str) -> Path:
    path = tmp / name
    path.write_text(pem)
    return path


def _leaf_identities(bundle: dict[str, object]) -> set[str]:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    material = bundle.get("verificationMaterial")
    chain = material.get("x509CertificateChain") if isinstance(material, dict) else None
    certs = chain.get("certificates") if isinstance(chain, dict) else None
    if not isinstance(certs, list) or not certs or not isinstance(certs[0], dict):
        return set()
    leaf = x509.load_der_x509_certificate(base64.b64decode(str(certs[0].get("rawBytes", ""))))
    names = {str(a.value) for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)}
    try:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names |= {str(n.value) for n in san}
    except x509.ExtensionNotFound:
        pass
    return names


def _signed_names(bundle: dict[str, object]) -> set[str] | None:
    envelope = bundle.get("dsseEnvelope")
    payload = envelope.get("payload") if isinstance(envelope, dict) else None
    if not isinstance(payload, str):
        return None
    statement = json.loads(base64.b64decode(payload))
    resources = statement.get("predicate", {}).get("resources")
    if not isinstance(resources, list):
        return None
    return {str(r.get("name")) for r in resources if isinstance(r, dict)}


def _short_reason(text: str) -> str:
    """model-signing's mismatch text without the raw digests: which files changed, came, went."""
    changed = re.findall(r"Hash mismatch for \\*'([^'\\]+)", text)
    extra = re.findall(r"(Extra files found in model [^:]*: [^\"\]\[]*)", text)
    missing = re.findall(r"(Missing files in model [^:]*: [^\"\]\[]*)", text)
    if not (changed or extra or missing):
        return text[:800]
    parts = [p.strip().rstrip("'") for p in extra + missing]
    if changed:
        parts.append(f"changed since signing: {', '.join(map(repr, changed))}")
    return "Signature mismatch: " + "; ".join(parts)


def _verify_one(
    model_dir: Path, signature: Path, signer: SignerSpec, files: Sequence[str], tmp: Path
) -> SignatureVerification:
    from model_signing import verifying

    config = verifying.Config()  # type: ignore[no-untyped-call]
    if signer.method == "key":
        if not signer.public_key:
            return SignatureVerification(
                signer=signer.label, status="error", message="no public key configured"
            )
        config.use_elliptic_key_verifier(public_key=_write(tmp, "key.pub", signer.public_key))
    elif signer.method == "certificate":
        if not signer.root_certificates:
            # model-signing would fall back to the system's web PKI roots: never what is meant.
            return SignatureVerification(
                signer=signer.label, status="error", message="no root certificates configured"
            )
        roots = [_write(tmp, f"root{i}.pem", pem) for i, pem in enumerate(signer.root_certificates)]
        config.use_certificate_verifier(certificate_chain=roots)
    else:
        if not signer.identity or not signer.oidc_issuer:
            return SignatureVerification(
                signer=signer.label,
                status="error",
                message="a sigstore signer needs identity and oidc_issuer",
            )
        config.use_sigstore_verifier(identity=signer.identity, oidc_issuer=signer.oidc_issuer)
    try:
        config.verify(model_dir, signature)
    except (ValueError, OSError) as exc:
        return SignatureVerification(
            signer=signer.label, status="failed", message=_short_reason(str(exc))
        )
    except Exception as exc:  # noqa: BLE001 - any verifier failure is a failed check, never a pass
        return SignatureVerification(
            signer=signer.label,
            status="failed",
            message=f"{type(exc).__name__}: {str(exc)[:800]}",
        )
    bundle = json.loads(signature.read_text())
    signed = _signed_names(bundle)
    if signed is None:
        return SignatureVerification(
            signer=signer.label, status="failed", message="the signature lists no signed files"
        )
    unsigned = sorted(set(files) - signed)
    if unsigned:
        return SignatureVerification(
            signer=signer.label,
            status="failed",
            message=f"files not covered by the signature: {', '.join(map(repr, unsigned[:10]))}",
            signed_files=len(signed),
        )
    if signer.method == "certificate" and signer.identity is not None:
        identities = _leaf_identities(bundle)
        if signer.identity not in identities:
            return SignatureVerification(
                signer=signer.label,
                status="failed",
                message=f"the signing certificate names {sorted(identities)!r}, "
                f"not {signer.identity!r}",
                signed_files=len(signed),
            )
    return SignatureVerification(
        signer=signer.label,
        status="verified",
        message=f"signature verified over {len(signed)} files",
        signed_files=len(signed),
    )


def verify_model_directory(
    model_dir: Path, signers: Sequence[SignerSpec], files: Sequence[str]
) -> list[SignatureVerification]:
    """Verify `model_dir/model.sig` against each signer.

    The signature file is moved out of the directory first (the directory is a private copy),
    so it is not counted as an extra file.

    Args:
        model_dir: A private local copy of the artifact directory.
        signers: Whom the signature may come from; each gets its own result.
        files: Every file of the directory (relative POSIX paths, signature excluded).
    """
    signature = model_dir / SIGNATURE_FILE
    if not signature.is_file():
        return [
            SignatureVerification(
                signer=s.label, status="missing", message=f"no {SIGNATURE_FILE} in the artifacts"
            )
            for s in signers
        ]
    with tempfile.TemporaryDirectory(prefix="promogate-sig-") as raw:
        tmp = Path(raw)
        moved = tmp / SIGNATURE_FILE
        shutil.move(str(signature), moved)
        try:
            return [_verify_one(model_dir, moved, s, files, tmp) for s in signers]
        finally:
            shutil.move(str(moved), signature)


def sign_model_directory(
    model_dir: Path,
    *,
    private_key: Path,
    certificate: Path | None = None,
    certificate_chain: Sequence[Path] = (),
) -> Path:
    """Sign every file of `model_dir` into `model_dir/model.sig` (key or certificate signing).

    Offline; for teams' pipelines, tests and benchmarks. Sigstore signing is done with
    model-signing's own CLI (`model_signing sign sigstore`), which needs an OIDC login.

    Args:
        model_dir: The saved model directory (before it is logged, or a local copy).
        private_key: PEM elliptic-curve private key.
        certificate: The signing certificate (PEM) for certificate signing.
        certificate_chain: Intermediate certificates to embed.
    """
    from model_signing import hashing, signing

    signature = model_dir / SIGNATURE_FILE
    signature.unlink(missing_ok=True)
    config = signing.Config()  # type: ignore[no-untyped-call]
    if certificate is not None:
        config.use_certificate_signer(
            private_key=private_key,
            signing_certificate=certificate,
            certificate_chain=list(certificate_chain),
        )
    else:
        config.use_elliptic_key_signer(private_key=private_key)
    ignored = hashing.Config().set_ignored_paths(paths=[signature])  # type: ignore[no-untyped-call]
    config.set_hashing_config(ignored)
    config.sign(model_dir, signature)
    return signature
