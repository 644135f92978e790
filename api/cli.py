"""The `promogate` command line.

Exit codes of `review` and `gate`, for CI systems: 0 approve, 1 block, 2 escalate, 3 error (the
review could not complete; the decision is recorded as a block with the reason).

Heavy libraries (mlflow, langchain) are imported inside the commands that need them, so that
`promogate --help` and the HTTP gate client start fast.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api._cli_flow_options import Baseline, DryRun
from api.cli_options import (
    AsJson,
    AsMarkdown,
    LedgerUrl,
    Llm,
    ModelArg,
    PoliciesDir,
    RefArg,
    TargetAlias,
    TrackingUri,
)

if TYPE_CHECKING:
    from api.settings import Settings
    from policies.decision import Decision

__all__ = ["EXIT_CODES", "app", "exit_code_for", "main"]

EXIT_CODES = {"approve": 0, "block": 1, "escalate": 2, "error": 3}

app = typer.Typer(
    name="promogate",
    help="Review MLflow model versions against the champion and gate their promotion.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
policy_app = typer.Typer(
    help="Validate, test and describe promotion policies.", no_args_is_help=True
)
ledger_app = typer.Typer(help="Inspect and verify the decision ledger.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
app.add_typer(ledger_app, name="ledger")


def exit_code_for(decision: Decision) -> int:
    """0 approve, 1 block, 2 escalate, 3 when the review itself failed."""
    if decision.error is not None:
        return EXIT_CODES["error"]
    return EXIT_CODES[decision.verdict]


def _settings(**overrides: object) -> Settings:
    from api.settings import load_settings

    return load_settings(**overrides)


def _emit(decision: Decision, *, as_json: bool, as_markdown: bool) -> None:
    if as_json:
        typer.echo(decision.model_dump_json(indent=2))
    elif as_markdown:
        from api.render import decision_markdown

        typer.echo(decision_markdown(decision))
    else:
        from api._plain_output import decision_lines, is_terminal

        if not is_terminal():
            typer.echo("\n".join(decision_lines(decision)))
            return
        from api.render import print_decision

        print_decision(decision)


def _run_review(
    model: str,
    ref: str,
    *,
    tracking_uri: str | None,
    ledger_url: str | None,
    policies: Path | None,
    llm: str | None,
    target_alias: str | None,
    publish: bool | None,
    baseline: str | None = None,
    dry_run: bool = False,
) -> Decision:
    from api._cli_flow_options import baseline_alias, scratch_ledger_url
    from api.services import build_review_service, configure_mlflow_environment
    from ledger.errors import LedgerError

    settings = _settings(
        tracking_uri=tracking_uri,
        ledger_url=scratch_ledger_url() if dry_run else ledger_url,
        policies_dir=policies,
        llm=llm,
        baseline_alias=baseline_alias(baseline),
        publish_tags=False if dry_run else None,
    )
    configure_mlflow_environment(settings, one_shot=True)
    try:
        service = build_review_service(settings)
        outcome = service.review(model, ref, target_alias=target_alias, publish=publish)
    except LedgerError as exc:
        # Without the ledger nothing can be recorded, so nothing may be decided: a CI error.
        typer.echo(
            f"error: the decision ledger is unavailable, nothing was decided: {exc}", err=True
        )
        raise typer.Exit(EXIT_CODES["error"]) from None
    return outcome.decision


@app.command()
def review(
    model: ModelArg,
    ref: RefArg,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    llm: Llm = None,
    target_alias: TargetAlias = None,
    as_json: AsJson = False,
    as_markdown: AsMarkdown = False,
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish",
            help="Write the decision back as tags (env PROMOGATE_PUBLISH_TAGS, default on).",
            show_default=False,
        ),
    ] = None,
    baseline: Baseline = None,
    dry_run: DryRun = False,
) -> None:
    """Review MODEL at VERSION or @ALIAS against the champion and print the decision."""
    decision = _run_review(
        model,
        ref,
        tracking_uri=tracking_uri,
        ledger_url=ledger_url,
        policies=policies,
        llm=llm,
        target_alias=target_alias,
        publish=False if dry_run else publish,
        baseline=baseline,
        dry_run=dry_run,
    )
    _emit(decision, as_json=as_json, as_markdown=as_markdown)
    code = exit_code_for(decision)
    if code == EXIT_CODES["error"]:
        from api._cli_flow_options import where_line

        typer.echo(where_line(tracking_uri, ledger_url, dry_run=dry_run), err=True)
    raise typer.Exit(code)


@app.command()
def gate(
    model: ModelArg,
    ref: RefArg,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    llm: Llm = None,
    target_alias: TargetAlias = None,
    as_json: AsJson = False,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="Ask a running promogate API instead of reviewing here (token from "
            "PROMOGATE_TOKEN); any failure to get an answer denies with exit 3.",
        ),
    ] = None,
    baseline: Baseline = None,
    dry_run: DryRun = False,
    publish: Annotated[
        bool | None,
        typer.Option(
            "--publish/--no-publish",
            help="Write a new decision back as tags (env PROMOGATE_PUBLISH_TAGS, default on).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Gate a promotion as `POST /v1/gate` does: reuse a decision on the same evidence, count
    approvers' overrides. Exit 0 allowed, 1 blocked, 2 escalated, 3 no decision. Prints one line.
    """
    if server is not None:
        from api.gate_client import main as gate_client_main

        argv = ["gate", "--server", server, model, ref]
        if target_alias is not None:
            argv += ["--target-alias", target_alias]
        if as_json:
            argv.append("--json")
        raise typer.Exit(gate_client_main(argv))
    from api._cli_flow_options import baseline_alias, scratch_ledger_url
    from api.gate_client import answer_from_body
    from api.services import build_review_service, configure_mlflow_environment
    from ledger.errors import LedgerError
    from review.gate import GateService

    settings = _settings(
        tracking_uri=tracking_uri,
        ledger_url=scratch_ledger_url() if dry_run else ledger_url,
        policies_dir=policies,
        llm=llm,
        baseline_alias=baseline_alias(baseline),
        publish_tags=False if dry_run else publish,
    )
    configure_mlflow_environment(settings, one_shot=True)
    gate_service = GateService(build_review_service(settings))
    try:
        response = gate_service.gate(model, ref, target_alias=target_alias)
    except LedgerError as exc:
        typer.echo(
            f"error: the decision ledger is unavailable, nothing was decided: {exc}", err=True
        )
        raise typer.Exit(EXIT_CODES["error"]) from None
    # The same reading of the answer as `gate --server`: the local and HTTP gates agree.
    answer = answer_from_body(response.model_dump(mode="json"), model, ref)
    typer.echo(response.model_dump_json(indent=2) if as_json else answer.line)
    if answer.exit_code == EXIT_CODES["error"]:
        from api._cli_flow_options import where_line

        typer.echo(
            where_line(settings.tracking_uri, settings.ledger_url, dry_run=dry_run), err=True
        )
    # The answer is out; the decision's tags and fingerprint are written before the exit.
    gate_service.drain()
    raise typer.Exit(answer.exit_code)


