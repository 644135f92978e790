"""Command-line options shared by every `promogate` command, declared once.

Each option's value, when given, overrides the matching `PROMOGATE_*` setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "AsJson",
    "AsMarkdown",
    "LedgerUrl",
    "Llm",
    "ModelArg",
    "PoliciesDir",
    "RefArg",
    "TargetAlias",
    "TrackingUri",
]

ModelArg = Annotated[str, typer.Argument(help="Registered model name.")]
RefArg = Annotated[str, typer.Argument(help="Version number or @alias.")]
TrackingUri = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI (env PROMOGATE_TRACKING_URI)."),
]
LedgerUrl = Annotated[
    str | None,
    typer.Option("--ledger-url", help="Ledger database URL (env PROMOGATE_LEDGER_URL)."),
]
PoliciesDir = Annotated[
    Path | None,
    typer.Option("--policies", help="Trusted policy directory (env PROMOGATE_POLICIES_DIR)."),
]
Llm = Annotated[
    str | None, typer.Option("--llm", help="'offline' or 'openai:<model>' (env PROMOGATE_LLM).")
]
TargetAlias = Annotated[
    str | None, typer.Option("--target-alias", help="The alias the promotion would move.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsMarkdown = Annotated[bool, typer.Option("--markdown", help="Print Markdown.")]
