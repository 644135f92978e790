"""`promogate ledger verify [--anchors]` and `promogate ledger anchor`: the ledger checked against
what was written outside it. Settings are read here, at the edge."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from api.cli_options import LedgerUrl, TrackingUri

__all__ = ["anchor_command", "verify_ledger"]


def verify_ledger(ledger_url: str | None, tracking_uri: str | None, *, anchors: bool) -> int:
    """Print the chain report (and, with `anchors`, the anchor report); 0 when all verify.

    Args:
        ledger_url: The ledger URL, or None for the configured one.
        tracking_uri: The MLflow tracking URI, or None for the configured one.
        anchors: Also check checkpoints and the record hashes published as tags.
    """
    from api.settings import load_settings
    from ledger.store import Ledger

    settings = load_settings(ledger_url=ledger_url, tracking_uri=tracking_uri)
    ledger = Ledger(settings.ledger_url, must_exist=True)
    report = ledger.verify()
    if not anchors:
        typer.echo(report.model_dump_json(indent=2))
        return 0 if report.ok else 1
    from api._anchoring import anchor_stores, published_record_anchors
    from api._mlflow_http import settings_client
    from ledger.anchors import verify_anchors

    client = settings_client(settings)
    stores = anchor_stores(settings, lambda: client)
    anchor_report = verify_anchors(ledger, stores, published_record_anchors(client))
    ok = report.ok and anchor_report.ok and bool(stores)
    document = {
        "ok": ok,
        "chain": json.loads(report.model_dump_json()),
        "anchors": json.loads(anchor_report.model_dump_json()),
    }
    if not stores:
        document["anchors_configured"] = (
            "no checkpoint store configured: set PROMOGATE_ANCHOR_FILE or PROMOGATE_ANCHOR_RUN_ID"
        )
    typer.echo(json.dumps(document, indent=2))
    return 0 if ok else 1


def anchor_command(
    ledger_url: LedgerUrl = None,
    tracking_uri: TrackingUri = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="Print nothing on success.")] = False,
) -> None:
    """Write a checkpoint of the ledger's chain head to the configured anchor stores (cron)."""
    from api._anchoring import anchor_stores
    from api._mlflow_http import settings_client
    from api.settings import load_settings
    from ledger.anchors import write_checkpoint
    from ledger.errors import LedgerError
    from ledger.store import Ledger

    settings = load_settings(ledger_url=ledger_url, tracking_uri=tracking_uri)
    stores = anchor_stores(settings, lambda: settings_client(settings))
    if not stores:
        typer.echo(
            "error: no anchor store configured: set PROMOGATE_ANCHOR_FILE or "
            "PROMOGATE_ANCHOR_RUN_ID",
            err=True,
        )
        raise typer.Exit(3)
    try:
        checkpoint = write_checkpoint(Ledger(settings.ledger_url, must_exist=True), stores)
    except LedgerError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    if not quiet:
        typer.echo(checkpoint.model_dump_json())
