"""Model registry reads: resolve a version by number or ``@alias``, and list a model's aliases.

MLflow 3 quirks handled here: version numbers are ints from a SQL store and strings over REST
(always normalised to int); `search_model_versions` returns empty aliases, but a version read on
its own (`get_model_version`, `get_model_version_by_alias`) carries its aliases, so a review reads
its versions one by one and the registered model (every alias, and on a SQL store every version
behind it) only to say why a read failed; MLflow answers the alias ``latest`` with the highest
version, so that name is looked up among the aliases instead; `ModelVersion.model_id` is None in
OSS, so the logged model id is parsed from the version's ``source`` (``models:/m-...``).
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from tools.client import call_mlflow
from tools.errors import (
    AliasNotFoundError,
    InvalidVersionRefError,
    ModelNotFoundError,
    NotFoundError,
    ToolError,
    VersionNotFoundError,
)
from tools.search_filter import filter_literal

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "ResolvedVersion",
    "VersionRef",
    "logged_model_id_from_source",
    "parse_version_ref",
    "registered_aliases",
    "registered_model_names",
    "resolve_version",
    "resolved_from",
    "version_holding",
]

logger = logging.getLogger("promogate.tools")

_LOGGED_MODEL_SOURCE = re.compile(r"^models:/(m-[0-9A-Za-z]+)/?$")
_MAX_LISTED_VERSIONS = 1000


class VersionRef(BaseModel):
    """A parsed version reference: exactly one of `version`, `alias` and `latest` is set."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int | None = None
    alias: str | None = None
    latest: bool = False


