"""A cheap fingerprint of everything a review's evidence is read from, so the gate can reuse a
decision without reading the evidence again.

The fingerprint is a digest over what could change a review's outcome, read from metadata that
MLflow answers in one round of concurrent calls when nothing moved since the last fingerprint
(both versions; the newest versions before the candidate; the source runs and the earlier
versions' runs in one search; the evaluation runs in one search; the logged models in one
search; each metric history of both runs in one bulk read over HTTP):

- which versions the ref and the baseline alias name (the version behind ``@champion``);
- the candidate's and the baseline's model versions: status, stage, description, source, run,
  update timestamp, aliases and tags (``promogate.*`` tags left out: promogate writes them
  itself);
- their source runs: status, lifecycle stage, times, params, tags, every latest metric with its
  step and timestamp, dataset inputs and model outputs (a run's logged-model inputs are left
  out: no review reads them, and MLflow's run search does not return them);
- the metric histories a review reads (the policies' convergence metrics and loss-like keys the
  run has): a point logged at an earlier step leaves the latest metric unchanged;
- their logged models: status, update timestamp, params, tags and metrics with dataset digests;
- the runs that logged metrics on a logged model apart from its source run (an
  ``mlflow.genai.evaluate`` run of its own, which the review reads when the source run has no
  table), and the safety evaluations logged apart from it (runs in its experiment tagged
  ``promogate.eval_target=<model>/<version>``, as ``promogate eval run`` logs them): each run as
  above, with its artifact directory; a newer failing evaluation must never be answered with an
  older approval;
- the traces of every ``mlflow.genai.evaluate`` run among these (without spans): which traces,
  their state, tags, metadata and assessments, from which the review builds the per-example
  table, so feedback logged on a trace after the review shows;
- the candidate's version history as the plausibility questions read it: which earlier versions
  there are (newest 50), their runs' latest metrics and their logged models' metrics;
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
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from pydantic import BaseModel, ConfigDict, Field

from policies.loader import LoadedPolicy
from review._decide import package_versions
from tools import answering, run_logged_models, run_logged_models_read
from tools._genai_eval import evaluation_traces, is_genai_evaluation
from tools._safety import EVAL_TARGET_TAG, eval_target, linked_runs_among, linked_runs_search
from tools.client import call_mlflow
from tools.collector import evidence_tags
from tools.errors import ToolError
from tools.file_hashes import FileHashes
from tools.read_once import keep_answer
from tools.registry import logged_model_id_from_source, parse_version_ref, version_holding
from tools.runs import LOSS_LIKE_KEYS
from tools.search_filter import filter_literal
from tools.shared_pool import shared_pool
from tools.version_history import search_earlier_versions

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "FINGERPRINT_FORMAT",
    "MAX_FINGERPRINT_FILES",
    "EvidenceFingerprint",
    "FingerprintUnavailableError",
    "PolicySnapshots",
    "PolicyState",
    "evidence_fingerprint",
    "policy_dir_digests",
]

logger = logging.getLogger("promogate.review")

FINGERPRINT_FORMAT: Final = 6
"""Raised whenever what the fingerprint covers changes, or how a review reads what it covers (5:
dataset inputs tagged ``train`` are training data; without an evaluation input, the data the logged
model's metrics name is the evaluation set; 6: a rule on an error or a loss that does not say which
way is better bounds its rise), so a decision made on a different reading of the same evidence is
not reused; older stored fingerprints never match."""
MAX_FINGERPRINT_FILES: Final = 20_000
"""An artifact directory with more files than this is not fingerprinted (full review instead)."""
_MAX_WORKERS = 16
_MEMO_ENTRIES = 4096
_LOCAL_SCHEMES = ("file:", "/")
_HTTP_SCHEMES = ("http://", "https://")
_SCALAR = json.JSONEncoder(ensure_ascii=False).encode
# A record of scalars is encoded by the C encoder in one call; its text is `_canonical`'s.
_RECORD = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SCALAR_TYPES = (str, int, float, bool, type(None))
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_BULK_HISTORY_PATH: Final = "/ajax-api/2.0/mlflow/metrics/get-history-bulk"
_BULK_HISTORY_MAX: Final = 25_000
"""MLflow's bulk history endpoint answers at most this many points; a full answer may be cut."""
_SEARCH_MAX: Final = 1000
"""A search for the model's evaluation runs answers at most this many; a full answer may be
cut, so it is not fingerprinted."""


class FingerprintUnavailableError(Exception):
    """The fingerprint cannot prove the evidence unchanged; the evidence must be read in full."""


@dataclass(frozen=True)
class PolicyState:
    """What a fingerprint covers of the policies a review would apply."""

    policies: Sequence[LoadedPolicy]
    """The loaded policies (names, revisions and hashes count for a fixed policy set)."""
    policy_files: dict[str, str] | None
    """`policy_dir_digests` of the directory the policies were read from, taken before they were
    read; None for a fixed policy set."""
    history_keys: Sequence[str]
    """Metric histories the policies' convergence rules read."""


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
    """`value` as canonical JSON in one pass: object keys sorted, every list sorted by its items'
    canonical text (order from a store is not evidence), tuples kept in order, and empty fields
    left out of objects (MLflow's REST API sends ``""`` where its stores give None)."""
    if isinstance(value, dict):
        fields = sorted((str(k), v) for k, v in value.items() if v is not None and v != "")
        return "{" + ",".join(f"{_SCALAR(k)}:{_canonical(v)}" for k, v in fields) + "}"
    if isinstance(value, list):
        return "[" + ",".join(sorted(_canonical(v) for v in value)) + "]"
    if isinstance(value, tuple):
        # A record whose fields are told apart by position (a file's path, size and times; a
        # metric point's step, timestamp and value): kept in order.
        if all(isinstance(v, _SCALAR_TYPES) for v in value):
            return _RECORD(value)
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    return _SCALAR(value)


