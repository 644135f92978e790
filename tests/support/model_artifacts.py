"""Real model artifacts for the security tests: MLflow-saved scikit-learn models, pickles with
classic and indirect payloads, PyTorch-style zips, signing keys and certificates.

Malicious pickles are built with `pickle.dumps` of objects whose `__reduce__` names a callable:
dumping records the callable's module and name and calls nothing. No test ever loads them.
"""

from __future__ import annotations

import datetime
import io
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "PAYLOADS",
    "Keys",
    "SecurityRegistry",
    "build_security_registry",
    "log_model_directory",
    "logged_model_dir",
    "make_keys",
    "malicious_pickle",
    "marker_pickle",
    "pytorch_style_zip",
    "save_sklearn_model",
]


class _Reduce:
    """Pickles as `func(*args)`: what unpickling would call."""

    def __init__(self, func: Any, args: tuple[Any, ...]) -> None:
        self.func, self.args = func, args

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return self.func, self.args


def _payloads() -> dict[str, _Reduce]:
    import builtins
    import subprocess
    import timeit

    return {
        # Classic __reduce__ payloads.
        "os.system": _Reduce(os.system, ("echo owned",)),
        "subprocess.Popen": _Reduce(subprocess.Popen, (["echo", "owned"],)),
        "builtins.eval": _Reduce(builtins.eval, ("__import__('os').system('echo owned')",)),
        "builtins.exec": _Reduce(builtins.exec, ("import os",)),
        # Indirect: a standard-library function that evaluates a string it is given.
        "timeit.timeit": _Reduce(timeit.timeit, ("__import__('os').system('echo owned')",)),
    }


PAYLOADS: tuple[str, ...] = tuple(_payloads())


def malicious_pickle(kind: str, *, protocol: int = 4, wrap_model: Any = None) -> bytes:
    """A pickle that would run `kind` on load; with `wrap_model`, hidden inside a dict beside a
    real model (the payload then runs while the model loads)."""
    payload = _payloads()[kind]
    obj: Any = payload if wrap_model is None else {"model": wrap_model, "meta": payload}
    return pickle.dumps(obj, protocol=protocol)


def marker_pickle(marker: Path) -> bytes:
    """A pickle whose load writes `marker` (a harmless command): the demo's planted version."""
    return pickle.dumps(_Reduce(os.system, (f"touch {marker}",)), protocol=4)


