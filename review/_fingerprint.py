"""A cheap fingerprint of everything a review's evidence is read from, so the gate can reuse a
decision without reading the evidence again.

The fingerprint is a digest over what could change a review's outcome, read from metadata that
MLflow answers in a few round trips:

- the registered model's aliases (so the champion behind ``@champion`` and the ref's alias);
- the candidate's and the baseline's model versions: status, stage, description, source, run,
  update timestamp and tags (``promogate.*`` tags left out: promogate writes them itself);
- their source runs: status, lifecycle stage, times, params, tags, every latest metric with its
  step and timestamp, dataset inputs and model inputs and outputs;
- the metric histories a review reads (the policies' convergence metrics and loss-like keys the
  run has): a point logged at an earlier step leaves the latest metric unchanged;
- their logged models: status, update timestamp, params, tags and metrics with dataset digests;
- their artifact directories: every file's path, size, modification and change time (stat), for
  the run and for the logged model; this covers the files whose bytes the manifest digest of a
  security scan hashes, and configs and evaluation tables replaced in place with the same size;
- the policy directory (every file's SHA-256) or the fixed policy set, the target and baseline
  aliases, and promogate's and MLflow's versions.

What it cannot see cheaply, it does not guess: artifacts in a store that is not a local
directory (``mlflow-artifacts:``, ``s3:``, ...) list only names and sizes, so a file replaced with
one of the same size would be invisible; there `evidence_fingerprint` raises
`FingerprintUnavailableError`, and so it does on any read error, an unknown ref or ``latest``. The
gate then reads the evidence in full, as without a fingerprint.

A fingerprint is taken before the evidence is read and again after the decision is recorded; it is
stored with the decision only when the two agree, so a change while the review ran never gets
attached to a decision made on older evidence.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import stat
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from policies.loader import LoadedPolicy
from review._decide import package_versions
from tools.client import call_mlflow
from tools.collector import evidence_tags
from tools.errors import ToolError
from tools.registry import logged_model_id_from_source, parse_version_ref, registered_aliases
from tools.runs import LOSS_LIKE_KEYS

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "FINGERPRINT_FORMAT",
    "MAX_FINGERPRINT_FILES",
    "EvidenceFingerprint",
    "FingerprintUnavailableError",
    "PolicySnapshots",
    "evidence_fingerprint",
    "policy_dir_digests",
]

logger = logging.getLogger("promogate.review")

T = TypeVar("T")

FINGERPRINT_FORMAT: Final = 1
"""Raised whenever what the fingerprint covers changes; older stored fingerprints never match."""
MAX_FINGERPRINT_FILES: Final = 20_000
"""An artifact directory with more files than this is not fingerprinted (full review instead)."""
_MAX_WORKERS = 8
_LOCAL_SCHEMES = ("file:", "/")


class FingerprintUnavailableError(Exception):
    """The fingerprint cannot prove the evidence unchanged; the evidence must be read in full."""


class EvidenceFingerprint(BaseModel):
    """The digest of what a review's evidence is read from, with a digest per part.

    `parts` names what was covered (``registry``, ``candidate.run``, ``baseline.artifacts.run``,
    ...) so a log can say which part changed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: int = FINGERPRINT_FORMAT
    model: str
    version: int = Field(description="The candidate version the ref resolved to.")
    baseline_version: int | None = None
    digest: str
    parts: dict[str, str] = Field(default_factory=dict)

    def changed_parts(self, other: EvidenceFingerprint) -> list[str]:
        """Names of the parts that differ from `other` (added or removed parts count)."""
        names = set(self.parts) | set(other.parts)
        return sorted(n for n in names if self.parts.get(n) != other.parts.get(n))


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


