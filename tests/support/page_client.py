"""Logging a test client in to the pages the way a browser does: login form, cookie, CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

__all__ = ["csrf_of", "login"]

_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
_LOGIN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(client: TestClient, token: str, next_path: str = "/") -> str:
    """Log `client` in through the form; returns the session's CSRF token (from a page)."""
    form = client.get(f"/login?next={next_path}")
    assert form.status_code == 200, form.text
    found = _LOGIN_CSRF.search(form.text)
    assert found is not None
    answer = client.post(
        "/login",
        data={"token": token, "csrf_token": found.group(1), "next": next_path},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/chat", headers={"Accept": "text/html"}).text)


def csrf_of(html: str) -> str:
    """The CSRF token a page carries for its scripts."""
    found = _CSRF_META.search(html)
    assert found is not None, "the page carries no CSRF token"
    return found.group(1)
