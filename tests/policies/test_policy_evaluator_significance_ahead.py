"""Significance tests run ahead of the evaluation: the same bootstraps, kept; the same verdict."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from policies.evaluator import evaluate_policies, run_significance_tests
from tools import significance
from tools.significance import BOOTSTRAP_CACHE

SEGMENT_RULE = {"by": "region", "metric": "recall", "max_drop": 0.03, "min_rows": 100}
AUC_RULE = {"name": "roc_auc", "max_drop": 0.002, "significance": 0.05}


@pytest.fixture
def bootstraps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The metric of every bootstrap computed (not answered from the cache), from an empty cache."""
    computed: list[str] = []
    compute = significance._paired_bootstrap

    def counted(metric: Any, *args: Any, **kwargs: Any) -> Any:
        computed.append(metric)
        return compute(metric, *args, **kwargs)

    monkeypatch.setattr(significance, "_paired_bootstrap", counted)
    BOOTSTRAP_CACHE.clear()
    yield computed
    BOOTSTRAP_CACHE.clear()


CASES = {
    # name: (policy sections, candidate's scores, match, bootstraps run ahead)
    "segment-regression": (
        {"segments": {**SEGMENT_RULE, "significance": 0.05}},
        {"seed": 5, "rho": 0.85, "region_shift": {"north": -1.0}},
        "*",
        ["recall"],
    ),
    "noisy-segment-drop": (
        {"segments": {**SEGMENT_RULE, "significance": 0.05}},
        {"seed": 6, "rho": 0.7},
        "*",
        ["recall"],
    ),
    "metric-drop": (
        {"metrics": [AUC_RULE]},
        {"seed": 5, "rho": 0.5, "noise_scale": 1.5},
        "*",
        ["roc_auc"],
    ),
    "no-drop": ({"metrics": [AUC_RULE]}, {"seed": 100}, "*", []),
    "no-significance-asked": ({"segments": SEGMENT_RULE}, {"seed": 6, "rho": 0.7}, "*", []),
    "policy-for-another-model": (
        {"metrics": [AUC_RULE]},
        {"seed": 5, "rho": 0.5, "noise_scale": 1.5},
        "fraud-*",
        [],
    ),
}


@pytest.mark.parametrize(
    ("sections", "candidate", "match", "ahead"), list(CASES.values()), ids=list(CASES)
)
def test_the_evaluation_after_finds_every_bootstrap_run_ahead(
    kit: Any,
    eval_data: Any,
    bootstraps: list[str],
    sections: dict[str, Any],
    candidate: dict[str, Any],
    match: str,
    ahead: list[str],
) -> None:
    base = kit.table(eval_data, kit.scores(eval_data, seed=100))
    cand = kit.table(eval_data, kit.scores(eval_data, **candidate))
    policy = kit.policy(**sections, match={"model": match})
    bundle = kit.bundle(kit.version(2, table=cand), kit.version(1, table=base))

    run_significance_tests([policy], bundle)
    assert bootstraps == ahead
    after = evaluate_policies([policy], bundle)
    assert bootstraps == ahead, "the evaluation computed a bootstrap again"

    BOOTSTRAP_CACHE.clear()
    assert evaluate_policies([policy], bundle) == after
