"""Claims in untrusted text, checked against the evidence.

Text an author wrote may assert things the evidence can confirm or refute: a metric value ("roc_auc
0.95"), a dataset identity ("same evaluation set as the champion", "digest 3f2a…"), a passed check
("all policy checks passed", "no regressions") or an approval ("exempt per ticket SEC-1182"). Each
assertion is compared with what the gate measured; a contradiction is a finding of its own ("the
version description claims roc_auc 0.95; the run logged 0.7036"). A claim the evidence agrees
with, or cannot judge, is not reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policies.result import PolicyVerdict
from tools.evidence import EvidenceBundle, VersionEvidence

__all__ = ["ClaimKind", "Contradiction", "find_contradictions"]

ClaimKind = Literal["metric", "dataset", "check", "approval"]

_NUMBER = r"(?P<value>\d+(?:\.\d+)?|\.\d+)\s*(?P<pct>%)?"
_CONNECTOR = (
    r"\s*(?:of|=|:|is|was|at|reaches|reached|hits|equals|came\s+in\s+at|measured\s+at|"
    r"logged\s+as|scored)?\s*(?:about|around|approximately|roughly|~|≈|>=|≥)?\s*"
)
# A segment's value ("recall 0.71 in the west region") is not the overall metric.
_SEGMENT_AFTER = re.compile(
    r"^\s*(?:in|for|on|across)\s+(?:the\s+|every\s+|each\s+|all\s+)?\w+\s+"
    r"(?:regions?|segments?|cohorts?|groups?|slices?)\b|^\s*(?:in|for)\s+(?:every|each|all)\b",
    re.IGNORECASE,
)
_ALIASES: dict[str, tuple[str, ...]] = {
    "roc_auc": ("roc auc", "roc-auc", "rocauc", "auc", "auroc"),
    "pr_auc": ("pr auc", "pr-auc", "average precision"),
    "f1": ("f1 score", "f1-score"),
    "accuracy": ("acc",),
}
_SAME_EVAL = re.compile(
    r"\bsame\s+(?:eval(?:uation)?\s+(?:set|data(?:set)?|split)|holdout(?:\s+set)?|test\s+set|"
    r"eval(?:uation)?\s+data)\b|\b(?:scored|evaluated|tested)\s+on\s+the\s+same\b",
    re.IGNORECASE,
)
_DIGEST = re.compile(r"\bdigest\s*[:=]?\s*[\"']?(?P<digest>[0-9a-f]{8,64})\b", re.IGNORECASE)
_CHECKS_PASSED = re.compile(
    r"\b(?:all|every)\s+(?:the\s+)?(?:policy\s+|gate\s+|promotion\s+|promogate\s+)?"
    r"(?:checks?|polic(?:y|ies)|gates?)\s+(?:have\s+|has\s+)?(?:passed|pass|are\s+green|"
    r"green|succeeded|cleared)\b|"
    r"\bpasse[sd]\s+(?:all\s+|every\s+)?(?:the\s+)?(?:policy|gate|promotion|promogate|segment|"
    r"safety)\s+(?:checks?|gates?|suites?)\b|"
    r"\bno\s+(?:failing|failed)\s+checks?\b|\beverything\s+(?:has\s+)?passed\b",
    re.IGNORECASE,
)
_NO_REGRESSION = re.compile(
    r"\bno\s+(?:segment\s+|metric\s+|regional\s+)?regressions?\b|"
    r"\b(?:segment|regional)\s+checks?\s+(?:passed|pass|are\s+green|green|clean)\b",
    re.IGNORECASE,
)
_SAFETY_PASSED = re.compile(
    r"\b(?:safety|jailbreak|pii|red[\s-]?team)\s+(?:checks?|suites?|evals?|tests?)\s+"
    r"(?:passed|pass|are\s+green|green|clean)\b",
    re.IGNORECASE,
)


class Contradiction(BaseModel):
    """A claim in untrusted text that the evidence contradicts."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: ClaimKind
    claim: str
    message: str
    evidence: list[str]


def _metric_names(version: VersionEvidence) -> dict[str, float]:
    values: dict[str, float] = {}
    if version.logged_model is not None:
        for metric in version.logged_model.metrics:
            values.setdefault(metric.key, metric.value)
    if version.run is not None:
        values.update(version.run.metrics)
    return {k: v for k, v in values.items() if "/" not in k}


def _spellings(key: str) -> list[str]:
    forms = {key, key.replace("_", " "), key.replace("_", "-"), *_ALIASES.get(key, ())}
    return sorted(forms, key=len, reverse=True)


def _metric_ref(version: VersionEvidence, key: str) -> str:
    if version.run is not None and key in version.run.metrics:
        return f"run:{version.run.run_id}/metrics/{key}"
    model_id = version.logged_model.model_id if version.logged_model is not None else version.ref
    return f"logged_model:{model_id}/metrics/{key}"


@lru_cache(maxsize=256)
def _claim_patterns(keys: tuple[str, ...]) -> tuple[tuple[str, str, re.Pattern[str]], ...]:
    """(metric key, lower-cased spelling, pattern of a value claimed for it) per spelling."""
    return tuple(
        (
            key,
            spelling.lower(),
            re.compile(
                rf"(?<![\w+-]){re.escape(spelling)}(?![\w-]){_CONNECTOR}(?<![+-]){_NUMBER}",
                re.IGNORECASE,
            ),
        )
        for key in keys
        for spelling in _spellings(key)
    )


