"""The post-promotion watch, one pass: evaluate a champion's new monitoring windows and act on them.

For ``MODEL@ALIAS`` (``@champion`` by default) a pass:

1. finds the version behind the alias and the trusted policies with a ``watch:`` section that
   match it (none: the pass is an error, never a silent ok);
2. reads the reference the promotion decision rested on and the metrics at promotion;
3. lists the version's monitoring windows and evaluates those the ledger has not seen, or whose
   evidence changed since (labels that arrived late for an old window), under every matching
   watch section; the worst report stands;
4. appends one ``watch`` record per evaluated window to the ledger (a window evaluated again
   names the record it supersedes and why);
5. on an alert: reopens the champion's decision (a re-review under the current policies that
   carries the watch's checks, findings and diagnostic questions), names the rollback target and
   what moving back would cost on the labelled windows, and, only when the policy says
   ``rollback: automatic``, moves the alias back through the gate's promote path.

One pass per alias at a time across processes: a pass holds a lease on the alias in the ledger
database, like the alias guard.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.idempotency import IdempotencyStore
from ledger.records import WatchLevel, WatchRecord
from policies.decision import Decision
from policies.errors import PolicyError
from policies.loader import LoadedPolicy
from policies.result import CheckResult, CheckStatus, Verdict
from policies.selector import select_policies
from review._alias_lease import WATCH_LEASE, alias_lease
from review._decide import decide, error_decision
from review._publish import publish_decision_tags
from review._watch_advice import (
    RollbackAdvice,
    advise_rollback,
)
from review._watch_diagnosis import diagnose
from review.errors import GateError
from tools.collector import evidence_tags
from tools.errors import ToolError
from tools.evidence import VersionEvidence
from tools.registry import registered_aliases, resolve_version
from watch.errors import WatchError
from watch.evaluate import evaluate_window
from watch.report import WatchCheck, WindowReport
from watch.window import MonitoringWindow, Reference

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from review.gate import GateService

__all__ = [
    "WATCH_ACTOR",
    "RollbackResult",
    "WatchNotice",
    "WatchPass",
    "Watcher",
    "WindowOutcome",
]

logger = logging.getLogger("promogate.review")

WATCH_ACTOR = "promogate-watch"
"""The name the watch acts under: re-reviews it requests, rollbacks it promotes."""
_LEVEL_RANK: dict[str, int] = {"ok": 0, "skip": 1, "watch": 2, "alert": 3}
_STATUS: dict[str, CheckStatus] = {
    "ok": "pass",
    "watch": "warn",
    "alert": "fail",
    "skip": "skip",
    "error": "error",
}
_NOT_FEATURES = frozenset({"label", "prediction", "score", "row_id"})

PassLevel = Literal["ok", "watch", "alert", "skip", "error"]


def _now() -> datetime:
    return datetime.now(UTC)


def _worst(levels: Sequence[str]) -> str:
    return max(levels, key=lambda level: _LEVEL_RANK.get(level, 0)) if levels else "ok"


class WindowOutcome(BaseModel):
    """One window of a pass: its level, and the ledger record that holds its evaluation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_id: str
    window_start: datetime | None = None
    window_end: datetime | None = None
    level: WatchLevel
    record_id: str | None = None
    supersedes: str | None = None
    reevaluation_reason: str | None = None
    error: str | None = None
    rows: int = 0
    labelled_rows: int = 0
    drifted_features: list[str] = Field(default_factory=list)
    drifted_segments: dict[str, list[str]] = Field(default_factory=dict)
    failing: list[str] = Field(default_factory=list, description="Checks at watch or alert.")


class RollbackResult(BaseModel):
    """What an automatic rollback did: moved the alias through promote, or why it did not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    done: bool
    promotion_id: str | None = None
    gate_decision_id: str | None = None
    reasons: list[str] = Field(default_factory=list)


class WatchPass(BaseModel):
    """Everything one pass over a model's alias found and did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str
    version: int | None = None
    policies: list[str] = Field(default_factory=list)
    windows: list[WindowOutcome] = Field(default_factory=list)
    decision_id: str | None = Field(default=None, description="The re-review an alert opened.")
    decision_verdict: Verdict | None = None
    advice: RollbackAdvice | None = None
    rollback: RollbackResult | None = None
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def level(self) -> PassLevel:
        """``error`` when something could not be evaluated, else the worst window's level."""
        if self.errors or any(w.error for w in self.windows):
            return "error"
        worst = _worst([w.level for w in self.windows])
        return "ok" if worst == "ok" else worst  # type: ignore[return-value]


