"""Bearer tokens and roles: 401 without a valid token, 403 for the wrong role; anonymous if on."""

from __future__ import annotations

from typing import Any

import pytest

GATE = ("post", "/v1/gate", {"model": "no-such-model", "version": 1})
REVIEW = ("post", "/v1/reviews", {"model": "no-such-model", "version": 1})
PROMOTE = ("post", "/v1/promote", {"model": "no-such-model", "version": 1})
OVERRIDE = (
    "post",
    "/v1/overrides",
    {
        "model": "no-such-model",
        "version": 1,
        "check_ids": ["metrics.roc_auc.max_drop"],
        "justification": "the drop is an artefact of the relabelled eval set",
        "expires_in_hours": 2,
    },
)
READ = ("get", "/v1/reviews?model=no-such-model", None)


def _call(api: Any, route: tuple[str, str, Any], headers: dict[str, str]) -> Any:
    method, path, body = route
    if method == "get":
        return api.client.get(path, headers=headers)
    return api.client.post(path, json=body, headers=headers)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer pgt_not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "unknown", "wrong-scheme", "empty"],
)
@pytest.mark.parametrize(
    "route",
    [GATE, REVIEW, PROMOTE, OVERRIDE, READ],
    ids=["gate", "review", "promote", "override", "read"],
)
def test_without_a_valid_token_every_route_is_401(
    shared_api: Any, route: tuple[str, str, Any], headers: dict[str, str]
) -> None:
    before = len(shared_api.ledger.list_decisions())
    response = _call(shared_api, route, headers)
    assert response.status_code == 401, response.text
    assert response.json()["kind"] == "unauthenticated"
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert len(shared_api.ledger.list_decisions()) == before


@pytest.mark.parametrize(
    ("role", "route"),
    [
        ("viewer", GATE),
        ("reviewer", GATE),
        ("approver", GATE),
        ("viewer", REVIEW),
        ("reviewer", PROMOTE),
        ("approver", PROMOTE),
        ("deployer", OVERRIDE),
        ("reviewer", OVERRIDE),
    ],
    ids=[
        "viewer-gate",
        "reviewer-gate",
        "approver-gate",
        "viewer-review",
        "reviewer-promote",
        "approver-promote",
        "deployer-override",
        "reviewer-override",
    ],
)
def test_a_role_without_the_permission_is_403(
    shared_api: Any, role: str, route: tuple[str, str, Any]
) -> None:
    before = len(shared_api.ledger.list_decisions())
    response = _call(shared_api, route, shared_api.headers(role))
    assert response.status_code == 403, response.text
    assert response.json()["kind"] == "forbidden"
    assert f"role {role!r}" in response.json()["detail"]
    assert len(shared_api.ledger.list_decisions()) == before


@pytest.mark.parametrize(
    ("role", "route", "status"),
    [
        ("viewer", READ, {200}),
        # An unknown model is reviewed (201) or, being no ledger record, answered 404.
        ("reviewer", REVIEW, {201, 404}),
        ("deployer", GATE, {200}),
        ("admin", GATE, {200}),
        # No decision to override (404), or only a failed review, which cannot be (409).
        ("approver", OVERRIDE, {404, 409}),
    ],
    ids=["viewer-read", "reviewer-review", "deployer-gate", "admin-gate", "approver-override"],
)
def test_a_role_with_the_permission_gets_through(
    shared_api: Any, role: str, route: tuple[str, str, Any], status: set[int]
) -> None:
    response = _call(shared_api, route, shared_api.headers(role))
    assert response.status_code in status, response.text


def test_a_revoked_token_is_401_at_once(api: Any) -> None:
    headers = api.headers("viewer")
    assert api.client.get("/v1/reviews", headers=headers).status_code == 200
    api.ledger.tokens.revoke_token("viewer")
    assert api.client.get("/v1/reviews", headers=headers).status_code == 401


def test_anonymous_access_only_when_switched_on(make_api: Any) -> None:
    closed = make_api(with_tokens=False)
    assert closed.settings.allow_anonymous is False
    assert closed.client.get("/v1/reviews").status_code == 401

    demo = make_api(with_tokens=False, allow_anonymous=True)
    response = demo.client.post("/v1/gate", json={"model": "no-such-model", "version": 1})
    assert response.status_code == 200
    assert response.json()["allowed"] is False
    # A token that is sent must still be valid, even in demo mode.
    bad = demo.client.get("/v1/reviews", headers={"Authorization": "Bearer pgt_nope"})
    assert bad.status_code == 401


def test_health_metrics_and_openapi_need_no_token(shared_api: Any) -> None:
    for path in ("/healthz", "/metrics", "/openapi.json"):
        assert shared_api.client.get(path).status_code == 200, path
    schema = shared_api.client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
