"""Reviews: now (201), as in-process jobs (202 then poll), reading and listing, validation."""

from __future__ import annotations

import time
from typing import Any

import pytest

MODEL = "gate-model"


def _poll(api: Any, review_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        response = api.client.get(f"/v1/reviews/{review_id}", headers=api.headers("viewer"))
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] in ("completed", "failed"):
            return body
        time.sleep(0.2)
    raise AssertionError(f"review {review_id} did not finish within {timeout_s} s")


def test_review_now_read_it_and_list_it(api: Any) -> None:
    created = api.client.post(
        "/v1/reviews", json={"model": MODEL, "version": 3}, headers=api.headers("reviewer")
    )
    assert created.status_code == 201, created.text
    review = created.json()
    assert review["state"] == "completed"
    decision = review["decision"]
    assert decision["id"] == review["review_id"]
    assert decision["verdict"] == "block"
    assert "metrics.roc_auc.max_drop" in {
        c["id"] for c in decision["checks"] if c["status"] == "fail"
    }
    assert created.headers["Location"] == f"/v1/reviews/{review['review_id']}"

    read = api.client.get(created.headers["Location"], headers=api.headers("viewer")).json()
    assert read == review

    listed = api.client.get(
        f"/v1/reviews?model={MODEL}&version=3", headers=api.headers("viewer")
    ).json()
    assert [r["review_id"] for r in listed["reviews"]] == [review["review_id"]]
    assert api.client.get(
        f"/v1/reviews?model={MODEL}&version=2", headers=api.headers("viewer")
    ).json() == {"reviews": []}


def test_review_as_an_in_process_job(api: Any) -> None:
    queued = api.client.post(
        "/v1/reviews?wait=false",
        json={"model": MODEL, "version": "@champion", "target_alias": "canary"},
        headers=api.headers("reviewer"),
    )
    assert queued.status_code == 202, queued.text
    body = queued.json()
    assert body["state"] == "queued"
    assert body["decision"] is None
    done = _poll(api, body["review_id"])
    assert done["state"] == "completed"
    assert done["decision"]["id"] == body["review_id"]
    assert done["decision"]["version"] == 1
    assert done["decision"]["verdict"] == "escalate"
    assert api.ledger.get_decision(body["review_id"]).target_alias == "canary"


def test_a_review_that_outlasts_the_deadline_answers_202_and_finishes(make_api: Any) -> None:
    api = make_api(request_deadline_s=0.01)
    response = api.client.post(
        "/v1/reviews", json={"model": MODEL, "version": 2}, headers=api.headers("reviewer")
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] in ("queued", "running")
    done = _poll(api, response.json()["review_id"])
    assert done["decision"]["verdict"] == "approve"


def test_unknown_review_is_404(shared_api: Any) -> None:
    response = shared_api.client.get("/v1/reviews/nope", headers=shared_api.headers("viewer"))
    assert response.status_code == 404
    assert response.json() == {"detail": "no review with id 'nope'", "kind": "not_found"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": MODEL, "version": 0}, "version"),
        ({"model": MODEL, "version": "five"}, "version"),
        ({"model": MODEL, "version": "@"}, "version"),
        ({"model": "", "version": 1}, "model"),
        ({"version": 1}, "model"),
        ({"model": MODEL, "version": 1, "target_alias": "no spaces"}, "target_alias"),
        ({"model": MODEL, "version": 1, "surprise": True}, "surprise"),
    ],
    ids=["zero", "word", "bare-at", "empty-model", "no-model", "bad-alias", "extra-field"],
)
def test_invalid_requests_are_422_problems(
    shared_api: Any, body: dict[str, Any], field: str
) -> None:
    before = len(shared_api.ledger.list_decisions())
    response = shared_api.client.post(
        "/v1/reviews", json=body, headers=shared_api.headers("reviewer")
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["kind"] == "invalid_request"
    assert any(field in ".".join(e["loc"]) for e in problem["errors"])
    assert len(shared_api.ledger.list_decisions()) == before


def test_decision_reads_are_kept_serialised_and_identical(api: Any) -> None:
    created = api.client.post(
        "/v1/reviews", json={"model": MODEL, "version": 3}, headers=api.headers("reviewer")
    )
    assert created.status_code == 201, created.text
    location = created.headers["Location"]
    review_id = created.json()["review_id"]
    first = api.client.get(location, headers=api.headers("viewer"))
    assert first.status_code == 200
    state = api.client.app.state.promogate
    assert state.decisions.get(review_id) == first.content
    # Served from memory now: the same bytes, and the decision as recorded.
    second = api.client.get(location, headers=api.headers("viewer"))
    assert second.content == first.content
    assert second.headers["content-type"] == "application/json"
    assert second.json()["decision"] == api.ledger.get_decision(review_id).model_dump(mode="json")
    metrics = api.client.get("/metrics").text
    assert 'route="/v1/reviews/{review_id}"' in metrics
    # The guard still runs first: a kept decision is no answer without a valid token.
    assert api.client.get(location).status_code == 401
    assert api.client.get(location, headers={"Authorization": "Bearer pgt_no"}).status_code == 401


def test_a_revoked_token_is_refused_within_the_cache_bound(make_api: Any) -> None:
    import time

    from ledger.store import Ledger

    api = make_api(token_cache_s=0.5)
    headers = api.headers("viewer")
    assert api.client.get("/v1/reviews", headers=headers).status_code == 200
    # Revoked by another process (`promogate token revoke`), not through the app's store.
    other = Ledger(api.settings.ledger_url)
    other.tokens.revoke_token("viewer")
    other.close()
    # It may be remembered, but never longer than `token_cache_s`.
    time.sleep(0.5)
    assert api.client.get("/v1/reviews", headers=headers).status_code == 401
