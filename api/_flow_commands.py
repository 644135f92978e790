"""`promogate promote`, `override create|list|revoke` and `reviews list|show`.

Each works on the local configuration (MLflow, ledger and policies as `review` uses them) or,
with ``--server URL``, asks a running promogate API over plain HTTP (token from
``PROMOGATE_TOKEN``), importing neither mlflow nor langchain. Field names are the API's:
``--target-alias``, ``--check-id`` (``check_ids``), ``--justification``, ``--expires-in-hours``.
Exit codes: 0 done, 1 refused (a promotion or override the gate does not allow), 3 error.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli_options import AsJson, LedgerUrl, ModelArg, PoliciesDir, TrackingUri

if TYPE_CHECKING:
    from api.settings import Settings

__all__ = ["override_app", "register_flow_commands", "reviews_app"]

EXIT_REFUSED = 1
EXIT_ERROR = 3

Server = Annotated[
    str | None,
    typer.Option(
        "--server",
        help="Ask a running promogate API (token from PROMOGATE_TOKEN) instead of acting here.",
    ),
]
TargetAliasOption = Annotated[
    str | None, typer.Option("--target-alias", help="The alias the promotion moves.")
]
VersionArg = Annotated[str, typer.Argument(help="Version number ('7' or 'v7') or 'latest'.")]

override_app = typer.Typer(
    help="Let named failing checks pass for a time (approver role), list and revoke overrides.",
    no_args_is_help=True,
)
reviews_app = typer.Typer(help="Recorded reviews (decisions).", no_args_is_help=True)


def _token() -> str | None:
    return os.environ.get("PROMOGATE_TOKEN") or None


def _remote(server: str, method: str, path: str, **kwargs: Any) -> Any:
    from api._server_client import ServerCallError, call_server

    try:
        return call_server(server, method, path, token=_token(), **kwargs)
    except ServerCallError as exc:
        typer.echo(f"error: {exc}", err=True)
        code = EXIT_REFUSED if exc.status in (403, 409, 422) else EXIT_ERROR
        raise typer.Exit(code) from None


def _print(payload: Any, line: str, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(payload, indent=2, sort_keys=True, default=str))
    else:
        typer.echo(line)


def _settings(**overrides: object) -> Settings:
    from api.settings import load_settings

    return load_settings(**overrides)


def _version_number(ref: str, model: str, settings: Settings | None) -> int:
    """A version number from '7', 'v7' or 'latest' ('latest' needs MLflow: local only)."""
    text = ref.strip()
    if text[:1] in ("v", "V"):
        text = text[1:]
    if text.isdigit() and int(text) >= 1:
        return int(text)
    if ref.strip().lower() == "latest" and settings is not None:
        from api._mlflow_http import settings_client
        from tools.registry import resolve_version

        client = settings_client(settings)
        return resolve_version(client, model, "latest").version
    typer.echo(f"error: invalid version {ref!r}: pass a number such as 7 or v7", err=True)
    raise typer.Exit(EXIT_ERROR)


def _fail(message: str, code: int = EXIT_ERROR) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def promote_command(
    model: ModelArg,
    version: VersionArg,
    target_alias: TargetAliasOption = None,
    server: Server = None,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Move the alias to VERSION, only on an allowing decision for its current evidence."""
    if server is not None:
        number = _version_number(version, model, None)
        body: dict[str, Any] = {"model": model, "version": number}
        if target_alias is not None:
            body["target_alias"] = target_alias
        answer = _remote(server, "POST", "/v1/promote", body=body)
        _print(answer, _promoted_line(answer), as_json)
        return
    from api._local_gate import local_promote

    settings = _settings(tracking_uri=tracking_uri, ledger_url=ledger_url, policies_dir=policies)
    number = _version_number(version, model, settings)
    answer = local_promote(settings, model, number, target_alias)
    _print(answer, _promoted_line(answer), as_json)


def _promoted_line(answer: dict[str, Any]) -> str:
    if answer.get("unchanged"):
        return (
            f"unchanged: v{answer['version']} already holds @{answer['target_alias']} "
            f"of {answer['model']}"
        )
    return (
        f"promoted {answer['model']} v{answer['version']} to @{answer['target_alias']} "
        f"(was v{answer.get('previous_version')}) on decision {answer['decision_id']}"
    )


