"""The `promogate` entry point's handling of usage errors and `--version`.

A mistyped option must never exit 2, which the gate's contract reads as "escalate": a typo in CI
would reach a human approver as an escalation. Every usage error (unknown option, missing or
invalid argument) exits 3, the error code, with click's message on stderr. So do settings that
cannot be read (a config file that does not parse, a value of the wrong kind) and a ledger or
MLflow that a command cannot use (down, missing, refusing), where the command did not answer it
itself: one line naming what failed, not a traceback and exit 1, which `ledger verify` means as
"a record was edited" and a review as "block".
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Annotated

import typer

# typer carries its own copy of click; its parser raises these, not click's own classes.
from typer._click import exceptions as _parser_errors

from ledger.errors import LedgerError
from tools.errors import ToolError

_USAGE_ERRORS: tuple[type[Exception], ...] = (_parser_errors.UsageError,)
_ABORTS: tuple[type[BaseException], ...] = (typer.Abort,)
_CLICK_ERRORS: tuple[type[Exception], ...] = (_parser_errors.ClickException,)

__all__ = ["EXIT_ERROR", "EXIT_USAGE", "add_version_option", "package_version", "run_app"]

EXIT_ERROR = 3
EXIT_USAGE = EXIT_ERROR


def package_version() -> str:
    """The installed promogate version."""
    try:
        return metadata.version("promogate")
    except metadata.PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"promogate {package_version()}")
        raise typer.Exit(0)


def add_version_option(app: typer.Typer) -> None:
    """Give `app` a top-level ``--version`` that prints the version and exits 0."""

    @app.callback()
    def _root(
        version: Annotated[
            bool,
            typer.Option(
                "--version",
                help="Print the promogate version and exit.",
                callback=_print_version,
                is_eager=True,
            ),
        ] = False,
    ) -> None:
        """Review MLflow model versions against the champion and gate their promotion."""


def _settings_error() -> type[Exception]:
    # Imported only once an exception reaches the handler: `api.settings` loads pydantic's
    # settings machinery, which `--help` and the gate client never need.
    from api.settings import SettingsError

    return SettingsError


def run_app(app: typer.Typer, args: list[str] | None = None) -> int:
    """Run the typer app and return its exit code; usage errors are `EXIT_USAGE` (3), and so
    are a ledger's or MLflow's errors no command answered (`EXIT_ERROR`).

    Args:
        app: The application.
        args: Arguments after the program name; ``sys.argv[1:]`` if None.
    """
    try:
        result = app(args=args, standalone_mode=False, prog_name="promogate")
    except _USAGE_ERRORS as exc:
        exc.show()  # type: ignore[attr-defined]
        return EXIT_USAGE
    except _ABORTS:
        typer.echo("aborted", err=True)
        return 130
    except _CLICK_ERRORS as exc:
        exc.show()  # type: ignore[attr-defined]
        return EXIT_USAGE
    except (LedgerError, ToolError, _settings_error()) as exc:
        typer.echo(f"error: {exc}", err=True)
        return EXIT_ERROR
    if isinstance(result, int) and not isinstance(result, bool):
        return result
    return 0


def main_exit(app: typer.Typer) -> None:
    """Run the app and exit with its code (the console script's body)."""
    sys.exit(run_app(app))
