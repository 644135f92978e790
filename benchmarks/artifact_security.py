"""Artifact security: scan time and peak memory for large model directories, signing and
verification time, and what a `security:` section adds to a review's latency::

    uv run python -m benchmarks.artifact_security [--sizes 100,1000] [--repeats 5]

For each size (MB) two model directories are generated in a temporary directory (deleted at the
end; nothing is written to the repository):

- `weights`: a PyTorch-style `model.pt` zip (a small `data.pkl` plus raw storages making up the
  size), `MLmodel`, requirements. The common case: large files, a small pickle.
- `pickle`: one pickle of the whole size (a NumPy array, protocol 4) as a scikit-learn cloudpickle
  model. The worst case for the scanners, which read the whole stream.

Each is hashed (manifest), sniffed, scanned by both scanners in their limited child processes
(peak memory is each child's VmHWM), signed with an EC key and verified. Then a small registry
with a signed skops model and a signed cloudpickle model is reviewed (`review`
`gather_evidence` then `evaluate_evidence`) `repeats` times under a policy without and with a
`security:` section; the difference is what the security checks add.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pickle
import resource
import statistics
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from policies.loader import load_policy_dir
from review import evaluate_evidence, gather_evidence
from tools.artifact_manifest import build_manifest
from tools.model_signature import (
    SIGNATURE_FILE,
    SignerSpec,
    sign_model_directory,
    verify_model_directory,
)
from tools.pickle_scan import ScanLimits, scan_pickles
from tools.pickle_sniffer import find_pickles

__all__ = ["main"]

T = TypeVar("T")
_CHUNK = 16 * 1024 * 1024
_MLMODEL_PT = (
    "flavors:\n  pytorch:\n    model_data: data\n    pytorch_version: 2.5.1\n"
    "    serialization_format: pickle\n  python_function:\n    loader_module: mlflow.pytorch\n"
    "mlflow_version: 3.17.2\n"
)
_MLMODEL_SK = (
    "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: cloudpickle\n"
    "  python_function:\n    loader_module: mlflow.sklearn\n    model_path: model.pkl\n"
    "mlflow_version: 3.17.2\n"
)


def _timed(fn: Callable[[], T]) -> tuple[T, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _weights_dir(root: Path, size_mb: int) -> Path:
    root.mkdir(parents=True)
    (root / "MLmodel").write_text(_MLMODEL_PT)
    (root / "requirements.txt").write_text("torch==2.5.1\nmlflow==3.17.2\n")
    state = {f"layer{i}.weight": ("storage", str(i)) for i in range(8)}
    with zipfile.ZipFile(root / "model.pt", "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(state, protocol=2))
        archive.writestr("archive/version", "3\n")
        per_storage = size_mb * 1024 * 1024 // 8
        for i in range(8):
            with archive.open(f"archive/data/{i}", "w", force_zip64=True) as member:
                left = per_storage
                while left > 0:
                    n = min(_CHUNK, left)
                    member.write(os.urandom(n))
                    left -= n
    return root


def _pickle_dir(root: Path, size_mb: int) -> Path:
    import numpy as np

    root.mkdir(parents=True)
    (root / "MLmodel").write_text(_MLMODEL_SK)
    (root / "requirements.txt").write_text("scikit-learn==1.5.2\nmlflow==3.17.2\n")
    weights = np.frombuffer(os.urandom(size_mb * 1024 * 1024), dtype=np.uint8)
    with (root / "model.pkl").open("wb") as handle:
        pickle.dump({"coef": weights}, handle, protocol=4)
    return root


def _keys(directory: Path) -> tuple[Path, str]:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = directory / "signing.key"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return path, public.decode()


def _measure_dir(kind: str, root: Path, size_mb: int, key: Path, public: str) -> dict[str, Any]:
    manifest, hash_s = _timed(lambda: build_manifest(root))
    (locations, _), sniff_s = _timed(lambda: find_pickles(root, [f.path for f in manifest.files]))
    reports, scan_s = _timed(
        lambda: scan_pickles(root, locations, ScanLimits(timeout_s=1800, memory_mb=4096))
    )
    scanners = {
        r.scanner: {
            "status": r.status,
            "seconds": round(r.seconds, 2),
            "peak_rss_mb": r.peak_rss_mb,
            "message": r.message,
        }
        for report in reports
        for r in report.reports
    }
    _, sign_s = _timed(lambda: sign_model_directory(root, private_key=key))
    files = [f.path for f in manifest.files]
    results, verify_s = _timed(
        lambda: verify_model_directory(root, [SignerSpec(method="key", public_key=public)], files)
    )
    (root / SIGNATURE_FILE).unlink()
    return {
        "kind": kind,
        "size_mb": size_mb,
        "files": len(manifest.files),
        "pickle_streams": [loc.label for loc in locations],
        "manifest_s": round(hash_s, 2),
        "sniff_s": round(sniff_s, 3),
        "scanners_wall_s": round(scan_s, 2),
        "scanners": scanners,
        "sign_s": round(sign_s, 2),
        "verify_s": round(verify_s, 2),
        "verified": [r.status for r in results],
        "parent_max_rss_mb": round(_max_rss_mb(), 1),
    }


_POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {{name: bench, revision: 1}}
match: {{model: "bench-*"}}
baseline: {{on_missing: pass}}
comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
{security}"""


