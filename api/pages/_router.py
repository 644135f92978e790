"""The pages: models, a model's history, a decision, the chat, and the login they sit behind.

Server-rendered HTML from the Jinja2 templates shipped in this package (autoescaped: every string
from MLflow, the ledger or a question is data), charts drawn as SVG on the server, and one CSS and
one JavaScript file served from the package. Nothing is fetched from another site; the Content
Security Policy says so to the browser as well.

    GET  /                      models and their latest verdicts
    GET  /models/{name}         versions, aliases, the decision timeline (filters in the query)
    GET  /decisions/{id}        one decision: verdict, checks, charts, findings, overrides, links
    GET  /chat                  the chat page
    POST /chat/messages         ask; the answer is streamed as server-sent events (CSRF token)
    GET  /login, POST /login    exchange a token for a session cookie; POST /logout ends it
    GET  /assets/{file}         the pages' CSS and JavaScript
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import authenticate_header
from api.dependencies import State
from api.errors import ApiError, InvalidRequestError, NotFoundApiError
from api.pages._access import (
    CSRF_HEADER,
    LoginRequiredError,
    PageAccess,
    PageReader,
    pages_state,
    require_csrf,
)
from api.pages._decision_view import build_decision_view, is_planted_finding
from api.pages._links import check_anchor, decision_path, model_path
from api.pages._model_view import TimelineFilter, build_model_view, list_models
from api.pages._web_chat import answer_events, resolve_context
from api.pages._web_session import SESSION_COOKIE
from ledger.errors import RecordNotFoundError

__all__ = ["router"]

logger = logging.getLogger("promogate.api")

_HERE = Path(__file__).resolve().parent
_ASSETS: Final = {
    "pages.css": "text/css; charset=utf-8",
    "chat.js": "text/javascript; charset=utf-8",
}
_LOGIN_CSRF_COOKIE = "promogate_login_csrf"
_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
_MAX_QUESTION = 2000

_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(["html", "svg"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.globals.update(
    decision_path=decision_path,
    model_path=model_path,
    check_anchor=check_anchor,
    is_planted=is_planted_finding,
)


def _number(value: object, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        text = f"{value:.{digits}g}" if abs(value) < 1e6 else f"{value:.3e}"
        return text
    return str(value)


def _signed(value: float | None) -> str:
    return "—" if value is None else f"{value:+.4g}"


_templates.filters.update(number=_number, signed=_signed)


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


class _PageRoute(APIRoute):
    """Pages answer a browser in HTML: the login form when logged out, an error page on refusals.

    Also sets the anonymous session's cookie when one was just opened, and the security headers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except LoginRequiredError:
                if not _wants_html(request):
                    raise
                target = quote(_local_path(str(request.url.path), request.url.query), safe="")
                response = RedirectResponse(f"/login?next={target}", status_code=303)
            except ApiError as exc:
                if not _wants_html(request):
                    raise
                response = _render(
                    "error.html",
                    {"status": exc.status_code, "detail": exc.detail, "access": None},
                    status_code=exc.status_code,
                )
            access: PageAccess | None = getattr(request.state, "page_access", None)
            if access is not None and access.new_session and access.session is not None:
                _set_session_cookie(request, response, access.session.id)
            for name, value in _SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            response.headers.setdefault("Cache-Control", "no-store")
            return response

        return handler


router = APIRouter(route_class=_PageRoute, include_in_schema=False, tags=["pages"])


def _local_path(path: str, query: str = "") -> str:
    """A same-site path to return to after login; anything else becomes the landing page."""
    full = path + (f"?{query}" if query else "")
    if not full.startswith("/") or full.startswith("//") or "\\" in full:
        return "/"
    return full


def _render(template: str, context: dict[str, Any], *, status_code: int = 200) -> HTMLResponse:
    html = _templates.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code)