@override_app.command("create")
def override_create(
    model: ModelArg,
    version: VersionArg,
    check: Annotated[
        list[str],
        typer.Option("--check-id", help="A failing check id to let pass (repeat for several)."),
    ],
    justification: Annotated[
        str, typer.Option("--justification", help="Why (at least 10 characters).")
    ],
    expires_in_hours: Annotated[
        float, typer.Option("--expires-in-hours", help="Hours until the override expires.")
    ] = 24.0,
    target_alias: TargetAliasOption = None,
    decision_id: Annotated[
        str | None, typer.Option("--decision-id", help="The decision overridden (latest if unset).")
    ] = None,
    approver: Annotated[
        str | None,
        typer.Option(
            "--approver", help="Your name, recorded (local only; the token's on a server)."
        ),
    ] = None,
    server: Server = None,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Let the named failing checks of VERSION's decision pass until the override expires."""
    body: dict[str, Any] = {
        "model": model,
        "version": _version_number(version, model, None),
        "check_ids": list(check),
        "justification": justification,
        "expires_in_hours": expires_in_hours,
    }
    if target_alias is not None:
        body["target_alias"] = target_alias
    if decision_id is not None:
        body["decision_id"] = decision_id
    if server is not None:
        answer = _remote(server, "POST", "/v1/overrides", body=body)
    else:
        from api._local_gate import local_override

        if not approver:
            raise _fail("--approver NAME is required without --server (it is recorded)")
        settings = _settings(
            tracking_uri=tracking_uri, ledger_url=ledger_url, policies_dir=policies
        )
        answer = local_override(settings, body, approver)
    _print(answer, _override_line(answer), as_json)


def _override_line(o: dict[str, Any]) -> str:
    return (
        f"{o['id']} {o['model']} v{o['version']} @{o['target_alias']} "
        f"checks={','.join(o['check_ids'])} by {o['approver']} until {o['expires_at']}"
        + (" REVOKED" if o.get("revoked") else "")
    )


@override_app.command("list")
def override_list(
    model: ModelArg,
    version: VersionArg,
    target_alias: TargetAliasOption = None,
    server: Server = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Overrides of VERSION that have not expired (nor been revoked), oldest first."""
    number = _version_number(version, model, None)
    if server is not None:
        answer = _remote(
            server,
            "GET",
            "/v1/overrides",
            query={"model": model, "version": number, "target_alias": target_alias},
        )
        overrides = answer.get("overrides", [])
    else:
        from ledger.store import Ledger

        ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
        overrides = [
            o.model_dump(mode="json")
            for o in ledger.active_overrides(model, number, target_alias=target_alias)
        ]
    if as_json:
        typer.echo(json.dumps(overrides, indent=2, sort_keys=True))
        return
    for o in overrides:
        typer.echo(_override_line(o))
    if not overrides:
        typer.echo(f"no active overrides of {model} v{number}")


@override_app.command("revoke")
def override_revoke(
    override_id: Annotated[str, typer.Argument(help="The override's id (ovr-...).")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is revoked.")],
    approver: Annotated[
        str | None, typer.Option("--approver", help="Your name (local only).")
    ] = None,
    server: Server = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Revoke an override before it expires; decisions it covered block again."""
    if server is not None:
        answer = _remote(
            server, "POST", f"/v1/overrides/{override_id}/revoke", body={"reason": reason}
        )
    else:
        from ledger.override_revocations import revoke_override
        from ledger.store import Ledger

        if not approver:
            raise _fail("--approver NAME is required without --server (it is recorded)")
        ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
        answer = revoke_override(ledger, override_id, revoked_by=approver, reason=reason)
    _print(answer, f"revoked {override_id}", as_json)


@reviews_app.command("list")
def reviews_list(
    model: Annotated[str | None, typer.Option("--model", help="Only this model.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="Only this version.")] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.")] = 50,
    server: Server = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Recorded reviews, newest first."""
    number = _version_number(version, model or "", None) if version is not None else None
    if server is not None:
        answer = _remote(
            server, "GET", "/v1/reviews", query={"model": model, "version": number, "limit": limit}
        )
        decisions = [r["decision"] for r in answer.get("reviews", []) if r.get("decision")]
    else:
        from ledger.store import Ledger

        ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
        decisions = [
            d.model_dump(mode="json")
            for d in ledger.list_decisions(model=model, version=number, limit=limit)
        ]
    if as_json:
        typer.echo(json.dumps(decisions, indent=2, sort_keys=True))
        return
    for d in decisions:
        failed = ",".join(c["id"] for c in d["checks"] if c["status"] in ("fail", "error")) or "-"
        reason = d["reasons"][0] if d["reasons"] else ""
        typer.echo(
            f"{d['id']} {d['model']} v{d['version']} {d['verdict']} failed={failed} {reason}"
        )


@reviews_app.command("show")
def reviews_show(
    review_id: Annotated[str, typer.Argument(help="The review's (decision's) id.")],
    server: Server = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """One recorded review with every check, finding and where its evidence came from."""
    from policies.decision import Decision

    if server is not None:
        answer = _remote(server, "GET", f"/v1/reviews/{review_id}")
        if answer.get("decision") is None:
            raise _fail(f"review {review_id!r} is {answer.get('state')}: {answer.get('detail')}")
        decision = Decision.model_validate(answer["decision"])
    else:
        from ledger.errors import LedgerError
        from ledger.store import Ledger

        try:
            decision = Ledger(
                _settings(ledger_url=ledger_url).ledger_url, must_exist=True
            ).get_decision(review_id)
        except LedgerError as exc:
            raise _fail(str(exc)) from None
    if as_json:
        typer.echo(decision.model_dump_json(indent=2))
        return
    from api._plain_output import decision_lines

    typer.echo("\n".join(decision_lines(decision)))


def register_flow_commands(app: typer.Typer) -> None:
    """Add `promote`, `override` and `reviews` to the `promogate` app."""
    app.command(name="promote")(promote_command)
    app.add_typer(override_app, name="override")
    app.add_typer(reviews_app, name="reviews")
