"""The gate's promote and override actions run here, on the local configuration (no server).

`promogate promote` and `promogate override create` without ``--server`` call these: the same
`review.GateService` rules as the HTTP API, the caller named by ``--approver`` or the OS user.
Refusals exit 1 with the reason; a gate that cannot decide (MLflow or ledger down) exits 3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from api.settings import Settings
    from review import GateService

__all__ = ["local_override", "local_promote"]

EXIT_REFUSED = 1
EXIT_ERROR = 3


def _gate(settings: Settings) -> GateService:
    from api.services import build_review_service, configure_mlflow_environment
    from review import GateService

    configure_mlflow_environment(settings, one_shot=True)
    return GateService(build_review_service(settings))


def _refused(exc: Exception, settings: Settings) -> typer.Exit:
    from review import MlflowUnavailableError

    code = EXIT_ERROR if isinstance(exc, MlflowUnavailableError) else EXIT_REFUSED
    from tools.redaction import redact

    typer.echo(
        redact(
            f"error: {exc} (tracking URI {settings.tracking_uri!r}, ledger {settings.ledger_url!r})"
        ),
        err=True,
    )
    return typer.Exit(code)


def _ledger_error(ledger_url: str, exc: Exception) -> str:
    from tools.redaction import redact

    return redact(f"error: the ledger {ledger_url!r} is unavailable: {exc}")


def local_promote(
    settings: Settings, model: str, version: int, target_alias: str | None
) -> dict[str, Any]:
    """Promote on the local configuration; the answer as the API gives it."""
    import getpass

    from ledger.errors import LedgerError
    from review import GateError

    try:
        answer = _gate(settings).promote(
            model, version, target_alias=target_alias, actor=getpass.getuser()
        )
    except GateError as exc:
        raise _refused(exc, settings) from None
    except LedgerError as exc:
        typer.echo(_ledger_error(settings.ledger_url, exc), err=True)
        raise typer.Exit(EXIT_ERROR) from None
    return answer.model_dump(mode="json")


def local_override(settings: Settings, body: dict[str, Any], approver: str) -> dict[str, Any]:
    """Record an override on the local configuration; the answer as the API gives it."""
    from api.schemas import OverrideRequest
    from ledger.errors import LedgerError
    from review import GateError

    request = OverrideRequest.model_validate(body)
    try:
        override = _gate(settings).add_override(request, approver)
    except GateError as exc:
        raise _refused(exc, settings) from None
    except LedgerError as exc:
        typer.echo(_ledger_error(settings.ledger_url, exc), err=True)
        raise typer.Exit(EXIT_ERROR) from None
    return override.model_dump(mode="json")
