"""Plausibility rules: questions a senior reviewer asks of good news.

Every review, not only a failing one, asks: is the size of the gain believable, against this
model's own version history and against what the changed settings usually move? Which new inputs
could carry information known only after the outcome (by name, by the pipeline diff, by what the
model itself says)? Does the model now lean on one new input? A suspicion is a check of kind
``plausibility`` with its evidence; the policy's `plausibility.action` decides what it does:
``report`` (a warning), ``escalate`` (a warning that sends the decision to a human) or ``block``
(a failing check). Answers that cannot be had (no baseline, importances unreadable) are skips that
say why; they never count as a pass of the question.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from comparison import GainFact, InputChange, Unavailable, version_ref
from policies._rule_base import RunBase, _num
from policies._security_rules import DEFAULT_ALLOWED_FORMATS
from policies.decision import Finding
from policies.loader import LoadedPolicy
from policies.plausibility_settings import UNEXPLAINED_MOVE, GainLimit, PlausibilityRules
from policies.result import CheckResult, CheckStatus, PolicyVerdict
from tools.evidence import EvidenceBundle, VersionEvidence

__all__ = [
    "DEFAULT_PLAUSIBILITY_METRICS",
    "PlausibilityChecks",
    "PlausibilityRequest",
    "escalating",
    "matching_pattern",
    "plausibility_findings",
    "plausibility_request",
    "plausibility_request_for",
]

#: Scores in [0, 1] (higher is better) questioned by default when both versions log them: they do
#: not depend on a decision threshold, so how far they move is a property of the model. Threshold-
#: dependent metrics (recall, precision, accuracy, f1) swing with the cut-off and the class
#: balance; a policy questions them by listing them under plausibility.metrics.
DEFAULT_PLAUSIBILITY_METRICS: tuple[str, ...] = (
    "roc_auc",
    "auc",
    "pr_auc",
    "average_precision",
)
_BOUNDED = (0.0, 1.0)
_HOW_TO_CHECK_GAIN = (
    "check the new and changed inputs for information known only after the outcome (target "
    "leakage) and the evaluation data for overlap with training; if the gain is real, a human "
    "approves it, or plausibility.metrics[].max_gain is raised for this model"
)


def matching_pattern(name: str, patterns: list[str]) -> str | None:
    """The first post-outcome glob that `name` matches (case-insensitive), else None."""
    lowered = name.lower()
    return next((p for p in patterns if fnmatchcase(lowered, p.lower())), None)


def escalating(check: CheckResult) -> bool:
    """Whether a check is a plausibility suspicion whose policy sends it to a human."""
    return (
        check.kind == "plausibility"
        and check.status == "warn"
        and check.details.get("action") == "escalate"
    )


def plausibility_findings(verdict: PolicyVerdict) -> list[Finding]:
    """Each plausibility suspicion as a finding with its evidence (one per check id)."""
    findings: list[Finding] = []
    seen: set[str] = set()
    for check in verdict.checks:
        if check.kind != "plausibility" or check.status not in ("warn", "fail"):
            continue
        if check.id in seen:
            continue
        seen.add(check.id)
        action = check.details.get("action", "report")
        findings.append(
            Finding(
                title=str(check.details.get("question", "Is the improvement plausible?")),
                detail=f"{check.message} (plausibility.action: {action})",
                severity="blocker" if check.status == "fail" else "warning",
                check_id=check.id,
                evidence=list(check.evidence),
            )
        )
    return findings


@dataclass(frozen=True)
class PlausibilityRequest:
    """What the matching policies' plausibility questions need read beyond the usual evidence.

    Formats and trusted types are what every applying policy allows (the intersection), so the
    importance reader never loads what one of them refuses.
    """

    history_versions: int
    allowed_formats: tuple[str, ...]
    trusted_types: tuple[str, ...]


def plausibility_request(
    policies: Sequence[LoadedPolicy], bundle: EvidenceBundle
) -> PlausibilityRequest | None:
    """What to read for the plausibility questions; None when no matching policy asks them.

    Args:
        policies: All loaded policies.
        bundle: The gathered evidence (for selecting the policies that apply).
    """
    return plausibility_request_for(policies, bundle.candidate, bundle.target_alias)


def plausibility_request_for(
    policies: Sequence[LoadedPolicy], candidate: VersionEvidence, target_alias: str
) -> PlausibilityRequest | None:
    """`plausibility_request` for a candidate and target alias, before the rest of the evidence
    is gathered (policies select by the version's name, number and tags, and the alias).

    Args:
        policies: All loaded policies.
        candidate: The candidate version (its registry fields are enough).
        target_alias: The alias the candidate is to be promoted to.
    """
    from policies.selector import select_policies

    selected = [
        p.policy
        for p in select_policies(policies, candidate, target_alias)
        if p.policy.plausibility.enabled
    ]
    if not selected:
        return None
    formats: set[str] | None = None
    trusted: set[str] | None = None
    for policy in selected:
        security = policy.security
        allowed = set(security.formats.allow) if security else set(DEFAULT_ALLOWED_FORMATS)
        types = (
            set(security.skops_trusted_types)
            if security
            else set(policy.plausibility.skops_trusted_types)
        )
        formats = allowed if formats is None else formats & allowed
        trusted = types if trusted is None else trusted & types
    return PlausibilityRequest(
        history_versions=max(p.plausibility.history_versions for p in selected),
        allowed_formats=tuple(sorted(formats or ())),
        trusted_types=tuple(sorted(trusted or ())),
    )


class PlausibilityChecks(RunBase):
    """Plausibility rules: the gain against history and settings, post-outcome inputs, and
    importance concentrated in one new input."""

    @property
    def _rules(self) -> PlausibilityRules:
        return self.policy.plausibility

    def _plausibility_checks(self) -> list[CheckResult]:
        rules = self._rules
        if not rules.enabled or self.baseline.version is None:
            return []
        out: list[CheckResult] = []
        for limit in self._gain_limits():
            check = self._gain_check(limit)
            if check is not None:
                out.append(check)
        out.append(self._post_outcome_check())
        out.append(self._importance_check())
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _suspect(self, id: str, question: str, message: str, **fields: Any) -> CheckResult:
        action = self._rules.action
        status: CheckStatus = "fail" if action == "block" else "warn"
        details = {**fields.pop("details", {}), "action": action, "question": question}
        effect = {
            "report": "reported",
            "escalate": "a human decides (plausibility.action: escalate)",
            "block": "blocked (plausibility.action: block)",
        }[action]
        return self.check(
            id, "plausibility", status, f"{message}; {effect}", details=details, **fields
        )

    def _gain_limits(self) -> list[GainLimit]:
        """The policy's explicit limits, then the threshold-free scores both versions logged."""
        limits = {m.name: m for m in self._rules.metrics}
        both = set(self.view.facts.metrics("candidate")) & set(self.view.facts.metrics("baseline"))
        for name in DEFAULT_PLAUSIBILITY_METRICS:
            if name in both:
                limits.setdefault(name, GainLimit(name=name))
        return list(limits.values())

    # -- the gain ------------------------------------------------------------------------------

    def _gain_check(self, limit: GainLimit) -> CheckResult | None:
        id = f"plausibility.gain.{limit.name}"
        question = f"Is the {limit.name} gain plausible?"
        fact = self.view.facts.gain(limit.name, lower_is_better=limit.prefers_lower)
        if isinstance(fact, Unavailable):
            # Only metrics the policy names are worth a line when absent.
            if any(m.name == limit.name for m in self._rules.metrics):
                return self.check(
                    id,
                    "plausibility",
                    "skip",
                    f"{limit.name}: {fact.reason}",
                    details={"question": question},
                )
            return None
        rules = self._rules
        bound, source, explained = self._believable(fact, limit)
        if bound is None:
            # Unbounded metrics without an explicit max_gain: nothing believable to compare with.
            return None
        details: dict[str, Any] = {
            "question": question,
            "lower_is_better": limit.prefers_lower,
            "gain": fact.gain,
            "bound": bound,
            "bound_from": source,
            "history": [list(p) for p in fact.history],
            "largest_history_move": fact.largest_history_move,
            "best_before": fact.best_before,
            "changed_classes": fact.changed_classes,
            "expected_moves": explained,
            "min_gain": rules.min_gain,
            "history_factor": rules.history_factor,
        }
        if fact.diff_unavailable:
            details["pipeline_diff"] = fact.diff_unavailable
        common = {
            "observed": fact.candidate,
            "baseline": fact.baseline,
            "delta": fact.candidate - fact.baseline,
            "threshold": bound,
            "evidence": fact.evidence,
        }
        moved = f"{limit.name} moved {_num(fact.baseline)} -> {_num(fact.candidate)}"
        closed = self._gap_closed(fact, limit)
        if closed is not None:
            details["gap_closed"] = closed
            details["max_gap_closed"] = rules.max_gap_closed
        if fact.gain > rules.min_gain and closed is not None and closed > rules.max_gap_closed:
            return self._suspect(
                id,
                question,
                f"{moved}: a gain of {fact.gain:+.4g} removes {closed:.0%} of the distance to a "
                f"perfect score in one version (more than {rules.max_gap_closed:.0%}); "
                f"{self._history_text(fact)}; {self._settings_text(fact)}",
                details=details,
                how_to_fix=_HOW_TO_CHECK_GAIN,
                **common,
            )
        if fact.gain <= bound:
            return self.check(
                id,
                "plausibility",
                "pass",
                f"{moved} (gain {fact.gain:+.4g}), within the believable {_num(bound)} ({source})",
                details=details,
                **common,
            )
        return self._suspect(
            id,
            question,
            f"{moved}: a gain of {fact.gain:+.4g} is beyond what is believable without a "
            f"question ({_num(bound)}, {source}); {self._history_text(fact)}; "
            f"{self._settings_text(fact)}",
            details=details,
            how_to_fix=_HOW_TO_CHECK_GAIN,
            **common,
        )

    def _believable(
        self, fact: GainFact, limit: GainLimit
    ) -> tuple[float | None, str, dict[str, float]]:
        """The largest gain believed without a question, where it comes from, and the expected
        move of each changed setting."""
        rules = self._rules
        moves = rules.moves()
        explained = {
            cls: moves.get(cls, moves.get("other", UNEXPLAINED_MOVE))
            for cls in fact.changed_classes
        }
        if limit.max_gain is not None:
            return limit.max_gain, f"plausibility max_gain for {limit.name}", explained
        lo, hi = _BOUNDED
        if limit.prefers_lower or not all(lo <= v <= hi for v in (fact.baseline, fact.candidate)):
            return None, "", explained
        candidates: list[tuple[float, str]] = [(rules.min_gain, "min_gain")]
        if fact.largest_history_move is not None:
            candidates.append(
                (
                    rules.history_factor * fact.largest_history_move,
                    f"{rules.history_factor:g}x the largest move between earlier versions "
                    f"({fact.largest_history_move:.4g})",
                )
            )
        if fact.diff_unavailable is not None:
            candidates.append((UNEXPLAINED_MOVE, "no pipeline diff to explain more"))
        elif explained:
            cls = max(explained, key=lambda c: explained[c])
            candidates.append((explained[cls], f"what a {cls} change usually moves"))
        bound, source = max(candidates, key=lambda c: c[0])
        return bound, source, explained

    @staticmethod
    def _gap_closed(fact: GainFact, limit: GainLimit) -> float | None:
        """The share of the baseline's distance to a perfect score the gain removed ([0, 1]
        scores only; None for explicit limits and unbounded metrics)."""
        lo, hi = _BOUNDED
        if limit.max_gain is not None or not all(
            lo <= v <= hi for v in (fact.baseline, fact.candidate)
        ):
            return None
        room = fact.baseline - lo if limit.prefers_lower else hi - fact.baseline
        return None if room <= 0 else fact.gain / room

    @staticmethod
    def _history_text(fact: GainFact) -> str:
        if fact.largest_history_move is None:
            return f"the model has {len(fact.history)} earlier value(s), too few for a history"
        return (
            f"across {len(fact.history)} earlier versions it never moved more than "
            f"{fact.largest_history_move:.4g} between versions (best before: "
            f"{_num(fact.best_before or 0.0)})"
        )

    @staticmethod
    def _settings_text(fact: GainFact) -> str:
        if fact.diff_unavailable is not None:
            return f"no pipeline diff explains it ({fact.diff_unavailable})"
        if not fact.changed_classes:
            return "the pipeline config did not change"
        parts = [f"{cls} ({', '.join(keys[:3])})" for cls, keys in fact.changed_classes.items()]
        return "changed settings: " + "; ".join(parts)

    # -- post-outcome inputs -------------------------------------------------------------------

    def _post_outcome_check(self) -> CheckResult:
        id = "plausibility.post_outcome_inputs"
        question = "Could a new or changed input carry information known only after the outcome?"
        fact = self.view.facts.input_changes()
        if isinstance(fact, Unavailable):
            return self.check(
                id, "plausibility", "skip", fact.reason, details={"question": question}
            )
        patterns = self._rules.patterns()
        hits: list[tuple[InputChange, str]] = []
        for change in fact.changes:
            pattern = matching_pattern(change.name, patterns)
            if pattern is not None:
                hits.append((change, pattern))
        details: dict[str, Any] = {
            "question": question,
            "new_inputs": [c.model_dump() for c in fact.changes],
            "looked_at": fact.sources,
            "not_read": fact.notes,
        }
        evidence = list(dict.fromkeys(r for c in fact.changes for r in c.evidence))
        if hits:
            names = list(dict.fromkeys(c.name for c, _ in hits))
            details["suspects"] = [
                {"input": c.name, "pattern": p, "found_by": c.how, "detail": c.detail}
                for c, p in hits
            ]
            why = "; ".join(f"{c.name!r} matches {p!r} ({c.detail})" for c, p in hits[:4])
            return self._suspect(
                id,
                question,
                f"new input(s) {', '.join(repr(n) for n in names)} look like data known only "
                f"after the outcome (target leakage): {why}",
                details=details,
                evidence=list(dict.fromkeys(r for c, _ in hits for r in c.evidence)) or evidence,
                observed=", ".join(names),
                how_to_fix="confirm each input is known at prediction time (before the outcome); "
                "drop it or rebuild it from data available then",
            )
        seen = ", ".join(fact.sources) or "nothing readable"
        new = ", ".join(repr(n) for n in fact.names) or "none"
        return self.check(
            id,
            "plausibility",
            "pass",
            f"no new input looks like post-outcome data (new inputs: {new}; looked at: {seen})",
            details=details,
            evidence=evidence,
        )

    # -- importance concentration --------------------------------------------------------------

    def _importance_check(self) -> CheckResult:
        id = "plausibility.importance"
        question = "Does the model now lean on one new input?"
        cand = self.view.facts.feature_importances("candidate")
        if isinstance(cand, Unavailable):
            return self.check(
                id,
                "plausibility",
                "skip",
                f"feature importances unavailable: {cand.reason}",
                details={"question": question, "importances": "unavailable"},
            )
        top = cand.top
        assert top is not None  # available importances are never empty
        name, share = top
        base = self.view.facts.feature_importances("baseline")
        base_share: float | None = None
        new_by = "importances"
        if not isinstance(base, Unavailable):
            base_share = base.shares.get(name)
        else:
            changes = self.view.facts.input_changes()
            new_names = [] if isinstance(changes, Unavailable) else changes.names
            base_share = None if name in new_names else -1.0
            new_by = "pipeline diff or signature" if name in new_names else "unknown"
        evidence = [version_ref(self.candidate, "importances")]
        details: dict[str, Any] = {
            "question": question,
            "top_input": name,
            "share": share,
            "baseline_share": base_share if base_share is None or base_share >= 0 else None,
            "max_feature_share": self._rules.max_feature_share,
            "kind": cand.kind,
            "estimator": cand.estimator,
            "shares": dict(sorted(cand.shares.items(), key=lambda kv: -kv[1])[:10]),
        }
        if isinstance(base, Unavailable):
            details["baseline_importances"] = base.reason
        limit = self._rules.max_feature_share
        is_new = base_share is None
        grew = base_share is not None and base_share >= 0 and share >= 2 * base_share
        if share > limit and (is_new or grew):
            was = (
                "an input the baseline did not have"
                if is_new
                else f"up from {base_share:.0%} in the baseline"
            )
            return self._suspect(
                id,
                question,
                f"the candidate's model puts {share:.0%} of its importance on {name!r}, {was} "
                f"(found by {new_by if is_new else 'importances'}): the gain concentrates in one "
                "input",
                details=details,
                evidence=evidence,
                observed=share,
                threshold=limit,
                how_to_fix=f"check that {name!r} is known at prediction time; compare the model "
                "without it",
            )
        return self.check(
            id,
            "plausibility",
            "pass",
            f"the largest importance is {share:.0%} on {name!r}"
            + ("" if base_share is None or base_share < 0 else f" (baseline {base_share:.0%})")
            + f"; no new input dominates (limit {limit:.0%})",
            details=details,
            evidence=evidence,
            observed=share,
            threshold=limit,
        )
