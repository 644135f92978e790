"""Pages behind the tokens and roles: login, session cookies, CSRF, anonymous switch, no leaks."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.page_client import csrf_of, login

PAGES = ["/", "/models/gate-model", "/decisions/{decision}", "/chat"]
QUESTION = {"question": "why was it blocked?", "model": "gate-model", "version": 3}


@pytest.fixture(scope="module")
def site(shared_api: Any) -> Any:
    """The shared test app with one recorded decision (gate-model v3, blocked)."""
    answer = shared_api.client.post(
        "/v1/reviews",
        json={"model": "gate-model", "version": 3},
        headers=shared_api.headers("reviewer"),
    )
    assert answer.status_code == 201, answer.text
    shared_api.decision_id = answer.json()["decision"]["id"]
    return shared_api


def _fresh(site: Any, **kwargs: Any) -> TestClient:
    return TestClient(site.client.app, raise_server_exceptions=False, **kwargs)


def _path(site: Any, template: str) -> str:
    return template.format(decision=site.decision_id)


@pytest.mark.parametrize("page", PAGES, ids=["landing", "model", "decision", "chat"])
def test_a_browser_without_a_session_is_sent_to_the_login_form(site: Any, page: str) -> None:
    client = _fresh(site)
    answer = client.get(_path(site, page), headers={"Accept": "text/html"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/login?next=%2F")
    assert "pgt_" not in answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Cookie": "promogate_session=forged-session-id"},
        {"Authorization": "Bearer pgt_not-a-token"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["nothing", "forged-cookie", "unknown-token", "wrong-scheme"],
)
@pytest.mark.parametrize(
    "page", [*PAGES, "POST /chat/messages"], ids=["landing", "model", "decision", "chat", "sse"]
)
def test_every_page_and_the_stream_refuse_an_unauthenticated_caller(
    site: Any, page: str, headers: dict[str, str]
) -> None:
    client = _fresh(site)
    if page.startswith("POST "):
        answer = client.post("/chat/messages", json=QUESTION, headers=headers)
    else:
        answer = client.get(_path(site, page), headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json()["kind"] == "unauthenticated"
    assert "text/event-stream" not in answer.headers.get("content-type", "")


def test_a_token_is_exchanged_once_for_an_http_only_same_site_cookie(site: Any) -> None:
    client = _fresh(site)
    form = client.get("/login")
    found = csrf_of_login(form.text)
    answer = client.post(
        "/login",
        data={"token": site.tokens["viewer"], "csrf_token": found, "next": "/chat"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/chat"
    cookie = answer.headers["set-cookie"]
    assert "promogate_session=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    assert "Secure" not in cookie
    assert site.tokens["viewer"] not in cookie
    for page in PAGES:
        html = client.get(_path(site, page)).text
        assert site.tokens["viewer"] not in html
        assert "pgt_" not in html


def csrf_of_login(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_session_cookie_is_secure_over_tls(site: Any) -> None:
    client = _fresh(site, base_url="https://testserver")
    token = csrf_of_login(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"token": site.tokens["viewer"], "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "Secure" in answer.headers["set-cookie"]


@pytest.mark.parametrize(
    ("token_of", "csrf", "status", "message"),
    [
        ("unknown", "good", 401, "unknown or revoked"),
        ("viewer", "missing", 403, "form expired"),
        ("viewer", "wrong", 403, "form expired"),
    ],
    ids=["unknown-token", "no-login-csrf", "wrong-login-csrf"],
)
def test_a_refused_login_says_why_and_never_echoes_the_token(
    site: Any, token_of: str, csrf: str, status: int, message: str
) -> None:
    client = _fresh(site)
    good = csrf_of_login(client.get("/login").text)
    secret = site.tokens.get(token_of, "pgt_made-up-secret-value")
    data = {"token": secret, "next": "/"}
    if csrf != "missing":
        data["csrf_token"] = good if csrf == "good" else "forged"
    answer = client.post("/login", data=data, follow_redirects=False)
    assert answer.status_code == status
    assert message in answer.text
    assert secret not in answer.text
    assert "promogate_session" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"], ids=str
)
def test_login_never_redirects_off_site(site: Any, target: str) -> None:
    client = _fresh(site)
    token = csrf_of_login(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"token": site.tokens["viewer"], "csrf_token": token, "next": target},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    ("csrf", "status"),
    [(None, 403), ("forged", 403), ("session", 200)],
    ids=["missing", "forged", "valid"],
)
def test_asking_in_the_chat_needs_the_session_csrf_token(
    site: Any, csrf: str | None, status: int
) -> None:
    client = _fresh(site)
    token = login(client, site.tokens["viewer"])
    headers = {} if csrf is None else {"X-CSRF-Token": token if csrf == "session" else csrf}
    answer = client.post("/chat/messages", json=QUESTION, headers=headers)
    assert answer.status_code == status, answer.text
    if status == 200:
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert "event: token" in answer.text
    else:
        assert answer.json()["kind"] == "csrf"


def test_logging_out_needs_the_csrf_token_and_ends_the_session(site: Any) -> None:
    client = _fresh(site)
    token = login(client, site.tokens["viewer"])
    refused = client.post("/logout", data={}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/chat").status_code == 200
    done = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/chat", headers={"Accept": "application/json"}).status_code == 401


def test_a_revoked_token_ends_its_page_sessions(make_api: Any) -> None:
    api = make_api()
    client = _fresh(api)
    login(client, api.tokens["viewer"])
    assert client.get("/chat").status_code == 200
    api.ledger.tokens.revoke_token("viewer")
    assert client.get("/chat").status_code == 401


@pytest.mark.parametrize("role", ["viewer", "reviewer", "deployer", "approver", "admin"])
def test_every_role_may_read_pages_and_chat(site: Any, role: str) -> None:
    client = _fresh(site)
    token = login(client, site.tokens[role])
    for page in PAGES:
        assert client.get(_path(site, page)).status_code == 200
    answer = client.post("/chat/messages", json=QUESTION, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200


def test_a_bearer_header_reads_pages_without_a_session_or_csrf(site: Any) -> None:
    client = _fresh(site)
    headers = site.headers("viewer")
    assert client.get(_path(site, "/decisions/{decision}"), headers=headers).status_code == 200
    assert client.post("/chat/messages", json=QUESTION, headers=headers).status_code == 200


def test_without_tokens_the_anonymous_switch_opens_pages_with_a_csrf_session(
    make_api: Any,
) -> None:
    api = make_api(allow_anonymous=True, with_tokens=False)
    client = _fresh(api)
    first = client.get("/chat")
    assert first.status_code == 200
    assert "anonymous (local demo)" in first.text
    assert "HttpOnly" in first.headers["set-cookie"]
    # The session opened by that page is the one whose CSRF token a POST must carry.
    refused = client.post("/chat/messages", json=QUESTION)
    assert refused.status_code == 403
    token = csrf_of(client.get("/chat").text)
    answer = client.post("/chat/messages", json=QUESTION, headers={"X-CSRF-Token": token})
    assert answer.status_code == 200


def test_the_anonymous_switch_is_off_by_default(make_api: Any) -> None:
    api = make_api(with_tokens=False)
    assert _fresh(api).get("/chat").status_code == 401


def test_pages_forbid_framing_and_foreign_scripts(site: Any) -> None:
    client = _fresh(site)
    answer = client.get("/chat", headers=site.headers("viewer"))
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"] == "no-store"
