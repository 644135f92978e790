"""Web pages: a page per decision and per model, a landing page and the chat, behind a login."""

from api.pages._router import router

__all__ = ["router"]
