"""The MLflow 3 logged model behind a model version: metrics with datasets, flavors, signature."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import yaml

from tools.artifacts import LoggedModelRepository, read_text_artifact
from tools.errors import MalformedArtifactError
from tools.evidence import LoggedModelEvidence, LoggedModelMetric
from tools.evidence_cache import ByteBoundedCache, content_key

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["MLMODEL_CACHE", "MLMODEL_PATH", "parse_mlmodel", "read_logged_model"]

MLMODEL_PATH = "MLmodel"
# What an MLmodel text says, under the SHA-256 of the text: a champion's is parsed once for
# every candidate compared with it (YAML parsing in Python costs more than reading the file).
MLMODEL_CACHE: ByteBoundedCache[tuple[tuple[str, ...], dict[str, Any] | None]] = ByteBoundedCache(
    1024 * 1024
)


def _signature(raw: Any) -> dict[str, Any] | None:
    """The MLmodel signature with its JSON-encoded parts (inputs, outputs, params) decoded."""
    if not isinstance(raw, dict):
        return None
    decoded: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str):
            try:
                decoded[str(key)] = json.loads(value)
            except ValueError as exc:
                raise MalformedArtifactError(
                    MLMODEL_PATH, f"signature {key!r} is not valid JSON ({exc})"
                ) from exc
        else:
            decoded[str(key)] = value
    return decoded


def parse_mlmodel(content: str) -> tuple[list[str], dict[str, Any] | None]:
    """The flavors (sorted) and the decoded signature of an ``MLmodel`` file.

    Args:
        content: The text of the ``MLmodel`` file.

    Raises:
        MalformedArtifactError: Not YAML, or not a mapping with a ``flavors`` mapping.
    """
    key = content_key("logged-model-mlmodel", content)
    kept = MLMODEL_CACHE.get(key)
    if kept is None:
        kept = _parse_mlmodel(content)
        MLMODEL_CACHE.put(key, kept, 512 + 8 * len(content))
    # Copies: the signature is a plain dict the caller owns.
    return list(kept[0]), copy.deepcopy(kept[1])


def _parse_mlmodel(content: str) -> tuple[tuple[str, ...], dict[str, Any] | None]:
    try:
        parsed = yaml.safe_load(content)
    except yaml.YAMLError as exc:
        raise MalformedArtifactError(MLMODEL_PATH, f"not valid YAML ({exc})") from exc
    if not isinstance(parsed, dict):
        raise MalformedArtifactError(MLMODEL_PATH, "not a YAML mapping")
    flavors = parsed.get("flavors")
    if not isinstance(flavors, dict):
        raise MalformedArtifactError(MLMODEL_PATH, "has no 'flavors' mapping")
    return tuple(sorted(str(f) for f in flavors)), _signature(parsed.get("signature"))


def read_logged_model(
    client: MlflowClient, model_id: str, repository: LoggedModelRepository | None = None
) -> LoggedModelEvidence:
    """A logged model's metrics (with the dataset each was computed on), flavors and signature.

    Args:
        client: MLflow client.
        model_id: The logged model id (``m-...``), parsed from a model version's ``source``.
        repository: The logged model read once for this review's readers (one is made if None).

    Raises:
        LoggedModelNotFoundError: No logged model with this id.
        ArtifactNotFoundError: The logged model has no ``MLmodel`` file.
        MalformedArtifactError: Its ``MLmodel`` cannot be parsed.
    """
    repository = repository or LoggedModelRepository(client, model_id)
    logged = repository.logged_model()
    mlmodel = read_text_artifact(
        client, "logged_model", model_id, MLMODEL_PATH, repository=repository
    )
    flavors, signature = parse_mlmodel(mlmodel.content)
    metrics = [
        LoggedModelMetric(
            key=str(m.key),
            value=float(m.value),
            step=int(m.step or 0),
            dataset_name=m.dataset_name or None,
            dataset_digest=m.dataset_digest or None,
        )
        for m in (logged.metrics or [])
    ]
    metrics.sort(key=lambda m: (m.key, m.dataset_name or "", m.dataset_digest or "", m.step))
    return LoggedModelEvidence(
        model_id=str(logged.model_id),
        name=logged.name or None,
        flavors=flavors,
        signature=signature,
        metrics=metrics,
        params={str(k): str(v) for k, v in (logged.params or {}).items()},
        tags={str(k): str(v) for k, v in (logged.tags or {}).items()},
    )
