"""Who is looking at a page: a session cookie, a bearer header, or the explicit anonymous switch.

A browser logs in once with a token (`POST /login`) and gets an httpOnly, SameSite=Lax session
cookie (Secure when served over TLS); Lax keeps a link from a PR comment or a notification working
while refusing the cookie to cross-site POSTs. Every request checks that the token behind the
session is still active. Scripts may send ``Authorization: Bearer`` instead. With anonymous access
switched on (a local demo), a browser without a session gets an anonymous one, so that POSTs still
carry a CSRF token. A page needs the ``read`` permission: viewers may read pages and chat.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from api.auth import ANONYMOUS, Principal, authenticate_header, authorize
from api.dependencies import AppState, get_state
from api.errors import ForbiddenError, UnauthenticatedError
from api.pages._links import MlflowLinks
from api.pages._web_chat import ChatStore
from api.pages._web_session import SESSION_COOKIE, WebSession, WebSessionStore

__all__ = [
    "CSRF_HEADER",
    "CsrfError",
    "LoginRequiredError",
    "PageAccess",
    "PageReader",
    "PagesState",
    "pages_state",
    "read_access",
    "require_csrf",
]

CSRF_HEADER = "X-CSRF-Token"
_STATE_LOCK = threading.Lock()


class LoginRequiredError(UnauthenticatedError):
    """No usable session: a page answers with the login form, a stream or POST with 401."""


class CsrfError(ForbiddenError):
    """A POST from a browser session without that session's CSRF token."""

    kind = "csrf"


@dataclass
class PagesState:
    """What the pages share, built once per app on first use."""

    sessions: WebSessionStore
    chats: ChatStore
    links: MlflowLinks
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="pages")
    )


def pages_state(request: Request) -> PagesState:
    """The app's page state, created on first use from its settings."""
    app_state = request.app.state
    found: PagesState | None = getattr(app_state, "promogate_pages", None)
    if found is not None:
        return found
    with _STATE_LOCK:
        found = getattr(app_state, "promogate_pages", None)
        if found is None:
            settings = get_state(request).settings
            found = PagesState(
                sessions=WebSessionStore(settings.page_session_ttl_s),
                chats=ChatStore(settings.chat_session_ttl_s),
                links=MlflowLinks.for_tracking(settings.mlflow_ui_url, settings.tracking_uri),
            )
            app_state.promogate_pages = found
        return found


@dataclass(frozen=True)
class PageAccess:
    """The caller of a page request and, for a browser, its session."""

    principal: Principal
    session: WebSession | None
    new_session: bool = False

    @property
    def csrf_token(self) -> str:
        return self.session.csrf_token if self.session is not None else ""


def _token_active(state: AppState, principal: Principal) -> bool:
    active = state.ledger.tokens.list_tokens(include_revoked=False)
    return any(t.id == principal.id for t in active)


def read_access(request: Request) -> PageAccess:
    """The caller of a page, who must be allowed to read.

    Raises:
        LoginRequiredError: No session, header or anonymous switch.
        UnauthenticatedError: A bearer header with an unknown or revoked token.
        ForbiddenError: The role may not read.
    """
    state = get_state(request)
    pages = pages_state(request)
    header = request.headers.get("authorization")
    if header:
        principal = authenticate_header(header, state.ledger.tokens, allow_anonymous=False)
        access = PageAccess(principal=authorize(principal, "read"), session=None)
        request.state.page_access = access
        return access
    session = pages.sessions.get(request.cookies.get(SESSION_COOKIE))
    if (
        session is not None
        and not session.principal.anonymous
        and not _token_active(state, session.principal)
    ):
        pages.sessions.end_for_token(session.principal.id)
        session = None
    if session is not None and session.principal.anonymous and not state.settings.allow_anonymous:
        session = None
    if session is not None:
        access = PageAccess(principal=authorize(session.principal, "read"), session=session)
    elif state.settings.allow_anonymous:
        access = PageAccess(
            principal=ANONYMOUS, session=pages.sessions.create(ANONYMOUS), new_session=True
        )
    else:
        raise LoginRequiredError("log in with a token to see this page")
    request.state.page_access = access
    return access


PageReader = Annotated[PageAccess, Depends(read_access)]


def require_csrf(access: PageAccess, sent: str | None) -> None:
    """Refuse a POST from a browser session that does not carry the session's CSRF token.

    Requests authenticated by a bearer header need none: a browser never adds that header on its
    own, so another site cannot forge one.

    Raises:
        CsrfError: The token is missing or wrong.
    """
    if access.session is None:
        return
    if access.new_session or not access.session.csrf_matches(sent):
        raise CsrfError("missing or invalid CSRF token; reload the page and try again")
