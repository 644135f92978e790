"""Which policies apply to a candidate version and the alias it is to be promoted to."""

from __future__ import annotations

from collections.abc import Sequence
from fnmatch import fnmatchcase

from packaging.version import InvalidVersion, Version

from policies.loader import LoadedPolicy
from policies.schema import PolicyMatch, VersionRange, parse_semver_specifier
from tools.evidence import VersionEvidence

__all__ = ["match_mismatches", "policy_matches", "select_policies"]


def match_mismatches(
    match: PolicyMatch, candidate: VersionEvidence, target_alias: str
) -> list[str]:
    """Why a policy's `match` section does not select this candidate; empty when it does.

    Args:
        match: The policy's match section.
        candidate: The candidate version's evidence (name, version number, tags).
        target_alias: The alias the candidate is to be promoted to.
    """
    reasons: list[str] = []
    if not fnmatchcase(candidate.model, match.model):
        reasons.append(f"model {candidate.model!r} does not match {match.model!r}")
    if match.versions is not None and candidate.version not in VersionRange(match.versions):
        reasons.append(f"version {candidate.version!r} is not in {match.versions!r}")
    if match.semver is not None:
        raw = candidate.tags.get(match.semver_tag)
        if raw is None:
            reasons.append(f"version has no {match.semver_tag!r} tag to match {match.semver!r}")
        else:
            try:
                parsed = Version(raw.strip())
            except InvalidVersion:
                reasons.append(f"tag {match.semver_tag}={raw!r} is not a version")
            else:
                # Pre-releases are included: a release candidate must not slip past the policy
                # that governs its release line.
                if not parse_semver_specifier(match.semver).contains(parsed, prereleases=True):
                    reasons.append(f"tag {match.semver_tag}={raw!r} is not in {match.semver!r}")
    for key, pattern in sorted(match.tags.items()):
        value = candidate.tags.get(key)
        if value is None:
            reasons.append(f"version has no tag {key!r}")
        elif not fnmatchcase(value, pattern):
            reasons.append(f"tag {key}={value!r} does not match {pattern!r}")
    if match.target_alias is not None and not fnmatchcase(target_alias, match.target_alias):
        reasons.append(f"target alias {target_alias!r} does not match {match.target_alias!r}")
    return reasons


def policy_matches(match: PolicyMatch, candidate: VersionEvidence, target_alias: str) -> bool:
    """Whether a policy's `match` section selects this candidate and target alias.

    Args:
        match: The policy's match section.
        candidate: The candidate version's evidence.
        target_alias: The alias the candidate is to be promoted to.
    """
    return not match_mismatches(match, candidate, target_alias)


def select_policies(
    policies: Sequence[LoadedPolicy], candidate: VersionEvidence, target_alias: str
) -> list[LoadedPolicy]:
    """The policies that apply to promoting `candidate` to `target_alias`, in their given order.

    Args:
        policies: Every loaded policy.
        candidate: The candidate version's evidence.
        target_alias: The alias the candidate is to be promoted to.
    """
    return [p for p in policies if policy_matches(p.policy.match, candidate, target_alias)]
