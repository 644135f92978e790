"""Feature importances read from a logged model, through a loader that never runs the author's code.

A reviewer asks what the model itself says: which inputs it leans on. The answer lives inside the
serialized model, and loading a serialized model is where hostile artifacts attack. So this module
loads only what is safe to load:

- the format is the one `MLmodel` declares for the scikit-learn flavor (never guessed from a file
  name), and it must be ``skops`` and among the formats the policy allows;
- skops loads only types it trusts by default plus those the policy trusts; a file that needs any
  other type is not loaded, and the reason names the types;
- pickle, cloudpickle, joblib and every other format are never loaded here: importances are then
  unavailable, with the reason.

The result is always a `FeatureImportances`: the shares per input, or why there are none.

What a model file says is kept in memory (`IMPORTANCE_CACHE`) and, once a front door calls
`use_importance_disk_cache`, on disk (`tools.disk_cache`), so a local review of files already
read neither imports scikit-learn and skops nor loads the models. Both caches are keyed by the
file's SHA-256 and every other argument (a model file that lies on this machine is looked up by
its `stat` first, `tools.file_hashes`, so an unchanged file is neither read nor hashed again);
the disk key also covers what produced the value (this loader's format version and source,
skops, scikit-learn, numpy, scipy, pydantic and Python), so an upgrade or a code change reads the
file afresh.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import stat
import threading
import zipfile
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tools._mlmodel import MLmodelParseError, parse_mlmodel
from tools.artifacts import ArtifactOwner, LoggedModelRepository, download_artifact
from tools.disk_cache import DiskCache, producer_fingerprint
from tools.errors import ReaderProcessError, ToolError
from tools.evidence_cache import IMPORTANCE_CACHE_BYTES, ByteBoundedCache, content_key
from tools.file_hashes import FileHashes
from tools.importance_process import ImportanceProcess
from tools.installed_versions import installed_version
from tools.plausibility_models import FeatureImportances, ImportanceKind

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "IMPORTANCE_CACHE",
    "IMPORTANCE_FORMAT_VERSION",
    "IMPORTANCE_MAX_BYTES",
    "import_model_readers",
    "importance_disk_cache",
    "importance_process_in_use",
    "importance_reads_under_way",
    "importances_from_estimator",
    "load_skops_importances",
    "read_feature_importances",
    "start_reading_importances",
    "use_importance_disk_cache",
    "use_importance_process",
]

logger = logging.getLogger("promogate.tools")

#: A model file larger than this is not loaded to read importances.
IMPORTANCE_MAX_BYTES = 64 * 1024 * 1024
_MLMODEL_MAX_BYTES = 256 * 1024

#: Importances already read, under a digest of the model file's bytes and every other input of
#: `load_skops_importances`: a replaced file has other bytes, so nothing stale is served.
IMPORTANCE_CACHE: ByteBoundedCache[FeatureImportances] = ByteBoundedCache(IMPORTANCE_CACHE_BYTES)

#: SHA-256 of the model files on this machine, kept under their `stat` (see `tools.file_hashes`).
_MODEL_FILE_HASHES = FileHashes()

#: The form of what the disk cache keeps for a model file; bump it when that form changes.
IMPORTANCE_FORMAT_VERSION = 1

# What computes a result beyond the arguments: a new version of any of them may answer otherwise.
_PRODUCER_PACKAGES = ("skops", "scikit-learn", "numpy", "scipy", "pydantic")
_PRODUCER_SOURCES = (Path(__file__), Path(__file__).with_name("plausibility_models.py"))

# None: importances are kept in memory only (the default; front doors choose from settings).
_disk_cache: DiskCache | None = None
# None: files are read in this process (the default; long-running front doors start one).
_process: ImportanceProcess | None = None

# The reads under way, by their cache key: a second asker (a review whose reads were started
# ahead of it, or two reviews of one version) waits for the first instead of reading again.
_reading: dict[bytes, Future[FeatureImportances]] = {}
_reading_lock = threading.Lock()


def use_importance_disk_cache(cache: DiskCache | None) -> None:
    """Keep the importances read from model files in `cache` too, or (None) in memory only.

    The model files' hashes, which key the importances, are kept there too: a later process
    then finds a file's importances without reading the file (5-8 MB for the demo's forests).

    Args:
        cache: The on-disk cache, or None to stop using one.
    """
    global _disk_cache  # one per process, as IMPORTANCE_CACHE; set once at start-up
    _disk_cache = cache
    _MODEL_FILE_HASHES.use_disk(cache)


def importance_disk_cache() -> DiskCache | None:
    """The on-disk cache importances are kept in, if one is in use."""
    return _disk_cache


def use_importance_process(process: ImportanceProcess | None) -> None:
    """Read model files in `process` (`tools.importance_process`), or (None) in this process.

    Args:
        process: The reader process, or None to read here again.
    """
    global _process  # one per process, as the disk cache; set at start-up and at shutdown
    _process = process


def importance_process_in_use() -> ImportanceProcess | None:
    """The process model files are read in, if one is in use."""
    return _process


def importance_reads_under_way() -> bool:
    """Whether a model file's importances are being read now (in this process's threads, or
    in the reader process for them): a caller about to wait for them has time for other work."""
    with _reading_lock:
        return bool(_reading)


def import_model_readers() -> None:
    """Import what reading a model file's importances needs (skops, and scikit-learn's estimators
    beneath it), for a long-running process to do once it starts.

    Otherwise the first review that reads a model file imports them inside a request: about a
    second on 2 cores, most of it scikit-learn and SciPy. Nothing is loaded or trusted here.
    """
    import skops.io
    import skops.io._audit
    import skops.io._utils  # noqa: F401 - the parts `_parse_once` reads a file with


@functools.cache
def _producer_fingerprint() -> str | None:
    """What turns a model file into importances (this module, the result's model and the
    libraries beneath), or None when it cannot be told."""
    try:
        versions = {name: installed_version(name) for name in _PRODUCER_PACKAGES}
        return producer_fingerprint(IMPORTANCE_FORMAT_VERSION, _PRODUCER_SOURCES, versions)
    except (OSError, PackageNotFoundError) as exc:
        logger.warning("importances are not kept on disk: %s", exc)
        return None


def _disk_key(key: bytes) -> str | None:
    fingerprint = _producer_fingerprint()
    return None if fingerprint is None else content_key(key, fingerprint).hex()


def _from_disk(cache: DiskCache, key: bytes) -> FeatureImportances | None:
    disk_key = _disk_key(key)
    return None if disk_key is None else cache.get_model(disk_key, FeatureImportances)


def _to_disk(cache: DiskCache, key: bytes, found: FeatureImportances) -> None:
    disk_key = _disk_key(key)
    if disk_key is not None:
        cache.put_model(disk_key, found)


def _unavailable(source: str, reason: str, **fields: Any) -> FeatureImportances:
    return FeatureImportances(source=source, available=False, reason=reason, **fields)


def importances_from_estimator(estimator: Any) -> tuple[ImportanceKind, dict[str, float]] | str:
    """Importance shares of a fitted estimator (a Pipeline's last step), or why there are none.

    Trees give `feature_importances_`; linear models give the absolute `coef_` (summed over
    classes), comparable across inputs when the inputs were scaled. Names come from
    `feature_names_in_` of the estimator or of the pipeline that holds it.

    Args:
        estimator: The loaded model.
    """
    names = getattr(estimator, "feature_names_in_", None)
    final = estimator
    steps = getattr(estimator, "steps", None)
    if isinstance(steps, list) and steps:
        final = steps[-1][1]
        # A column transformer renames its outputs; only a pass-through pipeline keeps names.
        for _, step in steps[:-1]:
            if hasattr(step, "get_feature_names_out"):
                try:
                    names = step.get_feature_names_out(names)
                except (ValueError, TypeError, AttributeError):
                    names = None
                    break
    if names is None:
        names = getattr(final, "feature_names_in_", None)
    values: list[float]
    kind: ImportanceKind
    raw = getattr(final, "feature_importances_", None)
    if raw is not None:
        kind = "feature_importances_"
        values = [abs(float(v)) for v in list(raw)]
    else:
        coef = getattr(final, "coef_", None)
        if coef is None:
            return f"{type(final).__name__} has neither feature_importances_ nor coef_"
        rows = coef.tolist() if hasattr(coef, "tolist") else coef
        if rows and not isinstance(rows[0], list):
            rows = [rows]
        kind = "coef_"
        values = [sum(abs(float(r[i])) for r in rows) for i in range(len(rows[0]))]
    if names is None:
        return f"{type(final).__name__} was fitted without input names (feature_names_in_)"
    labels = [str(n) for n in list(names)]
    if len(labels) != len(values):
        return f"{len(labels)} input names but {len(values)} importances"
    total = sum(values)
    if total <= 0:
        return "every importance is zero"
    return kind, {name: v / total for name, v in zip(labels, values, strict=True)}


def _importance_size(found: FeatureImportances) -> int:
    """Estimated bytes of a result: its texts plus a name and a float per input."""
    return 512 + len(found.reason or "") + sum(64 + len(name) for name in found.shares)


def load_skops_importances(
    data: bytes, *, trusted_types: Sequence[str], source: str = "", model_file: str = ""
) -> FeatureImportances:
    """Load a skops file with only the trusted types, and read its importances.

    The result is a function of the arguments (and of the libraries that load the file), so it
    is kept in `IMPORTANCE_CACHE`, and in the disk cache when one is in use, under a digest of
    all of them (the bytes included).

    Args:
        data: The skops file's bytes.
        trusted_types: Types trusted beyond skops' defaults (the policy's list).
        source: Where the file came from, recorded in the result.
        model_file: The file's path inside the model.
    """
    return _importances_of_file(
        data,
        hashlib.sha256(data).hexdigest(),
        trusted_types=trusted_types,
        source=source,
        model_file=model_file,
    )


def _importances_of_file(
    data: bytes, digest: str, *, trusted_types: Sequence[str], source: str, model_file: str
) -> FeatureImportances:
    """`load_skops_importances` of `data`, whose hex SHA-256 is `digest`."""
    key = _importance_key(digest, trusted_types, source, model_file)
    found = _kept_importances(key)
    if found is not None:
        return found
    return _read_once(
        key,
        lambda: _read_and_keep(
            key, data, trusted_types=trusted_types, source=source, model_file=model_file
        ),
    )


def _read_once(key: bytes, read: Callable[[], FeatureImportances]) -> FeatureImportances:
    """`read()`, or the answer of the same read already under way."""
    with _reading_lock:
        under_way = _reading.get(key)
        if under_way is None:
            mine: Future[FeatureImportances] = Future()
            _reading[key] = mine
    if under_way is not None:
        return under_way.result()
    return _finish(key, mine, read)


def _claim(key: bytes) -> Future[FeatureImportances] | None:
    """A future for the read under `key`, which the caller must `_finish`; None when one is
    under way."""
    with _reading_lock:
        if key in _reading:
            return None
        mine: Future[FeatureImportances] = Future()
        _reading[key] = mine
        return mine


def _finish(
    key: bytes, mine: Future[FeatureImportances], read: Callable[[], FeatureImportances]
) -> FeatureImportances:
    """Run the claimed read, and give its answer (or failure) to those waiting for it."""
    try:
        found = read()
    except BaseException as exc:
        mine.set_exception(exc)
        raise
    finally:
        with _reading_lock:
            del _reading[key]
    mine.set_result(found)
    return found


def _read_and_keep(
    key: bytes, data: bytes, *, trusted_types: Sequence[str], source: str, model_file: str
) -> FeatureImportances:
    """Read the file here or in the reader process, and keep the answer; a reader process that
    gave none makes the importances unavailable, and that is not kept (the next review reads
    the file again)."""
    process = _process
    if process is None:
        found = _load_skops_importances(
            data, trusted_types=trusted_types, source=source, model_file=model_file
        )
    else:
        try:
            found = process.read(
                data, trusted_types=trusted_types, source=source, model_file=model_file
            )
        except ReaderProcessError as exc:
            logger.warning("the importances of %s were not read: %s", source, exc)
            fields = {"serialization_format": "skops", "model_file": model_file}
            return _unavailable(source, f"the model file could not be read: {exc}", **fields)
    disk = _disk_cache
    if disk is not None:
        _to_disk(disk, key, found)
    IMPORTANCE_CACHE.put(key, found, _importance_size(found))
    return found


def _importance_key(
    file_digest: str, trusted_types: Sequence[str], source: str, model_file: str
) -> bytes:
    """The cache key of a model file's importances: its bytes' SHA-256 and every other input."""
    return content_key(file_digest, "\n".join(sorted(set(trusted_types))), source, model_file)


def _kept_importances(key: bytes) -> FeatureImportances | None:
    """What is kept under `key`, in memory or on disk (then also in memory); None when neither
    holds it."""
    found = IMPORTANCE_CACHE.get(key)
    disk = _disk_cache
    if found is not None or disk is None:
        return found
    found = _from_disk(disk, key)
    if found is not None:
        IMPORTANCE_CACHE.put(key, found, _importance_size(found))
    return found


def _local_file(
    repository: LoggedModelRepository, path: str, max_bytes: int
) -> tuple[Path, os.stat_result] | None:
    """Where a logged model's file lies on this machine and its `stat`, when it is a regular
    file of at most `max_bytes` there; None otherwise (the read that follows reports why)."""
    try:
        local = repository.in_place(path)
        info = local.stat() if local is not None else None
    except (ToolError, OSError):
        return None
    if local is None or info is None:
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
        return None
    return local, info


def _parse_once(data: bytes, trusted: list[str]) -> tuple[Any, list[str]] | None:
    """The estimator in a skops file and the types it needs beyond skops' defaults and `trusted`
    (the estimator is None unless that list is empty), from one parse of the file; None when
    this skops does not have the parts it is built from.

    skops' `load` refuses an untrusted type without naming it in a form a program can read, and
    `get_untrusted_types` parses the whole file again: a refused file cost two parses, and the
    demo's policies refuse every model file they do not trust for importances. This is `load`'s
    own sequence (read the schema, build the tree with the trusted types, audit it, construct
    only when nothing is untrusted), keeping the audit's answer.

    Raises:
        Exception: Whatever skops raises for a file it cannot parse or construct.
    """
    try:
        from skops.io._audit import get_tree
        from skops.io._utils import read_schema
    except ImportError:
        return None
    with zipfile.ZipFile(io.BytesIO(data), "r") as archive:
        schema, context = read_schema(archive)
        tree = get_tree(schema, context, trusted=trusted)
        untrusted = sorted(set(tree.get_unsafe_set()) - set(trusted))
        if untrusted:
            return None, untrusted
        return tree.construct(), []


def _untrusted_reason(untrusted: Sequence[str]) -> str:
    return (
        "the model file needs types the policy does not trust, so it was not loaded: "
        + ", ".join(untrusted)
        + " (list them in security.skops_trusted_types or plausibility.skops_trusted_types "
        "after review)"
    )


def _load_skops_importances(
    data: bytes, *, trusted_types: Sequence[str], source: str, model_file: str
) -> FeatureImportances:
    import skops.io as sio

    fields: dict[str, Any] = {"serialization_format": "skops", "model_file": model_file}
    trusted = sorted(set(trusted_types))
    try:
        parsed = _parse_once(data, trusted)
    except Exception:  # noqa: BLE001 - not a pass: the public route below reports why
        parsed = None
    if parsed is not None:
        estimator, untrusted = parsed
        if untrusted:
            return _unavailable(source, _untrusted_reason(untrusted), **fields)
        return _importances_of(estimator, source, fields)
    # skops' public functions: a file it cannot read, or a skops without the parts above.
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure makes importances unavailable
        return _unavailable(source, f"the skops file cannot be read: {exc}", **fields)
    untrusted = sorted(set(needed) - set(trusted))
    if untrusted:
        return _unavailable(source, _untrusted_reason(untrusted), **fields)
    try:
        estimator = sio.load(io.BytesIO(data), trusted=sorted(set(needed)))
    except Exception as exc:  # noqa: BLE001 - a file skops refuses is unavailable, not a pass
        return _unavailable(source, f"skops refused to load the model file: {exc}", **fields)
    return _importances_of(estimator, source, fields)


def _importances_of(estimator: Any, source: str, fields: dict[str, Any]) -> FeatureImportances:
    found = importances_from_estimator(estimator)
    estimator_name = type(estimator).__name__
    if isinstance(found, str):
        return _unavailable(source, found, estimator=estimator_name, **fields)
    kind, shares = found
    return FeatureImportances(
        source=source,
        available=True,
        shares=shares,
        kind=kind,
        estimator=estimator_name,
        **fields,
    )


def _owner(source: str) -> tuple[ArtifactOwner, str, str] | None:
    """(owner, owner id, path prefix) of a `models:/m-...` or `runs:/<id>/<path>` source."""
    if source.startswith("models:/"):
        return "logged_model", source.removeprefix("models:/"), ""
    if source.startswith("runs:/"):
        run_id, _, path = source.removeprefix("runs:/").partition("/")
        return "run", run_id, path.strip("/")
    return None


def read_feature_importances(
    client: MlflowClient,
    source: str,
    *,
    allowed_formats: Sequence[str],
    trusted_types: Sequence[str],
    max_bytes: int = IMPORTANCE_MAX_BYTES,
) -> FeatureImportances:
    """Feature importances of a logged model, read without running any of the author's code.

    Never raises for what the model is: an unsafe or unknown format, a missing file or a
    download failure makes the importances unavailable, with the reason.

    Args:
        client: MLflow client.
        source: `models:/m-...` or `runs:/<run_id>/<path>`.
        allowed_formats: Serialization formats the policy allows; skops must be one of them.
        trusted_types: skops types the policy trusts beyond skops' defaults.
        max_bytes: Largest model file that is loaded.
    """
    found = _prepared_read(
        client,
        source,
        allowed_formats=allowed_formats,
        trusted_types=trusted_types,
        max_bytes=max_bytes,
    )
    if isinstance(found, _Unread):
        found = _read_once(found.key, found.read)
    logger.debug("importances of %s: %s", source, "read" if found.available else found.reason)
    return found


def start_reading_importances(
    client: MlflowClient,
    source: str,
    *,
    allowed_formats: Sequence[str],
    trusted_types: Sequence[str],
    run_in: Executor,
    max_bytes: int = IMPORTANCE_MAX_BYTES,
) -> bool:
    """Start what `read_feature_importances` with the same arguments will ask for: the model
    file is read and hashed in this thread, its importances read in `run_in` (a thread that
    mostly waits for the reader process, `use_importance_process`). A later
    `read_feature_importances` finds them kept, or waits for this read.

    Never raises for what the model is (as `read_feature_importances`).

    Args:
        client: MLflow client.
        source: `models:/m-...` or `runs:/<run_id>/<path>`.
        allowed_formats: Serialization formats the policy allows.
        trusted_types: skops types the policy trusts beyond skops' defaults.
        run_in: Where the importances are read.
        max_bytes: Largest model file that is loaded.

    Returns:
        Whether a read was started (False: the answer is known already, or a read of the same
        file is under way).
    """
    found = _prepared_read(
        client,
        source,
        allowed_formats=allowed_formats,
        trusted_types=trusted_types,
        max_bytes=max_bytes,
    )
    if not isinstance(found, _Unread):
        return False
    mine = _claim(found.key)
    if mine is None:
        return False
    run_in.submit(_finish, found.key, mine, found.read)
    return True


@dataclass(frozen=True)
class _Unread:
    """A model file whose importances are neither kept nor being read: `read()` reads them
    (and keeps them under `key`)."""

    key: bytes
    read: Callable[[], FeatureImportances]


def _prepared_read(
    client: MlflowClient,
    source: str,
    *,
    allowed_formats: Sequence[str],
    trusted_types: Sequence[str],
    max_bytes: int,
) -> FeatureImportances | _Unread:
    """The importances when they are known without parsing the model file (kept, or
    unavailable), else the read that parses it; the file is read and hashed here unless its
    hash is kept."""
    owner = _owner(source)
    if owner is None:
        return _unavailable(source, f"{source!r} is not a logged model or runs:/ source")
    kind, owner_id, prefix = owner

    def path(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    # Both files of a logged model through one read of it.
    repository = LoggedModelRepository(client, owner_id) if kind == "logged_model" else None
    try:
        mlmodel = download_artifact(
            client,
            kind,
            owner_id,
            path("MLmodel"),
            max_bytes=_MLMODEL_MAX_BYTES,
            repository=repository,
        )
        facts = parse_mlmodel(mlmodel.decode("utf-8", errors="replace"))
    except (ToolError, MLmodelParseError) as exc:
        return _unavailable(source, f"the MLmodel file could not be read: {exc}")
    flavor = facts.flavor("sklearn")
    if flavor is None:
        names = ", ".join(f.name for f in facts.flavors) or "none"
        return _unavailable(
            source,
            f"importances are read from scikit-learn models only; this model's flavors: {names}",
        )
    fmt = flavor.serialization_format
    fields: dict[str, Any] = {"serialization_format": fmt, "model_file": flavor.model_file}
    if fmt != "skops":
        return _unavailable(
            source,
            f"the model is serialized as {fmt or 'an undeclared format'!s}, which runs code when "
            "loaded; only skops files are loaded to read importances, so none were read",
            **fields,
        )
    if "skops" not in allowed_formats:
        return _unavailable(
            source,
            "the policy does not allow the skops format, so the model was not loaded",
            **fields,
        )
    model_file = flavor.model_file
    if not model_file:
        return _unavailable(source, "MLmodel names no model file for the sklearn flavor", **fields)
    # A file on this machine whose `stat` did not change since it was hashed is not read again.
    local = _local_file(repository, path(model_file), max_bytes) if repository else None

    def download() -> FeatureImportances | _Unread:
        try:
            data = download_artifact(
                client,
                kind,
                owner_id,
                path(model_file),
                max_bytes=max_bytes,
                repository=repository,
            )
        except ToolError as exc:
            return _unavailable(source, f"the model file could not be read: {exc}", **fields)
        digest = hashlib.sha256(data).hexdigest()
        if local is not None:
            _MODEL_FILE_HASHES.remember(*local, digest)
        key = _importance_key(digest, trusted_types, source, model_file)
        return _kept_importances(key) or _Unread(
            key,
            lambda: _read_and_keep(
                key, data, trusted_types=trusted_types, source=source, model_file=model_file
            ),
        )

    known = _MODEL_FILE_HASHES.known(*local) if local is not None else None
    if known is None:
        return download()
    key = _importance_key(known, trusted_types, source, model_file)

    def read_downloaded() -> FeatureImportances:
        # Run by whoever holds the read under `key`. Bytes that changed since they were hashed
        # are read under their own digest's key, as any other file.
        found = download()
        if not isinstance(found, _Unread):
            return found
        return found.read() if found.key == key else _read_once(found.key, found.read)

    # The bytes are read when they are parsed (a read under way of the same file needs none).
    return _kept_importances(key) or _Unread(key, read_downloaded)
