"""`promogate chat MODEL VERSION`: ask about a version under review, or its decision.

Answers are grounded in tool calls and cite the evidence they rest on. With ``--llm openai:<model>``
an LLM agent answers (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``); offline, a fixed set of questions
is answered deterministically. Questions come from ``-q`` (repeatable) or, without ``-q``, from an
interactive prompt (``exit`` or end of input stops it).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_options import LedgerUrl, Llm, ModelArg, PoliciesDir, RefArg, TrackingUri

if TYPE_CHECKING:
    from agents.chat import ChatAnswer, ChatSession
    from api.settings import Settings
    from policies.decision import Decision

__all__ = ["chat_app", "chat_command"]

logger = logging.getLogger("promogate.api")

# A one-command app, runnable on its own; the main CLI mounts `chat_command` as `promogate chat`.
chat_app = typer.Typer(
    help="Ask about a model version under review, or its decision; answers cite evidence.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

_EXIT_WORDS = frozenset({"exit", "quit", ":q"})


def _latest_decision(settings: Settings, model: str, version: int) -> Decision | None:
    from sqlalchemy.exc import SQLAlchemyError

    from ledger.errors import LedgerError
    from ledger.store import Ledger

    try:
        ledger = Ledger(settings.ledger_url)
        try:
            found = ledger.list_decisions(model, version, limit=1)
        finally:
            ledger.close()
    except (LedgerError, SQLAlchemyError) as exc:
        logger.warning("no decision read from the ledger %s: %s", settings.ledger_url, exc)
        return None
    return found[0] if found else None


def _session(settings: Settings, model: str, ref: str) -> ChatSession:
    from agents.chat import ChatSession
    from api.services import configure_mlflow_environment
    from policies.loader import load_policy_dir
    from review import evaluate_evidence, gather_evidence
    from tools.client import make_client

    configure_mlflow_environment(settings)
    client = make_client(settings.tracking_uri, settings.registry_uri)
    # Without a trusted policy directory no policy matches, and the verdict is a block.
    policies = load_policy_dir(settings.policies_dir) if settings.policies_dir else []
    bundle = gather_evidence(
        client,
        model,
        ref,
        policies=policies,
        baseline_alias=settings.baseline_alias,
        target_alias=settings.target_alias,
        timeout_s=settings.evidence_timeout_s,
    )
    evidence = evaluate_evidence(bundle, policies)
    bundle, verdict = evidence.bundle, evidence.verdict
    decision = _latest_decision(settings, model, bundle.candidate.version)
    if settings.llm == "offline":
        return ChatSession(bundle, verdict, decision=decision, client=client)
    from agents.chat_model import build_chat_model, parse_model_spec
    from agents.tracing import MlflowReviewTracer

    spec = parse_model_spec(settings.llm)
    chat_model = build_chat_model(
        spec, api_key=settings.openai_api_key, base_url=settings.openai_base_url
    )
    return ChatSession(
        bundle,
        verdict,
        decision=decision,
        chat_model=chat_model,
        model_name=spec.model,
        client=client,
        tracer=MlflowReviewTracer(settings.tracking_uri),
    )


def _print_answer(answer: ChatAnswer, *, as_json: bool) -> None:
    if as_json:
        typer.echo(answer.model_dump_json())
        return
    typer.echo(answer.answer)
    if answer.tools:
        typer.echo(f"  tools: {', '.join(answer.tools)}")
    if answer.evidence:
        typer.echo(f"  evidence: {', '.join(answer.evidence)}")
    if answer.fallback_reason:
        typer.echo(f"  (answered offline: {answer.fallback_reason})")


def _questions_from_prompt() -> list[str] | None:
    try:
        line = input("you> ")
    except EOFError:
        return None
    if line.strip().lower() in _EXIT_WORDS:
        return None
    return [line] if line.strip() else []


def chat_command(
    model: ModelArg,
    ref: RefArg,
    question: Annotated[
        list[str] | None,
        typer.Option("--question", "-q", help="A question to answer (repeatable)."),
    ] = None,
    tracking_uri: TrackingUri = None,
    policies: PoliciesDir = None,
    ledger_url: LedgerUrl = None,
    llm: Llm = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON answer per line.")] = False,
) -> None:
    """Ask about MODEL at VERSION (or @ALIAS); answers cite the evidence they rest on."""
    from agents.chat_model import LlmConfigError
    from api.settings import load_settings
    from policies.errors import PolicyError
    from tools.errors import ToolError

    settings = load_settings(
        tracking_uri=tracking_uri, policies_dir=policies, ledger_url=ledger_url, llm=llm
    )
    try:
        session = _session(settings, model, ref)
    except (ToolError, PolicyError, LlmConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from exc
    if not as_json:
        typer.echo(
            f"Chatting about {session.bundle.candidate.ref} ({session.mode}); "
            f"the policies say {session.verdict.verdict}."
        )
    if question:
        for text in question:
            _print_answer(session.ask(text), as_json=as_json)
        return
    while (batch := _questions_from_prompt()) is not None:
        for text in batch:
            _print_answer(session.ask(text), as_json=as_json)


chat_app.command(name="chat")(chat_command)
