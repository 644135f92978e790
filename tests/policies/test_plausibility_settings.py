"""The optional `plausibility:` section: validated by pydantic and by the exported JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from pydantic import ValidationError

from policies.evaluator import evaluate_policies
from policies.plausibility_rules import matching_pattern
from policies.plausibility_settings import DEFAULT_EXPECTED_MOVES, PlausibilityRules
from policies.schema import Policy, policy_json_schema

_BASE: dict[str, Any] = {
    "apiVersion": "promogate/v1",
    "kind": "PromotionPolicy",
    "metadata": {"name": "p", "revision": 1},
    "match": {"model": "*"},
}


def test_the_questions_apply_by_default() -> None:
    policy = Policy.model_validate(_BASE)
    assert policy.plausibility.enabled
    assert policy.plausibility.action == "escalate"
    assert "plausibility" in policy_json_schema()["properties"]


@pytest.mark.parametrize(
    "section",
    [
        {"action": "block", "metrics": [{"name": "roc_auc", "max_gain": 0.05}]},
        {"enabled": False},
        {"expected_moves": {"seed": 0.01}, "post_outcome_patterns": ["*settled_at*"]},
    ],
    ids=["block-with-limit", "disabled", "moves-and-patterns"],
)
def test_valid_sections(section: dict[str, Any]) -> None:
    doc = {**_BASE, "plausibility": section}
    Policy.model_validate(doc)
    assert jsonschema_rs.validator_for(policy_json_schema()).is_valid(doc)


@pytest.mark.parametrize(
    "section",
    [
        {"action": "approve"},
        {"metrics": [{"name": "roc_auc", "max_gain": -0.1}]},
        {"max_feature_share": 1.5},
        {"colour": "red"},
    ],
    ids=["approve-is-no-action", "negative-gain", "share-above-one", "unknown-key"],
)
def test_invalid_sections(section: dict[str, Any]) -> None:
    doc = {**_BASE, "plausibility": section}
    with pytest.raises(ValidationError):
        Policy.model_validate(doc)
    assert not jsonschema_rs.validator_for(policy_json_schema()).is_valid(doc)


@pytest.mark.parametrize(
    "section",
    [
        {"metrics": [{"name": "auc"}, {"name": "auc"}]},
        {"expected_moves": {"Seed Change": 0.1}},
    ],
    ids=["duplicate-metric", "bad-class-name"],
)
def test_rejected_by_the_loader(section: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Policy.model_validate({**_BASE, "plausibility": section})


def test_overrides_merge_over_the_default_moves() -> None:
    rules = PlausibilityRules(expected_moves={"seed": 0.005})
    assert rules.moves() == {**DEFAULT_EXPECTED_MOVES, "seed": 0.005}


@pytest.mark.parametrize(
    ("name", "extra", "default", "expected"),
    [
        ("chargeback_filed", [], True, "*chargeback*"),
        ("Days_To_Default", [], True, "*days_to_*"),
        ("amount", [], True, None),
        ("postcode", [], True, None),
        ("settled_at", ["*settled_at*"], False, "*settled_at*"),
        ("chargeback_filed", [], False, None),
    ],
    ids=["chargeback", "case-insensitive", "ordinary", "postcode", "own-pattern", "defaults-off"],
)
def test_post_outcome_patterns(
    name: str, extra: list[str], default: bool, expected: str | None
) -> None:
    rules = PlausibilityRules(post_outcome_patterns=extra, default_patterns=default)
    assert matching_pattern(name, rules.patterns()) == expected


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [(0.4, "warn"), (1.8, "pass")],
    ids=["error-fell-by-more-than-believable", "error-rose"],
)
def test_a_gain_limit_on_an_error_reads_a_fall_as_the_gain(
    kit: Any, candidate: float, expected: str
) -> None:
    """`{name: rmse, max_gain: 0.5}` without lower_is_better: rmse falling from 1.2 to 0.4 is the
    gain to question; a rise is no gain at all."""
    policy = kit.policy(plausibility={"metrics": [{"name": "rmse", "max_gain": 0.5}]})
    bundle = kit.bundle(
        kit.version(2, metrics={"rmse": candidate}), kit.version(1, metrics={"rmse": 1.2})
    )
    check = kit.check(evaluate_policies([policy], bundle), "plausibility.gain.rmse")
    assert check.status == expected, check.message
    assert check.details["lower_is_better"] is True
