"""The alias guard: is the version behind an alias approved for it, and if not, put it back.

An alias is *approved* on the version promogate last put there (a promotion, a revert, or a move
the guard accepted), or on a version with an allowing decision for that alias made on unchanged
evidence: the rule of ``POST /v1/promote``. Because moving an alias changes the evidence of both
versions (their alias lists, and which version is the baseline), the evidence is compared as it
stood before the move: the candidate without the alias, the decision's baseline with it.

What happens to an unapproved move depends on the strictest policy that guards the alias
(`policies._alias_guard_rules`): ``audit`` records an ``alias_move`` and notifies; ``enforce`` also
moves the alias back to the last version promogate approved for it, or removes it when there was
none, and records an ``alias_revert``. The guard's own revert lands on the ledger's holder, so the
webhook it triggers finds nothing to do: a revert never loops.

One winner per alias across processes: every check holds a lease on the alias in the ledger
database (an insert-if-absent row in the idempotency table; a crashed holder's lease expires), and
reads MLflow only once it holds it. A second checker waits for the lease, then finds the alias
already put back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.idempotency import IdempotencyStore
from ledger.records import AliasMove, AliasMoveSource, AliasRevert, Promotion
from ledger.store import policy_refs_key
from policies.errors import PolicyError
from policies.evaluator import evaluate_policies
from policies.evidence_mapping import applicable_mapping, metric_names_for
from policies.loader import LoadedPolicy
from review._alias_lease import ALIAS_GUARD_LEASE, alias_lease
from review._gather import complete_evidence, history_keys_for
from tools.client import every_page
from tools.collector import collect_resolved
from tools.errors import ToolError
from tools.evidence import EvidenceBundle
from tools.registry import registered_aliases, resolve_version

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from ledger.store import Ledger
    from review.gate import GateService

__all__ = [
    "GUARD_ACTOR",
    "AliasGuard",
    "GuardAction",
    "GuardOutcome",
    "GuardedAlias",
    "HolderCheck",
    "ReconcileReport",
    "guard_mode_for",
]

logger = logging.getLogger("promogate.api")

GUARD_ACTOR = "promogate-alias-guard"
"""The name the guard acts under in ledger records."""
_MODE_RANK = {"off": 0, "audit": 1, "enforce": 2}

GuardAction = Literal[
    "unguarded",  # no policy guards the alias
    "unset",  # the alias names no version
    "none",  # the alias is on an approved version already
    "accepted",  # moved by hand to an approved version; recorded as the new holder
    "reported",  # audit: unapproved move recorded and notified
    "reverted",  # enforce: put back on the last approved version
    "removed",  # enforce: removed, promogate never approved a version for it
    "busy",  # another process held the alias's lease for longer than the wait
    "failed",  # MLflow, the policies or the ledger could not be read; nothing was done
]


def _now() -> datetime:
    return datetime.now(UTC)


class GuardedAlias(BaseModel):
    """An alias some policy guards, and the strictest mode among those policies."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str
    mode: Literal["off", "audit", "enforce"]
    policies: list[str] = Field(default_factory=list)


class HolderCheck(BaseModel):
    """Whether the version behind an alias is approved for it, and what the ledger expects."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    approved: bool
    expected_version: int | None = Field(
        description="The last version promogate approved for the alias (None: never)."
    )
    decision_id: str | None = None
    reasons: list[str] = Field(default_factory=list)


class GuardOutcome(BaseModel):
    """What one check of one alias found and did."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    alias: str
    version: int | None = None
    expected_version: int | None = None
    mode: Literal["off", "audit", "enforce"] | None = None
    action: GuardAction
    move_id: str | None = None
    revert_id: str | None = None
    reasons: list[str] = Field(default_factory=list)


