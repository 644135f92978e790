"""Comparability beyond the digest: `comparability.same_labels` and
`comparability.same_metric_definitions`, on evidence built like the policy tests' other bundles."""

from __future__ import annotations

from typing import Any

import pytest

from policies.evaluator import evaluate_policies
from tools.evidence import EvalTable

LABELS = "comparability.same_labels"
DEFINITIONS = "comparability.same_metric_definitions"


def _flip(table: EvalTable, rows: int) -> EvalTable:
    """The same rows with the label flipped on the first `rows` of them (a redefined label)."""
    at = table.columns.index("label")
    flipped = [
        [*row[:at], 1 - int(row[at]), *row[at + 1 :]] if i < rows else row
        for i, row in enumerate(table.rows)
    ]
    return EvalTable(path=table.path, columns=table.columns, rows=flipped)


def _policy(kit: Any, **comparability: Any) -> Any:
    return kit.policy(
        comparability={
            "same_eval_dataset": "required",
            "train_eval_overlap": "off",
            **comparability,
        }
    )


# (id, flipped rows of 3200, comparability settings, expected status)
LABEL_TABLE_CASES: list[tuple[str, int, dict[str, Any], str]] = [
    ("labels-agree", 0, {}, "pass"),
    ("a-few-corrected-labels-within-tolerance", 8, {}, "pass"),
    ("label-redefined-on-a-share-of-rows", 640, {}, "fail"),
    ("label-redefined-warn-mode", 640, {"same_labels": "warn"}, "warn"),
    ("label-redefined-tolerance-raised", 640, {"max_label_disagreement": 0.25}, "pass"),
    ("label-check-off", 640, {"same_labels": "off"}, "absent"),
]


@pytest.mark.parametrize(
    ("flipped", "settings", "expected"),
    [c[1:] for c in LABEL_TABLE_CASES],
    ids=[c[0] for c in LABEL_TABLE_CASES],
)
def test_labels_of_the_paired_rows(
    kit: Any, eval_data: Any, flipped: int, settings: dict[str, Any], expected: str
) -> None:
    table = kit.table(eval_data, kit.scores(eval_data, seed=1))
    bundle = kit.bundle(kit.version(2, table=_flip(table, flipped)), kit.version(1, table=table))
    verdict = evaluate_policies([_policy(kit, **settings)], bundle)
    if expected == "absent":
        assert LABELS not in {c.id for c in verdict.checks}
        return
    check = kit.check(verdict, LABELS)
    assert check.status == expected, check.message
    agreement = check.details["label_agreement"]
    assert agreement["differing"] == flipped
    assert agreement["paired_rows"] == len(eval_data.labels)
    assert check.observed == pytest.approx(flipped / len(eval_data.labels))
    if expected in ("fail", "warn"):
        assert f"labels differ on {flipped} of {len(eval_data.labels)} paired rows" in check.message
        assert "not comparable" in check.message
        assert check.evidence == [
            "run:run0002/artifacts/eval/predictions.json",
            "run:run0001/artifacts/eval/predictions.json",
        ]


# (id, baseline params, candidate params, expected status, aspect named in the details)
LABEL_KEY_CASES: list[tuple[str, dict[str, str], dict[str, str], str, str | None]] = [
    ("same-label-key", {"data.label": "default_12m"}, {"data.label": "default_12m"}, "pass", None),
    (
        "label-key-changed",
        {"data.label": "default_12m"},
        {"data.label": "default_6m"},
        "fail",
        "label_key",
    ),
    ("target-column-changed", {"target_col": "y"}, {"target_col": "y2"}, "fail", "label_key"),
    ("positive-class-changed", {"pos_label": "1"}, {"pos_label": "0"}, "fail", "positive_class"),
    ("seed-only", {"seed": "1"}, {"seed": "2"}, "pass", None),
]


@pytest.mark.parametrize(
    ("base", "cand", "expected", "aspect"),
    [c[1:] for c in LABEL_KEY_CASES],
    ids=[c[0] for c in LABEL_KEY_CASES],
)
def test_label_keys_of_the_pipeline_config(
    kit: Any,
    base: dict[str, str],
    cand: dict[str, str],
    expected: str,
    aspect: str | None,
) -> None:
    bundle = kit.bundle(kit.version(2, params=cand), kit.version(1, params=base))
    verdict = evaluate_policies([_policy(kit)], bundle)
    check = kit.check(verdict, LABELS)
    assert check.status == expected, check.message
    assert "label keys of the pipeline config" in check.details["compared"]
    changes = check.details["label_changes"]
    assert [c["aspect"] for c in changes] == ([aspect] if aspect else [])
    if aspect is not None:
        (key,) = cand
        assert f"({key}) changed from {base[key]!r} to {cand[key]!r}" in check.message
        assert check.evidence == [f"run:run0002/params/{key}", f"run:run0001/params/{key}"]
        assert verdict.verdict == "block"