class WatchNotice(BaseModel):
    """What the front door should tell people about a pass (it chooses the channel)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["watch_alert", "watch_rollback"]
    model: str
    alias: str
    version: int | None
    level: str
    summary: str
    reasons: list[str] = Field(default_factory=list)
    record_id: str | None = None


def _check_result(policy: str, check: WatchCheck) -> CheckResult:
    """A window's check in the shape every decision uses (``watch.`` before its id)."""
    observed: float | None = None
    threshold: float | None = None
    baseline: float | None = None
    delta: float | None = None
    p_value: float | None = None
    details: dict[str, Any] = {"kind": check.kind}
    if check.drift is not None:
        observed, threshold, p_value = (
            check.drift.statistic,
            check.drift.threshold,
            check.drift.p_value,
        )
        details.update(check.drift.model_dump(mode="json"))
    elif check.metric is not None:
        observed, baseline = check.metric.realised_value, check.metric.promotion_value
        delta, p_value, threshold = check.metric.delta, check.metric.p_value, check.metric.max_drop
        details.update(check.metric.model_dump(mode="json"))
    elif check.quality is not None:
        observed, baseline = check.quality.window_value, check.quality.reference_value
        threshold = check.quality.threshold
        details.update(check.quality.model_dump(mode="json"))
    return CheckResult(
        id=f"watch.{check.id}",
        policy=policy,
        kind="watch",
        status=_STATUS[check.status],
        message=check.message,
        observed=observed,
        threshold=threshold,
        baseline=baseline,
        delta=delta,
        p_value=p_value,
        details=details,
    )


def _stricter(first: Verdict, second: Verdict) -> Verdict:
    order: list[Verdict] = ["approve", "escalate", "block"]
    return max(first, second, key=order.index)


