"""Options of `review` and `gate` for trying a review out: `--baseline` and `--dry-run`.

`--baseline VERSION` compares with that version instead of the one holding the baseline alias;
`--dry-run` reviews without writing anything: the decision goes to a scratch ledger that is
thrown away, and no tags are written to MLflow.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["Baseline", "DryRun", "baseline_alias", "scratch_ledger_url", "where_line"]

Baseline = Annotated[
    str | None,
    typer.Option(
        "--baseline",
        metavar="VERSION",
        help="Compare with this version ('3' or 'v3') instead of the one holding @champion.",
    ),
]
DryRun = Annotated[
    bool,
    typer.Option("--dry-run", help="Review without writing the ledger or MLflow tags."),
]


def baseline_alias(baseline: str | None) -> str | None:
    """The baseline as the review pipeline takes it: ``v<N>`` pins version N.

    Raises:
        typer.BadParameter: Not a version number (a usage error, exit 3).
    """
    if baseline is None:
        return None
    text = baseline.strip()
    if text.startswith("@"):
        return text[1:] or None
    number = text[1:] if text[:1] in ("v", "V") else text
    if not number.isdigit() or int(number) < 1:
        raise typer.BadParameter(
            f"{baseline!r} is not a version; pass e.g. 3, v3 or @alias", param_hint="--baseline"
        )
    return f"v{int(number)}"


def scratch_ledger_url() -> str:
    """A throw-away SQLite ledger, removed when the process exits."""
    directory = Path(tempfile.mkdtemp(prefix="promogate-dry-run-"))
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return f"sqlite:///{directory / 'ledger.db'}"


def where_line(tracking_uri: str | None, ledger_url: str | None, *, dry_run: bool = False) -> str:
    """The MLflow store and ledger a failed command used, for its error output."""
    from api.settings import load_settings
    from tools.redaction import redact

    settings = load_settings(tracking_uri=tracking_uri, ledger_url=ledger_url)
    ledger = "a scratch ledger (--dry-run)" if dry_run else repr(settings.ledger_url)
    return redact(f"(tracking URI {settings.tracking_uri!r}, ledger {ledger})")
