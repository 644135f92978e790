"""The PR bot: review a pull request's pipeline changes and promotion requests, answer commands.

For each subject of a pull request (``pipeline``: the config files it changes; ``request:<path>``:
one promotion request file) the bot marks a check run ``in_progress`` on the head commit (App
mode) or sets a ``pending`` commit status (token mode), reviews, then keeps exactly one comment
up to date (found by its hidden marker and the bot's own user id) and completes the check with a
conclusion and annotations. A new push first marks the previous head's results superseded, so a
stale green never stays.

What is reviewed, which model a pipeline trains and who may override come from the trusted
configuration (`api.github._config`), never from the pull request's head. Pull request text and
file contents are screened for planted instructions (`agents.untrusted`) and never change a
verdict; the verdict of a promotion request is the gate's own (`GateService.gate`), recorded in
the ledger like any gate call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agents.untrusted import Place, normalize_untrusted, screen_text
from api.github._client import GitHubClient
from api.github._config import (
    BASE_CONFIG_PATH,
    BaseBranchConfig,
    BotConfig,
    RepoConfig,
)
from api.github._events import GitHubEvent
from api.github._metrics import GitHubMetrics
from api.github._report import (
    Annotation,
    SubjectReport,
    annotation_for,
    check_name,
    check_output,
    conclusion_for,
    marker_subject,
    render_comment,
)
from api.github._request_file import PromotionRequest, parse_request_file
from api.github.errors import (
    GitHubApiError,
    GitHubConfigError,
    GitHubUnavailableError,
    RequestFileError,
)
from ledger.errors import LedgerError
from policies.config_review import review_config_change
from policies.decision import Decision, Finding
from policies.errors import PolicyError
from policies.pipeline_rules import PipelineRules
from policies.result import STATUS_ORDER, CheckResult, Verdict
from tools.errors import ToolError

if TYPE_CHECKING:
    from review import GateService

__all__ = ["ACTIONS_BOT_USER_ID", "ClientFactory", "CommandHandler", "PRBot"]

logger = logging.getLogger("promogate.github")

ClientFactory = Callable[[int | None], GitHubClient]
"""A GitHub client for an App installation id (None in token mode)."""

CommandHandler = Callable[["PRBot", GitHubClient, RepoConfig, GitHubEvent], list[SubjectReport]]
"""Carries out the command of a comment event for a bot."""

ACTIONS_BOT_USER_ID = 41898282
"""The user id of ``github-actions[bot]``, which ``GITHUB_TOKEN`` comments as."""

_BOT_POLICY = "promogate.pr-bot"
_MAX_CONFIG_FILES = 50
_MAX_REQUEST_FILES = 10
_ANNOTATIONS_PER_REQUEST = 50
# The request format's own header reads like policy text to the screen; it is expected there.
_REQUEST_HEADER = frozenset({"apiVersion: promogate/v1", "kind: PromotionRequest"})
_STATUS_STATE = {
    "success": "success",
    "failure": "failure",
    "action_required": "failure",
    "neutral": "failure",
    "cancelled": "error",
}


def _excerpt(text: str, width: int = 160) -> str:
    folded = " ".join(normalize_untrusted(text).split())
    return folded if len(folded) <= width else folded[:width] + "…"


def _planted(source: str, ref: str, text: str, place: Place) -> Finding | None:
    # The one screening of untrusted text, at its place (PR prose is read as prose there).
    matched = sorted({d.kind for d in screen_text(text, place, ref)})
    if not matched:
        return None
    return Finding(
        title="Planted instruction in the pull request ignored",
        detail=(
            f"{source} contains text that tries to steer the review ({', '.join(matched)}): "
            f"{_excerpt(text)!r}. It was treated as data and changed nothing."
        ),
        severity="warning",
        evidence=[ref],
    )


def _planted_lines(
    path: str, text: str, *, expected: frozenset[str] = frozenset()
) -> tuple[list[Finding], list[Annotation]]:
    findings: list[Finding] = []
    annotations: list[Annotation] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if " ".join(line.split()) in expected:
            continue
        finding = _planted(f"{path}:{number}", f"file:{path}:{number}", line, "pr_file")
        if finding is None:
            continue
        findings.append(finding)
        annotations.append(
            Annotation(
                path=path,
                line=number,
                level="warning",
                title="Planted instruction ignored",
                message=finding.detail,
            )
        )
    return findings, annotations


def _line_of(check: CheckResult, path: str) -> int:
    """The line of `path` a check points at: its evidence reference, else its details, else 1."""
    prefix = f"file:{path}:"
    for ref in check.evidence:
        if ref.startswith(prefix) and ref[len(prefix) :].isdigit():
            return int(ref[len(prefix) :])
    line = check.details.get("line")
    return line if isinstance(line, int) and line >= 1 else 1


def _verdict_of(checks: list[CheckResult]) -> Verdict:
    worst = max((STATUS_ORDER[c.status] for c in checks), default=STATUS_ORDER["pass"])
    if worst >= STATUS_ORDER["error"]:
        return "block"
    if worst == STATUS_ORDER["warn"]:
        return "escalate"
    return "approve"


def _bot_check(check_id: str, message: str, how_to_fix: str | None = None) -> CheckResult:
    return CheckResult(
        id=check_id,
        policy=_BOT_POLICY,
        kind="evidence",
        status="error",
        message=message,
        how_to_fix=how_to_fix,
        overridable=False,
    )


def _batches(items: list[Annotation]) -> Iterator[list[Annotation]]:
    for start in range(0, len(items), _ANNOTATIONS_PER_REQUEST):
        yield items[start : start + _ANNOTATIONS_PER_REQUEST]


class PRBot:
    """Reviews pull requests and answers commands for the repositories the config serves.

    Args:
        gate: The gate service whose review pipeline, ledger, policies and overrides to use.
        config: The trusted bot configuration.
        clients: Builds a GitHub client per App installation (or the token client).
        public_url: The API's public base URL, for decision links (``/v1/reviews/{id}``).
        bot_user_id: The bot's own GitHub user id; asked from GitHub when None.
        bot_login: The bot's login (``my-app[bot]``), to look its id up in App mode.
        app_id: The App's id, to tell its check runs from other apps' (App mode).
        metrics: Where failures to post are counted.
        llm: ``offline`` or ``openai:<model>``: who answers `/promogate ask` (as `promogate chat`).
        openai_api_key: The LLM's API key.
        openai_base_url: The LLM's base URL.
        commands: Carries out `/promogate` comment commands (`api.github._pr_commands`); comments
            are ignored without it.
    """

    def __init__(
        self,
        gate: GateService,
        config: BotConfig,
        clients: ClientFactory,
        *,
        public_url: str | None = None,
        bot_user_id: int | None = None,
        bot_login: str | None = None,
        app_id: str | None = None,
        metrics: GitHubMetrics | None = None,
        max_files: int = 300,
        max_file_bytes: int = 512 * 1024,
        llm: str = "offline",
        openai_api_key: str | None = None,
        openai_base_url: str | None = None,
        commands: CommandHandler | None = None,
    ) -> None:
        self.commands = commands
        self.llm = llm
        self.openai_api_key = openai_api_key
        self.openai_base_url = openai_base_url
        self.gate = gate
        self.config = config
        self.clients = clients
        self.public_url = public_url.rstrip("/") if public_url else None
        self.bot_login = bot_login
        self.app_id = app_id
        self.metrics = metrics if metrics is not None else GitHubMetrics()
        self.max_files = max_files
        self.max_file_bytes = max_file_bytes
        self._bot_user_id = bot_user_id
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # -- entry point ------------------------------------------------------------------------------

    def handle(self, event: GitHubEvent) -> list[SubjectReport]:
        """Act on one event; the reports published (empty for commands that review nothing).

        Events of one pull request are handled one at a time in this process (jobs on several
        workers are serialised by the queue's lock on the pull request).

        Raises:
            GitHubApiError: GitHub could not be read or written (counted in metrics).
        """
        repo_config = self.config.repo(event.repository)
        if repo_config is None:
            logger.info("ignoring %s of unserved repository %s", event.kind, event.repository)
            return []
        gh = self.clients(event.installation_id)
        with self._pr_lock(event.repository, event.number):
            if event.kind == "pull_request":
                return self.review_pull_request(gh, repo_config, event)
            if self.commands is None:
                logger.info(
                    "ignoring a comment on %s#%d: no command handler",
                    event.repository,
                    event.number,
                )
                return []
            return self.commands(self, gh, repo_config, event)

    @contextmanager
    def _pr_lock(self, repo: str, number: int) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault((repo.lower(), number), threading.Lock())
        with lock:
            yield

    def counted(self, operation: str, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except GitHubApiError as exc:
            self.metrics.post_failures.labels(operation=operation).inc()
            logger.error("GitHub %s failed: %s", operation, exc)
            raise

    # -- pull requests ----------------------------------------------------------------------------

    def review_pull_request(
        self, gh: GitHubClient, repo_config: RepoConfig, event: GitHubEvent
    ) -> list[SubjectReport]:
        """Review every subject of the pull request at its current head and publish the results."""
        repo, number = event.repository, event.number
        pr = gh.pull_request(repo, number)
        head, base = str(pr["head"]["sha"]), str(pr["base"]["sha"])
        if event.before_sha and event.before_sha != head:
            self._supersede(gh, repo, event.before_sha, head)
        cfg = self._effective_config(gh, repo, repo_config, base)
        files = gh.pull_files(repo, number)
        skipped: list[str] = []
        listed = int(pr.get("changed_files") or len(files))
        if listed > len(files):
            skipped.append(
                f"{listed - len(files)} changed file(s) were not listed by GitHub "
                f"(it lists at most 3,000); they were not reviewed"
            )
        if len(files) > self.max_files:
            skipped.append(
                f"{len(files) - self.max_files} changed file(s) past the first {self.max_files} "
                "were not looked at"
            )
            files = files[: self.max_files]
        pr_findings = self._screen_pull_request(gh, repo, number, pr)
        reports: list[SubjectReport] = []
        pipeline_files = [f for f in files if cfg.pipeline_for(str(f["filename"])) is not None]
        if pipeline_files:
            reports.append(
                self.run_subject(
                    gh,
                    repo,
                    number,
                    "pipeline",
                    head,
                    lambda: self._pipeline_report(
                        gh, repo, cfg, pipeline_files, head, base, pr_findings, skipped
                    ),
                )
            )
        request_files = [
            f for f in files if cfg.is_request(str(f["filename"])) and f.get("status") != "removed"
        ]
        for f in request_files[:_MAX_REQUEST_FILES]:
            path = str(f["filename"])
            reports.append(
                self.run_subject(
                    gh,
                    repo,
                    number,
                    f"request:{path}",
                    head,
                    lambda path=path: self._request_report(  # type: ignore[misc]
                        gh, repo, cfg, path, head, pr_findings
                    ),
                )
            )
        if len(request_files) > _MAX_REQUEST_FILES:
            logger.warning(
                "%s#%d: %d promotion request files; only the first %d reviewed",
                repo,
                number,
                len(request_files),
                _MAX_REQUEST_FILES,
            )
        if not reports:
            logger.info("%s#%d changes no pipeline config and no promotion request", repo, number)
        return reports

    def _effective_config(
        self, gh: GitHubClient, repo: str, repo_config: RepoConfig, base_sha: str
    ) -> RepoConfig:
        if not repo_config.config_from_base:
            return repo_config
        import yaml

        text = gh.file_text(repo, BASE_CONFIG_PATH, base_sha, max_bytes=self.max_file_bytes)
        if text is None:
            return repo_config
        try:
            base = BaseBranchConfig.model_validate(yaml.safe_load(text) or {})
        except (yaml.YAMLError, ValidationError) as exc:
            raise GitHubConfigError(
                f"{BASE_CONFIG_PATH!r} on the base branch of {repo!r} is invalid: {exc}"
            ) from exc
        return repo_config.with_base(base)

    def _screen_pull_request(
        self, gh: GitHubClient, repo: str, number: int, pr: dict[str, Any]
    ) -> list[Finding]:
        ref = f"github:{repo}#{number}"
        texts: list[tuple[str, str, str, Place]] = [
            ("the pull request title", f"{ref}/title", str(pr.get("title") or ""), "pr_title"),
            ("the pull request body", f"{ref}/body", str(pr.get("body") or ""), "pr_body"),
            (
                "the head branch name",
                f"{ref}/head",
                str(pr.get("head", {}).get("ref") or ""),
                "pr_branch",
            ),
        ]
        for commit in gh.pull_commits(repo, number)[:250]:
            sha = str(commit.get("sha", ""))[:12]
            message = str(commit.get("commit", {}).get("message") or "")
            texts.append(
                (f"commit {sha} message", f"{ref}/commits/{sha}", message, "pr_commit_message")
            )
        found = [_planted(source, r, text, place) for source, r, text, place in texts]
        return [f for f in found if f is not None]

    def run_subject(
        self,
        gh: GitHubClient,
        repo: str,
        number: int,
        subject: str,
        head: str,
        review: Callable[[], SubjectReport | None],
    ) -> SubjectReport:
        check_id = self._start_check(gh, repo, subject, head)
        try:
            report = review()
        except (LedgerError, PolicyError, ToolError, GitHubApiError, GitHubConfigError) as exc:
            # The review could not complete: that blocks, with the reason, never a green check.
            logger.warning("%s#%d %s: review failed: %s", repo, number, subject, exc)
            report = self._failed_report(subject, head, f"{type(exc).__name__}: {exc}")
        if report is None:
            report = self._failed_report(subject, head, "nothing left to review")
        self._publish(gh, repo, number, report, check_id)
        return report

    @staticmethod
    def _failed_report(subject: str, head: str, reason: str) -> SubjectReport:
        check = _bot_check(
            "review.error",
            f"the review could not complete: {reason}",
            "push again or comment '/promogate review' once the cause is fixed",
        )
        return SubjectReport(
            subject=subject,
            title=f"{subject}: review failed",
            verdict="block",
            conclusion="failure",
            summary=f"the review could not complete ({reason[:80]})",
            head_sha=head,
            checks=[check],
        )

    # -- the pipeline subject ---------------------------------------------------------------------

    def _rules_for(self, model: str | None, target_alias: str) -> list[tuple[str, PipelineRules]]:
        """The ``pipeline:`` rules of the trusted policies that govern `model` at `target_alias`."""
        if model is None:
            return []
        rules: list[tuple[str, PipelineRules]] = []
        for loaded in self.gate.reviews.policies():
            match = loaded.policy.match
            if not fnmatchcase(model, match.model):
                continue
            if match.target_alias is not None and not fnmatchcase(target_alias, match.target_alias):
                continue
            if loaded.policy.pipeline is not None:
                rules.append((loaded.ref.name, loaded.policy.pipeline))
        return rules

    def _pipeline_report(
        self,
        gh: GitHubClient,
        repo: str,
        cfg: RepoConfig,
        files: list[dict[str, Any]],
        head: str,
        base: str,
        pr_findings: list[Finding],
        skipped_before: list[str],
    ) -> SubjectReport:
        checks: list[CheckResult] = []
        annotations: list[Annotation] = []
        findings = list(pr_findings)
        diff_lines: list[str] = []
        skipped = list(skipped_before)
        if len(files) > _MAX_CONFIG_FILES:
            skipped.append(
                f"{len(files) - _MAX_CONFIG_FILES} pipeline config file(s) past the first "
                f"{_MAX_CONFIG_FILES} were not reviewed: "
                + ", ".join(str(f["filename"]) for f in files[_MAX_CONFIG_FILES:][:20])
            )
        models: set[str] = set()
        for f in files[:_MAX_CONFIG_FILES]:
            path = str(f["filename"])
            status = str(f.get("status") or "modified")
            old_path = str(f.get("previous_filename") or path)
            mapping = cfg.pipeline_for(path)
            model = mapping.model if mapping is not None else None
            if model:
                models.add(model)
            try:
                new_text = (
                    None
                    if status == "removed"
                    else gh.file_text(repo, path, head, max_bytes=self.max_file_bytes)
                )
                old_text = (
                    None
                    if status == "added"
                    else gh.file_text(repo, old_path, base, max_bytes=self.max_file_bytes)
                )
            except GitHubUnavailableError:
                raise
            except GitHubApiError as exc:
                skipped.append(f"{path}: could not be read ({exc})")
                checks.append(
                    _bot_check(f"pipeline.read.{path}", f"{path} could not be read: {exc}")
                )
                annotations.append(
                    Annotation(
                        path=path, line=1, level="failure", title="not reviewed", message=str(exc)
                    )
                )
                continue
            rule_sets = self._rules_for(model, cfg.target_alias)
            reviews = [
                review_config_change(old_text, new_text, path=path, rules=rules, policy=name)
                for name, rules in rule_sets
            ] or [review_config_change(old_text, new_text, path=path, policy=_BOT_POLICY)]
            for change in reviews[0].changes:
                where = change.location
                diff_lines.append(
                    f"- `{where}` · {change.change_class}: {change.describe()}".replace("|", "\\|")
                )
            seen: set[tuple[str, str]] = set()
            for review in reviews:
                for check in review.checks:
                    key = (check.policy, check.id)
                    if key in seen:
                        continue
                    seen.add(key)
                    checks.append(check)
                    if status != "removed":
                        annotation = annotation_for(check, path, _line_of(check, path))
                        if annotation is not None:
                            annotations.append(annotation)
            if new_text is not None:
                planted, planted_notes = _planted_lines(path, new_text)
                findings += planted
                annotations += planted_notes
        verdict = _verdict_of(checks)
        failing = [c for c in checks if c.status in ("fail", "error")]
        reviewed = min(len(files), _MAX_CONFIG_FILES)
        rules_note = (
            f"rules of the policies for {', '.join(sorted(models))}"
            if any(self._rules_for(m, cfg.target_alias) for m in models)
            else "advisory (no policy pipeline rules apply)"
        )
        summary = (
            f"{reviewed} config file(s), {len(diff_lines)} change(s), "
            f"{len(failing)} failing check(s); {rules_note}"
        )
        return SubjectReport(
            subject="pipeline",
            title=f"pipeline change: {verdict}",
            verdict=verdict,
            conclusion=conclusion_for(verdict),
            summary=summary,
            head_sha=head,
            checks=checks,
            findings=findings,
            annotations=annotations,
            diff_lines=diff_lines,
            skipped=skipped,
        )

    # -- the promotion request subject ------------------------------------------------------------

    def _request_report(
        self,
        gh: GitHubClient,
        repo: str,
        cfg: RepoConfig,
        path: str,
        head: str,
        pr_findings: list[Finding],
    ) -> SubjectReport | None:
        subject = f"request:{path}"
        text = gh.file_text(repo, path, head, max_bytes=self.max_file_bytes)
        if text is None:
            return None
        findings, annotations = _planted_lines(path, text, expected=_REQUEST_HEADER)
        findings = [*pr_findings, *findings]
        try:
            request = parse_request_file(path, text)
        except RequestFileError as exc:
            check = _bot_check(
                "request.file",
                str(exc),
                "see docs/pr-bot.md for the promotion request format",
            )
            return SubjectReport(
                subject=subject,
                title=f"promotion request {path}: block",
                verdict="block",
                conclusion="failure",
                summary=f"the promotion request file cannot be read: {exc.message}"[:200],
                head_sha=head,
                checks=[check],
                findings=findings,
                annotations=[
                    Annotation(
                        path=path,
                        line=exc.line or 1,
                        level="failure",
                        title="malformed promotion request",
                        message=str(exc),
                    ),
                    *annotations,
                ],
            )
        return self.gate_report(subject, head, request, cfg, findings, annotations)

    def gate_report(
        self,
        subject: str,
        head: str,
        request: PromotionRequest,
        cfg: RepoConfig,
        findings: list[Finding],
        annotations: list[Annotation],
    ) -> SubjectReport:
        target = request.target_alias or cfg.target_alias
        answer = self.gate.gate(request.model, request.ref, target_alias=target)
        decision = (
            self.gate.ledger.get_decision(answer.decision_id)
            if answer.decision_id is not None
            else None
        )
        checks = decision.checks if decision is not None else []
        all_findings = [*findings, *(decision.findings if decision is not None else [])]
        version = f"v{answer.version}" if answer.version is not None else request.ref
        verdict_text = answer.verdict + (" (overridden: allowed)" if answer.overrides else "")
        summary = f"{request.model} {version} → @{target}: {verdict_text}"
        if answer.error:
            summary += f"; {answer.error[:120]}"
        return SubjectReport(
            subject=subject,
            title=f"promotion `{request.model}` {version} → @{target}",
            verdict=answer.verdict,
            conclusion=conclusion_for(answer.verdict, answer.allowed),
            summary=summary,
            head_sha=head,
            checks=checks,
            findings=all_findings,
            annotations=annotations,
            decision=decision,
            decision_url=self.decision_url(decision),
            allowed=answer.allowed,
            gate_reasons=answer.reasons,
        )

    def decision_url(self, decision: Decision | None) -> str | None:
        if decision is None or self.public_url is None:
            return None
        return f"{self.public_url}/v1/reviews/{decision.id}"

    # -- publishing -------------------------------------------------------------------------------

    def bot_user_id(self, gh: GitHubClient) -> int:
        """The bot's own user id, asked once (``GET /user``, or ``GET /users/{login}``)."""
        if self._bot_user_id is not None:
            return self._bot_user_id
        if gh.mode == "token":
            data = gh.authenticated_user()
        elif self.bot_login:
            data = gh.user(self.bot_login)
        else:
            raise GitHubConfigError(
                "set PROMOGATE_GITHUB_BOT_LOGIN (e.g. 'my-app[bot]') or "
                "PROMOGATE_GITHUB_BOT_USER_ID: without its own id the bot cannot find its comments"
            )
        self._bot_user_id = int(data["id"])
        return self._bot_user_id

    def _mine(self, gh: GitHubClient, repo: str, number: int, subject: str) -> list[dict[str, Any]]:
        bot_id = self.bot_user_id(gh)
        return [
            c
            for c in gh.issue_comments(repo, number)
            if marker_subject(str(c.get("body") or "")) == subject
            and (c.get("user") or {}).get("id") == bot_id
        ]

    def upsert_comment(
        self, gh: GitHubClient, repo: str, number: int, subject: str, body: str
    ) -> int:
        """Create or update the one comment about `subject`; returns its id.

        A comment created concurrently elsewhere (another replica) is found on the re-read, and
        all but the oldest are deleted.
        """
        mine = self._mine(gh, repo, number, subject)
        if not mine:
            created = self.counted("comment", lambda: gh.create_comment(repo, number, body))
            mine = self._mine(gh, repo, number, subject) or [created]
        mine.sort(key=lambda c: int(c["id"]))
        keep = mine[0]
        if keep.get("body") != body:
            self.counted("comment", lambda: gh.update_comment(repo, int(keep["id"]), body))
        for extra in mine[1:]:
            logger.warning("%s#%d: deleting duplicate comment %s", repo, number, extra["id"])
            self.counted("comment", partial(gh.delete_comment, repo, int(extra["id"])))
        return int(keep["id"])

    def _our_runs(
        self, gh: GitHubClient, repo: str, sha: str, name: str | None
    ) -> list[dict[str, Any]]:
        runs = gh.check_runs(repo, sha, name)
        if self.app_id is not None:
            runs = [r for r in runs if str((r.get("app") or {}).get("id")) == str(self.app_id)]
        return [r for r in runs if str(r.get("name", "")).startswith("promogate/")]

    def _start_check(self, gh: GitHubClient, repo: str, subject: str, head: str) -> int | None:
        name = check_name(subject)
        if gh.mode != "app":
            self.counted(
                "status",
                lambda: gh.create_status(
                    repo,
                    head,
                    {"state": "pending", "context": name, "description": "reviewing…"},
                ),
            )
            return None
        existing = self._our_runs(gh, repo, head, name)
        body: dict[str, Any] = {
            "name": name,
            "head_sha": head,
            "status": "in_progress",
            "started_at": datetime.now(UTC).isoformat(),
            "output": {"title": "reviewing…", "summary": "promogate is reviewing this commit."},
        }
        if existing:
            run_id = int(min(existing, key=lambda r: int(r["id"]))["id"])
            self.counted("check_run", lambda: gh.update_check_run(repo, run_id, body))
            return run_id
        created = self.counted("check_run", lambda: gh.create_check_run(repo, body))
        return int(created["id"])

    def _publish(
        self,
        gh: GitHubClient,
        repo: str,
        number: int,
        report: SubjectReport,
        check_id: int | None,
    ) -> None:
        self.upsert_comment(gh, repo, number, report.subject, render_comment(report))
        name = check_name(report.subject)
        if check_id is None:
            body: dict[str, Any] = {
                "state": _STATUS_STATE[report.conclusion],
                "context": name,
                "description": report.status_description,
            }
            if report.decision_url:
                body["target_url"] = report.decision_url
            self.counted("status", lambda: gh.create_status(repo, report.head_sha, body))
            return
        output = check_output(report)
        batches = list(_batches(report.annotations)) or [[]]
        final: dict[str, Any] = {
            "name": name,
            "status": "completed",
            "conclusion": report.conclusion,
            "completed_at": datetime.now(UTC).isoformat(),
            "output": {**output, "annotations": [a.as_github() for a in batches[0]]},
        }
        if report.decision_url:
            final["details_url"] = report.decision_url
        self.counted("check_run", lambda: gh.update_check_run(repo, check_id, final))
        for batch in batches[1:]:
            more = {
                "output": {
                    "title": output["title"],
                    "summary": output["summary"],
                    "annotations": [a.as_github() for a in batch],
                }
            }
            self.counted("check_run", partial(gh.update_check_run, repo, check_id, more))

    def _supersede(self, gh: GitHubClient, repo: str, old_sha: str, head: str) -> None:
        """Mark every promogate result on the previous head superseded (never left green)."""
        note = f"superseded by {head[:12]}"
        if gh.mode == "app":
            for run in self._our_runs(gh, repo, old_sha, None):
                if run.get("conclusion") == "cancelled":
                    continue
                body = {
                    "status": "completed",
                    "conclusion": "cancelled",
                    "output": {
                        "title": note,
                        "summary": f"A new push ({head[:12]}) replaced this commit; "
                        "its review is no longer current.",
                    },
                }
                self.counted("check_run", partial(gh.update_check_run, repo, int(run["id"]), body))
            return
        latest: dict[str, dict[str, Any]] = {}
        for status in gh.statuses(repo, old_sha):
            context = str(status.get("context", ""))
            # GitHub lists the newest first.
            if context.startswith("promogate/") and context not in latest:
                latest[context] = status
        for context, status in latest.items():
            if status.get("state") == "error":
                continue
            self.counted(
                "status",
                partial(
                    gh.create_status,
                    repo,
                    old_sha,
                    {"state": "error", "context": context, "description": note},
                ),
            )
