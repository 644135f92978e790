"""`promogate serve`, `promogate worker` and `promogate token create|revoke|list`.

Mounted on the main CLI by `api.cli`. Settings are read here, at the edge, and passed down.
"""

from __future__ import annotations

import json
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_options import AsJson, LedgerUrl, PoliciesDir, TrackingUri

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["register_server_commands", "server_app", "token_app"]

server_app = typer.Typer(help="Serve the API and run review workers.", no_args_is_help=True)
token_app = typer.Typer(help="Create, revoke and list API bearer tokens.", no_args_is_help=True)


def _settings(**overrides: object) -> Settings:
    # pydantic-settings costs a tenth of a second: only the commands that run read settings.
    from api.settings import load_settings

    return load_settings(**overrides)


def _configure_logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@server_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (env PROMOGATE_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (env PROMOGATE_PORT).")] = None,
    workers: Annotated[
        int, typer.Option(help="Uvicorn worker processes (each a full API replica).")
    ] = 1,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    policies: PoliciesDir = None,
    allow_anonymous: Annotated[
        bool | None,
        typer.Option(
            "--allow-anonymous/--require-token",
            help="Serve without tokens, for a local demo only (env PROMOGATE_ALLOW_ANONYMOUS).",
        ),
    ] = None,
    demo: Annotated[
        Path | None,
        typer.Option(
            "--demo",
            help="Serve the registry, ledger and policies `promogate demo DIR` built in DIR "
            "(anonymous unless --require-token).",
            file_okay=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API and the pages (gate, reviews, promote, overrides, health, metrics)."""
    import uvicorn

    from api._http_protocol import NoDelayHttpProtocol

    if demo is not None:
        tracking_uri, ledger_url, policies, allow_anonymous = _demo_site(
            demo, tracking_uri, ledger_url, policies, allow_anonymous
        )
    overrides: dict[str, object] = {
        "host": host,
        "port": port,
        "tracking_uri": tracking_uri,
        "ledger_url": ledger_url,
        "policies_dir": policies,
        "allow_anonymous": allow_anonymous,
    }
    settings = _settings(**overrides)
    _configure_logging(settings)
    if settings.allow_anonymous and not _is_loopback(settings.host):
        # Every anonymous caller acts as admin: overrides, promotions, tokens.
        typer.echo(
            f"error: anonymous access is for a local demo and listens on loopback only, not "
            f"{settings.host!r}: bind 127.0.0.1 (or ::1), or serve with --require-token and "
            "tokens from `promogate token create`",
            err=True,
        )
        raise typer.Exit(3)
    if settings.allow_anonymous:
        typer.echo(
            "warning: anonymous access is on; every caller acts as admin. Local demo only.",
            err=True,
        )
    if workers > 1:
        # Each worker process builds its own app from the environment.
        for name, value in overrides.items():
            if value is not None:
                os.environ[f"PROMOGATE_{name.upper()}"] = str(value)
        uvicorn.run(
            "api.app:app_from_environment",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            log_level=settings.log_level.lower(),
            http=NoDelayHttpProtocol,
        )
        return
    from api.app import create_app

    typer.echo(f"pages: http://{settings.host}:{settings.port}/", err=True)
    uvicorn.run(
        create_app(settings, freeze_heap=True, reader_process=True),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http=NoDelayHttpProtocol,
    )


def _is_loopback(host: str) -> bool:
    """Whether `host` is an address (or ``localhost``) that only this machine can reach."""
    import ipaddress

    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def _demo_site(
    directory: Path,
    tracking_uri: str | None,
    ledger_url: str | None,
    policies: Path | None,
    allow_anonymous: bool | None,
) -> tuple[str, str, Path, bool]:
    from api.demo_site import DemoSiteError, read_demo_manifest

    try:
        manifest = read_demo_manifest(directory.resolve())
    except DemoSiteError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    return (
        tracking_uri or manifest.tracking_uri,
        ledger_url or manifest.ledger_url,
        policies or manifest.policies_dir,
        True if allow_anonymous is None else allow_anonymous,
    )


@server_app.command("worker")
def worker(
    concurrency: Annotated[
        int | None,
        typer.Option(help="Reviews run at once (env PROMOGATE_JOB_CONCURRENCY)."),
    ] = None,
    name: Annotated[str | None, typer.Option(help="Worker name (default: host-pid).")] = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    policies: PoliciesDir = None,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue is empty instead of waiting.")
    ] = False,
) -> None:
    """Run review and watch jobs queued on PostgreSQL (procrastinate); PROMOGATE_WATCH_CRON adds
    the periodic watch pass."""
    from api.jobs import postgres_conninfo, run_worker
    from api.services import build_review_service, configure_mlflow_environment
    from review.gate import GateService

    settings = _settings(
        tracking_uri=tracking_uri,
        ledger_url=ledger_url,
        policies_dir=policies,
        job_concurrency=concurrency,
    )
    _configure_logging(settings)
    try:
        conninfo = postgres_conninfo(settings.ledger_url)
    except ValueError as exc:
        typer.echo(
            f"error: {exc}; with a SQLite ledger the API runs jobs in-process, no worker needed",
            err=True,
        )
        raise typer.Exit(3) from None
    configure_mlflow_environment(settings)
    from api._cli_gc import SettleAfterFirstReview

    service = GateService(build_review_service(settings), observer=SettleAfterFirstReview())
    from api._notifications import Notifier
    from api._warm_up import warm_up
    from api._watch_service import build_watcher

    notifier = Notifier(
        settings.notify_url,
        form=settings.notify_format,
        secret=settings.notify_secret.get_secret_value() if settings.notify_secret else None,
        attempts=settings.notify_attempts,
    )
    from api.services import start_importance_process, stop_importance_process

    reader = start_importance_process(settings)
    warm_up(service, freeze_heap=True)
    import psycopg
    from procrastinate.exceptions import ConnectorException

    from tools.redaction import redact

    try:
        run_worker(
            service,
            conninfo,
            concurrency=settings.job_concurrency,
            name=name or f"{socket.gethostname()}-{os.getpid()}",
            wait=not once,
            watcher=build_watcher(settings, service, notifier),
            watch_cron=settings.watch_cron,
        )
    except (psycopg.OperationalError, ConnectorException) as exc:
        # Exit 3 with the reason, so that whatever supervises the worker restarts it.
        typer.echo(
            f"error: the job queue {redact(conninfo)!r} is unavailable: {redact(str(exc))}",
            err=True,
        )
        raise typer.Exit(3) from None
    finally:
        # PR bot and watch jobs gate; what follows their answers is written before the exit.
        service.drain()
        notifier.flush()
        notifier.close()
        stop_importance_process(reader)


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="Token name, e.g. ci-deploy.")],
    role: Annotated[
        str, typer.Option(help="viewer, reviewer, deployer, approver or admin.")
    ] = "viewer",
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Create a token. Its secret is printed once and never stored."""
    from ledger.errors import LedgerError
    from ledger.store import Ledger
    from ledger.tokens import ROLES

    if role not in ROLES:
        typer.echo(f"error: invalid role {role!r}; choose one of {', '.join(ROLES)}", err=True)
        raise typer.Exit(3)
    try:
        info, secret = Ledger(_settings(ledger_url=ledger_url).ledger_url).tokens.create_token(
            name, role
        )
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    if as_json:
        typer.echo(json.dumps({**info.model_dump(mode="json"), "secret": secret}, indent=2))
        return
    typer.echo(f"created token {info.name!r} ({info.id}) with role {info.role}")
    typer.echo("secret (shown once; set it as PROMOGATE_TOKEN in the client):")
    typer.echo(secret)


@token_app.command("revoke")
def token_revoke(
    name_or_id: Annotated[str, typer.Argument(help="The token's name or id.")],
    ledger_url: LedgerUrl = None,
) -> None:
    """Revoke a token; it stops authenticating at once."""
    from ledger.errors import LedgerError
    from ledger.store import Ledger

    try:
        ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
        info = ledger.tokens.revoke_token(name_or_id)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    typer.echo(f"revoked token {info.name!r} ({info.id})")


@token_app.command("list")
def token_list(
    ledger_url: LedgerUrl = None,
    include_revoked: Annotated[
        bool, typer.Option("--all/--active", help="Also list revoked tokens.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """List tokens (never their secrets)."""
    from ledger.errors import LedgerError
    from ledger.store import Ledger

    try:
        ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
        tokens = ledger.tokens.list_tokens(include_revoked=include_revoked)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    if as_json:
        typer.echo(json.dumps([t.model_dump(mode="json") for t in tokens], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "name", "role", "created", "last used", "revoked")
    for t in tokens:
        table.add_row(
            t.id,
            t.name,
            t.role,
            t.created_at.isoformat(timespec="seconds"),
            t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "-",
            t.revoked_at.isoformat(timespec="seconds") if t.revoked_at else "-",
        )
    Console().print(table)


def register_server_commands(app: typer.Typer) -> None:
    """Mount `serve`, `worker` and the `token` group on the main CLI.

    Args:
        app: The main `promogate` typer app.
    """
    app.command("serve")(serve)
    app.command("worker")(worker)
    app.add_typer(token_app, name="token")