def pytorch_style_zip(path: Path, data_pkl: bytes) -> Path:
    """A zip laid out like `torch.save` output: `archive/data.pkl`, `archive/version`, storages."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", data_pkl)
        archive.writestr("archive/byteorder", "little")
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", os.urandom(64))
    return path


def trained_tree() -> Any:
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    rng = np.random.default_rng(0)
    x = rng.random((60, 3))
    y = (x[:, 0] > 0.5).astype(int)
    return DecisionTreeClassifier(max_depth=3, random_state=0).fit(x, y)


def save_sklearn_model(
    directory: Path,
    model: Any,
    *,
    serialization_format: str = "skops",
    trusted_types: list[str] | None = None,
    requirements: list[str] | None = None,
) -> Path:
    """Save with `mlflow.sklearn.save_model` (a real MLmodel, env files and model file)."""
    import mlflow.sklearn

    kwargs: dict[str, Any] = {}
    if serialization_format == "skops":
        kwargs["skops_trusted_types"] = trusted_types or ["sklearn.tree._tree.Tree"]
    mlflow.sklearn.save_model(
        model,
        str(directory),
        serialization_format=serialization_format,
        pip_requirements=requirements or ["scikit-learn==1.5.2", "numpy==2.1.0"],
        **kwargs,
    )
    # MLflow copies a uv project's lock files next to the model when run from one; they are not
    # part of what these tests are about.
    for extra in ("uv.lock", "pyproject.toml", ".python-version"):
        (directory / extra).unlink(missing_ok=True)
    return directory


def log_model_directory(
    client: Any, experiment_id: str, registered_name: str, directory: Path
) -> int:
    """Log a local model directory as an MLflow 3 logged model and register a version of it."""
    run = client.create_run(experiment_id)
    logged = client.create_logged_model(experiment_id, name="model", source_run_id=run.info.run_id)
    client.log_model_artifacts(logged.model_id, str(directory))
    client.finalize_logged_model(logged.model_id, "READY")
    client.set_terminated(run.info.run_id)
    try:
        client.create_registered_model(registered_name)
    except Exception as exc:
        if "already exists" not in str(exc).lower():
            raise
    version = client.create_model_version(
        registered_name, f"models:/{logged.model_id}", run_id=run.info.run_id
    )
    return int(version.version)


@dataclass(frozen=True)
class Keys:
    """An EC key pair and a certificate chain (root -> leaf) in PEM files."""

    private_key: Path
    public_key_pem: str
    leaf_key: Path
    leaf_cert: Path
    root_cert: Path
    root_cert_pem: str


def make_keys(directory: Path, *, identity: str = "ml-team@example.com") -> Keys:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)

    def pem_key(key: Any) -> bytes:
        return bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    def cert(name: str, key: Any, issuer: str, issuer_key: Any, ca: bool) -> Any:
        now = datetime.datetime.now(datetime.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=not ca,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=ca,
                    crl_sign=ca,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(identity)]), critical=False
            )
        return builder.sign(issuer_key, hashes.SHA256())

    key = ec.generate_private_key(ec.SECP256R1())
    (directory / "signing.key").write_bytes(pem_key(key))
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = cert("promogate test root", root_key, "promogate test root", root_key, True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = cert("ml-team", leaf_key, "promogate test root", root_key, False)
    (directory / "leaf.key").write_bytes(pem_key(leaf_key))
    (directory / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    root_pem = root.public_bytes(serialization.Encoding.PEM)
    (directory / "root.pem").write_bytes(root_pem)
    return Keys(
        private_key=directory / "signing.key",
        public_key_pem=public.decode(),
        leaf_key=directory / "leaf.key",
        leaf_cert=directory / "leaf.pem",
        root_cert=directory / "root.pem",
        root_cert_pem=root_pem.decode(),
    )


def npy_object_array(values: list[Any]) -> bytes:
    """A .npy file with object dtype: NumPy embeds a pickle after the header."""
    import numpy as np

    buffer = io.BytesIO()
    np.save(buffer, np.array(values, dtype=object), allow_pickle=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class SecurityRegistry:
    """A SQLite MLflow registry with versions of `secure-model` built for the security checks.

    Versions: 1 clean skops, signed; 2 cloudpickle with an `os.system` payload beside the model;
    3 clean skops, signed, whose requirements file is edited after signing.
    """

    root: Path
    tracking_uri: str
    experiment_id: str
    keys: Keys
    policies_dir: Path
    model: str = "secure-model"


SECURITY_POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {{name: secure-models, revision: 1}}
match: {{model: "secure-*"}}
baseline: {{on_missing: pass}}
comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
security:
  skops_trusted_types: [sklearn.tree._tree.Tree]
  pickles: {{allowed_globals: ["sklearn.*", "numpy.*"], timeout_s: 120, memory_mb: 2048}}
  requirements: {{mlflow_version: ">=3.0,<4"}}
  signatures:
    signers:
      - method: key
        public_key: |
{key}
"""


def build_security_registry(root: Path) -> SecurityRegistry:
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    root.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{root / 'mlflow.db'}"
    # Registering `models:/m-...` looks the logged model up through the global tracking URI.
    with _use_tracking_uri(uri):
        return _build_security_registry(root, uri)


def _build_security_registry(root: Path, uri: str) -> SecurityRegistry:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment_id = client.create_experiment(
        "security", artifact_location=(root / "artifacts").as_uri()
    )
    keys = make_keys(root / "keys")
    model = trained_tree()
    clean = save_sklearn_model(root / "work" / "clean", model)
    sign_model_directory_for_tests(clean, keys)
    log_model_directory(client, experiment_id, "secure-model", clean)
    bad = save_sklearn_model(root / "work" / "bad", model, serialization_format="cloudpickle")
    (bad / "model.pkl").write_bytes(malicious_pickle("os.system", wrap_model=model))
    log_model_directory(client, experiment_id, "secure-model", bad)
    log_model_directory(client, experiment_id, "secure-model", clean)
    policies = root / "policies"
    policies.mkdir()
    key = "\n".join("          " + line for line in keys.public_key_pem.strip().splitlines())
    (policies / "secure.yaml").write_text(SECURITY_POLICY.format(key=key))
    return SecurityRegistry(
        root=root, tracking_uri=uri, experiment_id=experiment_id, keys=keys, policies_dir=policies
    )


def sign_model_directory_for_tests(directory: Path, keys: Keys) -> None:
    from tools.model_signature import sign_model_directory

    sign_model_directory(directory, private_key=keys.private_key)


def logged_model_dir(client: Any, model: str, version: int) -> Path:
    """Where a version's logged-model files live in the local artifact store (to tamper)."""
    from urllib.parse import urlparse

    source = client.get_model_version(model, str(version)).source
    logged = client.get_logged_model(source.removeprefix("models:/"))
    return Path(urlparse(str(logged.artifact_location)).path)
