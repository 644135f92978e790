"""Idempotency keys: retries replay the first response; other requests with the key conflict."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from ledger._database import Database
from ledger.errors import IdempotencyConflictError, IdempotencyInProgressError
from ledger.idempotency import IdempotencyClaim, IdempotencyStore, request_hash
from ledger.store import Ledger

BODY = b'{"model": "credit-scorer", "version": 7, "target_alias": "champion"}'
PATH = "/v1/reviews"


def _claim(
    store: IdempotencyStore,
    key: str = "key-1",
    *,
    caller: str = "token-a",
    method: str = "POST",
    path: str = PATH,
    body: bytes = BODY,
    wait_seconds: float = 0.0,
) -> IdempotencyClaim:
    return store.claim(
        key, caller=caller, method=method, path=path, body=body, wait_seconds=wait_seconds
    )


def test_retry_replays_the_first_response(ledger: Ledger) -> None:
    store = ledger.idempotency
    first = _claim(store)
    assert not first.replay
    assert store.complete(first, 201, '{"id": "dec-1"}')

    # Same request re-serialised with other spacing and key order is the same request.
    retry = _claim(
        store,
        body=b'{"target_alias":"champion","version":7,"model":"credit-scorer"}',
        method="post",
    )

    assert retry.replay
    assert retry.response is not None
    assert (retry.response.status_code, retry.response.body) == (201, '{"id": "dec-1"}')
    record = store.lookup("key-1", caller="token-a")
    assert record is not None and record.state == "completed"
    assert record.request_hash == request_hash("POST", PATH, BODY)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"body": b'{"model": "credit-scorer", "version": 8}'},
            "was first used with a different request body",
        ),
        ({"path": "/v1/gate"}, "was first used for POST /v1/reviews"),
        ({"method": "PUT"}, "was first used for POST /v1/reviews"),
    ],
    ids=["other-body", "other-path", "other-method"],
)
@pytest.mark.parametrize("completed", [True, False], ids=["completed", "in-progress"])
def test_same_key_for_another_request_conflicts(
    ledger: Ledger, changes: dict[str, Any], message: str, completed: bool
) -> None:
    store = ledger.idempotency
    first = _claim(store)
    if completed:
        store.complete(first, 201, "{}")

    with pytest.raises(IdempotencyConflictError, match=f"'key-1' {message}") as caught:
        _claim(store, **changes)

    assert not isinstance(caught.value, IdempotencyInProgressError)


def test_keys_are_scoped_per_caller(ledger: Ledger) -> None:
    store = ledger.idempotency
    store.complete(_claim(store), 201, '{"id": "dec-a"}')

    other = _claim(store, caller="token-b", body=b"{}")

    assert not other.replay
    assert store.lookup("key-1", caller="token-b") is not None


def test_duplicate_while_running_is_refused(ledger: Ledger) -> None:
    store = ledger.idempotency
    _claim(store)

    with pytest.raises(IdempotencyInProgressError, match="still running"):
        _claim(store)


def test_duplicate_while_running_waits_for_the_response(ledger: Ledger) -> None:
    store = ledger.idempotency
    first = _claim(store)
    completer = threading.Timer(0.3, store.complete, args=(first, 202, '{"id": "dec-9"}'))
    completer.start()
    try:
        started = time.monotonic()
        retry = _claim(store, wait_seconds=10)
    finally:
        completer.join()

    assert 0.2 < time.monotonic() - started < 5
    assert retry.response is not None and retry.response.status_code == 202


def test_released_claim_lets_a_retry_run_again(ledger: Ledger) -> None:
    store = ledger.idempotency
    first = _claim(store)

    assert store.release(first)
    second = _claim(store)

    assert not second.replay and second.owner != first.owner
    assert store.lookup("key-1", caller="token-a") is not None


def test_a_key_released_while_a_waiter_locks_it_is_claimed_by_the_waiter(ledger: Ledger) -> None:
    """A lease given back between a waiter's insert (which found the key held) and its locking
    read: the key is free, so the waiter claims it instead of failing."""
    import sqlalchemy

    if ledger.database.backend != "postgresql":
        pytest.skip("row locks that make a waiter queue are PostgreSQL's")
    store = ledger.idempotency
    first = _claim(store)
    got: list[IdempotencyClaim] = []
    errors: list[Exception] = []

    def wait_for_key() -> None:
        try:
            got.append(_claim(store, wait_seconds=10))
        except (IdempotencyConflictError, IdempotencyInProgressError) as exc:
            errors.append(exc)  # reported below, with what the waiter saw

    engine = ledger.database.engine
    with engine.connect() as holder:
        transaction = holder.begin()
        holder.execute(
            sqlalchemy.text("SELECT 1 FROM ledger_idempotency_keys WHERE key = :k FOR UPDATE"),
            {"k": "key-1"},
        )
        waiter = threading.Thread(target=wait_for_key)
        waiter.start()
        deadline = time.monotonic() + 10
        with engine.connect() as observer:
            # The waiter's locking read is queued behind this transaction's row lock.
            while not observer.execute(
                sqlalchemy.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            ).scalar_one():
                assert time.monotonic() < deadline, "the waiter never queued for the row lock"
                time.sleep(0.02)
                observer.rollback()
        holder.execute(
            sqlalchemy.text("DELETE FROM ledger_idempotency_keys WHERE key = :k"), {"k": "key-1"}
        )
        transaction.commit()
    waiter.join(10)
    assert not errors, errors
    assert got and not got[0].replay and got[0].owner != first.owner


def test_abandoned_claim_is_taken_over_after_its_lease(ledger_url: str) -> None:
    database = Database(ledger_url)
    try:
        store = IdempotencyStore(database, lease_seconds=0.2)
        abandoned = _claim(store)
        time.sleep(0.3)

        taken_over = _claim(store)

        assert not taken_over.replay and taken_over.owner != abandoned.owner
        # The original holder comes back late: its response is not stored over the new one.
        assert not store.complete(abandoned, 500, "late")
        assert store.complete(taken_over, 201, "fresh")
        replay = _claim(store)
        assert replay.response is not None and replay.response.body == "fresh"
    finally:
        database.dispose()


def test_concurrent_first_requests_get_one_owner(ledger: Ledger) -> None:
    store = ledger.idempotency
    barrier = threading.Barrier(8)
    owners: list[str] = []
    refused: list[BaseException] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait(timeout=30)
        try:
            claim = _claim(store)
        except IdempotencyInProgressError as exc:
            with lock:
                refused.append(exc)
        else:
            with lock:
                owners.append(claim.owner)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert (len(owners), len(refused)) == (1, 7)


@pytest.mark.parametrize(
    "key", ["", "has space", "x" * 256, "ünïcode"], ids=["empty", "space", "too-long", "non-ascii"]
)
def test_invalid_keys_are_refused(ledger: Ledger, key: str) -> None:
    with pytest.raises(ValueError, match="invalid Idempotency-Key"):
        _claim(ledger.idempotency, key)


def test_purge_deletes_old_keys(ledger: Ledger) -> None:
    store = ledger.idempotency
    store.complete(_claim(store, "old"), 201, "{}")
    time.sleep(0.05)

    assert store.purge(older_than=timedelta(seconds=0)) == 1
    assert store.lookup("old", caller="token-a") is None