def _digest(value: Any) -> str:
    return hashlib.sha256(_canonical(value).encode()).hexdigest()


@dataclass(frozen=True)
class _Digested:
    """A part's digest, taken in the thread that read the part as soon as the read returned:
    the large parts (metric histories, artifact listings) are then digested while the slower
    reads are still on their way, not after the last of them."""

    digest: str


def _part_digest(value: Any) -> str:
    return value.digest if isinstance(value, _Digested) else _digest(value)


def _proto_dict(entity: Any) -> Any:
    from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped]

    return MessageToDict(entity.to_proto(), preserving_proto_field_name=True)


_FILE_HASHES = FileHashes()


def policy_dir_digests(directory: Path) -> dict[str, str]:
    """SHA-256 of every regular, non-hidden file directly in the policy directory.

    A superset of what `policies.loader.load_policy_dir` reads (it also covers policy tests), so
    a policy revised, added or removed always changes the fingerprint. The directory is listed
    and every file stat-ed on each call; a file is read again only when its stat changed (see
    `tools.file_hashes`).

    Args:
        directory: The trusted policy directory (or a single policy file).

    Raises:
        FingerprintUnavailableError: The directory cannot be read.
    """
    try:
        if directory.is_file():
            return {directory.name: _FILE_HASHES.digest(directory, directory.stat())}
        found: dict[str, str] = {}
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):
                continue
            try:
                info = path.stat()
            except FileNotFoundError:
                continue  # a dangling link: the loader does not read it either
            if not stat.S_ISREG(info.st_mode):
                continue
            found[path.name] = _FILE_HASHES.digest(path, info)
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


def _stat_part(uri: str | None, what: str) -> _Digested:
    """The digest of `_directory_stat`."""
    return _Digested(_digest(_directory_stat(uri, what)))


def _local_root(uri: str | None) -> Path | None:
    """The local directory behind an artifact URI, or None when the store is not local."""
    if not uri:
        return None
    if not uri.startswith(_LOCAL_SCHEMES):
        return None
    from mlflow.utils.file_utils import local_file_uri_to_path

    return Path(local_file_uri_to_path(uri))  # type: ignore[no-untyped-call]


def _directory_stat(uri: str | None, what: str) -> list[tuple[Any, ...]]:
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
        return [("<absent>",)]
    entries: list[tuple[Any, ...]] = []
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
                    (
                        path.relative_to(root).as_posix(),
                        info.st_size,
                        info.st_mtime_ns,
                        info.st_ctime_ns,
                        info.st_ino,
                    )
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


class _Reads:
    """The reads of one fingerprint, each started at most once, run concurrently on the shared
    executor; a read whose result is needed and fails makes the whole fingerprint unavailable.

    Reads are keyed by what they read (``("run", run_id)``, ...), so a read started on a guess of
    what the versions point at is used only when the versions turn out to point at it.
    """

    def __init__(self, timeout_s: float) -> None:
        # One pool per process: starting threads for every gate call cost more than the reads.
        self.executor = shared_pool("fingerprint", _MAX_WORKERS)
        self.deadline = time.monotonic() + timeout_s
        self.futures: dict[tuple[str, ...], Future[Any]] = {}

    def start(self, key: tuple[str, ...], fn: Callable[..., Any], *args: Any) -> None:
        """Start `fn(*args)` unless a read under `key` was started already.

        Arguments are bound at once (never a closure over a loop or a reassigned variable), so
        the read under a key is always the read of what the key names.
        """
        if key not in self.futures:
            self.futures[key] = self.executor.submit(fn, *args)

    def result(self, key: tuple[str, ...], what: str) -> Any:
        """The result of the read started under `key`."""
        future = self.futures[key]
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
        # Guessed reads nobody needed, and reads abandoned at a failure, are not waited for.
        for future in self.futures.values():
            future.cancel()


class _Memo:
    """A bounded, thread-safe map of what earlier fingerprints found (which run a version points
    at, which version holds an alias, which histories a run has). It only decides which reads
    start early; what the fingerprint covers is always decided from the reads themselves.
    """

    def __init__(self, entries: int) -> None:
        self._entries = entries
        self._items: OrderedDict[tuple[str, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...]) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, ...], value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._entries:
                self._items.popitem(last=False)


_MEMO = _Memo(_MEMO_ENTRIES)


def _version_part(mv: Any) -> Any:
    data = _proto_dict(mv)
    tags = {str(t.get("key", "")): str(t.get("value", "")) for t in data.get("tags", [])}
    data["tags"] = evidence_tags(tags)
    return data


def _entity_ids(mv: Any) -> tuple[str | None, str | None]:
    """The source run and logged model a model version points at."""
    run_id = str(mv.run_id) if mv.run_id else None
    source = str(mv.source) if mv.source else None
    model_id = (
        str(getattr(mv, "model_id", None) or "") or logged_model_id_from_source(source) or None
    )
    return run_id, model_id


def _history_read(client: MlflowClient, run_id: str, key: str) -> _Digested:
    """The digest of `key`'s history in `run_id`: its points as (step, timestamp, value), sorted."""
    points = call_mlflow(
        lambda: client.get_metric_history(run_id, key),
        f"get_metric_history({run_id!r}, {key!r})",
    )
    return _Digested(
        _digest(sorted((int(p.step), int(p.timestamp), float(p.value)) for p in points))
    )