class ReconcileReport(BaseModel):
    """One reconciler pass: every guarded alias checked, and what was left for the next pass."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outcomes: list[GuardOutcome] = Field(default_factory=list)
    models_seen: int = 0
    unfinished: list[str] = Field(
        default_factory=list, description="model@alias not checked before the deadline."
    )
    errors: list[str] = Field(default_factory=list)
    seconds: float = 0.0

    @property
    def unapproved(self) -> list[GuardOutcome]:
        return [o for o in self.outcomes if o.action in ("reported", "reverted", "removed")]


def guard_mode_for(
    policies: Iterable[LoadedPolicy], model: str, alias: str, default_alias: str
) -> GuardedAlias:
    """The strictest guard mode the policies give `model@alias` (``off`` when none guards it).

    A policy guards the aliases its ``guard.aliases`` globs name, else its ``match.target_alias``,
    else `default_alias`; its mode is ``guard.mode``, else the policy's own ``mode``.

    Args:
        policies: The trusted policies.
        model: Registered model name.
        alias: The alias.
        default_alias: The service's target alias (``champion``).
    """
    mode: Literal["off", "audit", "enforce"] = "off"
    names: list[str] = []
    for loaded in policies:
        policy = loaded.policy
        if not fnmatchcase(model, policy.match.model):
            continue
        globs = policy.guard.aliases or [policy.match.target_alias or default_alias]
        if not any(fnmatchcase(alias, glob) for glob in globs):
            continue
        policy_mode = policy.guard.mode or policy.mode
        if policy_mode == "off":
            continue
        names.append(policy.name)
        if _MODE_RANK[policy_mode] > _MODE_RANK[mode]:
            mode = policy_mode
    return GuardedAlias(model=model, alias=alias, mode=mode, policies=names)


@dataclass(frozen=True)
class _Holder:
    version: int | None
    record_id: str | None


class AliasGuard:
    """Checks guarded aliases against the ledger and acts on unapproved moves.

    Args:
        gate: The gate service: its policies, MLflow client, ledger and decision assessment.
        default_alias: The alias a policy guards when it names none.
        notify: Called with every unapproved move, revert and failure (never raises).
        lock_wait_s: How long a check waits for another process's lease on the same alias.
        lease_s: After this long a lease counts as abandoned (its holder died).
        clock: Source of record times.
    """

    def __init__(
        self,
        gate: GateService,
        *,
        default_alias: str = "champion",
        notify: Callable[[GuardOutcome], None] | None = None,
        lock_wait_s: float = 15.0,
        lease_s: float = 120.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.gate = gate
        self.default_alias = default_alias
        self.notify = notify
        self.lock_wait_s = lock_wait_s
        self.locks = IdempotencyStore(gate.ledger.database, lease_seconds=lease_s)
        self.clock = clock

    @property
    def ledger(self) -> Ledger:
        return self.gate.ledger

    @property
    def client(self) -> MlflowClient:
        return self.gate.client

    # -- one alias --------------------------------------------------------------------------------

    def check_alias(
        self,
        model: str,
        alias: str,
        *,
        source: AliasMoveSource,
        delivery_id: str | None = None,
        adopt: bool = False,
    ) -> GuardOutcome:
        """Check one alias now and act on what it holds; the event that prompted it is a hint only.

        Args:
            model: Registered model name.
            alias: The alias.
            source: ``webhook`` or ``reconciler`` (recorded).
            delivery_id: The webhook delivery that prompted the check (recorded).
            adopt: Accept the version an alias the ledger has never seen holds (setting the guard
                up over an existing registry) instead of judging it.

        Raises:
            LedgerUnavailableError: The ledger cannot be reached (nothing was moved).
        """
        try:
            policies = self.gate.reviews.policies()
        except PolicyError as exc:
            return self._failed(model, alias, None, f"policies could not be loaded: {exc}")
        guarded = guard_mode_for(policies, model, alias, self.default_alias)
        if guarded.mode == "off":
            return GuardOutcome(model=model, alias=alias, action="unguarded")
        with alias_lease(self.locks, ALIAS_GUARD_LEASE, model, alias, self.lock_wait_s) as held:
            if not held:
                return GuardOutcome(
                    model=model,
                    alias=alias,
                    mode=guarded.mode,
                    action="busy",
                    reasons=[f"another process held the lease for over {self.lock_wait_s:g} s"],
                )
            return self._check_locked(
                model, alias, guarded, policies, source, delivery_id, adopt=adopt
            )

    def _check_locked(
        self,
        model: str,
        alias: str,
        guarded: GuardedAlias,
        policies: list[LoadedPolicy],
        source: AliasMoveSource,
        delivery_id: str | None,
        *,
        adopt: bool = False,
    ) -> GuardOutcome:
        mode = guarded.mode
        assert mode != "off"
        try:
            version = registered_aliases(self.client, model).get(alias)
        except ToolError as exc:
            return self._failed(model, alias, None, f"MLflow could not be read: {exc}")
        if version is None:
            return GuardOutcome(model=model, alias=alias, mode=mode, action="unset")
        try:
            if adopt and self.ledger_holder(model, alias).record_id is None:
                check = HolderCheck(
                    approved=True,
                    expected_version=None,
                    reasons=[
                        f"v{version} adopted as the holder of @{alias}, which the ledger "
                        "had never seen (reconcile --adopt)"
                    ],
                )
            else:
                check = self.holder_check(model, alias, version, policies)
        except ToolError as exc:
            return self._failed(model, alias, version, f"MLflow could not be read: {exc}")
        if check.approved and check.expected_version == version:
            return GuardOutcome(
                model=model,
                alias=alias,
                version=version,
                expected_version=version,
                mode=mode,
                action="none",
                reasons=check.reasons,
            )
        if check.approved:
            move = self._record_move(
                model, alias, version, check, mode, "accepted", source, delivery_id
            )
            logger.info(
                "alias guard: %s@%s moved by hand to approved v%s (decision %s); accepted",
                model,
                alias,
                version,
                check.decision_id,
            )
            return GuardOutcome(
                model=model,
                alias=alias,
                version=version,
                expected_version=check.expected_version,
                mode=mode,
                action="accepted",
                move_id=move.id,
                reasons=check.reasons,
            )
        action: Literal["reported", "reverting"] = "reverting" if mode == "enforce" else "reported"
        move = self._record_move(model, alias, version, check, mode, action, source, delivery_id)
        logger.warning(
            "alias guard: %s@%s is on unapproved v%s (expected v%s): %s",
            model,
            alias,
            version,
            check.expected_version,
            "; ".join(check.reasons),
        )
        reported = GuardOutcome(
            model=model,
            alias=alias,
            version=version,
            expected_version=check.expected_version,
            mode=mode,
            action="reported",
            move_id=move.id,
            reasons=check.reasons,
        )
        if mode == "audit":
            self._notify(reported)
            return reported
        self._notify(reported)
        try:
            restored = self.move_alias_back(model, alias, check.expected_version)
        except ToolError as exc:
            return self._failed(
                model, alias, version, f"the alias could not be put back: {exc}", move.id
            )
        revert = AliasRevert(
            model=model,
            version=version,
            target_alias=alias,
            restored_version=restored,
            move_id=move.id,
            reverted_by=GUARD_ACTOR,
            created_at=self.clock(),
        )
        self.ledger.append_alias_revert(revert)
        outcome = GuardOutcome(
            model=model,
            alias=alias,
            version=version,
            expected_version=check.expected_version,
            mode=mode,
            action="reverted" if restored is not None else "removed",
            move_id=move.id,
            revert_id=revert.id,
            reasons=check.reasons,
        )
        logger.warning(
            "alias guard: %s@%s %s (was on v%s)",
            model,
            alias,
            f"put back on v{restored}" if restored is not None else "removed",
            version,
        )
        self._notify(outcome)
        return outcome

    def _record_move(
        self,
        model: str,
        alias: str,
        version: int,
        check: HolderCheck,
        mode: Literal["audit", "enforce"],
        action: Literal["accepted", "reported", "reverting"],
        source: AliasMoveSource,
        delivery_id: str | None,
    ) -> AliasMove:
        move = AliasMove(
            model=model,
            version=version,
            target_alias=alias,
            expected_version=check.expected_version,
            approved=check.approved,
            decision_id=check.decision_id,
            mode=mode,
            action=action,
            source=source,
            delivery_id=delivery_id,
            reasons=check.reasons,
            created_at=self.clock(),
        )
        self.ledger.append_alias_move(move)
        return move

    def _failed(
        self,
        model: str,
        alias: str,
        version: int | None,
        reason: str,
        move_id: str | None = None,
    ) -> GuardOutcome:
        logger.warning("alias guard: %s@%s not checked: %s", model, alias, reason)
        outcome = GuardOutcome(
            model=model,
            alias=alias,
            version=version,
            action="failed",
            move_id=move_id,
            reasons=[reason],
        )
        self._notify(outcome)
        return outcome

    def _notify(self, outcome: GuardOutcome) -> None:
        if self.notify is not None:
            self.notify(outcome)

    # -- the rules --------------------------------------------------------------------------------

    def ledger_holder(self, model: str, alias: str) -> _Holder:
        """The version promogate last approved for the alias, by the ledger, and its record."""
        for record in self.ledger.alias_history(model, alias, limit=200):
            if isinstance(record, Promotion):
                return _Holder(record.version, record.id)
            if isinstance(record, AliasRevert):
                return _Holder(record.restored_version, record.id)
            if record.approved:
                return _Holder(record.version, record.id)
        return _Holder(None, None)

    def holder_check(
        self, model: str, alias: str, version: int, policies: list[LoadedPolicy]
    ) -> HolderCheck:
        """Whether `version` is approved for `alias` (see the module docstring).

        Raises:
            ToolError: MLflow failed while the evidence was read.
        """
        holder = self.ledger_holder(model, alias)
        if holder.version == version:
            return self._held(version, alias, holder)
        check = self._decision_check(model, alias, version, holder, policies)
        # `POST /v1/promote` moves the alias before it records the promotion: look once more, so
        # a promotion in flight is neither reverted nor recorded as a hand move.
        again = self.ledger_holder(model, alias)
        if again.version == version:
            return self._held(version, alias, again)
        return check

    @staticmethod
    def _held(version: int, alias: str, holder: _Holder) -> HolderCheck:
        return HolderCheck(
            approved=True,
            expected_version=version,
            reasons=[f"promogate put v{version} on @{alias} (record {holder.record_id})"],
        )

    def _decision_check(
        self,
        model: str,
        alias: str,
        version: int,
        holder: _Holder,
        policies: list[LoadedPolicy],
    ) -> HolderCheck:
        decisions = [
            d
            for d in self.ledger.list_decisions(model, version, limit=200)
            if d.target_alias == alias and d.error is None
        ]
        if not decisions:
            return HolderCheck(
                approved=False,
                expected_version=holder.version,
                reasons=[f"no decision about v{version} for @{alias} in the ledger"],
            )
        latest = decisions[0]
        assessment = self.gate.assess(latest)
        if not assessment.allowed:
            return HolderCheck(
                approved=False,
                expected_version=holder.version,
                decision_id=latest.id,
                reasons=[f"decision {latest.id} is {latest.verdict}", *assessment.reasons[:5]],
            )
        digest, refs_key = self._pre_move_evidence(
            model, alias, version, latest.baseline_version, policies
        )
        for decision in decisions:
            if (
                decision.evidence_digest == digest
                and policy_refs_key(decision.policies) == refs_key
                and self.gate.assess(decision).allowed
            ):
                return HolderCheck(
                    approved=True,
                    expected_version=holder.version,
                    decision_id=decision.id,
                    reasons=[f"decision {decision.id} allows v{version} on @{alias}"],
                )
        return HolderCheck(
            approved=False,
            expected_version=holder.version,
            decision_id=latest.id,
            reasons=[
                f"decision {latest.id} allowed v{version} on other evidence or policies: the "
                f"evidence changed since (digest now {digest[:12]}); review it again"
            ],
        )

    def _pre_move_evidence(
        self,
        model: str,
        alias: str,
        version: int,
        baseline_version: int | None,
        policies: list[LoadedPolicy],
    ) -> tuple[str, str]:
        """The evidence digest and policy key of `version` as they stood before the alias moved."""
        settings = self.gate.config
        timeout = settings.evidence_timeout_s
        keys = history_keys_for(policies, model)
        mapping = applicable_mapping(policies, model)
        names = metric_names_for(policies, model)
        candidate = resolve_version(self.client, model, version)
        candidate = candidate.model_copy(
            update={"aliases": sorted(set(candidate.aliases) - {alias})}
        )
        baseline_evidence = None
        if baseline_version is not None and baseline_version != version:
            baseline = resolve_version(self.client, model, baseline_version)
            aliases = set(baseline.aliases)
            if settings.baseline_alias == alias:
                aliases.add(alias)
            baseline = baseline.model_copy(update={"aliases": sorted(aliases)})
            baseline_evidence = collect_resolved(
                self.client,
                baseline,
                history_keys=keys,
                timeout_s=timeout,
                mapping=mapping,
                metric_names=names,
            )
        bundle = EvidenceBundle(
            candidate=collect_resolved(
                self.client,
                candidate,
                history_keys=keys,
                timeout_s=timeout,
                mapping=mapping,
                metric_names=names,
            ),
            baseline=baseline_evidence,
            baseline_alias=settings.baseline_alias,
            target_alias=alias,
        )
        failed = bundle.unavailable_gaps()
        if failed:
            from tools.errors import BackendUnavailableError

            raise BackendUnavailableError(
                f"MLflow failed while the evidence was read: {failed[0].source}: "
                f"{failed[0].message}"
            )
        # Gathered exactly as a review gathers it, or the digests could never agree.
        bundle = complete_evidence(self.client, bundle, policies)
        verdict = evaluate_policies(policies, bundle)
        return bundle.digest, policy_refs_key([o.policy for o in verdict.outcomes])

    def move_alias_back(self, model: str, alias: str, version: int | None) -> int | None:
        """Put `alias` on `version`, or remove it when None, through the same code path as
        promote (`GateService.set_alias`); returns the version it now names.

        Raises:
            ToolError: MLflow refused or could not be reached.
        """
        self.gate.set_alias(model, alias, version)
        return version

    # -- every alias ------------------------------------------------------------------------------

    def reconcile(
        self, model_glob: str = "*", *, deadline_s: float = 300.0, adopt: bool = False
    ) -> ReconcileReport:
        """Check every guarded alias of every model matching `model_glob`, within a deadline.

        Args:
            model_glob: Glob on registered model names.
            deadline_s: Stop starting new checks after this long; the rest is reported unfinished.
            adopt: See `check_alias`.
        """
        started = time.monotonic()
        try:
            policies = self.gate.reviews.policies()
        except PolicyError as exc:
            return ReconcileReport(errors=[f"policies could not be loaded: {exc}"])
        try:
            models = self._guarded_models(model_glob, policies)
        except ToolError as exc:
            return ReconcileReport(
                errors=[f"MLflow could not be read: {exc}"], seconds=time.monotonic() - started
            )
        outcomes: list[GuardOutcome] = []
        unfinished: list[str] = []
        errors: list[str] = []
        for name, aliases in models:
            for alias in sorted(aliases):
                ref = f"{name}@{alias}"
                if time.monotonic() - started > deadline_s:
                    unfinished.append(ref)
                    continue
                guarded = guard_mode_for(policies, name, alias, self.default_alias)
                if guarded.mode == "off":
                    continue
                # Fast path: the listing shows the alias where the ledger says promogate put it.
                # Anything else is checked under the alias's lease, on a fresh read of MLflow.
                holder = self.ledger_holder(name, alias)
                if holder.version is not None and holder.version == aliases[alias]:
                    outcome = GuardOutcome(
                        model=name,
                        alias=alias,
                        version=holder.version,
                        expected_version=holder.version,
                        mode=guarded.mode,
                        action="none",
                        reasons=[f"on the ledger's holder (record {holder.record_id})"],
                    )
                else:
                    outcome = self.check_alias(name, alias, source="reconciler", adopt=adopt)
                outcomes.append(outcome)
                if outcome.action == "failed":
                    errors.append(f"{ref}: {'; '.join(outcome.reasons)}")
        return ReconcileReport(
            outcomes=outcomes,
            models_seen=len(models),
            unfinished=unfinished,
            errors=errors,
            seconds=time.monotonic() - started,
        )

    def _guarded_models(
        self, model_glob: str, policies: list[LoadedPolicy]
    ) -> list[tuple[str, dict[str, int]]]:
        """Registered models matching the glob and some policy, with their aliases' versions."""
        patterns = [p.policy.match.model for p in policies]
        found: list[tuple[str, dict[str, int]]] = []
        for registered in every_page(
            self.client.search_registered_models, "search_registered_models()"
        ):
            name = str(registered.name)
            if not fnmatchcase(name, model_glob):
                continue
            if not any(fnmatchcase(name, pattern) for pattern in patterns):
                continue
            aliases = dict(getattr(registered, "aliases", None) or {})
            found.append((name, {str(a): int(v) for a, v in aliases.items()}))
        return found