def _review_latency(work: Path, repeats: int) -> dict[str, Any]:
    import mlflow.sklearn
    import numpy as np
    from mlflow import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.tree import DecisionTreeClassifier

    uri = f"sqlite:///{work / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    key, public = _keys(work)
    rng = np.random.default_rng(0)
    x = rng.random((500, 8))
    model = DecisionTreeClassifier(max_depth=6).fit(x, (x[:, 0] > 0.5).astype(int))
    saved = work / "model"
    mlflow.sklearn.save_model(
        model,
        str(saved),
        serialization_format="skops",
        skops_trusted_types=["sklearn.tree._tree.Tree"],
        pip_requirements=["scikit-learn==1.5.2"],
    )
    for extra in ("uv.lock", "pyproject.toml", ".python-version"):
        (saved / extra).unlink(missing_ok=True)
    sign_model_directory(saved, private_key=key)
    pickled = work / "pickled"
    mlflow.sklearn.save_model(
        model,
        str(pickled),
        serialization_format="cloudpickle",
        pip_requirements=["scikit-learn==1.5.2"],
    )
    for extra in ("uv.lock", "pyproject.toml", ".python-version"):
        (pickled / extra).unlink(missing_ok=True)
    sign_model_directory(pickled, private_key=key)
    with _use_tracking_uri(uri):
        experiment = client.create_experiment("bench", artifact_location=(work / "a").as_uri())
        client.create_registered_model("bench-model")
        for directory in (saved, pickled):
            run = client.create_run(experiment)
            logged = client.create_logged_model(experiment, name="m", source_run_id=run.info.run_id)
            client.log_model_artifacts(logged.model_id, str(directory))
            client.finalize_logged_model(logged.model_id, "READY")
            client.create_model_version("bench-model", f"models:/{logged.model_id}")
    indented = "\n".join("          " + line for line in public.strip().splitlines())
    signers = (
        f"  signatures:\n    signers:\n      - method: key\n        public_key: |\n{indented}\n"
    )
    skops_security = "security:\n  skops_trusted_types: [sklearn.tree._tree.Tree]\n" + signers
    pickle_security = (
        "security:\n  formats: {allow: [cloudpickle]}\n"
        '  pickles: {allowed_globals: ["sklearn.*", "numpy.*"]}\n' + signers
    )
    scenarios = (
        ("without security, skops model", "", 1),
        ("with security, skops model", skops_security, 1),
        ("without security, cloudpickle model", "", 2),
        ("with security, cloudpickle model (2 scanner processes)", pickle_security, 2),
    )
    timings: dict[str, float] = {}
    for index, (label, section, version) in enumerate(scenarios):
        directory = work / f"policies-{index}"
        directory.mkdir()
        (directory / "p.yaml").write_text(_POLICY.format(security=section))
        policies = load_policy_dir(directory)

        def review(p: list[Any] = policies, v: int = version) -> Any:
            bundle = gather_evidence(client, "bench-model", v, policies=p, baseline_alias=None)
            return evaluate_evidence(bundle, p)

        review()
        runs = []
        for _ in range(repeats):
            evaluated, seconds = _timed(review)
            assert evaluated.verdict.verdict == "approve", evaluated.verdict.reasons
            runs.append(seconds)
        timings[label] = statistics.median(runs)
    result: dict[str, Any] = {"repeats": repeats}
    for kind in ("skops model", "cloudpickle model"):
        without = timings[f"without security, {kind}"]
        with_label = next(k for k in timings if k.startswith(f"with security, {kind}"))
        result[kind] = {
            "median_without_s": round(without, 3),
            "median_with_s": round(timings[with_label], 3),
            "added_s": round(timings[with_label] - without, 3),
            "ratio": round(timings[with_label] / without, 2),
        }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="100,1000", help="Directory sizes in MB.")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kinds", default="weights,pickle")
    parser.add_argument("--skip-review", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results: dict[str, Any] = {"directories": []}
    with tempfile.TemporaryDirectory(prefix="promogate-bench-security-") as raw:
        tmp = Path(raw)
        key, public = _keys(tmp)
        for size in (int(s) for s in args.sizes.split(",")):
            for kind in args.kinds.split(","):
                build = _weights_dir if kind == "weights" else _pickle_dir
                root, build_s = _timed(lambda b=build, k=kind, s=size: b(tmp / f"{k}-{s}", s))  # type: ignore[misc]
                row = _measure_dir(kind, root, size, key, public)
                row["generate_s"] = round(build_s, 1)
                results["directories"].append(row)
                print(json.dumps(row), flush=True)
                for path in sorted(root.rglob("*"), reverse=True):
                    path.unlink() if path.is_file() else path.rmdir()
        if not args.skip_review:
            review = tmp / "review"
            review.mkdir()
            results["review"] = _review_latency(review, args.repeats)
            print(json.dumps(results["review"]), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