class Watcher:
    """Runs watch passes for one configuration: the gate's MLflow client, ledger and policies.

    Args:
        gate: The gate service (its review service, ledger, MLflow client; promote for rollbacks).
        notify: Called with what a pass should tell people (never raises).
        score_rollback: Measure what moving back would cost by scoring the rollback target's model
            on the labelled windows (when its artifacts pass the security checks).
        lock_wait_s: How long a pass waits for another process's pass on the same alias.
        clock: Source of record times.
    """

    def __init__(
        self,
        gate: GateService,
        *,
        notify: Callable[[WatchNotice], None] | None = None,
        score_rollback: bool = True,
        lock_wait_s: float = 30.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.gate = gate
        self.notify = notify
        self.score_rollback = score_rollback
        self.lock_wait_s = lock_wait_s
        self.locks = IdempotencyStore(gate.ledger.database, lease_seconds=600.0)
        self.clock = clock

    @property
    def client(self) -> MlflowClient:
        return self.gate.client

    # -- which models -----------------------------------------------------------------------------

    def watched_aliases(self, policies: Sequence[LoadedPolicy]) -> list[tuple[str, str]]:
        """``(model, alias)`` of every registered model a policy with a ``watch:`` section names.

        Args:
            policies: The trusted policies.

        Raises:
            ToolError: MLflow could not be listed.
        """
        from fnmatch import fnmatchcase

        from tools.client import every_page

        watching = [p for p in policies if p.policy.watch is not None]
        if not watching:
            return []
        default = self.gate.config.target_alias
        found: list[tuple[str, str]] = []
        for registered in every_page(
            self.client.search_registered_models, "search_registered_models()"
        ):
            name = str(registered.name)
            for loaded in watching:
                match = loaded.policy.match
                alias = match.target_alias or default
                glob = bool(set("*?[") & set(alias))
                if fnmatchcase(name, match.model) and not glob and (name, alias) not in found:
                    found.append((name, alias))
        return found

    def watch_all(self, *, deadline_s: float = 600.0) -> list[WatchPass]:
        """One pass over every watched model and alias (the periodic job).

        Args:
            deadline_s: Stop starting passes after this long.
        """
        started = time.monotonic()
        try:
            pairs = self.watched_aliases(self.gate.reviews.policies())
        except (PolicyError, ToolError) as exc:
            return [WatchPass(model="*", alias="*", errors=[f"nothing could be listed: {exc}"])]
        passes: list[WatchPass] = []
        for model, alias in pairs:
            if time.monotonic() - started > deadline_s:
                passes.append(
                    WatchPass(model=model, alias=alias, errors=["not started before the deadline"])
                )
                continue
            passes.append(self.watch(model, alias))
        return passes

    # -- one pass ---------------------------------------------------------------------------------

    def watch(self, model: str, alias: str | None = None) -> WatchPass:
        """Evaluate the new windows of the version behind ``model@alias`` and act on them.

        Args:
            model: Registered model name.
            alias: The alias whose holder is watched (the configured target alias if None).

        Raises:
            LedgerUnavailableError: The ledger cannot be reached (nothing was recorded).
        """
        target = alias or self.gate.config.target_alias
        with alias_lease(self.locks, WATCH_LEASE, model, target, self.lock_wait_s) as held:
            if not held:
                return WatchPass(
                    model=model,
                    alias=target,
                    errors=[f"another pass held @{target} for over {self.lock_wait_s:g} s"],
                )
            return self._watch_locked(model, target)

    def _watch_locked(self, model: str, alias: str) -> WatchPass:
        started = time.monotonic()

        def failed(message: str, **fields: Any) -> WatchPass:
            logger.warning("watch %s@%s: %s", model, alias, message)
            return WatchPass(
                model=model,
                alias=alias,
                errors=[message],
                seconds=time.monotonic() - started,
                **fields,
            )

        try:
            policies = self.gate.reviews.policies()
        except PolicyError as exc:
            return failed(f"policies could not be loaded: {exc}")
        try:
            version = registered_aliases(self.client, model).get(alias)
            if version is None:
                return failed(f"no version of {model!r} holds @{alias}: nothing to watch")
            resolved = resolve_version(self.client, model, version)
        except ToolError as exc:
            return failed(f"MLflow could not be read: {exc}")
        candidate = VersionEvidence(
            model=resolved.model,
            version=resolved.version,
            aliases=resolved.aliases,
            tags=evidence_tags(resolved.tags),
            source=resolved.source,
            run_id=resolved.run_id,
            model_id=resolved.model_id,
        )
        watching = [
            p for p in select_policies(policies, candidate, alias) if p.policy.watch is not None
        ]
        names = [p.name for p in watching]
        if not watching:
            return failed(
                f"no trusted policy with a watch: section matches {model!r} v{version} @{alias}",
                version=version,
            )
        from watch.monitoring import list_windows, read_reference

        try:
            reference = read_reference(self.client, model, version)
            refs = list_windows(self.client, model, version)
            promotion_metrics = self._promotion_metrics(resolved.run_id)
        except (WatchError, ToolError) as exc:
            return failed(str(exc), version=version, policies=names)
        recorded: dict[str, WatchRecord] = {}
        for record in self.gate.ledger.list_watch(
            model, target_alias=alias, version=version, limit=1000
        ):
            recorded.setdefault(record.window_id, record)
        evaluated: list[tuple[WatchRecord, WindowReport | None, MonitoringWindow | None]] = []
        for ref in sorted(refs, key=lambda r: (r.window_start, r.run_id)):
            previous = recorded.get(ref.run_id)
            if previous is not None and self._unchanged(previous, ref):
                continue
            item = self._evaluate_one(
                model, version, alias, ref, previous, reference, watching, promotion_metrics
            )
            if item is not None:
                evaluated.append(item)
        outcome = self._act(model, alias, version, watching, evaluated, policies, reference)
        return outcome.model_copy(update={"policies": names, "seconds": time.monotonic() - started})

    @staticmethod
    def _unchanged(previous: WatchRecord, ref: Any) -> bool:
        """The ledger already holds this window with the same label batches (cheap test)."""
        recorded_labels = sorted(previous.report.get("label_run_ids") or [])
        return previous.error is None and recorded_labels == sorted(ref.label_run_ids)

    def _promotion_metrics(self, run_id: str | None) -> dict[str, float]:
        """The champion's metrics as logged on its source run (what the promotion rested on)."""
        if run_id is None:
            return {}
        from tools.client import call_mlflow

        run = call_mlflow(lambda: self.client.get_run(run_id), f"get_run({run_id!r})")
        return {str(k): float(v) for k, v in (run.data.metrics or {}).items()}

    def _evaluate_one(
        self,
        model: str,
        version: int,
        alias: str,
        ref: Any,
        previous: WatchRecord | None,
        reference: Reference,
        watching: Sequence[LoadedPolicy],
        promotion_metrics: dict[str, float],
    ) -> tuple[WatchRecord, WindowReport | None, MonitoringWindow | None] | None:
        from watch.monitoring import read_window

        reason: str | None = None
        if previous is not None:
            before = set(previous.report.get("label_run_ids") or [])
            arrived = sorted(set(ref.label_run_ids) - before)
            reason = (
                f"labels arrived late ({', '.join(arrived)})"
                if arrived
                else "the window's evidence changed since it was evaluated"
            )
        try:
            window = read_window(self.client, ref)
        except (WatchError, ToolError) as exc:
            # Never a pass: the window is recorded with the policy's error level and the reason.
            level = _worst([p.policy.watch.levels.error for p in watching if p.policy.watch])
            message = str(exc)
            if previous is not None and previous.error == message:
                return None
            record = WatchRecord(
                model=model,
                version=version,
                target_alias=alias,
                window_id=ref.run_id,
                window_start=ref.window_start,
                window_end=ref.window_end,
                window_digest=hashlib.sha256(message.encode()).hexdigest(),
                labelled=bool(ref.label_run_ids),
                level=level,
                summary=f"window could not be evaluated: {message}",
                reasons=[message],
                supersedes=previous.id if previous is not None else None,
                reevaluation_reason=reason,
                error=message,
                created_at=self.clock(),
            )
            return record, None, None
        if previous is not None and previous.window_digest == window.digest:
            return None
        reports: list[tuple[str, WindowReport]] = []
        for loaded in watching:
            assert loaded.policy.watch is not None
            reports.append(
                (
                    loaded.name,
                    evaluate_window(reference, window, loaded.policy.watch, promotion_metrics),
                )
            )
        policy_name, report = max(reports, key=lambda item: _LEVEL_RANK[item[1].level])
        failing = report.failing()
        summary = f"{report.level}: " + (
            "; ".join(c.message for c in failing[:3]) if failing else "no check above ok"
        )
        record = WatchRecord(
            model=model,
            version=version,
            target_alias=alias,
            window_id=ref.run_id,
            window_start=report.window_start,
            window_end=report.window_end,
            window_digest=report.evidence_digest or window.digest,
            labelled=report.labelled_rows > 0,
            level=report.level,
            summary=summary,
            reasons=[f"{c.id} {c.status}: {c.message}" for c in failing[:20]],
            supersedes=previous.id if previous is not None else None,
            reevaluation_reason=reason,
            report={"policy": policy_name, **report.model_dump(mode="json")},
            created_at=self.clock(),
        )
        return record, report, window

    # -- acting on the windows --------------------------------------------------------------------

    def _act(
        self,
        model: str,
        alias: str,
        version: int,
        watching: Sequence[LoadedPolicy],
        evaluated: list[tuple[WatchRecord, WindowReport | None, MonitoringWindow | None]],
        policies: Sequence[LoadedPolicy],
        reference: Reference,
    ) -> WatchPass:
        alerts = [(r, rep) for r, rep, _ in evaluated if rep is not None and r.level == "alert"]
        rules = {p.name: p.policy.watch for p in watching if p.policy.watch is not None}
        actions: set[str] = set()
        for record, report, _ in evaluated:
            if report is not None:
                actions.update(report.actions)
            elif record.level == "alert":
                actions.add("notify")
        decision: Decision | None = None
        advice: RollbackAdvice | None = None
        rollback: RollbackResult | None = None
        if alerts:
            windows = [w for _, _, w in evaluated if w is not None]
            advice = advise_rollback(
                self.gate,
                model,
                alias,
                version,
                windows,
                rules,
                policies,
                score=self.score_rollback,
            )
            if "re_review" in actions:
                decision = self._re_review(model, alias, version, alerts, advice)
            automatic = [
                name
                for name, rule in rules.items()
                if rule.rollback == "automatic" and "rollback" in rule.on_alert
            ]
            if automatic and advice.target is not None:
                rollback = self._rollback(model, alias, advice.target.version)
        outcomes: list[WindowOutcome] = []
        for record, report, _ in evaluated:
            done: list[str] = []
            if record.level in ("watch", "alert") and "notify" in actions:
                done.append("notify")
            if record.level == "alert" and decision is not None and report is not None:
                done.append(f"re_review:{decision.id}")
            if record.level == "alert" and rollback is not None and report is not None:
                done.append(
                    f"rollback:{rollback.promotion_id}" if rollback.done else "rollback_refused"
                )
            final = record.model_copy(
                update={
                    "decision_id": decision.id
                    if decision is not None and record.level == "alert" and report is not None
                    else None,
                    "actions": done,
                }
            )
            refs = [p.ref for p in watching]
            self.gate.ledger.append_watch(final, refs)
            outcomes.append(
                WindowOutcome(
                    window_id=final.window_id,
                    window_start=final.window_start,
                    window_end=final.window_end,
                    level=final.level,
                    record_id=final.id,
                    supersedes=final.supersedes,
                    reevaluation_reason=final.reevaluation_reason,
                    error=final.error,
                    rows=report.rows if report is not None else 0,
                    labelled_rows=report.labelled_rows if report is not None else 0,
                    drifted_features=list(report.drifted_features) if report else [],
                    drifted_segments=dict(report.drifted_segments) if report else {},
                    failing=[c.id for c in report.failing()] if report else [],
                )
            )
        result = WatchPass(
            model=model,
            alias=alias,
            version=version,
            windows=outcomes,
            decision_id=decision.id if decision is not None else None,
            decision_verdict=decision.verdict if decision is not None else None,
            advice=advice,
            rollback=rollback,
        )
        self._tell(result, actions)
        return result

    def _tell(self, result: WatchPass, actions: set[str]) -> None:
        if self.notify is None:
            return
        if result.rollback is not None and result.rollback.done:
            self.notify(
                WatchNotice(
                    kind="watch_rollback",
                    model=result.model,
                    alias=result.alias,
                    version=result.rollback.version,
                    level="alert",
                    summary=f"@{result.alias} moved back from v{result.version} to "
                    f"v{result.rollback.version} after a watch alert (rollback: automatic).",
                    reasons=result.rollback.reasons,
                    record_id=result.rollback.promotion_id,
                )
            )
        level = result.level
        if level not in ("watch", "alert", "error") or "notify" not in actions | (
            {"notify"} if level == "error" else set()
        ):
            return
        flagged = [w for w in result.windows if w.level in ("watch", "alert") or w.error]
        reasons = [
            f"window {w.window_id} ({w.window_start:%Y-%m-%d} to {w.window_end:%Y-%m-%d}): "
            f"{w.level}"
            + (f", error: {w.error}" if w.error else "")
            + (f", drifted: {', '.join(w.drifted_features)}" if w.drifted_features else "")
            + (f", failing: {', '.join(w.failing[:5])}" if w.failing else "")
            if w.window_start and w.window_end
            else f"window {w.window_id}: {w.level}"
            for w in flagged
        ]
        if result.advice is not None:
            reasons.append(result.advice.summary)
        if result.decision_id is not None:
            reasons.append(f"decision reopened: {result.decision_id} ({result.decision_verdict})")
        self.notify(
            WatchNotice(
                kind="watch_alert",
                model=result.model,
                alias=result.alias,
                version=result.version,
                level=level,
                summary=f"v{result.version} @{result.alias}: {level} on "
                f"{len(flagged)} monitoring window(s).",
                reasons=reasons + result.errors,
                record_id=result.decision_id
                or next((w.record_id for w in flagged if w.record_id), None),
            )
        )

    # -- re-review ------------------------------------------------------------------------------

    def _re_review(
        self,
        model: str,
        alias: str,
        version: int,
        alerts: list[tuple[WatchRecord, WindowReport]],
        advice: RollbackAdvice | None,
    ) -> Decision:
        """Reopen the champion's decision: review it again under the current policies, with the
        watch's checks, findings and diagnostic questions, and record it."""
        reviews = self.gate.reviews
        started = time.perf_counter()
        created_at = self.clock()
        checks: list[CheckResult] = []
        for record, report in alerts:
            policy = str(record.report.get("policy", "watch"))
            checks.extend(
                _check_result(policy, c).model_copy(
                    update={"evidence": [f"run:{record.window_id}"]}
                )
                for c in report.checks
                if c.status != "ok" or c.kind == "performance"
            )
        # Ids must be unique within a decision: keep the latest window's result of each check.
        unique = list({c.id: c for c in checks}.values())
        history = self.gate.ledger.list_watch(
            model, target_alias=alias, version=version, limit=1000
        )
        findings, questions = diagnose(history, alerts, advice)
        confirmed = any(
            c.kind == "performance" and c.status == "alert" for _, rep in alerts for c in rep.checks
        )
        watch_verdict: Verdict = "block" if confirmed else "escalate"
        reason = f"post-promotion watch: {len(alerts)} window(s) of v{version} @{alias} alert " + (
            "with a significant realised performance drop" if confirmed else "on drift"
        )
        try:
            evidence = reviews.gather(model, version, target_alias=alias)
        except (PolicyError, ToolError) as exc:
            base = error_decision(
                model=model,
                version=version,
                target_alias=alias,
                error=f"the re-review could not gather the version's evidence: {exc}",
                created_at=created_at,
            )
        else:
            base = decide(
                evidence,
                investigator=reviews.investigator,
                target_alias=alias,
                created_at=created_at,
                started=started,
            )
        decision = base.model_copy(
            update={
                "verdict": _stricter(base.verdict, watch_verdict),
                "reasons": [reason, *base.reasons],
                "checks": [*base.checks, *unique],
                "findings": [*findings, *base.findings],
                "questions": [*questions, *base.questions],
                "requested_by": WATCH_ACTOR,
                "duration_ms": (time.perf_counter() - started) * 1000.0,
            }
        )
        chained = reviews.record(decision, started)
        if reviews.config.publish_tags:
            from mlflow.exceptions import MlflowException

            try:
                publish_decision_tags(self.client, decision, chained.record_hash)
            except MlflowException as exc:
                logger.warning("re-review %s recorded; tags not written: %s", decision.id, exc)
        logger.info(
            "watch %s@%s: decision on v%s reopened as %s (%s)",
            model,
            alias,
            version,
            decision.id,
            decision.verdict,
        )
        return decision

    # -- rollback advice and automatic rollback --------------------------------------------------

    def _rollback(self, model: str, alias: str, version: int) -> RollbackResult:
        """Move the alias back to `version` through the gate: review it now, promote if allowed."""
        answer = self.gate.gate(model, version, target_alias=alias, requested_by=WATCH_ACTOR)
        if not answer.allowed:
            logger.warning(
                "watch %s@%s: automatic rollback to v%s refused by the gate: %s",
                model,
                alias,
                version,
                "; ".join(answer.reasons[:3]),
            )
            return RollbackResult(
                version=version,
                done=False,
                gate_decision_id=answer.decision_id,
                reasons=[f"the gate denies v{version} for @{alias}", *answer.reasons[:5]],
            )
        try:
            promoted = self.gate.promote(model, version, target_alias=alias, actor=WATCH_ACTOR)
        except GateError as exc:
            return RollbackResult(
                version=version,
                done=False,
                gate_decision_id=answer.decision_id,
                reasons=[f"promote refused: {exc}"],
            )
        logger.warning(
            "watch %s@%s: rolled back to v%s (promotion %s)",
            model,
            alias,
            version,
            promoted.record_id,
        )
        return RollbackResult(
            version=version,
            done=True,
            promotion_id=promoted.record_id,
            gate_decision_id=promoted.decision_id,
            reasons=[f"rollback: automatic; moved on decision {promoted.decision_id}"],
        )