def _version_read(client: MlflowClient, model: str, number: int) -> Any:
    return call_mlflow(
        lambda: client.get_model_version(model, str(number)),
        f"get_model_version({model!r}, {number!r})",
    )


def _alias_read(client: MlflowClient, model: str, alias: str) -> Any:
    return call_mlflow(
        lambda: client.get_model_version_by_alias(model, alias),
        f"get_model_version_by_alias({model!r}, {alias!r})",
    )


class _Plan:
    """What the versions point at, and the reads of it, started as soon as it is known (or
    guessed from an earlier fingerprint).

    Reads are batched where MLflow can answer several in one call: the runs in one
    `search_runs` and the logged models in one `search_logged_models` (once their experiments are
    known from an earlier read), and each metric history of all runs in one bulk read when the
    store is an MLflow server. A batch answers only for what it returns; anything missing from
    it, or a batch that fails, is read on its own, so a batch never decides what is covered.
    """

    def __init__(
        self, client: MlflowClient, reads: _Reads, wanted_histories: Sequence[str]
    ) -> None:
        self.client = client
        self.reads = reads
        self.wanted = wanted_histories
        self.bulk = _bulk_history_creds(client)
        # Started batches: what each covers, and the key its read is under.
        self.batches: list[tuple[str, frozenset[str], tuple[str, ...]]] = []

    def _covered(self, kind: str, item: str) -> bool:
        return (kind, item) in self.reads.futures or any(
            k == kind and item in ids for k, ids, _ in self.batches
        )

    def _start_batch(
        self,
        kind: str,
        items: Sequence[str],
        single: Callable[[str], None],
        batch: Callable[[tuple[str, ...], tuple[str, ...]], None],
        guessed: Sequence[str] = (),
    ) -> None:
        """Start one batch read of `items` not read yet, if their experiments are known (those
        not known are searched for in the `guessed` experiments, when given); else start each
        on its own."""
        pending = sorted({i for i in items if not self._covered(kind, i)})
        experiments = [_MEMO.get(("experiment", kind, i)) for i in pending]
        known = {str(e) for e in experiments if e is not None}
        if len(pending) >= 2 and (None not in experiments or guessed):
            key = (f"{kind}s", *pending)
            batch(key, tuple(sorted(known | set(guessed))))
            self.batches.append((kind, frozenset(pending), key))
            return
        for item in pending:
            single(item)

    def start(
        self,
        pairs: Sequence[tuple[str | None, str | None]],
        *,
        without_histories: Collection[str] = (),
        guessed_experiments: Sequence[str] = (),
    ) -> None:
        """Start the reads of what the versions point at (run id, logged model id) pairs, and
        of their runs' remembered metric histories (but those of `without_histories`); runs
        and logged models whose experiment is not known are searched for in
        `guessed_experiments` with the others, when given (what a search does not return is
        read on its own after it)."""
        client, reads = self.client, self.reads
        model_ids = [m for _, m in pairs if m is not None]
        # Runs that logged metrics on these models last time are read in the same batch.
        metric_runs = [r for m in model_ids for r in _MEMO.get(("metric_runs", m)) or ()]
        run_ids = [r for r, _ in pairs if r is not None] + metric_runs
        without_histories = {*without_histories, *metric_runs}
        self._start_batch(
            "run",
            run_ids,
            lambda r: reads.start(("run", r), _run_read, client, r),
            lambda key, exps: reads.start(key, _runs_read, client, exps, key[1:]),
            guessed_experiments,
        )
        self._start_batch(
            "logged_model",
            model_ids,
            lambda m: reads.start(("logged_model", m), _logged_model_read, client, m),
            lambda key, exps: reads.start(key, _logged_models_read, client, exps, key[1:]),
            guessed_experiments,
        )
        known: dict[str, list[str]] = {}
        for run_id in (r for r in run_ids if r not in without_histories):
            for key in _MEMO.get(("histories", run_id)) or ():
                known.setdefault(key, []).append(run_id)
        for key, runs in known.items():
            self.start_histories(key, runs)
        for run_id in run_ids:
            traced = _MEMO.get(("traces", run_id))
            if traced is not None:
                reads.start(("traces", run_id), _traces_read, client, traced, run_id)
        # The local directory listings last: the executor starts reads in order, and MLflow's
        # answers are what the fingerprint waits for.
        for run_id in run_ids:
            run_uri = _MEMO.get(("artifacts", "run", run_id))
            if run_uri is not None:
                reads.start(("stat", run_uri), _stat_part, run_uri, "run")
        for model_id in model_ids:
            model_uri = _MEMO.get(("artifacts", "logged_model", model_id))
            if model_uri is not None:
                reads.start(("stat", model_uri), _stat_part, model_uri, "logged model")

    def start_histories(self, key: str, run_ids: Sequence[str]) -> None:
        """Start the reads of `key`'s history in each of `run_ids`: one bulk read over HTTP."""
        client, reads = self.client, self.reads
        kind = f"history:{key}"
        pending = sorted({r for r in run_ids if not self._covered(kind, r)})
        if self.bulk is not None and len(pending) >= 2:
            batch = ("history_bulk", key, *pending)
            reads.start(batch, _history_bulk_read, client, self.bulk, tuple(pending), key)
            self.batches.append((kind, frozenset(pending), batch))
            return
        for run_id in pending:
            reads.start((kind, run_id), _history_read, client, run_id, key)

    def _result(self, kind: str, item: str, what: str, single: Callable[[], None]) -> Any:
        """The read of `item`: from a batch that returned it, else read on its own."""
        for k, ids, batch in self.batches:
            if k != kind or item not in ids:
                continue
            try:
                found = self.reads.result(batch, what)
            except FingerprintUnavailableError as exc:
                if batch[0] == "history_bulk" and isinstance(exc.__cause__, ToolError):
                    # A server that refuses the bulk endpoint (a proxy in front of MLflow that
                    # passes only its REST API) is not asked again by this process.
                    _MEMO.put(("bulk_unsupported", str(getattr(self.bulk, "host", ""))), True)
                logger.info("fingerprint: %s read on its own (%s)", what, exc)
                break
            if item in found:
                return found[item]
            break
        if (kind, item) not in self.reads.futures:
            single()
        return self.reads.result((kind, item), what)

    def run(self, run_id: str, what: str) -> Any:
        """The run `run_id`, from the read that covers it (started now if none does)."""
        client, reads = self.client, self.reads
        run = self._result(
            "run", run_id, what, lambda: reads.start(("run", run_id), _run_read, client, run_id)
        )
        _MEMO.put(("experiment", "run", run_id), str(run.info.experiment_id))
        return run

    def logged_model(self, model_id: str, what: str) -> Any:
        """The logged model `model_id`, from the read that covers it (started now if none does)."""
        client, reads = self.client, self.reads
        logged = self._result(
            "logged_model",
            model_id,
            what,
            lambda: reads.start(("logged_model", model_id), _logged_model_read, client, model_id),
        )
        _MEMO.put(("experiment", "logged_model", model_id), str(logged.experiment_id))
        return logged

    def collect(
        self, role: str, run_id: str | None, model_id: str | None, parts: dict[str, Any]
    ) -> Any:
        """Wait for this role's reads and put what they cover into `parts`; the run, if any."""
        client, reads = self.client, self.reads
        run: Any = None
        if run_id is not None:
            run = self.run(run_id, f"{role}.run")
            parts[f"{role}.run"] = _run_part(run)
            run_uri = str(run.info.artifact_uri or "")
            run_label = f"{role} run"
            reads.start(("stat", run_uri), _stat_part, run_uri, run_label)
            self.start_traces(run)
            # The histories a review reads: the policies' keys and loss-like keys the run has.
            keys = [k for k in self.wanted if k in run.data.metrics]
            for key in keys:
                self.start_histories(key, [run_id])
            parts[f"{role}.artifacts.run"] = reads.result(
                ("stat", run_uri), f"{role} run artifacts"
            )
            _MEMO.put(("artifacts", "run", run_id), run_uri)
            for key in keys:
                parts[f"{role}.history.{key}"] = self._result(
                    f"history:{key}",
                    run_id,
                    f"{role}.history.{key}",
                    partial(
                        reads.start, (f"history:{key}", run_id), _history_read, client, run_id, key
                    ),
                )
            _MEMO.put(("histories", run_id), tuple(keys))
            self.put_traces(f"{role}.traces", run, parts)
        if model_id is not None:
            logged = self.logged_model(model_id, f"{role}.logged_model")
            parts[f"{role}.logged_model"] = _proto_dict(logged)
            model_uri = str(getattr(logged, "artifact_location", "") or "")
            model_label = f"{role} logged model"
            reads.start(("stat", model_uri), _stat_part, model_uri, model_label)
            parts[f"{role}.artifacts.logged_model"] = reads.result(
                ("stat", model_uri), f"{role} logged model artifacts"
            )
            _MEMO.put(("artifacts", "logged_model", model_id), model_uri)
            # Runs that logged metrics on the model apart from its source run (an
            # mlflow.genai.evaluate run of its own): the review reads the latest evaluation
            # among them, with its tags, datasets and table.
            named = {str(m.run_id) for m in logged.metrics or [] if getattr(m, "run_id", None)}
            others = sorted(named - {run_id})
            self.start([(r, None) for r in others], without_histories=others)
            metric_runs = [self.run(r, f"{role} metric run {r}") for r in others]
            self.put_runs(f"{role}.metric_runs", metric_runs, parts)
            _MEMO.put(("metric_runs", model_id), tuple(others))
        return run

    def put_runs(self, label: str, runs: Sequence[Any], parts: dict[str, Any]) -> None:
        """Put `runs`, their artifact directories and their evaluation traces into `parts`
        under `label`."""
        parts[label] = [_run_part(r) for r in runs]
        uris = {str(r.info.run_id): str(r.info.artifact_uri or "") for r in runs}
        for run_id, uri in uris.items():
            self.reads.start(("stat", uri), _stat_part, uri, f"run {run_id}")
        for run in runs:
            self.start_traces(run)
        for run_id, uri in uris.items():
            parts[f"{label}.artifacts.{run_id}"] = self.reads.result(
                ("stat", uri), f"artifacts of run {run_id}"
            )
        for run in runs:
            self.put_traces(f"{label}.traces.{run.info.run_id}", run, parts)

    def start_traces(self, run: Any) -> None:
        """Start reading the traces of `run` if it is an ``mlflow.genai.evaluate`` run (the
        review builds its per-example table from them)."""
        if is_genai_evaluation(run.data.tags):
            run_id, experiment_id = str(run.info.run_id), str(run.info.experiment_id)
            self.reads.start(("traces", run_id), _traces_read, self.client, experiment_id, run_id)
            _MEMO.put(("traces", run_id), experiment_id)

    def put_traces(self, label: str, run: Any, parts: dict[str, Any]) -> None:
        if is_genai_evaluation(run.data.tags):
            run_id = str(run.info.run_id)
            parts[label] = self.reads.result(("traces", run_id), f"traces of run {run_id}")

    def collect_evaluations(
        self, model: str, roles: dict[str, Any], runs: dict[str, Any], parts: dict[str, Any]
    ) -> tuple[str, ...]:
        """Put each version's safety evaluations logged apart from its source run (runs tagged
        with it as their target, in its run's experiment) and their artifact directories into
        `parts`; the experiments searched.

        `runs` holds each role's source run (a role without one is absent). The search covers
        every evaluation run the review's own search for a version could find, so it also
        answers those searches (`tools.linked_runs_among`) for the review that follows.
        """
        from mlflow.store.entities.paged_list import PagedList

        experiments = tuple(sorted({str(run.info.experiment_id) for run in runs.values()}))
        if not experiments:
            return experiments
        key = ("evaluations", model, *experiments)
        self.reads.start(key, _evaluations_read, self.client, experiments, model)
        found = self.reads.result(key, f"evaluation runs of {model!r}")
        for role, mv in roles.items():
            number = int(mv.version)
            target = eval_target(model, number)
            linked = [r for r in found if r.data.tags.get(EVAL_TARGET_TAG) == target]
            self.put_runs(f"{role}.evaluations", linked, parts)
            run = runs.get(role)
            if run is not None:
                experiment = str(run.info.experiment_id)
                args, kwargs = linked_runs_search(experiment, model, number)
                picked = PagedList(linked_runs_among(found, experiment, model, number), None)
                keep_answer(self.client, "search_runs", args, picked, kwargs)
        return experiments

    def earlier_versions(self, model: str, number: int) -> list[Any]:
        """The versions of `model` before `number` that the version history reads (the newest
        `HISTORY_MAX_VERSIONS`), in the very search the review's version history makes."""
        key = ("versions", model, str(number))
        self.reads.start(key, search_earlier_versions, self.client, model, number)
        return list(self.reads.result(key, f"the versions of {model!r} before v{number}"))

    def start_history(
        self, earlier: Sequence[Any], experiments: Sequence[str]
    ) -> list[tuple[str | None, str | None]]:
        """Start the reads of the earlier versions' runs (one search in `experiments`) and
        logged models, unless started already; what the earlier versions point at."""
        pairs = [_entity_ids(mv) for mv in earlier]
        wanted = sorted({r for r, _ in pairs if r is not None})
        if experiments and any(not self._covered("run", r) for r in wanted):
            key = ("runs", *wanted)
            self.reads.start(key, _runs_read, self.client, tuple(experiments), tuple(wanted))
            self.batches.append(("run", frozenset(wanted), key))
        self.start(pairs, without_histories=set(wanted))
        return pairs

    def start_guesses(
        self,
        model: str,
        pointed: dict[str, tuple[str | None, str | None]],
        history_of: int | None,
    ) -> None:
        """Start, on a guess from what earlier fingerprints found of the other versions' runs,
        the reads that otherwise wait for a new candidate's run: its metric histories (the keys
        the other runs have), the search for evaluation runs and, when `history_of` is the
        candidate's number, its version history (all in the experiments known so far, which
        are the candidate's too when it was logged where the baseline was).

        The versions' runs and logged models, the earlier versions' (waited for here: their
        search is under way since the first round) and both runs' histories are then started
        together, each kind in one batch: a new candidate's reads wait for its version anyway,
        and against a server that answers one request at a time each read saved is worth more
        than a read started sooner. Reads started here are only ever used under the key of what
        they read, so a wrong guess costs a read and changes nothing covered.
        """
        run_ids = [r for r, _ in pointed.values() if r is not None]
        remembered = [_MEMO.get(("histories", r)) for r in run_ids]
        guessed_keys = sorted({k for keys in remembered if keys for k in keys})
        histories: dict[str, list[str]] = {}
        for run_id, keys in zip(run_ids, remembered, strict=True):
            for history in keys if keys is not None else guessed_keys:
                histories.setdefault(history, []).append(run_id)
        for history, runs in histories.items():
            self.start_histories(history, runs)
        known = [_MEMO.get(("experiment", "run", r)) for r in run_ids]
        experiments = tuple(sorted({str(e) for e in known if e is not None}))
        if not experiments:
            return
        key = ("evaluations", model, *experiments)
        self.reads.start(key, _evaluations_read, self.client, experiments, model)
        # Not covered, but what the review reads next of both runs, and would wait for: the
        # logged models each run logged, in its experiment (known, or the one guessed), in one
        # search. The read-once client keeps the answers; nothing here waits for them.
        searched: list[tuple[str, str]] = []
        for run_id, experiment in zip(run_ids, known, strict=True):
            where = experiment
            if where is None and len(experiments) == 1:
                where = experiments[0]
            if where is not None and _SAFE_ID.fullmatch(run_id):
                searched.append((run_id, str(where)))
        if searched:
            key = ("run_models", *(run_id for run_id, _ in searched))
            self.reads.start(key, _run_models_read, self.client, tuple(searched))
        earlier = self.earlier_versions(model, history_of) if history_of is not None else []
        earlier_pairs = [_entity_ids(mv) for mv in earlier]
        earlier_runs = {r for r, _ in earlier_pairs if r is not None}
        self.start(
            [*pointed.values(), *earlier_pairs],
            without_histories={*run_ids, *earlier_runs},
            guessed_experiments=experiments,
        )
        if history_of is not None:
            self.start_history(earlier, experiments)

    def collect_history(
        self, earlier: Sequence[Any], experiments: Sequence[str], parts: dict[str, Any]
    ) -> list[tuple[str | None, str | None]]:
        """Put what the plausibility questions read of the candidate's earlier versions into
        `parts`: which versions there are, their runs' latest metrics, and their logged models'
        metrics (read for every earlier version: the review reads them for metric names its
        mapping may fill in); what the earlier versions point at.

        Earlier runs no batch covers yet are searched for in `experiments` (the candidate's
        and the baseline's) in one search, which answers each run's own read, so a review that
        follows searches for none of them again; what it does not return is read on its own.
        """
        pairs = self.start_history(earlier, experiments)
        parts["history.versions"] = [
            (int(mv.version), str(mv.run_id or ""), str(mv.source or "")) for mv in earlier
        ]
        metrics: dict[str, Any] = {}
        models: dict[str, Any] = {}
        for run_id, model_id in pairs:
            if run_id is not None:
                metrics[run_id] = dict(self.run(run_id, f"earlier run {run_id}").data.metrics)
            if model_id is not None:
                logged = self.logged_model(model_id, f"earlier logged model {model_id}")
                models[model_id] = _proto_dict(logged).get("data", {}).get("metrics", [])
        parts["history.runs"] = metrics
        parts["history.logged_models"] = models
        return pairs


