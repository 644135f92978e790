"""Page logins: a bearer token exchanged once for a server-side session behind an httpOnly cookie.

The cookie holds only a random session id; the token's secret is never stored, echoed or put in a
page. Each session carries its own CSRF token, which every POST from a page must send back (in the
``X-CSRF-Token`` header or a ``csrf_token`` form field). Sessions live in this process and expire
after a fixed time; a revoked token ends its sessions at their next request, since every request
checks that the token is still active.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from api.auth import Principal

__all__ = ["SESSION_COOKIE", "WebSession", "WebSessionStore"]

SESSION_COOKIE = "promogate_session"


@dataclass
class WebSession:
    """One browser's login: who it is, its CSRF token and when it ends."""

    id: str
    principal: Principal
    csrf_token: str
    expires_at: float
    data: dict[str, object] = field(default_factory=dict)

    def csrf_matches(self, sent: str | None) -> bool:
        """Whether `sent` is this session's CSRF token (compared in constant time)."""
        return bool(sent) and hmac.compare_digest(self.csrf_token, str(sent))


class WebSessionStore:
    """Sessions of one app, in memory, each ending `ttl_s` seconds after login.

    Args:
        ttl_s: Lifetime of a session.
        clock: Monotonic seconds (tests pass their own).
        max_sessions: Oldest sessions are dropped beyond this many.
    """

    def __init__(
        self,
        ttl_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_sessions: int = 10_000,
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._max = max_sessions
        self._sessions: dict[str, WebSession] = {}
        self._lock = threading.Lock()

    def create(self, principal: Principal) -> WebSession:
        """A new session for `principal`."""
        session = WebSession(
            id=secrets.token_urlsafe(32),
            principal=principal,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=self._clock() + self.ttl_s,
        )
        with self._lock:
            self._drop_expired()
            while len(self._sessions) >= self._max:
                self._sessions.pop(next(iter(self._sessions)))
            self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> WebSession | None:
        """The live session with this id, or None (unknown or expired)."""
        if not session_id:
            return None
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
            return session

    def end(self, session_id: str | None) -> None:
        """Forget the session (logout)."""
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)

    def end_for_token(self, token_id: str) -> None:
        """Forget every session opened with this token (it was revoked)."""
        with self._lock:
            for key in [k for k, s in self._sessions.items() if s.principal.id == token_id]:
                del self._sessions[key]

    def _drop_expired(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]
