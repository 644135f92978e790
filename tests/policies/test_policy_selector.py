"""Selecting the policies that apply: model glob, version range, semver tag, tags, target alias."""

from __future__ import annotations

from typing import Any

import pytest

from policies.selector import match_mismatches, select_policies

# (match section, candidate (model, version, tags), target alias, matches?)
CASES: list[tuple[dict[str, Any], tuple[str, int, dict[str, str]], str, bool]] = [
    ({"model": "credit-*"}, ("credit-risk", 3, {}), "champion", True),
    ({"model": "credit-*"}, ("fraud", 3, {}), "champion", False),
    ({"model": "Credit-*"}, ("credit-risk", 3, {}), "champion", False),
    ({"model": "*", "versions": ">=5"}, ("m", 5, {}), "champion", True),
    ({"model": "*", "versions": ">=5"}, ("m", 4, {}), "champion", False),
    ({"model": "*", "versions": "3-7"}, ("m", 7, {}), "champion", True),
    ({"model": "*", "versions": ">=2,<9"}, ("m", 9, {}), "champion", False),
    ({"model": "*", "semver": ">=2.0.0 <3.0.0"}, ("m", 1, {"semver": "2.4.1"}), "champion", True),
    ({"model": "*", "semver": ">=2.0.0 <3.0.0"}, ("m", 1, {"semver": "3.0.0"}), "champion", False),
    (
        {"model": "*", "semver": ">=2.0.0 <3.0.0"},
        ("m", 1, {"semver": "v2.1.0-rc.1"}),
        "champion",
        True,
    ),
    ({"model": "*", "semver": ">=2.0.0"}, ("m", 1, {}), "champion", False),
    ({"model": "*", "semver": ">=2.0.0"}, ("m", 1, {"semver": "latest"}), "champion", False),
    (
        {"model": "*", "semver": ">=2", "semver_tag": "release"},
        ("m", 1, {"release": "2.0"}),
        "champion",
        True,
    ),
    (
        {"model": "*", "semver": ">=2", "semver_tag": "release"},
        ("m", 1, {"semver": "2.0"}),
        "champion",
        False,
    ),
    (
        {"model": "*", "tags": {"risk_tier": "high"}},
        ("m", 1, {"risk_tier": "high"}),
        "champion",
        True,
    ),
    (
        {"model": "*", "tags": {"risk_tier": "high"}},
        ("m", 1, {"risk_tier": "low"}),
        "champion",
        False,
    ),
    ({"model": "*", "tags": {"risk_tier": "high"}}, ("m", 1, {}), "champion", False),
    ({"model": "*", "tags": {"team": "risk-*"}}, ("m", 1, {"team": "risk-emea"}), "champion", True),
    ({"model": "*", "target_alias": "champion"}, ("m", 1, {}), "champion", True),
    ({"model": "*", "target_alias": "champion"}, ("m", 1, {}), "staging", False),
    ({"model": "*", "target_alias": "prod-*"}, ("m", 1, {}), "prod-eu", True),
    (
        {"model": "credit-*", "versions": ">=2", "tags": {"tier": "1"}, "target_alias": "champion"},
        ("credit-risk", 2, {"tier": "1"}),
        "champion",
        True,
    ),
]


@pytest.mark.parametrize(
    ("match", "candidate", "alias", "expected"),
    CASES,
    ids=[
        "model-glob",
        "model-glob-miss",
        "model-glob-case-sensitive",
        "versions-ge",
        "versions-ge-miss",
        "versions-range-inclusive",
        "versions-upper-exclusive",
        "semver-in-range",
        "semver-out-of-range",
        "semver-prerelease-with-v",
        "semver-tag-missing",
        "semver-tag-not-a-version",
        "semver-custom-tag",
        "semver-custom-tag-missing",
        "tag-equal",
        "tag-differs",
        "tag-missing",
        "tag-glob",
        "alias",
        "alias-other",
        "alias-glob",
        "all-fields",
    ],
)
def test_selector(
    kit: Any,
    match: dict[str, Any],
    candidate: tuple[str, int, dict[str, str]],
    alias: str,
    expected: bool,
) -> None:
    policy = kit.policy(match=match)
    model, version, tags = candidate
    evidence = kit.version(version, model=model, tags=tags)
    selected = select_policies([policy], evidence, alias)
    assert (selected == [policy]) is expected
    reasons = match_mismatches(policy.policy.match, evidence, alias)
    assert (reasons == []) is expected


def test_mismatch_reasons_name_the_values(kit: Any) -> None:
    policy = kit.policy(match={"model": "credit-*", "versions": ">=5", "target_alias": "champion"})
    reasons = match_mismatches(policy.policy.match, kit.version(3, model="fraud"), "staging")
    assert reasons == [
        "model 'fraud' does not match 'credit-*'",
        "version 3 is not in '>=5'",
        "target alias 'staging' does not match 'champion'",
    ]


def test_selection_keeps_order(kit: Any) -> None:
    policies = [
        kit.policy(n, match={"model": m}) for n, m in (("b", "*"), ("a", "x"), ("c", "credit-*"))
    ]
    selected = select_policies(policies, kit.version(1), "champion")
    assert [p.name for p in selected] == ["b", "c"]
