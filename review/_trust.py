"""What the gate checks before it trusts a recorded decision, and how many eyes an approval needs.

A decision read back from the ledger is acted on (reused by the gate, promoted on) only when:

- its ledger record verifies: the record's hash recomputed from its stored fields matches, and it
  links to its neighbours and the head (`ledger.store.Ledger.verify_record`), so an ``UPDATE`` of
  the row is refused at once;
- its verdict agrees with its checks: an approval whose checks of an enforcing policy hold a
  ``fail`` or ``error`` contradicts itself, whatever its verdict field says (a forger who
  recomputed every hash still cannot make a failing check pass);
- the policies still give the same evidence the verdict they gave it (`outdated`): the same
  policy files on the same evidence are judged anew by a release that reads a rule differently
  (a `max_drop` on `rmse` became a bound on its rise), and a decision made under the old reading
  is not reused or promoted on;
- four eyes hold: overrides by the identity that requested the review do not count, and each
  blocking check (or the escalation itself) is covered by as many distinct approvers as its
  policy's ``overrides.min_approvers``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence

from ledger.errors import RecordNotFoundError
from ledger.records import Override
from ledger.store import Ledger
from policies.decision import Decision
from policies.result import PolicyVerdict

__all__ = [
    "approver_shortfall",
    "contradicting_checks",
    "distrust",
    "enforcing_policies",
    "outdated",
    "problem_text",
    "record_problem",
]

logger = logging.getLogger("promogate.review")

_BLOCKING_STATUSES = frozenset({"fail", "error"})


def record_problem(ledger: Ledger, record_id: str, what: str = "decision") -> str | None:
    """Why the ledger record of `record_id` cannot be trusted, or None when it verifies.

    Args:
        ledger: The ledger.
        record_id: A decision or override id.
        what: What the record is, for the message.
    """
    try:
        problem = ledger.verify_record(record_id)
    except RecordNotFoundError:
        return f"{what} {record_id!r} is not in the ledger"
    if problem is None:
        return None
    return problem_text(problem.kind, problem.detail, record_id, what)


def problem_text(kind: str, detail: str, record_id: str, what: str = "decision") -> str:
    """Why a record whose check (`Ledger.verify_record`, or one like it) found a problem cannot be
    trusted.

    Args:
        kind: The problem's kind (``edited``, ``prev_hash``, ...).
        detail: The problem, as the check described it.
        record_id: The record's id.
        what: What the record is, for the message.
    """
    return (
        f"the ledger record of {what} {record_id!r} does not verify ({kind}: {detail}); "
        "it is not trusted: run `promogate ledger verify` and review again"
    )


def enforcing_policies(verdict: PolicyVerdict) -> frozenset[str]:
    """Names of the policies in `verdict` that enforce (not ``audit``).

    Args:
        verdict: The policies' verdict on the current evidence.
    """
    return frozenset(o.policy.name for o in verdict.outcomes if o.mode != "audit")


def contradicting_checks(decision: Decision, enforced: Collection[str]) -> list[str]:
    """Checks of enforcing policies that fail or err in a decision that approves.

    Args:
        decision: A recorded decision.
        enforced: Names of the policies that enforce.
    """
    if decision.verdict != "approve":
        return []
    return sorted(
        c.id for c in decision.checks if c.status in _BLOCKING_STATUSES and c.policy in enforced
    )


def outdated(decision: Decision, verdict: PolicyVerdict) -> str | None:
    """Why a recorded decision no longer stands for the evidence it was made on, or None.

    Args:
        decision: A decision found for the current evidence and policies.
        verdict: The policies' verdict on that evidence now.
    """
    if decision.policy_verdict == verdict.verdict:
        return None
    return (
        f"decision {decision.id!r} was made when the policies gave {decision.policy_verdict!r} "
        f"on this evidence; they give {verdict.verdict!r} now"
    )


def distrust(ledger: Ledger, decision: Decision, verdict: PolicyVerdict) -> str | None:
    """Why a recorded decision must not be acted on, or None when it can be.

    Args:
        ledger: The ledger it was read from.
        decision: The decision.
        verdict: The policies' verdict on the current evidence (for which policies enforce).
    """
    reason = record_problem(ledger, decision.id)
    if reason is None:
        contradicted = contradicting_checks(decision, enforcing_policies(verdict))
        if contradicted:
            reason = (
                f"decision {decision.id!r} approves although its checks {contradicted!r} fail; "
                "a record whose verdict contradicts its checks is not trusted"
            )
    if reason is not None:
        logger.error("refusing to act on decision %s: %s", decision.id, reason)
    return reason


def approver_shortfall(
    decision: Decision,
    overrides: Sequence[Override],
    min_approvers: Mapping[str, int],
) -> str | None:
    """Why the overrides of `decision` are too few pairs of eyes, or None when they suffice.

    Args:
        decision: A decision that does not approve.
        overrides: The active, applicable overrides (the requester's already left out).
        min_approvers: ``overrides.min_approvers`` by policy name (1 where absent).
    """
    blocking = [c for c in decision.checks if c.status in _BLOCKING_STATUSES]
    short: list[str] = []
    for check in blocking:
        needed = min_approvers.get(check.policy, 1)
        approvers = {o.approver for o in overrides if check.id in o.check_ids}
        if len(approvers) < needed:
            short.append(f"{check.id} ({len(approvers)} of {needed})")
    if not blocking:
        needed = max((min_approvers.get(p.name, 1) for p in decision.policies), default=1)
        approvers = {o.approver for o in overrides}
        if len(approvers) < needed:
            short.append(f"the escalation ({len(approvers)} of {needed})")
    if not short:
        return None
    most = max(
        [min_approvers.get(c.policy, 1) for c in blocking]
        + [min_approvers.get(p.name, 1) for p in decision.policies]
    )
    return f"a policy requires {most} distinct approvers: too few for {', '.join(short)}"
