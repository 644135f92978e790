"""Credentials the GitHub client sends: a plain token, or a GitHub App's installation token.

An App signs a short JWT (RS256, PyJWT) with its private key and trades it for an installation
token, which is cached per installation until shortly before it expires.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

import httpx
import jwt

from api.github.errors import GitHubAuthError

__all__ = ["AppAuth", "AuthMode", "Credentials", "InstallationCredentials", "TokenCredentials"]

logger = logging.getLogger("promogate.github")

AuthMode = Literal["app", "token"]
_JWT_LIFETIME_S = 540  # GitHub accepts at most 10 minutes
_CLOCK_DRIFT_S = 60
_REFRESH_BEFORE_S = 300.0


class Credentials(Protocol):
    """What the client asks for the ``Authorization`` header of each request."""

    mode: AuthMode

    def authorization(self, http: httpx.Client) -> str:
        """The header value, e.g. ``Bearer ghs_...``."""
        ...

    def invalidate(self) -> None:
        """Forget a cached token that GitHub refused."""
        ...


class TokenCredentials:
    """A plain token: a personal access token, or ``GITHUB_TOKEN`` inside GitHub Actions."""

    mode: AuthMode = "token"

    def __init__(self, token: str) -> None:
        if not token.strip():
            raise GitHubAuthError("the GitHub token is empty")
        self._token = token.strip()

    def authorization(self, http: httpx.Client) -> str:
        return f"Bearer {self._token}"

    def invalidate(self) -> None:
        """A plain token cannot be renewed."""


@dataclass
class _Cached:
    token: str
    expires_at: float


class AppAuth:
    """A GitHub App: signs JWTs and caches installation tokens.

    Args:
        app_id: The App's id (or client id), the JWT's issuer.
        private_key: The App's PEM private key.
        clock: Seconds since the epoch (tests move it).
    """

    def __init__(
        self, app_id: str, private_key: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.app_id = app_id
        self._key = private_key
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[int, _Cached] = {}
        self.token_requests = 0

    def app_jwt(self) -> str:
        """A JWT identifying the App, valid for nine minutes (issued a minute early for drift)."""
        now = int(self._clock())
        claims = {"iat": now - _CLOCK_DRIFT_S, "exp": now + _JWT_LIFETIME_S, "iss": self.app_id}
        try:
            return jwt.encode(claims, self._key, algorithm="RS256")
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise GitHubAuthError(f"cannot sign a JWT for App {self.app_id!r}: {exc}") from exc

    def installation_token(self, installation_id: int, http: httpx.Client) -> str:
        """A cached installation token, renewed five minutes before it expires.

        Raises:
            GitHubAuthError: GitHub refused the JWT or answered without a token.
        """
        with self._lock:
            cached = self._tokens.get(installation_id)
            if cached is not None and cached.expires_at - self._clock() > _REFRESH_BEFORE_S:
                return cached.token
            try:
                response = http.post(
                    f"/app/installations/{installation_id}/access_tokens",
                    headers={"Authorization": f"Bearer {self.app_jwt()}"},
                )
            except httpx.HTTPError as exc:
                raise GitHubAuthError(
                    f"cannot reach GitHub for an installation token of {installation_id!r}: {exc}"
                ) from exc
            if response.status_code != 201:
                raise GitHubAuthError(
                    f"GitHub refused an installation token for installation {installation_id!r}: "
                    f"{response.status_code} {response.text[:200]!r}",
                    status=response.status_code,
                )
            data = response.json()
            token = data.get("token")
            if not isinstance(token, str):
                raise GitHubAuthError(f"no token in GitHub's answer for {installation_id!r}")
            expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
            self._tokens[installation_id] = _Cached(token, expires.timestamp())
            self.token_requests += 1
            logger.info("installation token for %d renewed", installation_id)
            return token

    def forget(self, installation_id: int) -> None:
        with self._lock:
            self._tokens.pop(installation_id, None)

    def for_installation(self, installation_id: int) -> InstallationCredentials:
        return InstallationCredentials(self, installation_id)


class InstallationCredentials:
    """One installation of an App."""

    mode: AuthMode = "app"

    def __init__(self, app: AppAuth, installation_id: int) -> None:
        self.app = app
        self.installation_id = installation_id

    def authorization(self, http: httpx.Client) -> str:
        return f"Bearer {self.app.installation_token(self.installation_id, http)}"

    def invalidate(self) -> None:
        self.app.forget(self.installation_id)