def _run_part(run: Any) -> Any:
    """A run as the fingerprint covers it, the same whether it was read alone or in a search."""
    data = _proto_dict(run)
    inputs = data.get("inputs")
    if isinstance(inputs, dict):
        inputs.pop("model_inputs", None)
        if not inputs:
            data.pop("inputs")
    return data


def _run_read(client: MlflowClient, run_id: str) -> Any:
    return call_mlflow(lambda: client.get_run(run_id), f"get_run({run_id!r})")


def _quoted(ids: Sequence[str]) -> str:
    """`ids` as a search filter's list; an id MLflow could not have made is never interpolated."""
    for item in ids:
        if not _SAFE_ID.fullmatch(item):
            raise FingerprintUnavailableError(f"id {item!r} is not searched for")
    return ", ".join(f"'{item}'" for item in ids)


def _runs_read(
    client: MlflowClient, experiment_ids: Sequence[str], run_ids: Sequence[str]
) -> dict[str, Any]:
    """The runs `run_ids` (deleted ones too) in one search, by id; missing ones are absent."""
    from mlflow.entities import ViewType

    what = f"search_runs({list(run_ids)!r})"
    found = call_mlflow(
        lambda: client.search_runs(
            list(experiment_ids),
            f"attributes.run_id IN ({_quoted(run_ids)})",
            run_view_type=ViewType.ALL,
            max_results=len(run_ids),
        ),
        what,
    )
    runs = {str(run.info.run_id): run for run in found if run.info.run_id in run_ids}
    # The review that follows reads each of these runs alone; the search answers for them.
    for run_id, run in runs.items():
        keep_answer(client, "get_run", (run_id,), run)
    return runs


