"""The GitHub client against the fake GitHub on loopback: auth, retries, rate limits."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from api.github._auth import AppAuth, TokenCredentials
from api.github._client import GitHubClient
from api.github.errors import (
    GitHubApiError,
    GitHubAuthError,
    GitHubNotFoundError,
    GitHubRateLimitError,
    GitHubUnavailableError,
)
from api.github.testing import FakeGitHub, FakePull, generate_app_key

REPO = "acme/models"


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_app_key()


@pytest.fixture
def fake(keys: tuple[str, str]) -> Iterator[tuple[FakeGitHub, str]]:
    github = FakeGitHub(app_public_key=keys[1])
    github.add_pull(
        REPO,
        FakePull(number=1, head_sha="h" * 40, base_sha="b" * 40),
        base_files={"params.yaml": "seed: 1\n"},
        head_files={"params.yaml": "seed: 2\n"},
    )
    with github.serve() as url:
        yield github, url


def _client(url: str, token: str = "ghp_test_token", **kwargs: object) -> GitHubClient:
    waits: list[float] = []
    client = GitHubClient(url, TokenCredentials(token), sleep=waits.append, **kwargs)  # type: ignore[arg-type]
    client.waits = waits  # type: ignore[attr-defined]
    return client


def test_reads_pull_requests_files_and_contents(fake: tuple[FakeGitHub, str]) -> None:
    _, url = fake
    client = _client(url)
    try:
        assert client.pull_request(REPO, 1)["head"]["sha"] == "h" * 40
        assert [f["filename"] for f in client.pull_files(REPO, 1)] == ["params.yaml"]
        assert client.file_text(REPO, "params.yaml", "h" * 40, max_bytes=1000) == "seed: 2\n"
        assert client.file_text(REPO, "missing.yaml", "h" * 40, max_bytes=1000) is None
        with pytest.raises(GitHubApiError, match="over 3"):
            client.file_text(REPO, "params.yaml", "h" * 40, max_bytes=3)
    finally:
        client.close()


def test_paginates_comments(fake: tuple[FakeGitHub, str]) -> None:
    _, url = fake
    client = _client(url)
    try:
        for i in range(130):
            client.create_comment(REPO, 1, f"comment {i}")
        assert len(client.issue_comments(REPO, 1)) == 130
    finally:
        client.close()


def test_a_wrong_token_is_an_auth_error(fake: tuple[FakeGitHub, str]) -> None:
    _, url = fake
    client = _client(url, token="ghp_wrong")
    try:
        with pytest.raises(GitHubAuthError):
            client.pull_request(REPO, 1)
    finally:
        client.close()


@pytest.mark.parametrize(
    ("status", "headers", "wait"),
    [
        pytest.param(502, {}, 0.5, id="5xx-backoff"),
        pytest.param(429, {"Retry-After": "2"}, 2.0, id="429-retry-after"),
        pytest.param(403, {"Retry-After": "3"}, 3.0, id="secondary-rate-limit"),
        pytest.param(
            403,
            {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "{reset}"},
            5.0,
            id="primary-rate-limit",
        ),
    ],
)
def test_retries_honour_the_wait_github_names(
    fake: tuple[FakeGitHub, str], status: int, headers: dict[str, str], wait: float
) -> None:
    github, url = fake
    reset = str(int(time.time()) + 5)
    github.fail(
        "GET",
        "/repos/*/pulls/1",
        status,
        headers={k: v.format(reset=reset) for k, v in headers.items()},
    )
    client = _client(url)
    try:
        assert client.pull_request(REPO, 1)["number"] == 1
        [waited] = client.waits  # type: ignore[attr-defined]
        assert waited == pytest.approx(wait, abs=1.5)
    finally:
        client.close()


def test_gives_up_after_its_attempts_and_on_long_rate_limits(fake: tuple[FakeGitHub, str]) -> None:
    github, url = fake
    client = _client(url, attempts=3)
    try:
        github.fail("GET", "/repos/*/pulls/1", 503, times=3)
        with pytest.raises(GitHubUnavailableError, match="on all 3 attempts"):
            client.pull_request(REPO, 1)
        github.fail("GET", "/repos/*/pulls/1", 429, headers={"Retry-After": "3600"})
        with pytest.raises(GitHubRateLimitError, match="3600"):
            client.pull_request(REPO, 1)
        github.fail("GET", "/repos/*/pulls/1", 403)
        with pytest.raises(GitHubApiError) as caught:
            client.pull_request(REPO, 1)
        assert caught.value.status == 403
        with pytest.raises(GitHubNotFoundError):
            client.pull_request(REPO, 99)
    finally:
        client.close()


def test_app_installation_tokens_are_cached_until_shortly_before_expiry(
    keys: tuple[str, str],
) -> None:
    github = FakeGitHub(app_public_key=keys[1], token_lifetime_s=330)
    github.add_pull(REPO, FakePull(number=1, head_sha="h" * 40, base_sha="b" * 40))
    now = [time.time()]
    app = AppAuth(github.app_id, keys[0], clock=lambda: now[0])
    with github.serve() as url:
        client = GitHubClient(url, app.for_installation(7))
        try:
            for _ in range(3):
                client.pull_request(REPO, 1)
            assert app.token_requests == 1
            now[0] += 40  # within five minutes of expiry: renewed
            client.pull_request(REPO, 1)
            assert app.token_requests == 2
            # A token GitHub no longer accepts is renewed once.
            github.issued.clear()
            client.pull_request(REPO, 1)
            assert app.token_requests == 3
        finally:
            client.close()


def test_an_app_with_the_wrong_key_gets_no_token(keys: tuple[str, str]) -> None:
    github = FakeGitHub(app_public_key=keys[1])
    other_private, _ = generate_app_key()
    with github.serve() as url:
        client = GitHubClient(url, AppAuth(github.app_id, other_private).for_installation(7))
        try:
            with pytest.raises(GitHubAuthError, match="refused an installation token"):
                client.pull_request(REPO, 1)
        finally:
            client.close()
