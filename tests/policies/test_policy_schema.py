"""The policy schema: vocabularies, version ranges, specifiers, and the exported JSON Schema."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from policies.schema import Policy, VersionRange, parse_semver_specifier, policy_json_schema

jsonschema_rs = pytest.importorskip("jsonschema_rs")

MINIMAL: dict[str, Any] = {
    "apiVersion": "promogate/v1",
    "kind": "PromotionPolicy",
    "metadata": {"name": "p", "revision": 1},
    "match": {"model": "*"},
}


def _example_documents(kit: Any) -> list[Any]:
    docs: list[Any] = []
    for path in sorted(kit.examples.glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    return docs


def test_json_schema_validates_the_examples(kit: Any) -> None:
    schema = policy_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = jsonschema_rs.validator_for(schema)
    docs = _example_documents(kit)
    assert len(docs) == 3
    for doc in docs:
        errors = [e.message for e in validator.iter_errors(doc)]
        assert errors == []
        Policy.model_validate(doc)


@pytest.mark.parametrize(
    "change",
    [
        {"colour": "red"},
        {"mode": "strict"},
        {"metrics": [{"name": "a", "min": "high"}]},
        {"apiVersion": "promogate/v2"},
        {"evidence": {"require": ["screenshots"]}},
        {"segments": {"by": "r", "metric": "m"}},
    ],
    ids=[
        "unknown-field",
        "bad-mode",
        "wrong-type",
        "api-version",
        "bad-evidence-kind",
        "missing-max-drop",
    ],
)
def test_json_schema_and_model_reject_the_same_mistakes(change: dict[str, Any]) -> None:
    doc = {**MINIMAL, **change}
    assert not jsonschema_rs.validator_for(policy_json_schema()).is_valid(doc)
    with pytest.raises(ValidationError):
        Policy.model_validate(doc)


def test_json_schema_accepts_shorthands() -> None:
    doc = {
        **MINIMAL,
        "match": {"model": "*", "versions": 5, "tags": {"tier": 1, "pii": True}},
        "segments": {"by": "region", "metric": "recall", "max_drop": 0.03},
    }
    assert jsonschema_rs.validator_for(policy_json_schema()).is_valid(doc)
    policy = Policy.model_validate(doc)
    assert policy.match.versions == "5"
    assert policy.match.tags == {"tier": "1", "pii": "true"}
    assert [s.by for s in policy.segments] == ["region"]
    json.dumps(policy_json_schema())


def test_defaults_are_fail_closed() -> None:
    policy = Policy.model_validate(MINIMAL)
    assert policy.mode == "enforce"
    assert policy.on_error == "block"
    assert policy.baseline.alias == "champion"
    assert policy.comparability.same_eval_dataset == "warn"
    assert policy.metrics == [] and policy.pipeline is None


@pytest.mark.parametrize(
    ("change", "needle"),
    [
        ({"metrics": [{"name": "a", "min": 0.9, "max": 0.1}]}, "min 0.9 is greater than max 0.1"),
        ({"metrics": [{"name": "a"}, {"name": "a"}]}, "metric 'a' appears twice"),
        ({"evals": [{"suite": "x"}, {"suite": "x"}]}, "eval suite 'x' appears twice"),
        ({"metrics": [{"name": "a", "significance": 1.5}]}, "less than 1"),
        ({"metadata": {"name": "has space", "revision": 1}}, "should match pattern"),
        ({"match": {"model": "*", "semver": ">=two"}}, "invalid version specifier"),
        ({"evals": [{"suite": "x", "max_attack_success_rate": 2}]}, "less than or equal to 1"),
    ],
    ids=[
        "min-above-max",
        "duplicate-metric",
        "duplicate-suite",
        "significance-range",
        "name-pattern",
        "semver",
        "asr-range",
    ],
)
def test_invalid_values(change: dict[str, Any], needle: str) -> None:
    with pytest.raises(ValidationError, match=needle):
        Policy.model_validate({**MINIMAL, **change})


@pytest.mark.parametrize(
    ("spec", "inside", "outside"),
    [
        ("5", [5], [4, 6]),
        (">=5", [5, 6, 100], [1, 4]),
        (">5", [6], [5]),
        ("<3", [1, 2], [3]),
        ("<=3", [3], [4]),
        ("3-7", [3, 5, 7], [2, 8]),
        ("3 - 7", [3, 7], [8]),
        (">=2,<9", [2, 8], [1, 9]),
        (">=2 <9", [2, 8], [1, 9]),
        ("!=4", [3, 5], [4]),
        ("*", [1, 99], []),
    ],
    ids=["exact", "ge", "gt", "lt", "le", "range", "range-spaced", "comma", "space", "ne", "any"],
)
def test_version_range(spec: str, inside: list[int], outside: list[int]) -> None:
    r = VersionRange(spec)
    assert all(v in r for v in inside)
    assert not any(v in r for v in outside)


@pytest.mark.parametrize(
    "spec",
    ["", "x", ">=", "7-3", "1.5", "=>3"],
    ids=["empty", "word", "no-number", "reversed", "float", "bad-op"],
)
def test_invalid_version_range(spec: str) -> None:
    with pytest.raises(ValueError, match=repr(spec) if spec else "empty"):
        VersionRange(spec)


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        (">=2.0.0 <3.0.0", "<3.0.0,>=2.0.0"),
        (">=2.0,<3", "<3,>=2.0"),
        ("~= 1.4", "~=1.4"),
        ("==2.*", "==2.*"),
    ],
    ids=["spaces", "commas", "compatible", "wildcard"],
)
def test_semver_specifier(text: str, normalized: str) -> None:
    assert str(parse_semver_specifier(text)) == normalized
