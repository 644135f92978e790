"""Idempotency-Key: a retried POST gets the first response and never makes a second review."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

MODEL = "gate-model"


def _review(api: Any, key: str, who: str = "reviewer", version: int = 3) -> Any:
    return api.client.post(
        "/v1/reviews",
        json={"model": MODEL, "version": version},
        headers=api.headers(who, **{"Idempotency-Key": key}),
    )


def test_a_retried_review_returns_the_first_response(api: Any) -> None:
    first = _review(api, "retry-1")
    assert first.status_code == 201
    second = _review(api, "retry-1")
    assert second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["Idempotency-Replayed"] == "true"
    assert "Idempotency-Replayed" not in first.headers
    assert len(api.ledger.list_decisions(MODEL, 3)) == 1


def test_the_same_key_with_another_body_is_422(api: Any) -> None:
    assert _review(api, "retry-2").status_code == 201
    conflict = _review(api, "retry-2", version=4)
    assert conflict.status_code == 422
    assert conflict.json()["kind"] == "idempotency_conflict"
    assert "different request body" in conflict.json()["detail"]
    assert api.ledger.list_decisions(MODEL, 4) == []


def test_keys_are_scoped_per_caller(api: Any) -> None:
    mine = _review(api, "shared-key", who="reviewer")
    theirs = _review(api, "shared-key", who="admin")
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["review_id"] != theirs.json()["review_id"]
    assert len(api.ledger.list_decisions(MODEL, 3)) == 2


def test_concurrent_duplicates_make_one_review(api: Any) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        responses = list(pool.map(lambda _: _review(api, "burst"), range(4)))
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["review_id"] for r in responses}) == 1
    assert len(api.ledger.list_decisions(MODEL, 3)) == 1


def test_a_refusal_is_replayed_too(api: Any) -> None:
    body = {"model": MODEL, "version": 2, "target_alias": "never-gated"}
    headers = api.headers("deployer", **{"Idempotency-Key": "promote-1"})
    first = api.client.post("/v1/promote", json=body, headers=headers)
    assert first.status_code == 409
    second = api.client.post("/v1/promote", json=body, headers=headers)
    assert second.status_code == 409
    assert second.json() == first.json()
    assert second.headers["Idempotency-Replayed"] == "true"


def test_a_gate_retry_is_not_a_second_review(api: Any) -> None:
    headers = api.headers("deployer", **{"Idempotency-Key": "gate-1"})
    body = {"model": MODEL, "version": 4}
    first = api.client.post("/v1/gate", json=body, headers=headers).json()
    again = api.client.post("/v1/gate", json=body, headers=headers).json()
    assert again == first
    assert again["reused"] is False
    assert len(api.ledger.list_decisions(MODEL, 4)) == 1
