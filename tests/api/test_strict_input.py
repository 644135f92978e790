"""Strict input: versions, names, authentication before the body, size limit, Allow, review rate.

Each defect the hardening probe found is a case here: booleans, floats and padded strings taken for
version numbers, a version above 2^31-1 ending in a 500 on PostgreSQL, invisible or look-alike model
names, a body parsed before the token was checked, a 10 MB body read in full, and 405 answers
whose ``Allow`` named only one of a path's methods.
"""

from __future__ import annotations

from typing import Any

import pytest
from support.postgres_schema import postgres_schema

MODEL = "gate-model"

BAD_VERSIONS = [True, "01", "1.0", 1.0, " 3", "3 ", "+3", "9999999999", 9999999999, 2**31, 0, -1]
BAD_VERSION_IDS = [
    "true",
    "leading-zero",
    "decimal-text",
    "float",
    "leading-space",
    "trailing-space",
    "plus",
    "text-over-int32",
    "over-int32",
    "2^31",
    "zero",
    "negative",
]


@pytest.mark.parametrize("version", BAD_VERSIONS, ids=BAD_VERSION_IDS)
@pytest.mark.parametrize("route", ["/v1/gate", "/v1/reviews", "/v1/promote"])
def test_versions_are_integers_in_range_or_their_documented_text(
    shared_api: Any, route: str, version: Any
) -> None:
    response = shared_api.client.post(
        route, json={"model": MODEL, "version": version}, headers=shared_api.headers("admin")
    )
    assert response.status_code == 422, response.text
    assert response.json()["kind"] == "invalid_request"


def test_a_huge_version_is_a_422_on_postgresql_too(make_api: Any, postgres_url: str) -> None:
    # Used to pass validation and end in "integer out of range" (500), naming the database URL.
    with postgres_schema(postgres_url, "promogate_strict") as ledger_url:
        api = make_api(ledger_url=ledger_url, with_tokens=False, allow_anonymous=True)
        response = api.client.post("/v1/gate", json={"model": MODEL, "version": "9999999999"})
    assert response.status_code == 422, response.text
    assert "postgresql" not in response.text


@pytest.mark.parametrize(
    "name",
    [
        "gate\u202emodel",
        "gate\u200bmodel",
        "gate-model\u200d",
        "\ufeffgate-model",
        "ｇａｔｅ-model",
        "gаte-model",  # Cyrillic а
        "gate-\u2066model",
    ],
    ids=["rlo", "zwsp", "zwj", "bom", "fullwidth", "cyrillic", "isolate"],
)
def test_look_alike_model_names_are_refused(shared_api: Any, name: str) -> None:
    for route, role in (("/v1/reviews", "reviewer"), ("/v1/gate", "deployer")):
        response = shared_api.client.post(
            route, json={"model": name, "version": 2}, headers=shared_api.headers(role)
        )
        assert response.status_code == 422, response.text
    # Nothing about such a name reaches the ledger.
    assert all(d.model == MODEL for d in shared_api.ledger.list_decisions(limit=1000))


def test_model_names_are_nfc_normalised(shared_api: Any) -> None:
    from api.schemas import GateRequest

    decomposed = "mode\u0300le"
    assert GateRequest(model=decomposed, version=1).model == "modèle"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"{not json", "application/json"), (b"x" * (10 * 1024 * 1024), "application/json")],
    ids=["invalid-json", "10-MB"],
)
@pytest.mark.parametrize("route", ["/v1/gate", "/v1/reviews", "/v1/promote", "/v1/overrides"])
def test_a_request_without_a_token_is_401_before_its_body_is_read(
    shared_api: Any, route: str, body: bytes, content_type: str
) -> None:
    response = shared_api.client.post(route, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_body_over_the_limit_is_413(shared_api: Any) -> None:
    big = b'{"model": "gate-model", "version": 2, "pad": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = shared_api.client.post(
        "/v1/gate",
        content=big,
        headers={**shared_api.headers("deployer"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["kind"] == "too_large"


def test_a_chunked_body_over_the_limit_is_413(shared_api: Any) -> None:
    def chunks() -> Any:
        for _ in range(40):
            yield b"x" * 65536

    response = shared_api.client.post(
        "/v1/reviews",
        content=chunks(),
        headers={**shared_api.headers("reviewer"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413, response.text


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/reviews", {"GET", "POST"}),
        ("PUT", "/v1/overrides", {"GET", "POST"}),
        ("GET", "/v1/gate", {"POST"}),
        ("POST", "/v1/reviews/abc", {"GET"}),
    ],
    ids=["reviews", "overrides", "gate", "review"],
)
def test_405_answers_name_every_method_of_the_path(
    shared_api: Any, method: str, path: str, allowed: set[str]
) -> None:
    response = shared_api.client.request(method, path, headers=shared_api.headers("admin"))
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) - {"HEAD"} == allowed


def test_reviews_per_token_are_rate_limited(make_api: Any) -> None:
    api = make_api(review_rate_per_minute=3)
    answers = [
        api.client.post(
            "/v1/reviews",
            json={"model": f"invented-{i}", "version": 1},
            headers=api.headers("reviewer"),
        )
        for i in range(5)
    ]
    # Reviews of invented models are refused (404) without a ledger record, and still counted.
    assert [a.status_code for a in answers] == [404, 404, 404, 429, 429]
    assert int(answers[3].headers["Retry-After"]) >= 1
    assert answers[3].json()["kind"] == "rate_limited"
    # Another token has its own allowance; the limited one added nothing more to the ledger.
    other = api.client.post(
        "/v1/gate", json={"model": MODEL, "version": 2}, headers=api.headers("deployer")
    )
    assert other.status_code == 200
    # The refused reviews of invented models left no record in the ledger.
    assert [d for d in api.ledger.list_decisions(limit=100) if d.model != MODEL] == []


@pytest.mark.parametrize(
    "name",
    ["o'brien-churn", 'the "new" scorer', "back\\slash", 'it\'s "both"'],
    ids=["single-quote", "double-quote", "backslash", "both-quotes"],
)
def test_names_mlflow_allows_are_looked_up_not_refused(shared_api: Any, name: str) -> None:
    """Quotes and backslashes are valid in MLflow names: an unregistered one is not found over
    MLflow's server, by name, as any other (the filters quote it); the gate blocks on it."""
    review = shared_api.client.post(
        "/v1/reviews", json={"model": name, "version": 2}, headers=shared_api.headers("reviewer")
    )
    assert review.status_code == 404, review.text
    assert review.json()["kind"] == "not_found"
    assert repr(name) in review.json()["detail"]
    gate = shared_api.client.post(
        "/v1/gate", json={"model": name, "version": 2}, headers=shared_api.headers("deployer")
    )
    assert gate.status_code == 200, gate.text
    answer = gate.json()
    assert (answer["allowed"], answer["verdict"], answer["model"]) == (False, "block", name)
    assert f"registered model {name!r} not found" in answer["error"]


@pytest.mark.parametrize("name", ["team/model", "team:model"], ids=["slash", "colon"])
def test_names_mlflow_refuses_are_refused(shared_api: Any, name: str) -> None:
    response = shared_api.client.post(
        "/v1/gate", json={"model": name, "version": 2}, headers=shared_api.headers("deployer")
    )
    assert response.status_code == 422, response.text