def _logged_model_read(client: MlflowClient, model_id: str) -> Any:
    return call_mlflow(lambda: client.get_logged_model(model_id), f"get_logged_model({model_id!r})")


def _logged_models_read(
    client: MlflowClient, experiment_ids: Sequence[str], model_ids: Sequence[str]
) -> dict[str, Any]:
    """The logged models `model_ids` in one search, by id; missing ones are absent."""
    what = f"search_logged_models({list(model_ids)!r})"
    found = call_mlflow(
        lambda: client.search_logged_models(
            experiment_ids=list(experiment_ids),
            filter_string=f"attributes.model_id IN ({_quoted(model_ids)})",
            max_results=len(model_ids),
        ),
        what,
    )
    models = {str(m.model_id): m for m in found if m.model_id in model_ids}
    for model_id, logged in models.items():
        keep_answer(client, "get_logged_model", (model_id,), logged)
    return models


def _run_models_read(client: MlflowClient, searched: Sequence[tuple[str, str]]) -> None:
    """The logged models each run of `searched` (run id, experiment) logged, as
    `tools.run_logged_models` reads them, for the review that reads them next; several runs'
    in one search by source run, which answers each run's own search.

    While it runs, the runs' own searches wait for it (`tools.read_once.answering`). An answer
    cut into pages answers none of them: each run is then searched on its own.
    """
    from mlflow.store.entities.paged_list import PagedList

    if len(searched) == 1:
        run_logged_models(client, *searched[0])
        return
    reads = [run_logged_models_read(run_id, experiment) for run_id, experiment in searched]
    run_ids = [run_id for run_id, _ in searched]
    with answering(client, reads):
        found = call_mlflow(
            lambda: client.search_logged_models(
                experiment_ids=sorted({experiment for _, experiment in searched}),
                filter_string=f"source_run_id IN ({_quoted(run_ids)})",
            ),
            f"search_logged_models(source_run_id IN {run_ids!r})",
        )
        if found.token:
            return
        for (run_id, experiment), (name, args, kwargs) in zip(searched, reads, strict=True):
            # MLflow orders a search by creation time, then id: each run's own search answers
            # its models in the order they have here.
            own = [
                m
                for m in found
                if str(m.source_run_id) == run_id and str(m.experiment_id) == experiment
            ]
            keep_answer(client, name, args, PagedList(own, None), kwargs)