def _normalised(value: Any) -> Any:
    """`value` with every list sorted by its canonical form: order from a store is not evidence."""
    if isinstance(value, dict):
        return {str(k): _normalised(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_normalised(v) for v in value]
        return sorted(items, key=_canonical)
    return value


def _proto_dict(entity: Any) -> Any:
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]

    return _normalised(MessageToDict(entity.to_proto(), preserving_proto_field_name=True))


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    return package_versions()


def policy_dir_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every regular, non-hidden file directly in the policy directory.

    A superset of what `policies.loader.load_policy_dir` reads (it also covers policy tests), so
    a policy revised, added or removed always changes the fingerprint.

    Args:
        directory: The trusted policy directory (or a single policy file).

    Raises:
        FingerprintUnavailableError: The directory cannot be read.
    """
    try:
        if directory.is_file():
            return {directory.name: hashlib.sha256(directory.read_bytes()).hexdigest()}
        found: dict[str, str] = {}
        for path in sorted(directory.iterdir()):
            if path.name.startswith(".") or not path.is_file():
                continue
            found[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise FingerprintUnavailableError(
            f"policy directory {str(directory)!r} cannot be read: {exc}"
        ) from exc
    return found


class PolicySnapshots:
    """The loaded policies and the digests of the files they were read from, parsed once per
    content of the policy directory (the gate reads them on every call).

    Args:
        load: Reads the policies (``ReviewService.policies``).
        directory: The directory `load` reads, or None for a fixed policy set.
    """

    def __init__(self, load: Callable[[], list[LoadedPolicy]], directory: Path | None) -> None:
        self._load = load
        self._directory = directory
        self._cached: tuple[dict[str, str], list[LoadedPolicy]] | None = None

    def current(self) -> tuple[list[LoadedPolicy], dict[str, str] | None]:
        """The policies as the directory holds them now, and its file digests (None: fixed set).

        Raises:
            PolicyError: The policies cannot be loaded.
            FingerprintUnavailableError: The directory cannot be read, or changed while read.
        """
        if self._directory is None:
            return self._load(), None
        before = policy_dir_digests(self._directory)
        cached = self._cached
        if cached is not None and cached[0] == before:
            return cached[1], before
        loaded = self._load()
        if policy_dir_digests(self._directory) != before:
            raise FingerprintUnavailableError("the policy directory changed while it was read")
        self._cached = (before, loaded)
        return loaded, before


def _local_root(uri: str | None) -> Path | None:
    """The local directory behind an artifact URI, or None when the store is not local."""
    if not uri:
        return None
    if not uri.startswith(_LOCAL_SCHEMES):
        return None
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri))  # type: ignore[no-untyped-call]


def _directory_stat(uri: str | None, what: str) -> list[list[Any]]:
    """Path, size, modification and change time (ns) of every file under a local artifact root.

    Raises:
        FingerprintUnavailableError: The store is not a local directory, or it cannot be walked.
    """
    root = _local_root(uri)
    if root is None:
        raise FingerprintUnavailableError(
            f"the artifacts of {what} are in {uri!r}, which lists names and sizes only; a file "
            "replaced with one of the same size would not show, so the evidence is read in full"
        )
    if not root.exists():
        # Nothing logged yet: MLflow creates the directory with the first artifact.
        return [["<absent>"]]
    entries: list[list[Any]] = []
    try:
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                try:
                    info = path.stat()
                except FileNotFoundError:
                    # A dangling link: its target text is what identifies it.
                    info = path.lstat()
                if not stat.S_ISREG(info.st_mode) and not stat.S_ISLNK(info.st_mode):
                    continue
                entries.append(
                    [
                        path.relative_to(root).as_posix(),
                        info.st_size,
                        info.st_mtime_ns,
                        info.st_ctime_ns,
                        info.st_ino,
                    ]
                )
                if len(entries) > MAX_FINGERPRINT_FILES:
                    raise FingerprintUnavailableError(
                        f"the artifacts of {what} hold more than {MAX_FINGERPRINT_FILES} files"
                    )
    except OSError as exc:
        raise FingerprintUnavailableError(
            f"the artifacts of {what} in {str(root)!r} cannot be listed: {exc}"
        ) from exc
    return entries


class _Pool:
    """Runs reads concurrently; any failure makes the whole fingerprint unavailable."""

    def __init__(self, timeout_s: float) -> None:
        self.pool = ThreadPoolExecutor(
            max_workers=_MAX_WORKERS, thread_name_prefix="promogate-fingerprint"
        )
        self.deadline = time.monotonic() + timeout_s

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        return self.pool.submit(fn)

    def result(self, future: Future[T], what: str) -> T:
        try:
            return future.result(timeout=max(0.0, self.deadline - time.monotonic()))
        except FingerprintUnavailableError:
            raise
        except TimeoutError as exc:
            raise FingerprintUnavailableError(f"reading {what} timed out") from exc
        except ToolError as exc:
            raise FingerprintUnavailableError(f"reading {what} failed: {exc}") from exc
        # Any other failure (a bug, an MLflow response in an unexpected shape) must not be read
        # as "unchanged": the gate falls back to reading the evidence in full.
        except Exception as exc:
            logger.warning("fingerprint: reading %s failed unexpectedly", what, exc_info=True)
            raise FingerprintUnavailableError(
                f"reading {what} failed: {type(exc).__name__}: {exc}"
            ) from exc

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def _version_part(mv: Any) -> Any:
    data = _proto_dict(mv)
    tags = {str(t.get("key", "")): str(t.get("value", "")) for t in data.get("tags", [])}
    data["tags"] = evidence_tags(tags)
    # Aliases are covered once, from the registered model, whichever call returned them.
    data.pop("aliases", None)
    return data


def _version_reads(client: MlflowClient, pool: _Pool, role: str, mv: Any) -> dict[str, Future[Any]]:
    """Submit the reads of one version's source run and logged model."""
    futures: dict[str, Future[Any]] = {}
    run_id = str(mv.run_id) if mv.run_id else None
    source = str(mv.source) if mv.source else None
    model_id = (
        str(getattr(mv, "model_id", None) or "") or logged_model_id_from_source(source) or None
    )
    if run_id is not None:
        futures[f"{role}.run"] = pool.submit(
            lambda: call_mlflow(lambda: client.get_run(run_id), f"get_run({run_id!r})")
        )
    if model_id is not None:
        futures[f"{role}.logged_model"] = pool.submit(
            lambda: call_mlflow(
                lambda: client.get_logged_model(model_id), f"get_logged_model({model_id!r})"
            )
        )
    return futures


