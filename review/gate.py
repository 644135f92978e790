"""The gate rules: reuse, overrides and promotion, on top of `ReviewService`.

The gate first takes the version's evidence fingerprint (`review._fingerprint`): a few metadata
reads that change whenever the evidence could have. A decision recorded with the same fingerprint
is reused without reading the evidence. Otherwise, or when no fingerprint can be taken, the gate
gathers the evidence once (`ReviewService.gather`), looks for a decision already made on the same
evidence digest under the same policy revisions, and reviews that same evidence
(`ReviewService.review(evidence=...)`) only when there is none; after the answer, the
fingerprint is recorded with the decision if it did not change meanwhile, and the decision's
tags are written. Every front door that gates (the HTTP API, the local `promogate gate`, the PR
bot) asks `GateService.gate`, so they decide the same way, overrides included.

Everything fails closed: a review that cannot complete is recorded as a blocking decision with its
reason, the gate allows only an approving decision (or a blocked one whose every failing check an
approver overrode for the same evidence), and an unreachable ledger raises
`LedgerUnavailableError`. Refusals are `review.errors.GateError`s, which the HTTP layer maps to
status codes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, Field

from ledger.errors import LedgerError, RecordNotFoundError
from ledger.fingerprints import (
    FingerprintMatch,
    FingerprintRecord,
    append_fingerprint,
    match_fingerprint,
)
from ledger.records import Override, Promotion
from ledger.store import Ledger, policy_refs_key
from policies.decision import Decision
from policies.errors import PolicyError
from policies.evaluator import is_overridable
from policies.loader import LoadedPolicy
from policies.result import Verdict
from review._fingerprint import (
    FINGERPRINT_FORMAT,
    EvidenceFingerprint,
    FingerprintUnavailableError,
    PolicySnapshots,
    PolicyState,
    evidence_fingerprint,
)
from review._followups import Followups
from review._gather import history_keys_for
from review._plausibility_evidence import start_importance_reads
from review._publish import set_version_tags
from review._trust import (
    approver_shortfall,
    contradicting_checks,
    distrust,
    outdated,
    problem_text,
    record_problem,
)
from review.artifact_security import artifact_change
from review.errors import (
    ApproverNotAllowedError,
    InvalidOverrideError,
    MlflowUnavailableError,
    OverrideRefusedError,
    PromotionRefusedError,
    SubjectNotFoundError,
)
from review.service import ReviewConfig, ReviewObserver, ReviewService
from tools.client import call_mlflow
from tools.errors import BackendUnavailableError, NotFoundError, ToolError
from tools.read_once import read_once
from tools.registry import registered_aliases

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "HUMAN_APPROVAL",
    "Assessment",
    "GateResponse",
    "GateService",
    "OverrideOrder",
    "PromoteResponse",
]

logger = logging.getLogger("promogate.review")


HUMAN_APPROVAL = "escalation"
"""The check id an approver names to approve an escalated decision as the human it escalated to."""
_BLOCKING_STATUSES = frozenset({"fail", "error"})
# Metadata reads only: a fingerprint that takes longer is not worth waiting for.
_FINGERPRINT_TIMEOUT_S = 10.0
_LEDGER_READERS = 4
_MAX_VERSION = 2**31 - 1  # version numbers are 32-bit in MLflow and in the ledger's columns
_OVERRIDABLE_STATUSES = frozenset({"fail", "error", "warn"})


def _now() -> datetime:
    return datetime.now(UTC)


class GateResponse(BaseModel):
    """Allow or deny, and the decision the answer rests on. All but `allowed: true` is a deny."""

    allowed: bool
    verdict: Verdict
    model: str
    version: int | None
    target_alias: str
    decision_id: str | None = None
    reused: bool = Field(description="True when a decision on the same evidence was reused.")
    evidence_digest: str | None = None
    reasons: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(
        default_factory=list, description="Ids of the active overrides the answer relied on."
    )
    error: str | None = Field(default=None, description="Why no decision could be made.")


class PromoteResponse(BaseModel):
    """The alias was moved; the promotion is recorded in the ledger and on the model version."""

    promoted: Literal[True] = True
    model: str
    version: int
    target_alias: str
    previous_version: int | None
    decision_id: str
    evidence_digest: str | None
    overrides: list[str] = Field(default_factory=list)
    promoted_by: str
    promoted_at: datetime
    record_id: str = Field(description="Ledger id of the record of this promotion.")
    unchanged: bool = Field(
        default=False,
        description="True when the version already held the alias: nothing was moved and the "
        "promotion that put it there is returned.",
    )


class OverrideOrder(Protocol):
    """What an approver asks for when overriding (the HTTP API's `OverrideRequest` is one)."""

    @property
    def model(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def target_alias(self) -> str | None: ...
    @property
    def check_ids(self) -> Sequence[str]: ...
    @property
    def justification(self) -> str: ...
    @property
    def expires_in_hours(self) -> float: ...
    @property
    def decision_id(self) -> str | None: ...


@dataclass(frozen=True)
class Assessment:
    """Whether a decision lets the promotion proceed, and the overrides that made it so."""

    allowed: bool
    overrides: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class GateService:
    """Reviews, gate answers, promotions and overrides for one configuration.

    Args:
        reviews: The review service whose configuration, MLflow client, ledger, investigator and
            policies this service uses.
        observer: Called after every recorded decision (metrics).
        clock: Source of the current time.
    """

    def __init__(
        self,
        reviews: ReviewService,
        *,
        observer: ReviewObserver | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.reviews = reviews
        if observer is not None:
            reviews.observer = observer
        self.clock = clock
        self._policy_snapshots = PolicySnapshots(reviews.policies, reviews.policy_directory)
        self._ledger_reads = ThreadPoolExecutor(
            max_workers=_LEDGER_READERS, thread_name_prefix="promogate-gate-ledger"
        )
        self._followups = Followups()

    def drain(self, timeout_s: float = 60.0) -> None:
        """Wait for what follows the answers given so far (tags, fingerprints); call it before a
        process that gated exits, or when it stops serving."""
        self._followups.drain(timeout_s)

    @property
    def config(self) -> ReviewConfig:
        return self.reviews.config

    @property
    def ledger(self) -> Ledger:
        return self.reviews.ledger

    @property
    def client(self) -> MlflowClient:
        return self.reviews.client

    # -- gate -------------------------------------------------------------------------------------

    def gate(
        self,
        model: str,
        ref: str | int,
        *,
        target_alias: str | None = None,
        requested_by: str | None = None,
        answered: threading.Event | None = None,
    ) -> GateResponse:
        """Allow or deny promoting `model` at `ref` to the target alias.

        Reuses the latest decision made on the same evidence digest under the same policy
        revisions; otherwise reviews now. Allows only an approving decision, or a non-approving
        one whose every failing check an approver overrode for that same evidence.

        Args:
            model: Registered model name.
            ref: Version number or ``@alias``.
            target_alias: The alias the deploy would move; the configured default if None.
            requested_by: Who asks (recorded with a review this call triggers).
            answered: Set by the caller once the answer has left (an HTTP response sent): what
                follows the answer (tags, fingerprint) starts then, not while it is sent. None:
                at once.
        """
        started = time.perf_counter()
        created_at = self.clock()
        target = target_alias or self.config.target_alias
        # The version's newest fingerprint record is read while MLflow is: the ledger round trip
        # overlaps the fingerprint's, and most repeated calls find their match in it. It starts
        # once the registry reads are on their way, so that it does not hold them back.
        number = ref if isinstance(ref, int) else int(ref) if ref.isdigit() else None
        # What an earlier answer on this version left to finish (its fingerprint, its tags) is
        # seen by this one, as if it had been done before that answer.
        self._followups.wait(model, number)
        newest: Future[FingerprintMatch | None] | None = None
        active: Future[list[Override]] | None = None

        def meanwhile(policies: list[LoadedPolicy]) -> None:
            nonlocal newest, active
            if number is not None and 1 <= number <= _MAX_VERSION:
                newest = self._ledger_reads.submit(
                    match_fingerprint, self.ledger, model, number, target, None, FINGERPRINT_FORMAT
                )
                # So are its active overrides, which a reused decision that does not approve
                # needs; they are judged at the moment the gate was asked.
                active = self._ledger_reads.submit(
                    self.ledger.active_overrides, model, number, target_alias=target, at=created_at
                )
            # A fresh review's model files are parsed (in the reader process, when there is
            # one) while the fingerprint is taken; a reused decision's are kept, and found so.
            start_importance_reads(
                reads,
                model,
                ref,
                policies,
                target_alias=target,
                baseline_alias=self.config.baseline_alias,
            )

        # The fingerprint taken before the evidence is read reads through the gathering's
        # read-once client: what it read (the version, runs, logged models and histories read
        # one by one) is not read again. Any change after it shows in the fingerprint taken
        # after the decision, which then is not recorded.
        reads = read_once(self.client)
        taken = self._fingerprint(model, ref, target, meanwhile=meanwhile, reads=reads)
        fingerprint = taken[0] if taken is not None else None
        if taken is not None:
            reused = self._reuse_by_fingerprint(*taken, target, newest=newest, active=active)
            if reused is not None:
                return reused
        try:
            # A caller waits on this answer: while the reader process parses the model files,
            # this thread runs the bootstraps the policies will ask for.
            evidence = self.reviews.gather(
                model,
                ref,
                target_alias=target,
                reads=reads,
                read_ahead=False,
                significance_ahead=True,
            )
        except (PolicyError, ToolError) as exc:
            decision = self.reviews.record_failure(
                model,
                ref,
                target,
                exc,
                created_at=created_at,
                started=started,
                requested_by=requested_by,
            )
            return self._answer(decision, reused=False)
        candidate = evidence.bundle.candidate
        existing = self.ledger.find_decision(
            candidate.model, candidate.version, evidence.bundle.digest, evidence.policy_refs, target
        )
        stale = outdated(existing, evidence.verdict) if existing is not None else None
        if stale is not None:
            logger.info(
                "gate %s/%s @%s: reviewing again: %s",
                candidate.model,
                candidate.version,
                target,
                stale,
            )
            existing = None
        swapped = (
            artifact_change(self.client, existing, evidence.bundle)
            if existing is not None
            else None
        )
        if swapped:
            logger.warning(
                "gate %s/%s @%s: %s", candidate.model, candidate.version, target, swapped
            )
        elif existing is not None:
            logger.info(
                "gate %s/%s @%s: reusing decision %s (%s) on the same evidence digest",
                candidate.model,
                candidate.version,
                target,
                existing.id,
                existing.verdict,
            )
            refusal = distrust(self.ledger, existing, evidence.verdict)
            if refusal is not None:
                return self._untrusted_answer(existing, refusal)
            self._follow(existing, None, fingerprint, ref, target, answered)
            return self._answer(existing, reused=True)
        outcome = self.reviews.review(
            model,
            ref,
            target_alias=target,
            evidence=evidence,
            requested_by=requested_by,
            publish=False,
        )
        self._follow(outcome.decision, outcome.record_hash, fingerprint, ref, target, answered)
        return self._answer(outcome.decision, reused=False)

    def _follow(
        self,
        decision: Decision,
        record_hash: str | None,
        fingerprint: EvidenceFingerprint | None,
        ref: str | int,
        target: str,
        answered: threading.Event | None,
    ) -> None:
        """After the answer (once `answered` is set, when given): publish a new decision's tags
        and record the fingerprint it was made under; the two run side by side (neither reads
        what the other writes: the fingerprint leaves ``promogate.*`` tags out)."""
        key = (decision.model, decision.version)
        if record_hash is not None and self.config.publish_tags:
            self._followups.submit(
                *key,
                f"publishing the tags of decision {decision.id}",
                partial(self.reviews.publish, decision, record_hash, read_as_model=True),
                after=answered,
            )
        if fingerprint is not None:
            self._followups.submit(
                *key,
                f"recording the fingerprint of decision {decision.id}",
                partial(self._remember, fingerprint, decision, ref, target),
                after=answered,
            )

    # -- reuse by fingerprint ---------------------------------------------------------------------

    def fingerprint(
        self, model: str, ref: str | int, target_alias: str | None = None
    ) -> EvidenceFingerprint | None:
        """The evidence fingerprint of `model` at `ref` now, or None when none can be taken.

        None means the evidence must be read in full: a read failed, the policies cannot be
        loaded, or part of the evidence lives where a cheap read cannot prove it unchanged.

        Args:
            model: Registered model name.
            ref: Version number or ``@alias``.
            target_alias: The alias the deploy would move; the configured default if None.
        """
        taken = self._fingerprint(model, ref, target_alias or self.config.target_alias)
        return taken[0] if taken is not None else None

    def _fingerprint(
        self,
        model: str,
        ref: str | int,
        target: str,
        *,
        meanwhile: Callable[[list[LoadedPolicy]], None] | None = None,
        reads: MlflowClient | None = None,
    ) -> tuple[EvidenceFingerprint, list[LoadedPolicy]] | None:
        """The fingerprint, and the policies it was taken under (None: none can be taken).

        `meanwhile` is called with the policies once the registry reads are on their way (not
        at all when the fingerprint fails before them); `reads` is the client to read through
        (this service's when None)."""
        taken: list[LoadedPolicy] = []

        def policy_state() -> PolicyState:
            policies, files = self._policy_snapshots.current()
            if meanwhile is not None:
                meanwhile(policies)
            taken.extend(policies)
            return PolicyState(policies, files, history_keys_for(policies, model))

        try:
            fingerprint = evidence_fingerprint(
                reads if reads is not None else self.client,
                model,
                ref,
                policy_state=policy_state,
                target_alias=target,
                baseline_alias=self.config.baseline_alias,
                timeout_s=min(_FINGERPRINT_TIMEOUT_S, self.config.evidence_timeout_s),
            )
        except (FingerprintUnavailableError, PolicyError) as exc:
            logger.info("gate %s@%s @%s: no fingerprint (%s)", model, ref, target, exc)
            return None
        return fingerprint, taken

    def _reuse_by_fingerprint(
        self,
        fingerprint: EvidenceFingerprint,
        policies: list[LoadedPolicy],
        target: str,
        *,
        newest: Future[FingerprintMatch | None] | None = None,
        active: Future[list[Override]] | None = None,
    ) -> GateResponse | None:
        """The answer on the decision recorded with this fingerprint, or None to read in full.

        `policies` are those the fingerprint was taken under (which policies enforce); `newest`,
        the version's newest fingerprint record read meanwhile, is used when its digest is this
        fingerprint's; `active`, the active overrides of the fingerprint's version for `target`,
        read meanwhile."""
        model, version = fingerprint.model, fingerprint.version
        match = newest.result() if newest is not None else None
        if (
            match is None
            or match.record.fingerprint != fingerprint.digest
            or (match.record.model, match.record.version) != (model, version)
        ):
            match = match_fingerprint(
                self.ledger, model, version, target, fingerprint.digest, fingerprint.format
            )
        if match is None:
            return None
        found = match.record
        if match.record_problem is not None:
            problem = match.record_problem
            text = problem_text(problem.kind, problem.detail, found.id, "fingerprint")
            logger.error("gate %s/%s @%s: %s", model, version, target, text)
            return None
        decision = match.decision
        if (
            decision is None
            or decision.error is not None
            or decision.evidence_digest != found.evidence_digest
            or (decision.model, decision.version, decision.target_alias) != (model, version, target)
        ):
            return None
        refusal = (
            problem_text(match.decision_problem.kind, match.decision_problem.detail, decision.id)
            if match.decision_problem is not None
            else None
        )
        if refusal is None:
            enforced = {p.name for p in policies if p.policy.mode != "audit"}
            contradicted = contradicting_checks(decision, enforced)
            if contradicted:
                refusal = (
                    f"decision {decision.id!r} approves although its checks {contradicted!r} "
                    "fail; a record whose verdict contradicts its checks is not trusted"
                )
        if refusal is not None:
            logger.error("refusing to act on decision %s: %s", decision.id, refusal)
            return self._untrusted_answer(decision, refusal)
        logger.info(
            "gate %s/%s @%s: reusing decision %s (%s) on an unchanged fingerprint",
            model,
            version,
            target,
            decision.id,
            decision.verdict,
        )
        return self._answer(
            decision, reused=True, active=active.result() if active is not None else None
        )

    def _remember(
        self,
        before: EvidenceFingerprint | None,
        decision: Decision,
        ref: str | int,
        target: str,
    ) -> None:
        """Record `before` with `decision` if the evidence sources still look the same.

        Taken again now, after the evidence was read and decided on: equal fingerprints mean
        nothing the fingerprint covers changed in between, so the decision rests on evidence
        that this fingerprint describes.
        """
        if (
            before is None
            or decision.error is not None
            or decision.evidence_digest is None
            or (decision.model, decision.version) != (before.model, before.version)
        ):
            return
        after = self.fingerprint(decision.model, ref, target)
        if after is None or after.digest != before.digest:
            changed = before.changed_parts(after) if after is not None else ["unavailable"]
            logger.info(
                "gate %s/%s @%s: evidence sources changed during the review (%s); "
                "no fingerprint recorded",
                decision.model,
                decision.version,
                target,
                ", ".join(changed),
            )
            return
        known = match_fingerprint(
            self.ledger, before.model, before.version, target, before.digest, before.format
        )
        if (
            known is not None
            and known.record.decision_id == decision.id
            and known.record_problem is None
        ):
            return
        record = FingerprintRecord(
            decision_id=decision.id,
            model=decision.model,
            version=decision.version,
            target_alias=target,
            evidence_digest=decision.evidence_digest,
            format=before.format,
            fingerprint=before.digest,
            parts=before.parts,
        )
        try:
            append_fingerprint(self.ledger, record)
        except LedgerError as exc:
            # After the answer, an unreachable ledger too only costs the fingerprint: the
            # decision stands, and the next gate reads in full.
            logger.warning("fingerprint of decision %s not recorded: %s", decision.id, exc)

    @staticmethod
    def _untrusted_answer(decision: Decision, refusal: str) -> GateResponse:
        return GateResponse(
            allowed=False,
            verdict="block",
            model=decision.model,
            version=decision.version or None,
            target_alias=decision.target_alias,
            decision_id=decision.id,
            reused=True,
            evidence_digest=decision.evidence_digest,
            reasons=[f"denied: {refusal}"],
            error=refusal,
        )

    def _answer(
        self, decision: Decision, *, reused: bool, active: list[Override] | None = None
    ) -> GateResponse:
        assessment = self.assess(decision, active=active)
        return GateResponse(
            allowed=assessment.allowed,
            verdict=decision.verdict,
            model=decision.model,
            version=decision.version or None,
            target_alias=decision.target_alias,
            decision_id=decision.id,
            reused=reused,
            evidence_digest=decision.evidence_digest,
            reasons=assessment.reasons,
            overrides=assessment.overrides,
            error=decision.error,
        )

    def assess(self, decision: Decision, *, active: list[Override] | None = None) -> Assessment:
        """Whether `decision` lets the promotion proceed, counting active overrides.

        Args:
            decision: A recorded decision.
            active: The active overrides of the decision's version and target alias, when they
                were read already (the ledger is asked otherwise).
        """
        if decision.error is not None:
            return Assessment(False, reasons=list(decision.reasons))
        if decision.verdict == "approve":
            return Assessment(True, reasons=list(decision.reasons))
        blocking = {c.id: c for c in decision.checks if c.status in _BLOCKING_STATUSES}
        fixed = [c.id for c in blocking.values() if not c.overridable]
        if fixed:
            return Assessment(
                False,
                reasons=[
                    *decision.reasons,
                    f"checks {', '.join(sorted(fixed))} fail and a policy forbids overriding them",
                ],
            )
        # Four eyes: the requester's own overrides never count.
        overrides = [
            o
            for o in self._applicable_overrides(decision, active)
            if o.approver != decision.requested_by
        ]
        covered = {check_id for o in overrides for check_id in o.check_ids}
        missing = sorted(set(blocking) - covered)
        if not overrides or missing:
            hint = (
                f"not overridden: {', '.join(missing)}"
                if overrides
                else "no active override for this decision"
            )
            return Assessment(False, reasons=[*decision.reasons, hint])
        shortfall = self._approver_shortfall(decision, overrides)
        if shortfall is not None:
            return Assessment(False, reasons=[*decision.reasons, shortfall])
        names = ", ".join(f"{o.id} by {o.approver}" for o in overrides)
        return Assessment(
            True,
            overrides=[o.id for o in overrides],
            reasons=[f"{decision.verdict} overridden ({names})", *decision.reasons],
        )

    def _approver_shortfall(self, decision: Decision, overrides: list[Override]) -> str | None:
        try:
            loaded = {p.name: p for p in self.reviews.policies()}
        except PolicyError as exc:
            return (
                f"policies could not be loaded, so how many approvers they need is unknown: {exc}"
            )
        needed = {name: policy.policy.overrides.min_approvers for name, policy in loaded.items()}
        return approver_shortfall(decision, overrides, needed)

    def _applicable_overrides(
        self, decision: Decision, active: list[Override] | None = None
    ) -> list[Override]:
        """Active overrides made for this decision, or for another on the same evidence, whose
        ledger records verify."""
        applicable: list[Override] = []
        key = policy_refs_key(decision.policies)
        if active is None:
            active = self.ledger.active_overrides(
                decision.model,
                decision.version,
                target_alias=decision.target_alias,
                at=self.clock(),
            )
        for override in active:
            if override.decision_id is None:
                continue
            if record_problem(self.ledger, override.id, "override") is not None:
                logger.error("ignoring override %s: its ledger record does not verify", override.id)
                continue
            if override.decision_id == decision.id:
                applicable.append(override)
                continue
            try:
                base = self.ledger.get_decision(override.decision_id)
            except RecordNotFoundError:
                continue
            if (
                base.evidence_digest == decision.evidence_digest
                and policy_refs_key(base.policies) == key
            ):
                applicable.append(override)
        return applicable

    # -- promote ----------------------------------------------------------------------------------

    def _already_promoted(self, model: str, version: int, target: str) -> PromoteResponse | None:
        """The recorded promotion when `version` already holds `target` (a repeat is a no-op)."""
        try:
            holder = registered_aliases(self.client, model).get(target)
        except ToolError as exc:
            raise self._tool_refusal(exc) from exc
        if holder != version:
            return None
        recorded = next(
            (
                p
                for p in self.ledger.list_promotions(model=model, version=version, limit=50)
                if p.target_alias == target
            ),
            None,
        )
        if recorded is None:
            # The alias was moved outside promogate: not a promotion this gate can vouch for.
            return None
        return PromoteResponse(
            model=model,
            version=version,
            target_alias=target,
            previous_version=recorded.previous_version,
            decision_id=recorded.decision_id,
            evidence_digest=recorded.evidence_digest,
            overrides=list(recorded.overrides),
            promoted_by=recorded.promoted_by,
            promoted_at=recorded.created_at,
            record_id=recorded.id,
            unchanged=True,
        )

    def promote(
        self, model: str, version: int, *, target_alias: str | None, actor: str
    ) -> PromoteResponse:
        """Move the alias to `version`, only on an allowing decision for the current evidence.

        Args:
            model: Registered model name.
            version: The version to promote.
            target_alias: The alias to move; the configured default if None.
            actor: Name of who asked (recorded with the promotion).

        Raises:
            PromotionRefusedError: No decision on the current evidence, or it does not allow.
            SubjectNotFoundError: No such model or version.
            MlflowUnavailableError: MLflow cannot be reached (nothing was moved).
        """
        target = target_alias or self.config.target_alias
        unchanged = self._already_promoted(model, version, target)
        if unchanged is not None:
            return unchanged
        try:
            evidence = self.reviews.gather(model, version, target_alias=target)
        except PolicyError as exc:
            raise PromotionRefusedError(f"policies could not be loaded: {exc}") from exc
        except ToolError as exc:
            raise self._tool_refusal(exc) from exc
        digest = evidence.bundle.digest
        decision = self.ledger.find_decision(model, version, digest, evidence.policy_refs, target)
        if decision is None:
            raise PromotionRefusedError(
                f"no decision on the current evidence of {model!r} v{version} for @{target} "
                f"(digest {digest[:12]}); call POST /v1/gate or POST /v1/reviews first"
            )
        refusal = distrust(self.ledger, decision, evidence.verdict)
        stale = outdated(decision, evidence.verdict)
        if refusal is None and stale is not None:
            refusal = f"{stale}; call POST /v1/gate or POST /v1/reviews again"
        if refusal is not None:
            raise PromotionRefusedError(
                f"{model!r} v{version} is not promoted to @{target}: {refusal}"
            )
        swapped = artifact_change(self.client, decision, evidence.bundle)
        if swapped:
            raise PromotionRefusedError(swapped)
        assessment = self.assess(decision)
        if not assessment.allowed:
            raise PromotionRefusedError(
                f"decision {decision.id!r} on the current evidence does not allow promoting "
                f"{model!r} v{version} to @{target}: {decision.verdict}; "
                + "; ".join(assessment.reasons[:5])
            )
        try:
            previous = registered_aliases(self.client, model).get(target)
            self.set_alias(model, target, version)
        except ToolError as exc:
            raise self._tool_refusal(exc) from exc
        promoted_at = self.clock()
        record = self._record_promotion(decision, assessment, previous, actor, promoted_at, digest)
        self._publish_promotion(model, version, target, record.id, actor, promoted_at)
        logger.info(
            "promoted %s v%s to @%s (was v%s) on decision %s by %s",
            model,
            version,
            target,
            previous,
            decision.id,
            actor,
        )
        return PromoteResponse(
            model=model,
            version=version,
            target_alias=target,
            previous_version=previous,
            decision_id=decision.id,
            evidence_digest=decision.evidence_digest,
            overrides=assessment.overrides,
            promoted_by=actor,
            promoted_at=promoted_at,
            record_id=record.id,
        )

    def set_alias(self, model: str, alias: str, version: int | None) -> None:
        """Point `alias` at `version` in MLflow, or remove it when None: how promote moves an alias
        and how the alias guard puts one back. Not retried: a move is not repeated blindly.

        Raises:
            ToolError: MLflow refused or could not be reached.
        """
        if version is None:
            call_mlflow(
                lambda: self.client.delete_registered_model_alias(model, alias),
                f"delete_registered_model_alias({model!r}, {alias!r})",
                attempts=1,
            )
            return
        call_mlflow(
            lambda: self.client.set_registered_model_alias(model, alias, str(version)),
            f"set_registered_model_alias({model!r}, {alias!r}, {version!r})",
            attempts=1,
        )

    def _record_promotion(
        self,
        decision: Decision,
        assessment: Assessment,
        previous: int | None,
        actor: str,
        promoted_at: datetime,
        evidence_digest: str,
    ) -> Promotion:
        """Append the promotion to the ledger's hash chain as a record of its own kind.

        A promotion record is never read as a decision, so it changes no later gate answer.
        """
        promotion = Promotion(
            model=decision.model,
            version=decision.version,
            target_alias=decision.target_alias,
            previous_version=previous,
            decision_id=decision.id,
            overrides=assessment.overrides,
            promoted_by=actor,
            evidence_digest=evidence_digest,
            created_at=promoted_at,
        )
        self.ledger.append_promotion(promotion)
        return promotion

    def _publish_promotion(
        self,
        model: str,
        version: int,
        target: str,
        record_id: str,
        actor: str,
        promoted_at: datetime,
    ) -> None:
        from mlflow.exceptions import MlflowException

        tags = {
            "promogate.promoted_to": target,
            "promogate.promoted_by": actor,
            "promogate.promoted_at": promoted_at.isoformat(),
            "promogate.promotion_record": record_id,
        }
        try:
            # The version was just read through the client by the gathering before the move.
            set_version_tags(
                self.client,
                model,
                str(version),
                tags,
                concurrently=self.reviews.remote_registry,
                read_as_model=True,
            )
        except MlflowException as exc:
            logger.warning(
                "promotion %s recorded but its tags were not written: %s", record_id, exc
            )

    @staticmethod
    def _tool_refusal(
        exc: ToolError,
    ) -> SubjectNotFoundError | MlflowUnavailableError | PromotionRefusedError:
        if isinstance(exc, NotFoundError):
            return SubjectNotFoundError(str(exc))
        if isinstance(exc, BackendUnavailableError):
            return MlflowUnavailableError(str(exc))
        return PromotionRefusedError(str(exc))

    # -- overrides --------------------------------------------------------------------------------

    def add_override(self, request: OverrideOrder, approver: str) -> Override:
        """Record an approver's override of named failing checks of one decision.

        Naming `HUMAN_APPROVAL` (``escalation``) approves an escalated decision: the human the
        review escalated to has decided. It answers to the approver lists and expiry caps of every
        policy the decision applied.

        Args:
            request: The model version, checks, justification and expiry.
            approver: Name of the approver (who must hold the approver or admin role; the front
                door checks that).

        Raises:
            SubjectNotFoundError: No such decision, or none for the version and alias.
            InvalidOverrideError: Unknown check ids, checks that do not fail, or an expiry longer
                than a policy allows.
            OverrideRefusedError: A check is never-overridable, the review failed, or the
                decision already approves.
            ApproverNotAllowedError: A policy names its approvers and this one is not among them.
        """
        target = request.target_alias or self.config.target_alias
        decision = self._decision_to_override(request, target)
        if decision.requested_by is not None and decision.requested_by == approver:
            # Four eyes: whoever asked for the review cannot be the one who lets it through.
            raise ApproverNotAllowedError(
                f"{approver!r} requested the review behind decision {decision.id!r}, so it cannot "
                "override its checks or approve its escalation: another approver must"
            )
        if decision.error is not None:
            raise OverrideRefusedError(
                f"decision {decision.id!r} records a review that failed ({decision.error}); "
                "a failed review cannot be overridden, review again"
            )
        if decision.verdict == "approve":
            raise OverrideRefusedError(f"decision {decision.id!r} approves; nothing to override")
        requested = list(dict.fromkeys(request.check_ids))
        check_ids = [i for i in requested if i != HUMAN_APPROVAL]
        if HUMAN_APPROVAL in requested and decision.verdict != "escalate":
            raise InvalidOverrideError(
                f"{HUMAN_APPROVAL!r} approves an escalated decision; decision {decision.id!r} "
                f"is a {decision.verdict}: name the failing checks it overrides instead"
            )
        checks = {c.id: c for c in decision.checks}
        unknown = [i for i in check_ids if i not in checks]
        if unknown:
            raise InvalidOverrideError(
                f"decision {decision.id!r} has no checks {unknown!r}; "
                f"its checks are {sorted(checks)!r}"
            )
        passing = [i for i in check_ids if checks[i].status not in _OVERRIDABLE_STATUSES]
        if passing:
            raise InvalidOverrideError(
                f"checks {passing!r} do not fail; there is nothing to override"
            )
        try:
            loaded = {p.name: p for p in self.reviews.policies()}
        except PolicyError as exc:
            raise OverrideRefusedError(
                f"policies could not be loaded, so their override rules are unknown: {exc}"
            ) from exc
        fixed: list[str] = []
        for check_id in check_ids:
            check = checks[check_id]
            policy = loaded.get(check.policy)
            never = policy.policy.overrides.never if policy is not None else []
            if not check.overridable or not is_overridable(check_id, never):
                fixed.append(check_id)
        if fixed:
            raise OverrideRefusedError(
                f"checks {fixed!r} are never-overridable under their policy; "
                "fix the candidate instead"
            )
        # A human approval answers to every policy the decision applied; an override of checks,
        # to the policies those checks belong to.
        governing = {checks[i].policy for i in check_ids}
        if HUMAN_APPROVAL in requested:
            governing |= {p.name for p in decision.policies}
        for policy_name in sorted(governing):
            self._check_override_rules(policy_name, loaded, request, approver)
        created_at = self.clock()
        override = Override(
            model=decision.model,
            version=decision.version,
            target_alias=target,
            check_ids=requested,
            approver=approver,
            justification=request.justification,
            expires_at=created_at + timedelta(hours=request.expires_in_hours),
            decision_id=decision.id,
            created_at=created_at,
        )
        self.ledger.append_override(override)
        logger.info(
            "override %s of %s on decision %s by %s until %s",
            override.id,
            ",".join(override.check_ids),
            decision.id,
            approver,
            override.expires_at.isoformat(),
        )
        return override

    def _decision_to_override(self, request: OverrideOrder, target: str) -> Decision:
        if request.decision_id is not None:
            try:
                decision = self.ledger.get_decision(request.decision_id)
            except RecordNotFoundError as exc:
                raise SubjectNotFoundError(str(exc)) from exc
            if (decision.model, decision.version, decision.target_alias) != (
                request.model,
                request.version,
                target,
            ):
                raise InvalidOverrideError(
                    f"decision {decision.id!r} is about {decision.model!r} v{decision.version} "
                    f"@{decision.target_alias}, not {request.model!r} v{request.version} @{target}"
                )
            return decision
        for decision in self.ledger.list_decisions(request.model, request.version, limit=100):
            if decision.target_alias == target:
                return decision
        raise SubjectNotFoundError(
            f"no decision about {request.model!r} v{request.version} for @{target}; "
            "review it first (POST /v1/reviews or /v1/gate)"
        )

    @staticmethod
    def _check_override_rules(
        policy_name: str,
        loaded: dict[str, LoadedPolicy],
        request: OverrideOrder,
        approver: str,
    ) -> None:
        policy = loaded.get(policy_name)
        if policy is None:
            raise OverrideRefusedError(
                f"policy {policy_name!r} is no longer loaded, so its override rules are unknown; "
                "review the version again under the current policies"
            )
        rules = policy.policy.overrides
        if rules.approvers and approver not in rules.approvers:
            raise ApproverNotAllowedError(
                f"policy {policy_name!r} lets only {rules.approvers!r} override its checks, "
                f"not {approver!r}"
            )
        if rules.expires_hours is not None and request.expires_in_hours > rules.expires_hours:
            raise InvalidOverrideError(
                f"policy {policy_name!r} allows overrides for at most {rules.expires_hours} hours, "
                f"not {request.expires_in_hours:g}"
            )
