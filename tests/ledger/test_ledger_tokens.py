"""API tokens: created with a role, stored hashed, authenticated until revoked."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from ledger.errors import TokenError
from ledger.store import Ledger
from ledger.tokens import ROLES, SECRET_PREFIX, Role


@pytest.mark.parametrize("role", ROLES, ids=list(ROLES))
def test_create_and_authenticate(ledger: Ledger, role: Role) -> None:
    info, secret = ledger.tokens.create_token(f"ci-{role}", role)

    assert secret.startswith(SECRET_PREFIX) and len(secret) > 40
    assert (info.name, info.role, info.active, info.last_used_at) == (
        f"ci-{role}",
        role,
        True,
        None,
    )
    authenticated = ledger.tokens.authenticate(secret)
    assert authenticated is not None
    assert (authenticated.id, authenticated.role) == (info.id, role)
    assert authenticated.last_used_at is not None
    assert authenticated.last_used_at >= info.created_at


def test_secret_is_stored_only_as_its_sha256(ledger: Ledger) -> None:
    _, secret = ledger.tokens.create_token("ci-deploy", "deployer")

    with ledger.database.engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT * FROM ledger_api_tokens")).all()
    stored = " ".join(str(value) for row in rows for value in row)

    assert secret not in stored
    assert secret[len(SECRET_PREFIX) :] not in stored
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


@pytest.mark.parametrize(
    "secret",
    ["", "pgt_not-a-real-token", "wrong"],
    ids=["empty", "unknown", "garbage"],
)
def test_unknown_secrets_do_not_authenticate(ledger: Ledger, secret: str) -> None:
    ledger.tokens.create_token("ci", "viewer")

    assert ledger.tokens.authenticate(secret) is None


@pytest.mark.parametrize("by", ["name", "id"], ids=["by-name", "by-id"])
def test_revoked_tokens_stop_authenticating(ledger: Ledger, by: str) -> None:
    info, secret = ledger.tokens.create_token("ci-deploy", "deployer")
    _, other_secret = ledger.tokens.create_token("ci-view", "viewer")

    revoked = ledger.tokens.revoke_token(info.name if by == "name" else info.id)

    assert revoked.id == info.id and not revoked.active
    assert ledger.tokens.authenticate(secret) is None
    assert ledger.tokens.authenticate(other_secret) is not None
    with pytest.raises(TokenError, match="no active token with name or id 'ci-deploy'"):
        ledger.tokens.revoke_token("ci-deploy")


def test_list_tokens_and_reuse_a_revoked_name(ledger: Ledger) -> None:
    old, _ = ledger.tokens.create_token("ci-deploy", "deployer")
    ledger.tokens.create_token("alice", "approver")
    ledger.tokens.revoke_token("ci-deploy")
    new, new_secret = ledger.tokens.create_token("ci-deploy", "admin")

    listed = ledger.tokens.list_tokens()
    active = ledger.tokens.list_tokens(include_revoked=False)

    assert [(t.name, t.role, t.active) for t in listed] == [
        ("ci-deploy", "deployer", False),
        ("alice", "approver", True),
        ("ci-deploy", "admin", True),
    ]
    assert [t.id for t in active] == [listed[1].id, new.id]
    assert old.id != new.id
    authenticated = ledger.tokens.authenticate(new_secret)
    assert authenticated is not None and authenticated.role == "admin"


@pytest.mark.parametrize(
    ("name", "role", "message"),
    [
        ("ci", "root", "invalid role 'root'"),
        ("", "viewer", "invalid token name ''"),
        ("has space", "viewer", "invalid token name 'has space'"),
        ("-leading-dash", "viewer", "invalid token name '-leading-dash'"),
        ("x" * 129, "viewer", "invalid token name"),
        ("taken", "viewer", "an active token named 'taken' exists"),
    ],
    ids=["unknown-role", "empty-name", "space", "leading-dash", "too-long", "duplicate-name"],
)
def test_invalid_tokens_are_refused(ledger: Ledger, name: str, role: Role, message: str) -> None:
    ledger.tokens.create_token("taken", "admin")

    with pytest.raises(TokenError, match=message):
        ledger.tokens.create_token(name, role)

    assert [t.name for t in ledger.tokens.list_tokens()] == ["taken"]


def test_last_used_is_written_at_most_once_a_minute(ledger: Ledger) -> None:
    info, secret = ledger.tokens.create_token("ci", "reviewer")

    first = ledger.tokens.authenticate(secret)
    second = ledger.tokens.authenticate(secret)
    assert first is not None and second is not None
    assert second.last_used_at == first.last_used_at

    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    with ledger.database.engine.begin() as connection:
        connection.execute(
            sqlalchemy.text("UPDATE ledger_api_tokens SET last_used_at = :t WHERE id = :id"),
            {
                "t": an_hour_ago.replace(tzinfo=None)
                if ledger.database.backend == "sqlite"
                else an_hour_ago,
                "id": info.id,
            },
        )
    third = ledger.tokens.authenticate(secret)
    assert third is not None and third.last_used_at is not None
    assert third.last_used_at > an_hour_ago + timedelta(minutes=59)


def test_the_token_cache_is_off_unless_asked_for(ledger_url: str) -> None:
    store = Ledger(ledger_url)
    _, secret = store.tokens.create_token("ci-deploy", "deployer")
    assert store.tokens.authenticate(secret) is not None
    with Ledger(ledger_url) as elsewhere:
        elsewhere.tokens.revoke_token("ci-deploy")
    assert store.tokens.authenticate(secret) is None
    store.close()


@pytest.mark.parametrize("where", ["same-store", "another-process"], ids=str)
def test_a_cached_token_is_refused_within_the_bound_after_revocation(
    ledger_url: str, where: str
) -> None:
    import time

    api_side = Ledger(ledger_url)
    api_side.tokens.cache_seconds = 0.5
    _, secret = api_side.tokens.create_token("ci-deploy", "deployer")
    assert api_side.tokens.authenticate(secret) is not None
    if where == "same-store":
        api_side.tokens.revoke_token("ci-deploy")
        # Revoked through the store that remembers it: refused at once.
        assert api_side.tokens.authenticate(secret) is None
    else:
        elsewhere = Ledger(ledger_url)
        elsewhere.tokens.revoke_token("ci-deploy")
        elsewhere.close()
        # Revoked elsewhere: it may be remembered, but never longer than `cache_seconds`.
        time.sleep(0.5)
    # Never remembered once refused.
    assert api_side.tokens.authenticate(secret) is None
    api_side.close()


def test_unknown_tokens_are_not_remembered_and_new_ones_work_at_once(ledger_url: str) -> None:
    store = Ledger(ledger_url)
    store.tokens.cache_seconds = 60.0
    assert store.tokens.authenticate("pgt_unknown") is None
    with Ledger(ledger_url) as elsewhere:
        _, secret = elsewhere.tokens.create_token("late", "viewer")
    assert store.tokens.authenticate(secret) is not None
    store.close()