def _history_read(client: MlflowClient, run_id: str, key: str) -> Any:
    points = call_mlflow(
        lambda: client.get_metric_history(run_id, key),
        f"get_metric_history({run_id!r}, {key!r})",
    )
    return sorted([int(p.step), int(p.timestamp), float(p.value)] for p in points)


def _artifact_uri(name: str, entity: Any) -> str:
    if name.endswith(".run"):
        return str(entity.info.artifact_uri or "")
    return str(getattr(entity, "artifact_location", "") or "")


def evidence_fingerprint(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policies: Sequence[LoadedPolicy],
    policy_files: dict[str, str] | None,
    history_keys: Sequence[str],
    target_alias: str,
    baseline_alias: str | None,
    timeout_s: float = 10.0,
) -> EvidenceFingerprint:
    """The fingerprint of `model` at `ref` and its baseline, as MLflow describes them now.

    Args:
        client: MLflow client.
        model: Registered model name.
        ref: Version number or ``@alias`` (``latest`` is not fingerprinted).
        policies: The loaded policies (their names, revisions and hashes count when they were
            not read from a directory).
        policy_files: `policy_dir_digests` of the directory the policies were read from, taken
            before they were read; None for a fixed policy set.
        history_keys: Metric histories the policies' convergence rules read.
        target_alias: The alias the promotion would move.
        baseline_alias: The baseline's alias (``v<N>`` pins a version), None for none.
        timeout_s: Bound on all reads together.

    Raises:
        FingerprintUnavailableError: Anything was unreadable, or the evidence has a part that
            cannot be fingerprinted cheaply (artifacts outside a local directory).
    """
    try:
        parsed = parse_version_ref(ref)
    except ToolError as exc:
        raise FingerprintUnavailableError(str(exc)) from exc
    if parsed.latest:
        raise FingerprintUnavailableError(f"ref {ref!r} is not fingerprinted")
    pool = _Pool(timeout_s)
    try:
        parts: dict[str, Any] = {}
        policies_part: Any
        if policy_files is not None:
            policies_part = policy_files
        else:
            policies_part = sorted([p.name, p.ref.revision, p.sha256] for p in policies)
        parts["policies"] = policies_part
        aliases = pool.result(
            pool.submit(lambda: registered_aliases(client, model)), f"aliases of {model!r}"
        )
        parts["registry"] = sorted(aliases.items())
        if parsed.alias is not None:
            if parsed.alias not in aliases:
                raise FingerprintUnavailableError(f"{model!r} has no alias {parsed.alias!r}")
            number = aliases[parsed.alias]
        else:
            assert parsed.version is not None
            number = parsed.version
        baseline: int | None = None
        if baseline_alias is not None:
            pinned = re.fullmatch(r"v(\d+)", baseline_alias)
            baseline = int(pinned[1]) if pinned else aliases.get(baseline_alias)
            if baseline == number:
                baseline = None
        parts["config"] = {
            "format": FINGERPRINT_FORMAT,
            "target_alias": target_alias,
            "baseline_alias": baseline_alias,
            "versions": _versions(),
        }
        roles = {"candidate": number, **({"baseline": baseline} if baseline is not None else {})}
        mv_futures = {
            role: pool.submit(
                lambda n=n: call_mlflow(  # type: ignore[misc]
                    lambda: client.get_model_version(model, str(n)),
                    f"get_model_version({model!r}, {n!r})",
                )
            )
            for role, n in roles.items()
        }
        keys = list(dict.fromkeys([*history_keys, *LOSS_LIKE_KEYS]))
        reads: dict[str, Future[Any]] = {}
        for role, future in mv_futures.items():
            mv = pool.result(future, f"{model!r} version {roles[role]}")
            parts[f"{role}.version"] = _version_part(mv)
            reads.update(_version_reads(client, pool, role, mv))
        later: dict[str, Future[Any]] = {}
        for name, future in reads.items():
            entity: Any = pool.result(future, name)
            parts[name] = _proto_dict(entity)
            kind = "run" if name.endswith(".run") else "logged_model"
            role = name.split(".")[0]
            uri = _artifact_uri(name, entity)
            label = f"{role} {kind.replace('_', ' ')}"
            later[f"{role}.artifacts.{kind}"] = pool.submit(
                lambda uri=uri, label=label: _directory_stat(uri, label)  # type: ignore[misc]
            )
            if kind == "run":
                run_id = str(entity.info.run_id)
                # The histories a review reads: the policies' keys and loss-like keys the run has.
                for key in (k for k in keys if k in entity.data.metrics):
                    later[f"{role}.history.{key}"] = pool.submit(
                        lambda run_id=run_id, key=key: _history_read(  # type: ignore[misc]
                            client, run_id, key
                        )
                    )
        for name, future in later.items():
            parts[name] = pool.result(future, name)
    except ToolError as exc:
        raise FingerprintUnavailableError(str(exc)) from exc
    finally:
        pool.close()
    digests = {name: _digest(value) for name, value in sorted(parts.items())}
    return EvidenceFingerprint(
        model=model,
        version=number,
        baseline_version=baseline,
        digest=_digest(digests),
        parts=digests,
    )
