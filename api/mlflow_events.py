"""MLflow webhook events as typed models, parsed only after the delivery's signature verified.

MLflow 3 posts ``{"entity": ..., "action": ..., "timestamp": ..., "data": {...}}``. The events
promogate acts on:

- ``model_version.created``: a new version (review it for each target alias its policies name);
- ``model_version_alias.created``: an alias was set or moved; ``data`` names the new version only;
- ``model_version_alias.deleted``: an alias was removed;
- ``model_version_tag.set`` / ``.deleted``: checked when the key is ``promogate.*``.

Anything else parses as `OtherEvent` and is acknowledged without action. Version numbers arrive as
strings and become ints; names and values are bounded so a hostile body cannot grow the state.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "AliasCreated",
    "AliasDeleted",
    "EventParseError",
    "MlflowEvent",
    "OtherEvent",
    "TagDeleted",
    "TagSet",
    "VersionCreated",
    "parse_event",
]

_Name = Annotated[str, Field(min_length=1, max_length=256)]
_Alias = Annotated[str, Field(min_length=1, max_length=256)]
_Version = Annotated[int, Field(ge=1)]
_Key = Annotated[str, Field(min_length=1, max_length=250)]


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class VersionCreated(_Data):
    """``model_version.created``."""

    event: Literal["model_version.created"] = "model_version.created"
    name: _Name
    version: _Version
    source: str | None = Field(default=None, max_length=4096)
    run_id: str | None = Field(default=None, max_length=64)


class AliasCreated(_Data):
    """``model_version_alias.created``: the alias now names `version` (set or moved)."""

    event: Literal["model_version_alias.created"] = "model_version_alias.created"
    name: _Name
    alias: _Alias
    version: _Version


class AliasDeleted(_Data):
    """``model_version_alias.deleted``."""

    event: Literal["model_version_alias.deleted"] = "model_version_alias.deleted"
    name: _Name
    alias: _Alias


class TagSet(_Data):
    """``model_version_tag.set``."""

    event: Literal["model_version_tag.set"] = "model_version_tag.set"
    name: _Name
    version: _Version
    key: _Key
    value: str = Field(max_length=8000)


class TagDeleted(_Data):
    """``model_version_tag.deleted``."""

    event: Literal["model_version_tag.deleted"] = "model_version_tag.deleted"
    name: _Name
    version: _Version
    key: _Key


class OtherEvent(_Data):
    """An event promogate does not act on (acknowledged, nothing queued)."""

    event: str = Field(max_length=128)


MlflowEvent = VersionCreated | AliasCreated | AliasDeleted | TagSet | TagDeleted | OtherEvent

_MODELS: dict[str, type[_Data]] = {
    "model_version.created": VersionCreated,
    "model_version_alias.created": AliasCreated,
    "model_version_alias.deleted": AliasDeleted,
    "model_version_tag.set": TagSet,
    "model_version_tag.deleted": TagDeleted,
}


class EventParseError(ValueError):
    """A verified delivery whose body is not an MLflow event promogate can read."""


class _Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    entity: str = Field(min_length=1, max_length=64)
    action: str = Field(min_length=1, max_length=64)
    timestamp: str | None = Field(default=None, max_length=64)
    data: dict[str, object]


def parse_event(body: bytes) -> MlflowEvent:
    """The typed event of a verified delivery body.

    Args:
        body: The raw request body (already verified).

    Raises:
        EventParseError: Not JSON, not an event envelope, or a known event with invalid data.
    """
    try:
        raw = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventParseError(f"the delivery body is not JSON: {exc}") from exc
    try:
        envelope = _Envelope.model_validate(raw)
    except ValidationError as exc:
        raise EventParseError(f"the delivery is not an MLflow event: {exc}") from exc
    name = f"{envelope.entity}.{envelope.action}"
    model = _MODELS.get(name)
    if model is None:
        return OtherEvent(event=name)
    try:
        parsed = model.model_validate({**envelope.data, "event": name})
    except ValidationError as exc:
        raise EventParseError(f"invalid {name!r} event: {exc}") from exc
    assert isinstance(parsed, VersionCreated | AliasCreated | AliasDeleted | TagSet | TagDeleted)
    return parsed