def _full(found: Any, what: str) -> list[Any]:
    """A search's answer, unless it may have been cut at `_SEARCH_MAX`."""
    if len(found) >= _SEARCH_MAX or getattr(found, "token", None):
        raise FingerprintUnavailableError(f"{what} answers {_SEARCH_MAX} or more")
    return list(found)


def _evaluations_read(client: MlflowClient, experiment_ids: Sequence[str], model: str) -> list[Any]:
    """The runs in `experiment_ids` that evaluate any version of `model`: a superset of the
    evaluation runs each version's safety evidence reads, told apart by exact target after.

    MLflow's filter grammar has no ``IN`` for tags and no escape inside a string literal, so the
    target is matched with ``LIKE`` (``_`` and ``%`` in a name only widen the match); a name
    with both quote characters or a backslash (an escape character in some databases' ``LIKE``)
    is not fingerprinted.
    """
    pattern = f"{model}/%"
    if "\\" in pattern:
        raise FingerprintUnavailableError(f"evaluation runs of {model!r} are not searched for")
    literal = filter_literal(pattern, "evaluation target pattern")
    what = f"search_runs({list(experiment_ids)!r}, {EVAL_TARGET_TAG} LIKE {pattern!r})"
    found = call_mlflow(
        lambda: client.search_runs(
            list(experiment_ids),
            f"tags.`{EVAL_TARGET_TAG}` LIKE {literal}",
            max_results=_SEARCH_MAX,
        ),
        what,
    )
    return _full(found, what)