# (id, settings, expected status with nothing to compare the labels on)
NOTHING_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("follows-same-eval-dataset-skips", {}, "skip"),
    ("explicitly-required-errors", {"same_labels": "required"}, "error"),
    ("explicitly-warn-warns", {"same_labels": "warn"}, "warn"),
]


@pytest.mark.parametrize(
    ("settings", "expected"), [c[1:] for c in NOTHING_CASES], ids=[c[0] for c in NOTHING_CASES]
)
def test_nothing_to_compare_the_labels_on(
    kit: Any, settings: dict[str, Any], expected: str
) -> None:
    bundle = kit.bundle(kit.version(2, params={}), kit.version(1, params={}))
    verdict = evaluate_policies([_policy(kit, **settings)], bundle)
    check = kit.check(verdict, LABELS)
    assert check.status == expected, check.message
    assert check.message.startswith("cannot tell whether")
    assert check.how_to_fix and "row_id" in check.how_to_fix


def test_no_baseline_follows_on_missing(kit: Any) -> None:
    verdict = evaluate_policies([_policy(kit)], kit.bundle(kit.version(2)))
    assert kit.check(verdict, LABELS).status == "warn"
    assert kit.check(verdict, DEFINITIONS).status == "warn"


# (id, baseline params, candidate params, baseline metrics, candidate metrics, policy metrics,
#  expected status)
DEFINITION_CASES: list[
    tuple[str, dict[str, str], dict[str, str], dict[str, float], dict[str, float], list[str], str]
] = [
    ("same-settings", {"f1_average": "binary"}, {"f1_average": "binary"}, {}, {}, [], "pass"),
    ("averaging-param", {"f1_average": "binary"}, {"f1_average": "macro"}, {}, {}, [], "fail"),
    ("estimator-average-flag", {"average": "False"}, {"average": "True"}, {}, {}, [], "pass"),
    ("k-param", {"eval.k": "10"}, {"eval.k": "5"}, {}, {}, [], "fail"),
    (
        "evaluation-threshold",
        {"eval.threshold": "0.5"},
        {"eval.threshold": "0.3"},
        {},
        {},
        [],
        "fail",
    ),
    (
        "decision-threshold-is-a-model-change",
        {"decision_threshold": "0.5"},
        {"decision_threshold": "0.7"},
        {},
        {},
        [],
        "pass",
    ),
    (
        "averaging-in-metric-names",
        {},
        {},
        {"f1_weighted": 0.8},
        {"f1_macro": 0.7},
        ["f1_macro"],
        "fail",
    ),
    ("k-in-metric-names", {}, {}, {"precision_at_10": 0.5}, {"precision_at_5": 0.6}, [], "fail"),
    (
        "a-definition-also-logged-before",
        {},
        {},
        {"f1_weighted": 0.8, "f1_macro": 0.7},
        {"f1_macro": 0.7},
        [],
        "pass",
    ),
    (
        "names-of-a-metric-the-policy-does-not-judge",
        {},
        {},
        {"f1_weighted": 0.8},
        {"f1_macro": 0.7},
        ["roc_auc"],
        "pass",
    ),
]


@pytest.mark.parametrize(
    ("base", "cand", "base_metrics", "cand_metrics", "judged", "expected"),
    [c[1:] for c in DEFINITION_CASES],
    ids=[c[0] for c in DEFINITION_CASES],
)
def test_metric_definitions(
    kit: Any,
    base: dict[str, str],
    cand: dict[str, str],
    base_metrics: dict[str, float],
    cand_metrics: dict[str, float],
    judged: list[str],
    expected: str,
) -> None:
    common = {"roc_auc": 0.8}
    bundle = kit.bundle(
        kit.version(2, params={"seed": "1", **cand}, metrics={**common, **cand_metrics}),
        kit.version(1, params={"seed": "1", **base}, metrics={**common, **base_metrics}),
    )
    policy = kit.policy(
        comparability={"same_eval_dataset": "off", "same_metric_definitions": "required"},
        metrics=[{"name": n, "required": False} for n in judged],
    )
    check = kit.check(evaluate_policies([policy], bundle), DEFINITIONS)
    assert check.status == expected, check.message
    if expected == "fail":
        assert "did not compute their metrics the same way" in check.message
        assert check.evidence
        assert check.how_to_fix
