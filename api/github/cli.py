"""`promogate pr`: the PR bot without a server, inside a GitHub Actions job.

Reads the event file Actions provides (``GITHUB_EVENT_PATH``, ``GITHUB_EVENT_NAME``), reviews the
pull request exactly as the webhook's jobs do, and posts the same comment and commit status with
the job's ``GITHUB_TOKEN`` (token mode). The pull request's code is never checked out or run: files
are read through the API. Use it from a ``pull_request_target`` workflow so that the workflow and
the trusted configuration come from the base branch (docs/pr-bot.md has a ready workflow).

Exit codes: 0 every subject approved (or nothing to review), 1 a subject blocks, 2 a subject
escalates, 3 the review could not be posted (GitHub, the ledger or the configuration failed).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Annotated

import typer

from api.cli_options import LedgerUrl, Llm, PoliciesDir, TrackingUri

__all__ = ["pr_command"]

_REPO_CONFIG_TEMPLATE = {"config_from_base": True}


def pr_command(
    event_path: Annotated[
        Path | None,
        typer.Option("--event-path", envvar="GITHUB_EVENT_PATH", help="The webhook event file."),
    ] = None,
    event_name: Annotated[
        str | None,
        typer.Option("--event-name", envvar="GITHUB_EVENT_NAME", help="pull_request, ..."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar=["PROMOGATE_GITHUB_TOKEN", "GITHUB_TOKEN"], help="GitHub token."
        ),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", envvar="GITHUB_API_URL", help="GitHub REST API base URL."),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="PROMOGATE_GITHUB_CONFIG",
            help="Trusted bot config (from the base branch); without it the repository's "
            ".promogate.yml is read from the base branch through the API.",
        ),
    ] = None,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    llm: Llm = None,
) -> None:
    """Review the pull request of a GitHub Actions event and post the comment and status."""
    from api.github._bot import ACTIONS_BOT_USER_ID
    from api.github._config import BotConfig, RepoConfig, load_bot_config
    from api.github._events import event_from_payload
    from api.github._service import ClientPool, build_bot
    from api.github.errors import GitHubError
    from api.services import build_review_service, configure_mlflow_environment
    from api.settings import load_settings
    from ledger.errors import LedgerError
    from review import GateService

    if event_path is None or event_name is None:
        typer.echo(
            "error: --event-path and --event-name (or GITHUB_EVENT_*) are required", err=True
        )
        raise typer.Exit(3)
    if not token:
        typer.echo("error: no token: pass --token or set GITHUB_TOKEN", err=True)
        raise typer.Exit(3)
    try:
        payload = json.loads(event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        typer.echo(f"error: cannot read the event file {str(event_path)!r}: {exc}", err=True)
        raise typer.Exit(3) from exc
    settings = load_settings(
        policies_dir=policies,
        tracking_uri=tracking_uri,
        ledger_url=ledger_url,
        llm=llm,
        github_api_url=api_url,
    )
    # pull_request_target carries the same payload as pull_request.
    name = "pull_request" if event_name == "pull_request_target" else event_name
    delivery = os.environ.get("GITHUB_RUN_ID") or uuid.uuid4().hex
    event, why = event_from_payload(name, payload if isinstance(payload, dict) else {}, delivery)
    if event is None:
        typer.echo(f"nothing to do: {why}")
        raise typer.Exit(0)
    try:
        bot_config = (
            load_bot_config(config)
            if config is not None
            else BotConfig(
                repositories={event.repository: RepoConfig.model_validate(_REPO_CONFIG_TEMPLATE)}
            )
        )
        configure_mlflow_environment(settings, one_shot=True)
        gate = GateService(build_review_service(settings))
        bot_user_id = settings.github_bot_user_id
        if bot_user_id is None and os.environ.get("GITHUB_ACTIONS") == "true":
            bot_user_id = ACTIONS_BOT_USER_ID
        settings = settings.model_copy(update={"github_bot_user_id": bot_user_id})
        pool = ClientPool(settings.github_api_url, token=token)
        try:
            bot = build_bot(settings, gate, config=bot_config, clients=pool)
            reports = bot.handle(event)
        finally:
            pool.close()
            gate.drain()
    except (GitHubError, LedgerError) as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(3) from exc
    for report in reports:
        typer.echo(f"{report.conclusion:<16} {report.subject}: {report.summary}")
    conclusions = {r.conclusion for r in reports}
    if "failure" in conclusions or "cancelled" in conclusions:
        raise typer.Exit(1)
    if "action_required" in conclusions or "neutral" in conclusions:
        raise typer.Exit(2)
    raise typer.Exit(0)