def _set_session_cookie(request: Request, response: Response, session_id: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _base(access: PageAccess, state: State, **extra: Any) -> dict[str, Any]:
    return {
        "access": access,
        "principal": access.principal,
        "csrf_token": access.csrf_token,
        "anonymous_on": state.settings.allow_anonymous,
        **extra,
    }


# -- login ------------------------------------------------------------------------------------


@router.get("/login")
def login_form(request: Request, state: State, next: str = "/") -> HTMLResponse:
    """The login form; its own CSRF token guards the exchange (double-submit cookie)."""
    return _login_page(request, state, _local_path(next))


@router.post("/login")
async def login(request: Request, state: State) -> Response:
    """Exchange a token for a session cookie; the token itself is never stored or echoed."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    target = _local_path(form.get("next", "/"))
    sent_csrf = form.get("csrf_token", "")
    cookie_csrf = request.cookies.get(_LOGIN_CSRF_COOKIE, "")
    if not sent_csrf or not secrets.compare_digest(sent_csrf, cookie_csrf):
        return _login_error(request, state, target, "The form expired; try again.", 403)
    token = form.get("token", "").strip()
    try:
        principal = authenticate_header(
            f"Bearer {token}", state.ledger.tokens, allow_anonymous=False
        )
    except ApiError:
        return _login_error(request, state, target, "That token is unknown or revoked.", 401)
    if not principal.can("read"):
        return _login_error(request, state, target, "That token may not read pages.", 403)
    session = pages_state(request).sessions.create(principal)
    response = RedirectResponse(target, status_code=303)
    _set_session_cookie(request, response, session.id)
    response.delete_cookie(_LOGIN_CSRF_COOKIE, path="/login")
    logger.info("page login by token %s (%s)", principal.name, principal.role)
    return response


def _login_error(
    request: Request, state: State, target: str, message: str, status: int
) -> HTMLResponse:
    return _login_page(request, state, target, error=message, status_code=status)


def _login_page(
    request: Request,
    state: State,
    target: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    # A fresh CSRF token per rendering: a form shown after a failed attempt must not reuse one.
    login_csrf = secrets.token_urlsafe(24)
    response = _render(
        "login.html",
        {
            "access": None,
            "next": target,
            "login_csrf": login_csrf,
            "error": error,
            "anonymous_on": state.settings.allow_anonymous,
        },
        status_code=status_code,
    )
    response.set_cookie(
        _LOGIN_CSRF_COOKIE,
        login_csrf,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
        max_age=3600,
    )
    return response


@router.post("/logout")
async def logout(request: Request, access: PageReader) -> Response:
    """End the session (CSRF token required) and forget its chat."""
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode("utf-8", "replace")).items()}
    require_csrf(access, form.get("csrf_token") or request.headers.get(CSRF_HEADER))
    pages = pages_state(request)
    if access.session is not None:
        pages.sessions.end(access.session.id)
        pages.chats.end(access.session.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- pages ------------------------------------------------------------------------------------


@router.get("/")
def landing(request: Request, state: State, access: PageReader) -> HTMLResponse:
    """Every model the ledger or the registry knows, with its latest verdict."""
    del request
    models, note = list_models(state.ledger, state.reviews.client)
    return _render("index.html", _base(access, state, models=models, note=note))


ModelName = Annotated[str, PathParam(min_length=1, max_length=256)]


@router.get("/models/{name}")
def model_page(
    request: Request,
    state: State,
    access: PageReader,
    name: ModelName,
    kind: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    verdict: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
    version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> HTMLResponse:
    """A model's versions, aliases and decision timeline."""
    view = build_model_view(
        name,
        ledger=state.ledger,
        client=state.reviews.client,
        filter=TimelineFilter(kind=kind, verdict=verdict, version=version),
    )
    if not view.versions and not view.timeline and view.total_events == 0 and not view.notes:
        raise NotFoundApiError(f"no model named {name!r} in the registry or the ledger")
    mlflow = pages_state(request).links.registered_model(name)
    return _render("model.html", _base(access, state, view=view, mlflow=mlflow))


DecisionId = Annotated[str, PathParam(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")]


@router.get("/decisions/{decision_id}")
def decision_page(
    request: Request, state: State, access: PageReader, decision_id: DecisionId
) -> HTMLResponse:
    """One decision: the page PR comments, chat citations and notifications link to."""
    try:
        decision = state.ledger.get_decision(decision_id)
    except RecordNotFoundError:
        raise NotFoundApiError(f"no decision with id {decision_id!r}") from None
    pages = pages_state(request)
    view = build_decision_view(
        decision,
        ledger=state.ledger,
        client=state.reviews.client,
        links=pages.links,
        executor=pages.executor,
        mlflow_timeout_s=min(10.0, state.settings.evidence_timeout_s),
    )
    return _render("decision.html", _base(access, state, view=view, d=decision, links=pages.links))


@router.get("/chat")
def chat_page(
    request: Request,
    state: State,
    access: PageReader,
    model: Annotated[str | None, Query(max_length=256)] = None,
    version: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    decision: Annotated[str | None, Query(max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")] = None,
) -> HTMLResponse:
    """The chat page; the conversation's current context is shown and can be changed."""
    pages = pages_state(request)
    context = None
    if access.session is not None:
        context = pages.chats.get(access.session.id).context
    models, _ = list_models(state.ledger, state.reviews.client)
    return _render(
        "chat.html",
        _base(
            access,
            state,
            models=[m.model for m in models],
            model=model or (context.model if context else ""),
            version=version or (context.version if context else ""),
            decision_id=decision or "",
            mode=state.settings.llm,
        ),
    )


class ChatQuestion(BaseModel):
    """A question from the chat page, with the context chosen on the page (optional)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=_MAX_QUESTION)
    model: str | None = Field(default=None, max_length=256)
    version: int | None = Field(default=None, ge=1, le=2_147_483_647)
    decision_id: str | None = Field(default=None, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


@router.post("/chat/messages")
async def ask(request: Request, state: State, access: PageReader) -> StreamingResponse:
    """Answer a question as a stream of server-sent events (needs the session's CSRF token)."""
    require_csrf(access, request.headers.get(CSRF_HEADER))
    try:
        body = ChatQuestion.model_validate(json.loads(await request.body() or b"{}"))
    except (ValidationError, ValueError) as exc:
        raise InvalidRequestError(f"invalid question: {exc}") from None
    pages = pages_state(request)
    conversation_id = access.session.id if access.session is not None else access.principal.id
    conversation = pages.chats.get(conversation_id)
    models, _ = list_models(state.ledger, state.reviews.client)
    context = resolve_context(
        body.question,
        conversation.context,
        known_models=[m.model for m in models],
        model=body.model or None,
        version=body.version,
        decision_id=body.decision_id or None,
    )
    events = answer_events(state, conversation, body.question.strip(), context, pages.links)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/assets/{name}")
def asset(name: Annotated[str, PathParam(pattern=r"^[a-z]+\.(css|js)$")]) -> Response:
    """The pages' stylesheet and scripts, from the package."""
    media = _ASSETS.get(name)
    if media is None:
        raise NotFoundApiError(f"no asset {name!r}")
    return Response(
        (_HERE / "static" / name).read_bytes(),
        media_type=media,
        headers={"Cache-Control": "public, max-age=3600"},
    )
