"""Parsing verified MLflow deliveries into typed events, using MLflow's own example payloads."""

from __future__ import annotations

import json

import pytest

from api.mlflow_events import (
    AliasCreated,
    AliasDeleted,
    EventParseError,
    OtherEvent,
    TagDeleted,
    TagSet,
    VersionCreated,
    parse_event,
)


def _mlflow_body(event: str) -> bytes:
    """The body MLflow 3 sends for `event`, built the way its delivery code builds it."""
    from mlflow.entities.webhook import WebhookEvent
    from mlflow.webhooks.types import get_example_payload_for_event

    entity, action = event.split(".")
    payload = get_example_payload_for_event(WebhookEvent(entity, action))
    envelope = {
        "entity": entity,
        "action": action,
        "timestamp": "2026-12-02T00:00:00+00:00",
        "data": payload,
    }
    return json.dumps(envelope).encode()


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            "model_version.created",
            VersionCreated(
                name="example_model", version=1, source="models:/123", run_id="abcd1234abcd5678"
            ),
        ),
        (
            "model_version_alias.created",
            AliasCreated(name="example_model", alias="example_alias", version=1),
        ),
        ("model_version_alias.deleted", AliasDeleted(name="example_model", alias="example_alias")),
        (
            "model_version_tag.set",
            TagSet(name="example_model", version=1, key="example_key", value="example_value"),
        ),
        (
            "model_version_tag.deleted",
            TagDeleted(name="example_model", version=1, key="example_key"),
        ),
        ("registered_model.created", OtherEvent(event="registered_model.created")),
    ],
    ids=["version-created", "alias-created", "alias-deleted", "tag-set", "tag-deleted", "other"],
)
def test_mlflow_s_example_payloads_parse(event: str, expected: object) -> None:
    assert parse_event(_mlflow_body(event)) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"entity": "model_version", "action": "created"}',
        b'{"entity": "model_version", "action": "created", "data": {"name": "m"}}',
        b'{"entity": "model_version", "action": "created", "data": {"name": "m", "version": "0"}}',
        b'{"entity": "model_version", "action": "created", "data": {"name": "", "version": "1"}}',
        b'{"entity": "model_version_alias", "action": "created", '
        b'"data": {"name": "m", "alias": "champion", "version": "seven"}}',
    ],
    ids=[
        "not-json",
        "not-utf8",
        "not-an-object",
        "no-data",
        "no-version",
        "version-zero",
        "blank-name",
        "non-numeric-version",
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(EventParseError):
        parse_event(body)


def test_the_envelope_cannot_smuggle_another_event_name_through_data() -> None:
    body = json.dumps(
        {
            "entity": "model_version_tag",
            "action": "set",
            "data": {
                "name": "m",
                "version": "3",
                "key": "k",
                "value": "v",
                "event": "model_version.created",
            },
        }
    ).encode()
    event = parse_event(body)
    assert isinstance(event, TagSet) and event.event == "model_version_tag.set"
