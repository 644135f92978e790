"""A small synchronous GitHub REST client: the calls the PR bot makes, with retries.

Retries 5xx answers and transport failures with exponential backoff, and rate limits (429, or 403
with ``X-RateLimit-Remaining: 0`` or a ``Retry-After``) after the wait GitHub names
(``Retry-After`` seconds, else until ``X-RateLimit-Reset``), unless that wait is longer than the
client may wait. A refused installation token is renewed once. Errors are the
`api.github.errors.GitHubApiError` family.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from api.github._auth import AuthMode, Credentials
from api.github.errors import (
    GitHubApiError,
    GitHubAuthError,
    GitHubNotFoundError,
    GitHubRateLimitError,
    GitHubUnavailableError,
)

__all__ = ["DEFAULT_API_URL", "GitHubClient"]

logger = logging.getLogger("promogate.github")

DEFAULT_API_URL = "https://api.github.com"
_API_VERSION = "2022-11-28"
_MAX_PAGES = 30


class GitHubClient:
    """The REST calls of the PR bot, for one set of credentials.

    Args:
        base_url: ``https://api.github.com``, or ``https://HOST/api/v3`` for GitHub Enterprise.
        credentials: A plain token or an App installation.
        attempts: Tries per request (5xx, transport failures, rate limits).
        max_wait_s: Longest single wait for a rate limit; longer raises `GitHubRateLimitError`.
        timeout_s: Per-request timeout.
        transport: An httpx transport (tests).
        sleep: How to wait (tests).
    """

    def __init__(
        self,
        base_url: str,
        credentials: Credentials,
        *,
        attempts: int = 4,
        max_wait_s: float = 60.0,
        timeout_s: float = 15.0,
        backoff_s: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.attempts = max(1, attempts)
        self.max_wait_s = max_wait_s
        self.backoff_s = backoff_s
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=timeout_s,
            transport=transport,
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": _API_VERSION,
                "User-Agent": "promogate-pr-bot",
            },
        )
        self.requests = 0
        self.retries = 0

    @property
    def mode(self) -> AuthMode:
        return self.credentials.mode

    def close(self) -> None:
        self._http.close()

    # -- transport --------------------------------------------------------------------------------

    def _wait_for(self, response: httpx.Response) -> float | None:
        """Seconds to wait before retrying a rate-limited answer; None if not rate limited."""
        headers = response.headers
        limited = response.status_code == 429 or (
            response.status_code == 403
            and (headers.get("x-ratelimit-remaining") == "0" or "retry-after" in headers)
        )
        if not limited:
            return None
        retry_after = headers.get("retry-after")
        if retry_after is not None:
            try:
                return max(0.0, float(retry_after))
            except ValueError:
                pass
        reset = headers.get("x-ratelimit-reset")
        if reset is not None and headers.get("x-ratelimit-remaining") == "0":
            try:
                return max(0.0, float(reset) - time.time())
            except ValueError:
                pass
        return 60.0

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        accept: str | None = None,
    ) -> httpx.Response:
        """One API call with retries; a 2xx/3xx answer, or an error.

        Raises:
            GitHubAuthError: 401 after renewing the token once.
            GitHubNotFoundError: 404.
            GitHubRateLimitError: Rate limited longer than `max_wait_s`, or on every attempt.
            GitHubUnavailableError: 5xx or transport failures on every attempt.
            GitHubApiError: Any other 4xx.
        """
        what = f"{method} {path}"
        renewed = False
        last: str = ""
        for attempt in range(1, self.attempts + 1):
            headers = {"Authorization": self.credentials.authorization(self._http)}
            if accept is not None:
                headers["Accept"] = accept
            self.requests += 1
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                self._retry_pause(attempt, self.backoff_s * 2 ** (attempt - 1), what, last)
                continue
            status = response.status_code
            if status < 400:
                return response
            if status == 401 and not renewed:
                renewed = True
                self.credentials.invalidate()
                continue
            wait = self._wait_for(response)
            if wait is not None:
                last = f"rate limited ({status})"
                if wait > self.max_wait_s:
                    raise GitHubRateLimitError(
                        f"{what}: rate limited for {wait:.0f} s, longer than {self.max_wait_s:g} s",
                        status=status,
                    )
                self._retry_pause(attempt, wait, what, last)
                continue
            if status >= 500:
                last = f"{status} {response.text[:200]!r}"
                self._retry_pause(attempt, self.backoff_s * 2 ** (attempt - 1), what, last)
                continue
            message = f"{what}: {status} {response.text[:300]!r}"
            if status == 401:
                raise GitHubAuthError(message, status=status)
            if status == 404:
                raise GitHubNotFoundError(message, status=status)
            raise GitHubApiError(message, status=status)
        if last.startswith("rate limited"):
            raise GitHubRateLimitError(f"{what}: {last} on all {self.attempts} attempts")
        raise GitHubUnavailableError(f"{what}: {last} on all {self.attempts} attempts")

    def _retry_pause(self, attempt: int, wait: float, what: str, why: str) -> None:
        if attempt >= self.attempts:
            return
        self.retries += 1
        logger.info("%s: %s; retrying in %.2f s", what, why, wait)
        self._sleep(wait)

    def _pages(self, path: str, params: dict[str, Any] | None = None) -> Iterator[Any]:
        query: dict[str, Any] | None = {"per_page": 100, **(params or {})}
        url: str | None = path
        for _ in range(_MAX_PAGES):
            if url is None:
                return
            response = self.request("GET", url, params=query)
            data = response.json()
            items = data.get("check_runs", []) if isinstance(data, dict) else data
            yield from items
            nxt = response.links.get("next", {}).get("url")
            url, query = (nxt, None) if nxt else (None, None)

    # -- identity ---------------------------------------------------------------------------------

    def authenticated_user(self) -> dict[str, Any]:
        """``GET /user``: who a plain token belongs to."""
        data: dict[str, Any] = self.request("GET", "/user").json()
        return data

    def user(self, login: str) -> dict[str, Any]:
        data: dict[str, Any] = self.request("GET", f"/users/{login}").json()
        return data

    def collaborator_permission(self, repo: str, login: str) -> str:
        """``admin``, ``maintain``, ``write``, ``triage``, ``read`` or ``none``, asked live."""
        try:
            data = self.request("GET", f"/repos/{repo}/collaborators/{login}/permission").json()
        except GitHubNotFoundError:
            return "none"
        role = data.get("role_name")
        permission = str(data.get("permission") or "none")
        return str(role) if role in ("maintain", "triage") else permission

    def is_team_member(self, org: str, team: str, login: str) -> bool:
        try:
            data = self.request("GET", f"/orgs/{org}/teams/{team}/memberships/{login}").json()
        except GitHubNotFoundError:
            return False
        return bool(data.get("state") == "active")

    # -- pull requests and files ------------------------------------------------------------------

    def pull_request(self, repo: str, number: int) -> dict[str, Any]:
        data: dict[str, Any] = self.request("GET", f"/repos/{repo}/pulls/{number}").json()
        return data

    def pull_files(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The files a pull request changes (GitHub lists at most 3,000)."""
        return list(self._pages(f"/repos/{repo}/pulls/{number}/files"))

    def pull_commits(self, repo: str, number: int) -> list[dict[str, Any]]:
        return list(self._pages(f"/repos/{repo}/pulls/{number}/commits"))

    def file_text(self, repo: str, path: str, ref: str, *, max_bytes: int) -> str | None:
        """A file's text at a commit, None when it does not exist there.

        Raises:
            GitHubApiError: The file is larger than `max_bytes` or not UTF-8, among others.
        """
        try:
            data = self.request("GET", f"/repos/{repo}/contents/{path}", params={"ref": ref}).json()
        except GitHubNotFoundError:
            return None
        if not isinstance(data, dict) or data.get("type") != "file":
            raise GitHubApiError(f"{path!r} at {ref[:12]!r} is not a file")
        if int(data.get("size", 0)) > max_bytes:
            raise GitHubApiError(f"{path!r} is {data.get('size')} bytes, over {max_bytes}")
        raw = base64.b64decode(str(data.get("content", "")))
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise GitHubApiError(f"{path!r} at {ref[:12]!r} is not UTF-8 text") from exc

    # -- comments ---------------------------------------------------------------------------------

    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        return list(self._pages(f"/repos/{repo}/issues/{number}/comments"))

    def create_comment(self, repo: str, number: int, body: str) -> dict[str, Any]:
        data: dict[str, Any] = self.request(
            "POST", f"/repos/{repo}/issues/{number}/comments", json={"body": body}
        ).json()
        return data

    def update_comment(self, repo: str, comment_id: int, body: str) -> dict[str, Any]:
        data: dict[str, Any] = self.request(
            "PATCH", f"/repos/{repo}/issues/comments/{comment_id}", json={"body": body}
        ).json()
        return data

    def delete_comment(self, repo: str, comment_id: int) -> None:
        self.request("DELETE", f"/repos/{repo}/issues/comments/{comment_id}")

    # -- check runs and statuses ------------------------------------------------------------------

    def check_runs(self, repo: str, sha: str, name: str | None = None) -> list[dict[str, Any]]:
        params = {"check_name": name} if name else None
        return list(self._pages(f"/repos/{repo}/commits/{sha}/check-runs", params))

    def create_check_run(self, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.request("POST", f"/repos/{repo}/check-runs", json=body).json()
        return data

    def update_check_run(self, repo: str, run_id: int, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.request(
            "PATCH", f"/repos/{repo}/check-runs/{run_id}", json=body
        ).json()
        return data

    def statuses(self, repo: str, sha: str) -> list[dict[str, Any]]:
        return list(self._pages(f"/repos/{repo}/commits/{sha}/statuses"))

    def create_status(self, repo: str, sha: str, body: dict[str, Any]) -> dict[str, Any]:
        data: dict[str, Any] = self.request(
            "POST", f"/repos/{repo}/statuses/{sha}", json=body
        ).json()
        return data
