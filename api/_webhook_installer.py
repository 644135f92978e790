"""Create or update promogate's webhook in an MLflow server, through MLflow's own client.

The webhook is found by name; a new one is created, an existing one is updated in place (URL,
events, secret, status active). MLflow never returns a webhook's secret, so an update always
sends it again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Literal

from pydantic import BaseModel, ConfigDict

from tools.client import call_mlflow, every_page

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["WEBHOOK_EVENTS", "WebhookPlan", "apply_webhook_plan", "plan_webhook"]

WEBHOOK_EVENTS: Final = (
    "model_version.created",
    "model_version_alias.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
)
"""The events promogate acts on (see `api.mlflow_events`)."""


class WebhookPlan(BaseModel):
    """What ``install-webhook`` does, or would do with ``--dry-run``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Literal["create", "update"]
    name: str
    url: str
    events: list[str]
    webhook_id: str | None = None
    current_url: str | None = None
    current_events: list[str] = []
    current_status: str | None = None


def plan_webhook(client: MlflowClient, name: str, url: str) -> WebhookPlan:
    """Find the webhook named `name` and say what installing it at `url` means.

    Raises:
        ToolError: MLflow cannot be reached or has no webhook support (needs a SQL backend).
    """
    for webhook in every_page(client.list_webhooks, "list_webhooks()", page_size=100):
        if webhook.name == name:
            return WebhookPlan(
                action="update",
                name=name,
                url=url,
                events=list(WEBHOOK_EVENTS),
                webhook_id=str(webhook.webhook_id),
                current_url=str(webhook.url),
                current_events=[str(e) for e in webhook.events],
                current_status=str(webhook.status),
            )
    return WebhookPlan(action="create", name=name, url=url, events=list(WEBHOOK_EVENTS))


def apply_webhook_plan(client: MlflowClient, plan: WebhookPlan, secret: str) -> str:
    """Create or update the webhook; returns its id.

    Raises:
        ToolError: MLflow refused (for example a URL scheme or a private address its server
            settings do not allow) or cannot be reached.
    """
    description = "promogate: reviews new versions and guards aliases"
    if plan.action == "create":
        created = call_mlflow(
            lambda: client.create_webhook(
                name=plan.name,
                url=plan.url,
                events=list(plan.events),  # type: ignore[arg-type]
                description=description,
                secret=secret,
                status="ACTIVE",
            ),
            f"create_webhook({plan.name!r})",
            attempts=1,
        )
        return str(created.webhook_id)
    assert plan.webhook_id is not None
    webhook_id = plan.webhook_id
    updated = call_mlflow(
        lambda: client.update_webhook(
            webhook_id,
            url=plan.url,
            events=list(plan.events),  # type: ignore[arg-type]
            description=description,
            secret=secret,
            status="ACTIVE",
        ),
        f"update_webhook({webhook_id!r})",
        attempts=1,
    )
    return str(updated.webhook_id)