def _metric_claims(text: str, version: VersionEvidence, where: str) -> Iterator[Contradiction]:
    if not any(c.isdigit() for c in text):
        return
    metrics = _metric_names(version)
    claimed: set[str] = set()
    lowered = text.lower()
    for key, spelling, pattern in _claim_patterns(tuple(sorted(metrics))):
        if key in claimed or spelling not in lowered:
            continue
        observed = metrics[key]
        for match in pattern.finditer(text):
            if _SEGMENT_AFTER.match(text[match.end() :]):
                continue
            claimed.add(key)
            value = float(match.group("value"))
            if match.group("pct") and abs(observed) <= 1.0:
                value /= 100.0
            if abs(value - observed) > max(0.01, 0.02 * abs(observed)):
                yield Contradiction(
                    kind="metric",
                    claim=match.group(),
                    message=(
                        f"the {where} claims {key} {match.group('value')}"
                        f"{match.group('pct') or ''}; the run logged {observed:.4g}"
                    ),
                    evidence=[_metric_ref(version, key)],
                )
            break


def _eval_digests(version: VersionEvidence) -> set[str]:
    return {d.digest for d in version.datasets_in("evaluation")}


def _dataset_claims(
    text: str, version: VersionEvidence, bundle: EvidenceBundle, where: str, *, is_candidate: bool
) -> Iterator[Contradiction]:
    baseline = bundle.baseline
    same = _SAME_EVAL.search(text)
    if same is not None and is_candidate and baseline is not None:
        mine, theirs = _eval_digests(version), _eval_digests(baseline)
        if mine and theirs and not mine & theirs:
            yield Contradiction(
                kind="dataset",
                claim=same.group(),
                message=(
                    f"the {where} claims the same evaluation set as the baseline; the candidate "
                    f"was scored on digest {', '.join(sorted(mine))} and the baseline "
                    f"{baseline.ref} on {', '.join(sorted(theirs))}"
                ),
                evidence=[f"run:{version.run_id}/inputs", f"run:{baseline.run_id}/inputs"],
            )
    digests = [d.digest for d in version.datasets]
    for match in _DIGEST.finditer(text):
        claimed = match.group("digest").lower()
        if digests and not any(d.lower().startswith(claimed) for d in digests):
            yield Contradiction(
                kind="dataset",
                claim=match.group(),
                message=(
                    f"the {where} names dataset digest {claimed}; the run's datasets have "
                    f"{', '.join(sorted(digests))}"
                ),
                evidence=[f"run:{version.run_id}/inputs"],
            )


def _check_claims(text: str, verdict: PolicyVerdict, where: str) -> Iterator[Contradiction]:
    problems = [c for c in verdict.checks if c.status in ("fail", "error")]
    tests: tuple[tuple[re.Pattern[str], tuple[str, ...], str], ...] = (
        (_CHECKS_PASSED, (), "every check passed"),
        (_NO_REGRESSION, ("metric", "segment"), "no regression"),
        (_SAFETY_PASSED, ("eval",), "the safety suites passed"),
    )
    for pattern, kinds, what in tests:
        match = pattern.search(text)
        if match is None:
            continue
        failing = [c for c in problems if not kinds or c.kind in kinds]
        if failing:
            names = ", ".join(f"{c.id} ({c.status})" for c in failing[:5])
            more = f" and {len(failing) - 5} more" if len(failing) > 5 else ""
            yield Contradiction(
                kind="check",
                claim=match.group(),
                message=f"the {where} claims {what}; the policies found {names}{more}",
                evidence=[ref for c in failing[:5] for ref in c.evidence[:1]],
            )


def find_contradictions(
    text: str,
    *,
    version: VersionEvidence,
    bundle: EvidenceBundle,
    verdict: PolicyVerdict | None,
    where: str,
    is_candidate: bool,
    approval_claim: str | None = None,
) -> list[Contradiction]:
    """Claims in `text` (read from `version`'s evidence) that the evidence contradicts.

    Args:
        text: The folded untrusted text.
        version: The version whose evidence holds the text; metric and dataset claims are
            compared with its own values.
        bundle: The whole bundle, for claims about the baseline.
        verdict: The policy verdict, for claims about checks and approvals; None skips those.
        where: How a human finds the text, e.g. "version description".
        is_candidate: Whether `version` is the candidate (claims about checks, approvals and
            the baseline's data are the candidate's).
        approval_claim: The matched text when the screening found a claim of approval.
    """
    found = list(_metric_claims(text, version, where))
    found += _dataset_claims(text, version, bundle, where, is_candidate=is_candidate)
    if verdict is not None and is_candidate:
        found += _check_claims(text, verdict, where)
        if approval_claim is not None and verdict.verdict != "approve":
            failing = [c.id for c in verdict.checks if c.status in ("fail", "error")]
            found.append(
                Contradiction(
                    kind="approval",
                    claim=approval_claim,
                    message=(
                        f"the {where} claims an approval or exemption ({approval_claim!r}); the "
                        f"evidence records none: the policies' verdict is {verdict.verdict}"
                        + (f" with {', '.join(failing[:5])} failing" if failing else "")
                        + ", and only a recorded override by an approver can change that"
                    ),
                    evidence=[f"registry:{version.ref}"],
                )
            )
    return found