def _traces_read(client: MlflowClient, experiment_id: str, run_id: str) -> _Digested:
    """The digest of the traces an ``mlflow.genai.evaluate`` run left (without their spans,
    which do not change once a trace is finished): which traces there are, their state, tags
    and metadata, and every assessment on them, so feedback logged after a review shows. More
    traces than a review reads make the fingerprint unavailable."""
    traces = evaluation_traces(client, experiment_id, run_id, include_spans=False)
    return _Digested(_digest([_proto_dict(trace.info) for trace in traces]))


def _bulk_history_creds(client: MlflowClient) -> Any:
    """The credentials of the MLflow server behind `client`, or None when histories are not read
    in bulk (a local store, a client without MLflow's REST store, or a server that refused)."""
    if str(client.tracking_uri).startswith("sqlite:"):
        # No server behind a file; and asking for the store would build MLflow's client.
        return None
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    get_creds = getattr(store, "get_host_creds", None)
    if get_creds is None:
        return None
    creds = get_creds()
    host = str(getattr(creds, "host", "") or "")
    if not host.startswith(_HTTP_SCHEMES) or _MEMO.get(("bulk_unsupported", host)):
        return None
    return creds


def _history_bulk_read(
    client: MlflowClient, creds: Any, run_ids: Sequence[str], key: str
) -> dict[str, _Digested]:
    """`key`'s history in each of `run_ids`, from the MLflow server's bulk history endpoint, as
    `_history_read` digests it. Each run's points are kept as the answer to its
    `get_metric_history` (`tools.read_once.keep_answer`), which the review reads next: the
    endpoint answers each point's step, timestamp and value, all a review reads of a history.

    Raises:
        FingerprintUnavailableError: The answer may be cut (as many points as the endpoint
            gives at most), or names a run that was not asked for.
    """
    from mlflow.utils.rest_utils import http_request, verify_rest_response

    params = [*(("run_id", r) for r in run_ids), ("metric_key", key)]
    params.append(("max_results", str(_BULK_HISTORY_MAX)))

    def read() -> Any:
        response = http_request(creds, _BULK_HISTORY_PATH, "GET", params=params)  # type: ignore[no-untyped-call]
        return verify_rest_response(response, _BULK_HISTORY_PATH).json()

    answer = call_mlflow(read, f"get-history-bulk({list(run_ids)!r}, {key!r})")
    points = answer.get("metrics", []) if isinstance(answer, dict) else None
    if not isinstance(points, list) or len(points) >= _BULK_HISTORY_MAX:
        raise FingerprintUnavailableError(f"the bulk history of {key!r} may be incomplete")
    found: dict[str, list[tuple[Any, ...]]] = {r: [] for r in run_ids}
    for point in points:
        run_id = point.get("run_id")
        if run_id not in found or point.get("key") != key:
            raise FingerprintUnavailableError(f"the bulk history of {key!r} names {run_id!r}")
        found[run_id].append((int(point["step"]), int(point["timestamp"]), float(point["value"])))
    from mlflow.entities import Metric

    for run_id, points in found.items():
        history = [Metric(key, value, timestamp, step) for step, timestamp, value in sorted(points)]
        keep_answer(client, "get_metric_history", (run_id, key), history)
    return {r: _Digested(_digest(sorted(p))) for r, p in found.items()}