class ResolvedVersion(BaseModel):
    """A model version as the registry describes it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    version: int
    aliases: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    description: str | None = None
    source: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    creation_timestamp: int | None = None
    status: str | None = None


def parse_version_ref(ref: str | int) -> VersionRef:
    """Parse ``5``, ``"5"``, ``"v5"``, ``"latest"`` or ``"@champion"``.

    Args:
        ref: A positive version number (int, digits or ``v`` and digits), ``latest`` (the
            highest version number), or ``@`` followed by an alias.
    """
    if isinstance(ref, bool):
        raise InvalidVersionRefError(ref)
    if isinstance(ref, int):
        if ref < 1:
            raise InvalidVersionRefError(ref)
        return VersionRef(version=ref)
    text = ref.strip()
    if text.startswith("@"):
        alias = text[1:].strip()
        if not alias:
            raise InvalidVersionRefError(ref)
        return VersionRef(alias=alias)
    if text.lower() == "latest":
        return VersionRef(latest=True)
    if text[:1] in ("v", "V"):
        text = text[1:]
    if text.isdigit() and int(text) >= 1:
        return VersionRef(version=int(text))
    raise InvalidVersionRefError(ref)


def logged_model_id_from_source(source: str | None) -> str | None:
    """The MLflow 3 logged model id in a version's source URI ``models:/m-...``, or None.

    Args:
        source: The model version's ``source``.
    """
    if not source:
        return None
    match = _LOGGED_MODEL_SOURCE.match(source.strip())
    return match.group(1) if match else None


def registered_aliases(client: MlflowClient, model: str) -> dict[str, int]:
    """Every alias of a registered model and the version it points to.

    Args:
        client: MLflow client.
        model: Registered model name.
    """
    registered = call_mlflow(
        lambda: client.get_registered_model(model),
        f"get_registered_model({model!r})",
        not_found=lambda: ModelNotFoundError(model),
    )
    return _aliases_of(registered)


def _aliases_of(registered: Any) -> dict[str, int]:
    raw = getattr(registered, "aliases", None) or {}
    return {str(alias): int(version) for alias, version in dict(raw).items()}


def registered_model_names(client: MlflowClient, limit: int = 1000) -> list[str]:
    """Names of the registered models (at most `limit`), for did-you-mean suggestions."""
    models = call_mlflow(
        lambda: client.search_registered_models(max_results=limit),
        "search_registered_models()",
    )
    return sorted(str(m.name) for m in models)


def _latest_version(client: MlflowClient, model: str) -> int:
    """The highest version number of `model`.

    Raises:
        ModelNotFoundError: The model has no version, or does not exist.
        BackendUnavailableError: MLflow is down: never reported as a missing model.
        UnsearchableValueError: The name holds both quote characters.
    """
    name = filter_literal(model)
    found = call_mlflow(
        lambda: client.search_model_versions(
            f"name = {name}", max_results=1, order_by=["version_number DESC"]
        ),
        f"search_model_versions({model!r})",
    )
    if not found:
        raise ModelNotFoundError(model)
    return int(found[0].version)


def _existing_versions(client: MlflowClient, model: str) -> list[int]:
    """Version numbers of a model, for error messages; empty when they cannot be listed."""
    try:
        name = filter_literal(model)
        versions = call_mlflow(
            lambda: client.search_model_versions(
                f"name = {name}", max_results=_MAX_LISTED_VERSIONS
            ),
            f"search_model_versions({model!r})",
            attempts=1,
        )
    except ToolError as exc:
        # Only used to enrich a not-found message; the not-found error itself still raises.
        logger.debug("could not list versions of %r: %s", model, exc)
        return []
    return sorted(int(v.version) for v in versions)


def _empty_to_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text or None


def resolve_version(client: MlflowClient, model: str, ref: str | int) -> ResolvedVersion:
    """Resolve a model version by number (``5``, ``"5"``) or alias (``"@champion"``).

    One read of the version, which carries its aliases; the registered model is read only when
    that read fails, to say why.

    Args:
        client: MLflow client.
        model: Registered model name.
        ref: Version number or ``@alias``.

    Raises:
        ModelNotFoundError: No registered model of that name.
        VersionNotFoundError: The model has no such version (the message lists existing ones).
        AliasNotFoundError: No version holds the alias (the message lists existing aliases).
        InvalidVersionRefError: `ref` is neither a version number nor ``@alias``.
    """
    parsed = parse_version_ref(ref)
    if parsed.alias is not None:
        mv = version_holding(client, model, parsed.alias)
        if mv is None:
            raise AliasNotFoundError(model, parsed.alias, registered_aliases(client, model))
        return resolved_from(model, mv)
    if parsed.latest:
        number = _latest_version(client, model)
    else:
        assert parsed.version is not None
        number = parsed.version
    return resolved_from(model, _version(client, model, number))


def version_holding(client: MlflowClient, model: str, alias: str) -> Any | None:
    """The version holding `alias`, as MLflow returns it (with its aliases), or None when no
    version holds it.

    MLflow refuses a missing alias as it refuses a malformed one (``INVALID_PARAMETER_VALUE``);
    only when the read fails are the model's aliases read, to tell the two apart. ``latest``
    (any case) is looked up among the aliases, never read by alias: MLflow would answer it with
    the highest version, which holds no such alias.

    Args:
        client: MLflow client.
        model: Registered model name.
        alias: The alias.

    Raises:
        ModelNotFoundError: No registered model of that name.
        ToolError: The read failed although the model has that alias, or the registry could not
            be read.
    """
    if alias.lower() == "latest":
        number = registered_aliases(client, model).get(alias)
        return _version(client, model, number) if number is not None else None
    try:
        return call_mlflow(
            lambda: client.get_model_version_by_alias(model, alias),
            f"get_model_version_by_alias({model!r}, {alias!r})",
        )
    except ToolError:
        if alias in registered_aliases(client, model):
            raise
        return None


def _version(client: MlflowClient, model: str, number: int) -> Any:
    """Version `number` as MLflow returns it; a refusal names what is missing, the model or the
    version."""

    def missing() -> NotFoundError:
        # Read only now, to tell a missing model (raised from here) from a missing version.
        registered_aliases(client, model)
        return VersionNotFoundError(model, number, _existing_versions(client, model))

    return call_mlflow(
        lambda: client.get_model_version(model, str(number)),
        f"get_model_version({model!r}, {number!r})",
        not_found=missing,
    )


def resolved_from(model: str, mv: Any) -> ResolvedVersion:
    """A version of `model` as MLflow returned it (`get_model_version` or
    `get_model_version_by_alias`: with its aliases), as a `ResolvedVersion`."""
    version = int(mv.version)
    source = _empty_to_none(mv.source)
    model_id = _empty_to_none(getattr(mv, "model_id", None)) or logged_model_id_from_source(source)
    created = mv.creation_timestamp
    return ResolvedVersion(
        model=model,
        version=version,
        aliases=sorted(str(a) for a in (getattr(mv, "aliases", None) or [])),
        tags={str(k): str(v) for k, v in (mv.tags or {}).items()},
        description=_empty_to_none(mv.description),
        source=source,
        run_id=_empty_to_none(mv.run_id),
        model_id=model_id,
        creation_timestamp=int(created) if created is not None else None,
        status=_empty_to_none(mv.status),
    )
