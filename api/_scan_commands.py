"""`promogate scan models:/NAME/VERSION`: the security checks of one version, without a review.

Exit codes: 0 every check passed, 1 a check failed, 3 the scan could not complete (or a check
errored). `--json` prints the report, `--sarif` a SARIF 2.1.0 log for GitHub code scanning.
"""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from api.cli_options import PoliciesDir, TargetAlias, TrackingUri

__all__ = ["parse_model_uri", "scan_command"]

_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w.-]+))$")
_EXIT = {"pass": 0, "skip": 0, "warn": 0, "fail": 1, "error": 3}


def parse_model_uri(uri: str) -> tuple[str, str]:
    """`models:/NAME/VERSION` or `models:/NAME@ALIAS` as (name, version or @alias).

    Raises:
        typer.BadParameter: Anything else.
    """
    match = _MODEL_URI.match(uri.strip())
    if match is None:
        raise typer.BadParameter(
            f"{uri!r} is not a model version URI; use models:/NAME/VERSION or models:/NAME@ALIAS"
        )
    return match["name"], match["version"] or f"@{match['alias']}"


def scan_command(
    uri: Annotated[str, typer.Argument(help="models:/NAME/VERSION or models:/NAME@ALIAS")],
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    target_alias: TargetAlias = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    as_sarif: Annotated[
        bool, typer.Option("--sarif", help="Print SARIF 2.1.0 for GitHub code scanning.")
    ] = False,
) -> None:
    """Scan one version's artifacts: formats, pickles, requirements, signature."""
    from api.services import configure_mlflow_environment
    from api.settings import load_settings
    from policies.errors import PolicyError
    from policies.loader import load_policy_dir
    from review.artifact_security import scan_version
    from tools.client import make_client
    from tools.errors import ToolError

    name, ref = parse_model_uri(uri)
    settings = load_settings(tracking_uri=tracking_uri, policies_dir=policies)
    configure_mlflow_environment(settings)
    try:
        loaded = load_policy_dir(settings.policies_dir) if settings.policies_dir else []
    except PolicyError as exc:
        typer.echo(f"error: the policies cannot be loaded: {exc}", err=True)
        raise typer.Exit(3) from None
    client = make_client(settings.tracking_uri, settings.registry_uri)
    try:
        report = scan_version(
            client, name, ref, policies=loaded, target_alias=target_alias or "champion"
        )
    except ToolError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    if as_sarif:
        from importlib import metadata

        from api._sarif import sarif_report

        typer.echo(
            json.dumps(sarif_report(report, version=metadata.version("promogate")), indent=2)
        )
    elif as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        _print(report)
    raise typer.Exit(_EXIT[report.status])


def _print(report: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from review.artifact_security import SecurityReport

    assert isinstance(report, SecurityReport)
    console = Console()
    title = f"{report.model} version {report.version}: {report.status.upper()}"
    table = Table(title=title, show_lines=False)
    table.add_column("check")
    table.add_column("status")
    table.add_column("message", overflow="fold")
    styles = {"pass": "green", "fail": "red", "error": "red", "warn": "yellow", "skip": "dim"}
    for check in report.checks:
        status = f"[{styles[check.status]}]{check.status}[/]"
        table.add_row(check.id, status, check.message)
    console.print(table)
    digest = report.artifact_digest or "none"
    console.print(f"artifacts: {report.source}  manifest digest: {digest}")
    if report.default_rules:
        console.print(
            "no matching policy has a security section: the default security rules were applied"
        )
    else:
        console.print(f"policies: {', '.join(report.policies)}")
