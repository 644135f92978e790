"""`promogate reconcile` and `promogate mlflow install-webhook`: the alias guard from the shell.

Mounted on the main CLI by `api.cli`. Settings are read here, at the edge, and passed down.

Exit codes of ``reconcile``: 0 every guarded alias is on an approved version (or was accepted),
1 unapproved moves were found (recorded, and put back in enforce mode), 3 the pass could not
finish (MLflow, policies or ledger unreadable, another process held an alias, or the deadline).
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_options import AsJson, LedgerUrl, PoliciesDir, TrackingUri

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["mlflow_app", "reconcile_command"]

mlflow_app = typer.Typer(help="Set MLflow up to send promogate its events.", no_args_is_help=True)


def _settings(**overrides: object) -> Settings:
    # pydantic-settings costs a tenth of a second: only the commands that run read settings.
    from api.settings import load_settings

    return load_settings(**overrides)


def reconcile_command(
    model: Annotated[
        str, typer.Option("--model", help="Glob on registered model names to reconcile.")
    ] = "*",
    deadline: Annotated[
        float, typer.Option("--deadline", help="Stop starting checks after this many seconds.")
    ] = 300.0,
    adopt: Annotated[
        bool,
        typer.Option(
            "--adopt",
            help="Accept what aliases the ledger has never seen hold now (first set-up over an "
            "existing registry) instead of judging them.",
        ),
    ] = False,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    policies: PoliciesDir = None,
    as_json: AsJson = False,
) -> None:
    """Compare every guarded alias with the ledger's approved versions and act as the webhook would.

    Safe to run from several processes at once: each alias is checked by one of them at a time.
    """
    from rich.console import Console
    from rich.table import Table

    from api._notifications import Notifier
    from api.mlflow_events_service import outcome_notification
    from api.services import build_review_service, configure_mlflow_environment
    from review.alias_guard import AliasGuard
    from review.gate import GateService

    settings = _settings(tracking_uri=tracking_uri, ledger_url=ledger_url, policies_dir=policies)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    notifier = Notifier(
        settings.notify_url,
        form=settings.notify_format,
        secret=settings.notify_secret.get_secret_value() if settings.notify_secret else None,
        attempts=settings.notify_attempts,
    )

    def notify(outcome: object) -> None:
        from review.alias_guard import GuardOutcome

        assert isinstance(outcome, GuardOutcome)
        notification = outcome_notification(outcome)
        if notification is not None:
            notifier.notify(notification)

    configure_mlflow_environment(settings)
    reviews = build_review_service(settings)
    guard = AliasGuard(GateService(reviews), default_alias=settings.target_alias, notify=notify)
    try:
        report = guard.reconcile(model, deadline_s=deadline, adopt=adopt)
    finally:
        notifier.flush()
        notifier.close()
        reviews.ledger.close()
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
    else:
        table = Table(title=f"reconcile {model}: {report.models_seen} model(s)")
        for column in ("alias", "version", "expected", "mode", "action", "record", "why"):
            table.add_column(column)
        for o in report.outcomes:
            table.add_row(
                f"{o.model}@{o.alias}",
                str(o.version or "-"),
                str(o.expected_version or "-"),
                o.mode or "-",
                o.action,
                o.revert_id or o.move_id or "-",
                "; ".join(o.reasons)[:120],
            )
        console = Console()
        console.print(table)
        for problem in [*report.errors, *(f"unfinished: {u}" for u in report.unfinished)]:
            console.print(f"[red]{problem}[/red]")
    incomplete = (
        report.errors or report.unfinished or any(o.action == "busy" for o in report.outcomes)
    )
    if incomplete:
        raise typer.Exit(3)
    raise typer.Exit(1 if report.unapproved else 0)


@mlflow_app.command("install-webhook")
def install_webhook(
    url: Annotated[
        str,
        typer.Option("--url", help="promogate's receiver, e.g. https://host/v1/mlflow/webhook."),
    ],
    name: Annotated[str, typer.Option("--name", help="The webhook's name in MLflow.")] = (
        "promogate"
    ),
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be done; change nothing.")
    ] = False,
    tracking_uri: TrackingUri = None,
    as_json: AsJson = False,
) -> None:
    """Create (or update) promogate's webhook in MLflow, with its secret, for the events it needs.

    The secret is PROMOGATE_MLFLOW_WEBHOOK_SECRET, the same one `promogate serve` verifies with.
    """
    from api._mlflow_http import settings_client
    from api._webhook_installer import apply_webhook_plan, plan_webhook
    from tools.errors import ToolError

    settings = _settings(tracking_uri=tracking_uri)
    secret = settings.mlflow_webhook_secret
    if secret is None or not secret.get_secret_value():
        typer.echo(
            "PROMOGATE_MLFLOW_WEBHOOK_SECRET is not set: the webhook needs the secret the "
            "receiver verifies deliveries with",
            err=True,
        )
        raise typer.Exit(2)
    if not url.startswith(("http://", "https://")):
        typer.echo(f"--url must be an http(s) URL, got {url!r}", err=True)
        raise typer.Exit(2)
    client = settings_client(settings)
    try:
        plan = plan_webhook(client, name, url)
        webhook_id = (
            None if dry_run else apply_webhook_plan(client, plan, secret.get_secret_value())
        )
    except ToolError as exc:
        typer.echo(f"MLflow refused: {exc}", err=True)
        raise typer.Exit(3) from exc
    result = {**plan.model_dump(mode="json"), "dry_run": dry_run, "applied_id": webhook_id}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    verb = f"would {plan.action}" if dry_run else f"{plan.action}d"
    typer.echo(f"{verb} webhook {name!r} -> {url} for {', '.join(plan.events)}")
    if plan.action == "update":
        typer.echo(
            f"  was: {plan.current_url} for {', '.join(plan.current_events)} "
            f"({plan.current_status})"
        )
    if webhook_id is not None:
        typer.echo(f"  id: {webhook_id}")