def evidence_fingerprint(
    client: MlflowClient,
    model: str,
    ref: str | int,
    *,
    policy_state: Callable[[], PolicyState],
    target_alias: str,
    baseline_alias: str | None,
    timeout_s: float = 10.0,
) -> EvidenceFingerprint:
    """The fingerprint of `model` at `ref` and its baseline, as MLflow describes them now.

    The versions are read by number or alias; what they point at (source run, logged model,
    metric histories, artifact directories) is read as soon as it is known. A version's run and
    logged model never change in MLflow, and an alias seldom moves, so the reads of what the
    last fingerprint found start together with the versions' reads: one round of concurrent
    calls when nothing moved. For a candidate no fingerprint has seen, the baseline's reads wait
    for the candidate's version and join its reads in batches instead (`_Plan.start_guesses`):
    two rounds of fewer calls. A guess is only ever a read started early: the parts are taken
    from the reads of what the versions point at now, and a wrong guess is read again.

    Args:
        client: MLflow client.
        model: Registered model name.
        ref: Version number or ``@alias`` (``latest`` is not fingerprinted).
        policy_state: The policies the review would apply; called once the registry reads are
            on their way, so that reading the policy directory overlaps them (what it raises
            propagates).
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
    pinned = re.fullmatch(r"v(\d+)", baseline_alias) if baseline_alias is not None else None
    if baseline_alias is not None and pinned is None and baseline_alias.lower() == "latest":
        raise FingerprintUnavailableError(f"baseline {baseline_alias!r} is not fingerprinted")
    reads = _Reads(timeout_s)
    plan = _Plan(client, reads, ())
    try:
        parts: dict[str, Any] = {}
        parts["config"] = {
            "format": FINGERPRINT_FORMAT,
            "target_alias": target_alias,
            "baseline_alias": baseline_alias,
            "versions": package_versions(),
        }
        # The versions, and the reads of what they pointed at last time.
        if parsed.alias is not None:
            alias = parsed.alias
            candidate_key: tuple[str, ...] = ("alias", alias)
            reads.start(candidate_key, _alias_read, client, model, alias)
            guess = _MEMO.get(("holder", model, alias))
        else:
            assert parsed.version is not None
            number = parsed.version
            candidate_key = ("version", str(number))
            reads.start(candidate_key, _version_read, client, model, number)
            guess = number
        baseline_key: tuple[str, ...] | None = None
        baseline_guess: int | None = None
        if pinned is not None:
            pinned_number = int(pinned[1])
            baseline_key = ("version", str(pinned_number))
            reads.start(baseline_key, _version_read, client, model, pinned_number)
            baseline_guess = pinned_number
        elif baseline_alias is not None:
            held = baseline_alias
            baseline_key = ("alias", held)
            reads.start(baseline_key, version_holding, client, model, held)
            baseline_guess = _MEMO.get(("holder", model, held))
        if guess is not None:
            key = ("versions", model, str(guess))
            reads.start(key, search_earlier_versions, client, model, guess)
        guessed_ids = [_MEMO.get(("points_at", model, str(g))) for g in (guess, baseline_guess)]
        earlier_ids = _MEMO.get(("earlier", model, str(guess))) or []
        searched = _MEMO.get(("evaluations", model, str(guess), str(baseline_guess)))
        if guessed_ids[0] is not None or searched is not None:
            # An earlier version's run is read for its metrics only, unless it is the
            # baseline's. (A new candidate's baseline is read with it, in `start_guesses`.)
            role_runs = {ids[0] for ids in guessed_ids if ids is not None}
            plan.start(
                [ids for ids in [*guessed_ids, *earlier_ids] if ids is not None],
                without_histories={r for r, _ in earlier_ids if r is not None} - role_runs,
            )
        if searched:
            key = ("evaluations", model, *searched)
            reads.start(key, _evaluations_read, client, searched, model)
        state = policy_state()
        if state.policy_files is not None:
            parts["policies"] = state.policy_files
        else:
            parts["policies"] = sorted([p.name, p.ref.revision, p.sha256] for p in state.policies)
        plan.wanted = list(dict.fromkeys([*state.history_keys, *LOSS_LIKE_KEYS]))

        candidate: Any = reads.result(candidate_key, f"{model!r} at {ref!r}")
        number = int(candidate.version)
        if parsed.alias is not None:
            if parsed.alias not in (candidate.aliases or []):
                # A registry that does not report a version's aliases cannot show one moving.
                raise FingerprintUnavailableError(
                    f"{model!r} v{number} read by alias {parsed.alias!r} does not list it"
                )
            _MEMO.put(("holder", model, parsed.alias), number)
        holder: Any = None
        if baseline_key is not None:
            holder = reads.result(baseline_key, f"{model!r} at {baseline_alias!r}")
        if holder is not None and pinned is None:
            assert baseline_alias is not None
            if baseline_alias not in (holder.aliases or []):
                raise FingerprintUnavailableError(
                    f"{model!r} v{holder.version} read by alias {baseline_alias!r} does not list it"
                )
            _MEMO.put(("holder", model, baseline_alias), int(holder.version))
        baseline = int(holder.version) if holder is not None else None
        if baseline == number:
            baseline = None
        # Which versions the ref and the baseline alias name now; each version's own aliases
        # are in its part.
        parts["registry"] = {"candidate": number, "baseline": baseline}
        roles: dict[str, Any] = {"candidate": candidate}
        if baseline is not None:
            roles["baseline"] = holder
        pointed = {role: _entity_ids(mv) for role, mv in roles.items()}
        for role, mv in roles.items():
            parts[f"{role}.version"] = _version_part(mv)
        if searched is None:
            # A candidate no fingerprint has seen: what the later steps read is guessed from
            # what is known of the baseline, so those reads join this round instead of waiting
            # for the candidate's run (a wrong guess is read again).
            plan.start_guesses(model, pointed, number if baseline is not None else None)
        plan.start(list(pointed.values()))
        runs: dict[str, Any] = {}
        for role, (run_id, model_id) in pointed.items():
            run = plan.collect(role, run_id, model_id, parts)
            if run is not None:
                runs[role] = run
            _MEMO.put(("points_at", model, str(int(roles[role].version))), (run_id, model_id))
        searched = plan.collect_evaluations(model, roles, runs, parts)
        holder_number = int(holder.version) if holder is not None else None
        _MEMO.put(("evaluations", model, str(number), str(holder_number)), searched)
        if baseline is not None:
            # The review reads the version history only when it compares with a baseline.
            earlier = plan.earlier_versions(model, number)
            pairs = plan.collect_history(earlier, searched, parts)
            _MEMO.put(("earlier", model, str(number)), pairs)
    except ToolError as exc:
        raise FingerprintUnavailableError(str(exc)) from exc
    finally:
        reads.close()
    digests = {name: _part_digest(value) for name, value in sorted(parts.items())}
    return EvidenceFingerprint(
        model=model,
        version=number,
        baseline_version=baseline,
        digest=_digest(digests),
        parts=digests,
    )
