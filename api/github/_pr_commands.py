"""`/promogate` commands in pull request comments: permission, parsing, carrying out, recording.

Only collaborators with write permission (asked live) may give commands; bots are ignored; every
command is recorded in the ledger as a ``command`` record, whatever became of it. ``review``
reviews again, ``ask`` answers with the chat of `promogate chat`, ``override`` records an
approver's override exactly as ``POST /v1/overrides`` does (the commenter acts as the policy
approver name the trusted configuration maps them to) and reviews the request again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agents.untrusted import quote_untrusted, screen_text
from api.github._bot import PRBot
from api.github._client import GitHubClient
from api.github._commands import Command, find_command
from api.github._config import RepoConfig
from api.github._events import GitHubEvent
from api.github._report import SubjectReport
from api.github._request_file import PromotionRequest, parse_request_file
from api.github.errors import CommandError, RequestFileError
from api.schemas import OverrideRequest
from ledger.commands import CommandOutcome, CommandRecord
from policies.errors import PolicyError
from review.errors import ApproverNotAllowedError, GateError
from tools.errors import ToolError

if TYPE_CHECKING:
    from agents.chat import ChatAnswer

__all__ = ["CommandRunner", "run_command"]

logger = logging.getLogger("promogate.github")

_WRITE = frozenset({"admin", "maintain", "write"})


class CommandRunner:
    """Carries out one comment's command for a bot.

    Args:
        bot: The bot whose gate, configuration, GitHub calls and publishing to use.
    """

    def __init__(self, bot: PRBot) -> None:
        self.bot = bot

    def _reply(self, gh: GitHubClient, repo: str, number: int, text: str) -> None:
        self.bot.counted("comment", lambda: gh.create_comment(repo, number, text))

    def _record(
        self, event: GitHubEvent, command: str, text: str, outcome: CommandOutcome, **extra: Any
    ) -> None:
        record = CommandRecord(
            repository=event.repository,
            pull_request=event.number,
            comment_id=event.comment_id,
            command=command,
            text=text[:2000],
            actor=event.actor or "unknown",
            actor_id=event.actor_id,
            outcome=outcome,
            **extra,
        )
        self.bot.gate.ledger.append_command(record)

    def run(self, gh: GitHubClient, cfg: RepoConfig, event: GitHubEvent) -> list[SubjectReport]:
        """Carry out the command in the event's comment, if it holds one and the commenter may."""
        repo, number = event.repository, event.number
        body = event.comment_body or ""
        if (event.actor_type or "").lower() == "bot" or str(event.actor or "").endswith("[bot]"):
            return []
        if event.actor_id is not None and event.actor_id == self.bot.bot_user_id(gh):
            return []
        first = next(
            (
                line.strip()
                for line in body.splitlines()
                if line.strip().lower().startswith("/promogate")
            ),
            None,
        )
        if first is None:
            return []
        login = event.actor or ""
        permission = gh.collaborator_permission(repo, login)
        if permission not in _WRITE:
            self._reply(
                gh,
                repo,
                number,
                f"@{login} only collaborators with write permission can give promogate commands "
                f"(yours: {permission}).",
            )
            self._record(
                event,
                first.split()[1] if len(first.split()) > 1 else "help",
                first,
                "refused",
                permission=permission,
                detail="no write permission",
            )
            return []
        try:
            command = find_command(body)
        except CommandError as exc:
            self._reply(
                gh,
                repo,
                number,
                f"@{login} {exc}. Commands: `/promogate review "
                "[MODEL VERSION]`, `/promogate ask QUESTION`, `/promogate override "
                'CHECK-ID --reason "..." --expires 24h`.',
            )
            self._record(event, "invalid", first, "invalid", permission=permission, detail=str(exc))
            return []
        assert command is not None
        if command.name == "review":
            return self._review_command(gh, cfg, event, command, permission)
        if command.name == "ask":
            self._ask_command(gh, cfg, event, command, permission)
            return []
        if command.name == "override":
            return self._override_command(gh, cfg, event, command, permission)
        self._reply(
            gh,
            repo,
            number,
            "promogate commands: `/promogate review [MODEL VERSION]`, "
            '`/promogate ask QUESTION`, `/promogate override CHECK-ID --reason "..." '
            "--expires 24h`. See docs/pr-bot.md.",
        )
        self._record(event, "help", command.text, "done", permission=permission)
        return []

    def _pr_event(self, event: GitHubEvent) -> GitHubEvent:
        return event.model_copy(update={"kind": "pull_request", "before_sha": None})

    def _review_command(
        self,
        gh: GitHubClient,
        cfg: RepoConfig,
        event: GitHubEvent,
        command: Command,
        permission: str,
    ) -> list[SubjectReport]:
        if command.model is None:
            reports = self.bot.review_pull_request(gh, cfg, self._pr_event(event))
            ids = [r.decision.id for r in reports if r.decision is not None]
            self._record(
                event, "review", command.text, "done", permission=permission, record_ids=ids
            )
            return reports
        ref = command.ref or ""
        if not (ref.isdigit() or ref.startswith("@")):
            ref = ref.lstrip("v")
        try:
            request = PromotionRequest.model_validate(
                {
                    "apiVersion": "promogate/v1",
                    "kind": "PromotionRequest",
                    "model": command.model,
                    **({"version": int(ref)} if ref.isdigit() else {"alias": ref.lstrip("@")}),
                }
            )
        except ValueError as exc:
            self._reply(
                gh,
                event.repository,
                event.number,
                f"@{event.actor} cannot review {command.model!r} {command.ref!r}: {exc}",
            )
            self._record(
                event, "review", command.text, "invalid", permission=permission, detail=str(exc)
            )
            return []
        pr = gh.pull_request(event.repository, event.number)
        head = str(pr["head"]["sha"])
        subject = f"review:{request.model}@{request.ref}"
        report = self.bot.run_subject(
            gh,
            event.repository,
            event.number,
            subject,
            head,
            lambda: self.bot.gate_report(subject, head, request, cfg, [], []),
        )
        decision = report.decision
        self._record(
            event,
            "review",
            command.text,
            "done",
            permission=permission,
            model=request.model,
            version=decision.version if decision else None,
            target_alias=decision.target_alias if decision else None,
            record_ids=[decision.id] if decision else [],
        )
        return [report]

    def _requests(
        self, gh: GitHubClient, cfg: RepoConfig, repo: str, number: int, head: str
    ) -> list[PromotionRequest]:
        found: list[PromotionRequest] = []
        for f in gh.pull_files(repo, number)[: self.bot.max_files]:
            path = str(f["filename"])
            if not cfg.is_request(path) or f.get("status") == "removed":
                continue
            text = gh.file_text(repo, path, head, max_bytes=self.bot.max_file_bytes)
            if text is None:
                continue
            try:
                found.append(parse_request_file(path, text))
            except RequestFileError:
                continue
        return found

    def _ask_command(
        self,
        gh: GitHubClient,
        cfg: RepoConfig,
        event: GitHubEvent,
        command: Command,
        permission: str,
    ) -> None:
        repo, number = event.repository, event.number
        head = str(gh.pull_request(repo, number)["head"]["sha"])
        requests = self._requests(gh, cfg, repo, number, head)
        if requests:
            model, ref, target = (
                requests[0].model,
                requests[0].ref,
                requests[0].target_alias or cfg.target_alias,
            )
        else:
            trained = next((m.model for m in cfg.pipelines if m.model), None)
            if trained is None:
                self._reply(
                    gh,
                    repo,
                    number,
                    f"@{event.actor} this pull request names no model "
                    "(no promotion request, and its pipelines map to none), so there is "
                    "nothing to ask about.",
                )
                self._record(
                    event,
                    "ask",
                    command.text,
                    "refused",
                    permission=permission,
                    detail="no model under review",
                )
                return
            model, ref, target = (
                trained,
                "@" + self.bot.gate.config.baseline_alias,
                cfg.target_alias,
            )
        question = command.question or ""
        try:
            answer = self._chat(model, ref, target, question)
        except (PolicyError, ToolError) as exc:
            self._reply(
                gh, repo, number, f"@{event.actor} cannot answer about {model} {ref}: {exc}"
            )
            self._record(
                event,
                "ask",
                command.text,
                "failed",
                permission=permission,
                model=model,
                detail=str(exc),
            )
            return
        quoted = "\n".join("> " + line for line in question.splitlines())
        lines = [quoted, "", answer.answer]
        if answer.tools:
            lines.append("\n_tools: " + ", ".join(f"`{t}`" for t in answer.tools) + "_")
        if answer.evidence:
            lines.append("_evidence: " + ", ".join(f"`{e}`" for e in answer.evidence[:12]) + "_")
        planted = sorted({d.kind for d in screen_text(question, "pr_comment")})
        if planted:
            lines.append(
                f"\n_The question contains text that tries to steer the review "
                f"({', '.join(planted)}); it was answered as a question and changed nothing._"
            )
        self._reply(gh, repo, number, "\n".join(lines)[:60_000])
        self._record(
            event,
            "ask",
            command.text,
            "done",
            permission=permission,
            model=model,
            target_alias=target,
        )

    def _chat(self, model: str, ref: str, target: str, question: str) -> ChatAnswer:
        from agents.chat import ChatSession

        evidence = self.bot.gate.reviews.gather(model, ref, target_alias=target)
        version = evidence.bundle.candidate.version
        decisions = self.bot.gate.ledger.list_decisions(model, version, limit=1)
        decision = decisions[0] if decisions else None
        if self.bot.llm == "offline":
            session = ChatSession(
                evidence.bundle, evidence.verdict, decision=decision, client=self.bot.gate.client
            )
            return session.ask(question)
        from agents.chat_model import build_chat_model, parse_model_spec

        spec = parse_model_spec(self.bot.llm)
        chat_model = build_chat_model(
            spec, api_key=self.bot.openai_api_key, base_url=self.bot.openai_base_url
        )
        session = ChatSession(
            evidence.bundle,
            evidence.verdict,
            decision=decision,
            chat_model=chat_model,
            model_name=spec.model,
            client=self.bot.gate.client,
        )
        # The question comes from a pull request comment: the model reads it as quoted data.
        return session.ask(quote_untrusted("pull request comment", question))

    def approver_names(self, gh: GitHubClient, login: str) -> list[str]:
        """The policy approver names a GitHub user acts as, from the trusted mapping."""
        names: list[str] = []
        for name, members in self.bot.config.approvers.items():
            for member in members:
                if member.startswith("@") and "/" in member:
                    org, team = member[1:].split("/", 1)
                    if gh.is_team_member(org, team, login):
                        names.append(name)
                        break
                elif member.lower() == login.lower():
                    names.append(name)
                    break
        return names

    def _override_command(
        self,
        gh: GitHubClient,
        cfg: RepoConfig,
        event: GitHubEvent,
        command: Command,
        permission: str,
    ) -> list[SubjectReport]:
        repo, number, login = event.repository, event.number, event.actor or ""
        names = self.approver_names(gh, login)
        if not names:
            self._reply(
                gh,
                repo,
                number,
                f"@{login} is not mapped to any policy approver, so cannot override checks.",
            )
            self._record(
                event,
                "override",
                command.text,
                "refused",
                permission=permission,
                detail="not an approver",
            )
            return []
        pr = gh.pull_request(repo, number)
        head = str(pr["head"]["sha"])
        requests = self._requests(gh, cfg, repo, number, head)
        if not requests:
            self._reply(
                gh,
                repo,
                number,
                f"@{login} this pull request has no readable promotion "
                "request, so there is no decision to override.",
            )
            self._record(
                event,
                "override",
                command.text,
                "refused",
                permission=permission,
                detail="no promotion request",
            )
            return []
        request = requests[0]
        target = request.target_alias or cfg.target_alias
        answer = self.bot.gate.gate(request.model, request.ref, target_alias=target)
        if answer.decision_id is None or answer.version is None:
            self._reply(gh, repo, number, f"@{login} no decision to override: {answer.error}")
            self._record(
                event,
                "override",
                command.text,
                "failed",
                permission=permission,
                model=request.model,
                detail=str(answer.error),
            )
            return []
        try:
            override_request = OverrideRequest(
                model=request.model,
                version=answer.version,
                target_alias=target,
                check_ids=command.check_ids,
                justification=command.reason or "",
                expires_in_hours=command.expires_hours or 0,
                decision_id=answer.decision_id,
            )
        except ValidationError as exc:
            detail = "; ".join(str(e.get("msg", "")) for e in exc.errors())
            self._reply(gh, repo, number, f"@{login} override refused: {detail}")
            self._record(
                event, "override", command.text, "invalid", permission=permission, detail=detail
            )
            return []
        last_error: GateError | None = None
        for name in names:
            try:
                override = self.bot.gate.add_override(override_request, name)
            except ApproverNotAllowedError as exc:
                last_error = exc
                continue
            except GateError as exc:
                last_error = exc
                break
            self._reply(
                gh,
                repo,
                number,
                f"@{login} override `{override.id}` of "
                f"{', '.join(f'`{c}`' for c in override.check_ids)} recorded as approver "
                f"`{name}` until {override.expires_at.isoformat(timespec='minutes')}.",
            )
            self._record(
                event,
                "override",
                command.text,
                "done",
                permission=permission,
                approver=name,
                model=request.model,
                version=answer.version,
                target_alias=target,
                record_ids=[answer.decision_id, override.id],
            )
            path = next(
                (
                    str(f["filename"])
                    for f in gh.pull_files(repo, number)
                    if cfg.is_request(str(f["filename"]))
                ),
                None,
            )
            subject = f"request:{path}" if path else f"review:{request.model}@{request.ref}"
            report = self.bot.run_subject(
                gh,
                repo,
                number,
                subject,
                head,
                lambda s=subject: self.bot.gate_report(s, head, request, cfg, [], []),  # type: ignore[misc]
            )
            return [report]
        detail = str(last_error) if last_error is not None else "refused"
        self._reply(gh, repo, number, f"@{login} override refused: {detail}")
        self._record(
            event,
            "override",
            command.text,
            "refused",
            permission=permission,
            model=request.model,
            version=answer.version,
            target_alias=target,
            detail=detail,
        )
        return []


def run_command(
    bot: PRBot, gh: GitHubClient, cfg: RepoConfig, event: GitHubEvent
) -> list[SubjectReport]:
    """The bot's command handler (`PRBot(commands=run_command)`)."""
    return CommandRunner(bot).run(gh, cfg, event)
