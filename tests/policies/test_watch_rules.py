"""The `watch:` section of a policy: defaults, and loader errors that name file and line."""

from __future__ import annotations

import pytest

from policies.errors import PolicyValidationError
from policies.loader import load_policy_text
from policies.watch_rules import WatchRules

HEAD = """apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {name: credit, revision: 1}
match: {model: "credit-*"}
"""


def test_defaults_follow_evidently_and_advise_rollback() -> None:
    rules = WatchRules()
    assert rules.drift.method == "auto"
    assert rules.drift.p_value == 0.05
    assert rules.drift.distance == 0.1
    assert rules.drift.small_reference_rows == 1000
    assert (rules.drift.psi.watch, rules.drift.psi.alert) == (0.1, 0.2)
    assert rules.drift.dataset_share == 0.5
    assert rules.rollback == "advise"
    assert rules.on_alert == ["notify", "re_review"]


def test_a_watch_section_loads() -> None:
    text = (
        HEAD
        + """watch:
  sample_floor: 300
  segments: [region]
  drift: {method: auto, methods: {income: psi}}
  performance:
    - {metric: recall, max_drop: 0.03, segments: [region]}
  on_alert: [notify, re_review, rollback]
  rollback: automatic
"""
    )
    [loaded] = load_policy_text(text, "policies/credit.yaml")
    watch = loaded.policy.watch
    assert watch is not None
    assert watch.sample_floor == 300
    assert watch.drift.methods == {"income": "psi"}
    assert watch.rollback == "automatic"


def test_a_policy_without_watch_has_none() -> None:
    [loaded] = load_policy_text(HEAD, "policies/credit.yaml")
    assert loaded.policy.watch is None


@pytest.mark.parametrize(
    ("section", "line", "needle"),
    [
        pytest.param("watch:\n  sample_flor: 10\n", 6, "sample_flor", id="misspelt-key"),
        pytest.param("watch:\n  sample_floor: 0\n", 6, "sample_floor", id="zero-floor"),
        pytest.param("watch:\n  drift: {method: kl}\n", 6, "method", id="unknown-method"),
        pytest.param(
            "watch:\n  drift:\n    psi: {watch: 0.3, alert: 0.2}\n", 7, "psi watch", id="psi-bands"
        ),
        pytest.param("watch:\n  rollback: automatic\n", 6, "on_alert", id="automatic-needs-action"),
        pytest.param(
            "watch:\n  on_watch: [rollback]\n", 6, "on_watch", id="rollback-is-not-a-watch-action"
        ),
        pytest.param(
            "watch:\n  performance:\n    - {metric: recall}\n    - {metric: recall}\n",
            7,
            "appears twice",
            id="duplicate-metric",
        ),
        pytest.param(
            "watch:\n  categorical: [income]\n  drift: {methods: {income: ks}}\n",
            6,
            "categorical",
            id="numeric-method-on-categorical",
        ),
    ],
)
def test_invalid_watch_sections_name_file_and_line(section: str, line: int, needle: str) -> None:
    with pytest.raises(PolicyValidationError) as caught:
        load_policy_text(HEAD + section, "policies/credit.yaml")
    message = str(caught.value)
    assert f"policies/credit.yaml:{line}" in message
    assert needle in message
