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
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools._mlmodel import MLmodelParseError, parse_mlmodel
from tools.artifacts import ArtifactOwner, download_artifact
from tools.errors import ToolError
from tools.evidence_cache import IMPORTANCE_CACHE_BYTES, ByteBoundedCache, content_key
from tools.plausibility_models import FeatureImportances, ImportanceKind

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "IMPORTANCE_CACHE",
    "IMPORTANCE_MAX_BYTES",
    "importances_from_estimator",
    "load_skops_importances",
    "read_feature_importances",
]

logger = logging.getLogger("promogate.tools")

#: A model file larger than this is not loaded to read importances.
IMPORTANCE_MAX_BYTES = 64 * 1024 * 1024
_MLMODEL_MAX_BYTES = 256 * 1024

#: Importances already read, under a digest of the model file's bytes and every other input of
#: `load_skops_importances`: a replaced file has other bytes, so nothing stale is served.
IMPORTANCE_CACHE: ByteBoundedCache[FeatureImportances] = ByteBoundedCache(IMPORTANCE_CACHE_BYTES)


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

    The result is a function of the arguments, so it is kept in `IMPORTANCE_CACHE` under a digest
    of all of them (the bytes included).

    Args:
        data: The skops file's bytes.
        trusted_types: Types trusted beyond skops' defaults (the policy's list).
        source: Where the file came from, recorded in the result.
        model_file: The file's path inside the model.
    """
    key = content_key(data, "\n".join(sorted(set(trusted_types))), source, model_file)
    return IMPORTANCE_CACHE.get_or_compute(
        key,
        lambda: _load_skops_importances(
            data, trusted_types=trusted_types, source=source, model_file=model_file
        ),
        _importance_size,
    )


def _load_skops_importances(
    data: bytes, *, trusted_types: Sequence[str], source: str, model_file: str
) -> FeatureImportances:
    import skops.io as sio

    fields: dict[str, Any] = {"serialization_format": "skops", "model_file": model_file}
    try:
        needed = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001 - any parse failure makes importances unavailable
        return _unavailable(source, f"the skops file cannot be read: {exc}", **fields)
    untrusted = sorted(set(needed) - set(trusted_types))
    if untrusted:
        return _unavailable(
            source,
            "the model file needs types the policy does not trust, so it was not loaded: "
            + ", ".join(untrusted)
            + " (list them in security.skops_trusted_types or plausibility.skops_trusted_types "
            "after review)",
            **fields,
        )
    try:
        estimator = sio.load(io.BytesIO(data), trusted=sorted(set(needed)))
    except Exception as exc:  # noqa: BLE001 - a file skops refuses is unavailable, not a pass
        return _unavailable(source, f"skops refused to load the model file: {exc}", **fields)
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
    owner = _owner(source)
    if owner is None:
        return _unavailable(source, f"{source!r} is not a logged model or runs:/ source")
    kind, owner_id, prefix = owner

    def path(name: str) -> str:
        return f"{prefix}/{name}" if prefix else name

    try:
        mlmodel = download_artifact(
            client, kind, owner_id, path("MLmodel"), max_bytes=_MLMODEL_MAX_BYTES
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
    if not flavor.model_file:
        return _unavailable(source, "MLmodel names no model file for the sklearn flavor", **fields)
    try:
        data = download_artifact(
            client, kind, owner_id, path(flavor.model_file), max_bytes=max_bytes
        )
    except ToolError as exc:
        return _unavailable(source, f"the model file could not be read: {exc}", **fields)
    result = load_skops_importances(
        data, trusted_types=trusted_types, source=source, model_file=flavor.model_file
    )
    logger.debug("importances of %s: %s", source, "read" if result.available else result.reason)
    return result
