"""Webhook events the bot acts on, reduced to what a job needs (a small, typed summary).

The summary is what the job queue stores; the rest of the payload is not kept. Everything in it
came from GitHub on behalf of the pull request's author and commenters, and is untrusted.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PULL_REQUEST_ACTIONS", "EventKind", "GitHubEvent", "event_from_payload"]

EventKind = Literal["pull_request", "command"]
PULL_REQUEST_ACTIONS = frozenset(
    {"opened", "synchronize", "reopened", "ready_for_review", "edited"}
)


class GitHubEvent(BaseModel):
    """One delivery the bot will act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: EventKind
    delivery_id: str
    repository: str = Field(description="owner/name")
    number: int = Field(ge=1)
    action: str
    installation_id: int | None = None
    head_sha: str | None = None
    before_sha: str | None = Field(default=None, description="The previous head (synchronize).")
    comment_id: int | None = None
    comment_body: str | None = None
    actor: str | None = None
    actor_id: int | None = None
    actor_type: str | None = None


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def event_from_payload(
    event: str, payload: dict[str, Any], delivery_id: str
) -> tuple[GitHubEvent | None, str]:
    """The event summary, or None and why the delivery is ignored.

    Args:
        event: The ``X-GitHub-Event`` header.
        payload: The parsed body (after its signature was verified).
        delivery_id: The ``X-GitHub-Delivery`` header.
    """
    repository = _get(payload, "repository", "full_name")
    installation = _get(payload, "installation", "id")
    action = str(payload.get("action") or "")
    if not isinstance(repository, str):
        return None, f"{event} delivery without a repository"
    common: dict[str, Any] = {
        "delivery_id": delivery_id,
        "repository": repository,
        "action": action,
        "installation_id": installation if isinstance(installation, int) else None,
    }
    if event == "pull_request":
        if action not in PULL_REQUEST_ACTIONS:
            return None, f"pull_request action {action!r} needs no review"
        number = _get(payload, "pull_request", "number") or payload.get("number")
        if not isinstance(number, int):
            return None, "pull_request delivery without a number"
        before = payload.get("before") if action == "synchronize" else None
        return (
            GitHubEvent(
                kind="pull_request",
                number=number,
                head_sha=_get(payload, "pull_request", "head", "sha"),
                before_sha=before if isinstance(before, str) else None,
                actor=_get(payload, "sender", "login"),
                actor_id=_get(payload, "sender", "id"),
                actor_type=_get(payload, "sender", "type"),
                **common,
            ),
            "",
        )
    if event == "issue_comment":
        if action != "created":
            return None, f"issue_comment action {action!r} is not a command"
        if _get(payload, "issue", "pull_request") is None:
            return None, "comment on an issue, not a pull request"
        number = _get(payload, "issue", "number")
        body = _get(payload, "comment", "body")
        if not isinstance(number, int) or not isinstance(body, str):
            return None, "issue_comment delivery without an issue number or body"
        return (
            GitHubEvent(
                kind="command",
                number=number,
                comment_id=_get(payload, "comment", "id"),
                comment_body=body,
                actor=_get(payload, "comment", "user", "login"),
                actor_id=_get(payload, "comment", "user", "id"),
                actor_type=_get(payload, "comment", "user", "type"),
                **common,
            ),
            "",
        )
    return None, f"event {event!r} is not one the bot acts on"
