"""Resolving versions by number, string and alias against a real SQLite registry."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from tools.errors import (
    AliasNotFoundError,
    BackendUnavailableError,
    InvalidVersionRefError,
    ModelNotFoundError,
    VersionNotFoundError,
)
from tools.registry import (
    logged_model_id_from_source,
    parse_version_ref,
    registered_aliases,
    resolve_version,
    version_holding,
)

# Registered by the session store in conftest.py.
MODEL = "credit-risk"
FIRST_MODEL = "first-model"
LEGACY_MODEL = "legacy-model"


@pytest.mark.parametrize(
    ("ref", "expected"),
    [(2, 2), ("2", 2), (" 2 ", 2), ("@challenger", 2), ("@champion", 1)],
    ids=["int", "string", "padded-string", "alias-challenger", "alias-champion"],
)
def test_resolve_version_by_number_string_and_alias(
    mlflow_store: Any, client: Any, ref: str | int, expected: int
) -> None:
    resolved = resolve_version(client, MODEL, ref)
    facts = mlflow_store.versions[expected]
    assert resolved.version == expected
    assert isinstance(resolved.version, int)
    assert resolved.run_id == facts.run_id
    assert resolved.model_id == facts.model_id
    assert resolved.source == f"models:/{facts.model_id}"
    assert resolved.creation_timestamp is not None and resolved.creation_timestamp > 0


def test_resolved_version_carries_registry_metadata(client: Any) -> None:
    resolved = resolve_version(client, MODEL, 1)
    assert resolved.aliases == ["champion"]
    assert resolved.tags == {"team": "risk"}
    assert resolved.description == "baseline model"
    assert resolved.status == "READY"


def test_registered_aliases_are_ints(client: Any) -> None:
    assert registered_aliases(client, MODEL) == {"champion": 1, "challenger": 2}
    assert registered_aliases(client, FIRST_MODEL) == {}


def test_legacy_source_has_no_logged_model_id(mlflow_store: Any, client: Any) -> None:
    resolved = resolve_version(client, LEGACY_MODEL, 1)
    assert resolved.model_id is None
    assert resolved.run_id == mlflow_store.legacy_run_id


def test_unknown_model_raises_model_not_found(client: Any) -> None:
    with pytest.raises(ModelNotFoundError) as caught:
        resolve_version(client, "no-such-model", 1)
    assert caught.value.model == "no-such-model"
    assert "'no-such-model'" in str(caught.value)


def test_unknown_version_lists_existing_versions(client: Any) -> None:
    with pytest.raises(VersionNotFoundError) as caught:
        resolve_version(client, MODEL, 42)
    assert caught.value.version == 42
    assert caught.value.existing == [1, 2, 3, 4, 5]
    assert str(caught.value) == (
        "registered model 'credit-risk' has no version 42. existing versions: 1, 2, 3, 4, 5"
    )


def test_unknown_alias_lists_existing_aliases(client: Any) -> None:
    with pytest.raises(AliasNotFoundError) as caught:
        resolve_version(client, MODEL, "@production")
    assert caught.value.alias == "production"
    assert "'production'" in caught.value.message
    assert caught.value.how_to_fix == (
        "existing aliases of 'credit-risk': @challenger -> version 2, @champion -> version 1"
    )


def test_alias_on_model_without_aliases(client: Any) -> None:
    with pytest.raises(AliasNotFoundError, match="has no aliases"):
        resolve_version(client, FIRST_MODEL, "@champion")


@pytest.mark.parametrize(
    "ref",
    ["five", "@", "0", -1, 0, "", "1.5", True],
    ids=["word", "bare-at", "zero-string", "negative", "zero", "empty", "decimal", "bool"],
)
def test_invalid_refs_are_rejected(ref: Any) -> None:
    with pytest.raises(InvalidVersionRefError) as caught:
        parse_version_ref(ref)
    assert repr(ref) in str(caught.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("models:/m-0123456789abcdef0123456789abcdef", "m-0123456789abcdef0123456789abcdef"),
        ("models:/m-abc/", "m-abc"),
        ("models:/credit-risk/3", None),
        ("models:/m-abc/extra", None),
        ("runs:/abc/model", None),
        ("file:///tmp/model", None),
        (None, None),
        ("", None),
    ],
    ids=[
        "logged-model",
        "trailing-slash",
        "registered-uri",
        "nested-path",
        "runs-uri",
        "file",
        "none",
        "empty",
    ],
)
def test_logged_model_id_from_source(source: str | None, expected: str | None) -> None:
    assert logged_model_id_from_source(source) == expected


class _CountingClient:
    """The real client, counting which of its reads are called (the reads still happen)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.mark.parametrize(
    ("ref", "read"),
    [(1, "get_model_version"), ("@champion", "get_model_version_by_alias")],
    ids=["by-number", "by-alias"],
)
def test_a_version_is_resolved_in_one_read_with_its_aliases(
    client: Any, ref: str | int, read: str
) -> None:
    """The version's own read carries its aliases; the registered model (every version behind it
    on a SQL store) is read only to say why a read failed."""
    counting = _CountingClient(client)
    resolved = resolve_version(counting, MODEL, ref)  # type: ignore[arg-type]
    assert counting.calls == [read]
    held = sorted(a for a, v in registered_aliases(client, MODEL).items() if v == 1)
    assert resolved.aliases == held == ["champion"]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [("champion", 1), ("challenger", 2), ("production", None), ("latest", None), ("Latest", None)],
    ids=["champion", "challenger", "absent", "latest", "latest-any-case"],
)
def test_version_holding_an_alias(client: Any, alias: str, expected: int | None) -> None:
    """MLflow answers ``latest`` with the highest version; no version holds an alias of that
    name, so there is none, as when the alias is absent."""
    holder = version_holding(client, MODEL, alias)
    assert (int(holder.version) if holder is not None else None) == expected


def test_the_alias_latest_is_not_the_highest_version(client: Any) -> None:
    with pytest.raises(AliasNotFoundError):
        resolve_version(client, MODEL, "@latest")


def test_version_holding_on_an_unknown_model(client: Any) -> None:
    with pytest.raises(ModelNotFoundError):
        version_holding(client, "no-such-model", "champion")


@pytest.mark.parametrize("ref", ["latest", "LATEST"], ids=["latest", "latest-any-case"])
def test_latest_is_the_highest_version(mlflow_store: Any, client: Any, ref: str) -> None:
    assert resolve_version(client, MODEL, ref).version == max(mlflow_store.versions)


def test_latest_of_an_unknown_model_is_not_found(client: Any) -> None:
    with pytest.raises(ModelNotFoundError):
        resolve_version(client, "no-such-model", "latest")


def test_latest_with_mlflow_down_is_not_reported_as_a_missing_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(BackendUnavailableError):
        resolve_version(MlflowClient(down, registry_uri=down), MODEL, "latest")