@policy_app.command("validate")
def policy_validate(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")],
    against: Annotated[
        tuple[str, str] | None,
        typer.Option(
            "--against",
            metavar="MODEL VERSION",
            help="Also lint the policies against this version's real evidence.",
        ),
    ] = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Load and validate every policy in DIRECTORY; errors name file and line (exit 3)."""
    from policies.errors import PolicyError
    from policies.loader import load_policy_dir

    try:
        loaded = load_policy_dir(directory)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CODES["error"]) from None
    for item in loaded:
        typer.echo(
            f"ok {item.ref.name}@{item.ref.revision} ({item.path}, sha256 {item.ref.sha256[:12]})"
        )
    if against is not None:
        from api._evidence_commands import validate_against

        raise typer.Exit(validate_against(directory, against, tracking_uri))


@policy_app.command("schema")
def policy_schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> None:
    """Print the JSON Schema of policy documents (for editors)."""
    from policies.schema import policy_json_schema

    text = json.dumps(policy_json_schema(), indent=2)
    if output is None:
        typer.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")


@policy_app.command("test")
def policy_test(
    directory: Annotated[Path, typer.Argument(help="Policy directory.")],
    tests: Annotated[Path, typer.Argument(help="Policy test file (YAML).")],
) -> None:
    """Run example evidence against expected verdicts; exit 1 when any case fails."""
    from policies.errors import PolicyError
    from policies.testing import run_policy_tests

    try:
        results = run_policy_tests(directory, tests)
    except PolicyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CODES["error"]) from None
    failed = [r for r in results if not r.passed]
    for result in results:
        outcome = f"expected {result.expected}, got {result.actual}"
        detail = "; ".join(result.failures)
        typer.echo(
            f"{'PASS' if result.passed else 'FAIL'} {result.name} ({result.file}:{result.line}): "
            f"{outcome}{': ' + detail if detail else ''}"
        )
    typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(1 if failed else 0)


@ledger_app.command("verify")
def ledger_verify(
    ledger_url: LedgerUrl = None,
    anchors: Annotated[
        bool,
        typer.Option(
            "--anchors",
            help="Also check the external anchors: checkpoints (PROMOGATE_ANCHOR_FILE, "
            "PROMOGATE_ANCHOR_RUN_ID) and the record hashes in model-version tags.",
        ),
    ] = False,
    tracking_uri: TrackingUri = None,
) -> None:
    """Check the ledger's hash chain; exit 1 when a record was edited or deleted, 3 when the
    ledger (or, with --anchors, MLflow) cannot be read."""
    from api._ledger_commands import verify_ledger

    raise typer.Exit(verify_ledger(ledger_url, tracking_uri, anchors=anchors))


@ledger_app.command("migrate")
def ledger_migrate(ledger_url: LedgerUrl = None) -> None:
    """Create or upgrade the ledger's tables (a no-op when current)."""
    from ledger.store import Ledger

    revision = Ledger(_settings(ledger_url=ledger_url).ledger_url, auto_migrate=False).migrate()
    typer.echo(f"ledger schema at revision {revision}")


@ledger_app.command("list")
def ledger_list(
    ledger_url: LedgerUrl = None,
    model: Annotated[str | None, typer.Option(help="Only this model.")] = None,
    version: Annotated[int | None, typer.Option(help="Only this version.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 50,
    as_json: AsJson = False,
) -> None:
    """List recorded decisions, newest first."""
    from rich.console import Console

    from api.render import decisions_table
    from ledger.store import Ledger

    ledger = Ledger(_settings(ledger_url=ledger_url).ledger_url, must_exist=True)
    decisions = ledger.list_decisions(model=model, version=version, limit=limit)
    if as_json:
        typer.echo(json.dumps([d.model_dump(mode="json") for d in decisions], indent=2))
    else:
        from api._plain_output import decisions_lines, is_terminal

        if not is_terminal():
            for line in decisions_lines(decisions):
                typer.echo(line)
            return
        Console().print(decisions_table(decisions))


def _mount_optional_apps() -> None:
    if getattr(app, "promogate_mounted", False):
        return
    app.promogate_mounted = True  # type: ignore[attr-defined]
    from api._chat_commands import chat_command
    from api._cli_usage import add_version_option
    from api._eval_commands import eval_app
    from api._event_commands import mlflow_app, reconcile_command
    from api._evidence_commands import register_evidence_commands
    from api._flow_commands import register_flow_commands
    from api._scan_commands import scan_command
    from api._server_commands import register_server_commands
    from api.github.cli import pr_command

    add_version_option(app)
    register_evidence_commands(app, policy_app)
    register_flow_commands(app)

    app.add_typer(eval_app, name="eval")
    from api._key_commands import key_app
    from api._ledger_commands import anchor_command

    app.add_typer(key_app, name="key")
    ledger_app.command("anchor")(anchor_command)
    app.command(name="chat")(chat_command)
    app.command(name="scan")(scan_command)
    app.command(name="pr")(pr_command)
    register_server_commands(app)
    app.command(name="reconcile")(reconcile_command)
    app.add_typer(mlflow_app, name="mlflow")
    from api._watch_commands import register_watch_commands

    register_watch_commands(app)
    # Commands of the packages that sit above the front doors (the demo) register themselves
    # through the `promogate.commands` entry point, so `api/` never imports them.
    for entry_point in entry_points(group="promogate.commands"):
        entry_point.load()(app)


def main() -> None:
    """Console-script entry point."""
    from api.gate_client import wants_server_gate

    if wants_server_gate(sys.argv[1:]):
        # The CI path: answer from the API without building the typer app or importing more.
        from api.gate_client import main as gate_client_main

        sys.exit(gate_client_main(sys.argv[1:]))
    from api._cli_gc import freeze_at_exit, tune_for_command
    from tools.redaction import install_log_redaction

    tune_for_command(sys.argv[1:])
    install_log_redaction()
    if sys.argv[1:2] not in (["review"], ["gate"]):
        # Both are defined above; the other commands' modules need not load to run them.
        _mount_optional_apps()
    from api._cli_usage import run_app

    try:
        sys.exit(run_app(app))
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        freeze_at_exit()


if __name__ == "__main__":
    main()
