"""Reviews of models logged the ways teams log them: once by discovery alone, once with a mapping.

The registry is real (tests/support/team_registry.py); every version is a real trained model.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from support.team_registry import (
    AUTOLOGGED,
    CUSTOM,
    EVALUATED,
    EVALUATED_APART,
    SYNONYMS,
    TWO_TABLES,
    TeamRegistry,
    review_once,
)

from policies.decision import Decision
from policies.loader import load_policy_text


def _policy(model: str, body: str, evidence: str = "") -> str:
    text = textwrap.dedent(
        f"""\
        apiVersion: promogate/v1
        kind: PromotionPolicy
        metadata: {{name: {model}-policy, revision: 1}}
        match: {{model: {model}}}
        """
    )
    return text + textwrap.dedent(body) + textwrap.dedent(evidence)


POLICIES: dict[str, str] = {
    EVALUATED: """\
        metrics:
          - {name: recall, min: 0.5, max_drop: 0.1}
          - {name: roc_auc, min: 0.7}
        comparability: {same_eval_dataset: required, train_eval_overlap: forbid}
        """,
    SYNONYMS: """\
        metrics: [{name: recall, min: 0.5, max_drop: 0.1}]
        segments: {by: region, metric: recall, max_drop: 0.1, min_rows: 50}
        comparability: {same_eval_dataset: required, train_eval_overlap: forbid}
        pipeline: {require: [seed]}
        """,
    CUSTOM: """\
        segments: {by: region, metric: recall, max_drop: 0.1, min_rows: 50}
        comparability: {same_eval_dataset: required, train_eval_overlap: forbid}
        pipeline: {require: [seed]}
        """,
    TWO_TABLES: """\
        metrics: [{name: recall, min: 0.5, max_drop: 0.1}]
        """,
}
REQUIRE = "evidence:\n  require: [eval_table, evaluation_dataset, training_dataset]\n"
REQUIRE_TABLE = "evidence:\n  require: [eval_table]\n"
MAPPINGS: dict[str, str] = {
    EVALUATED: """\
        evidence:
          require: [evaluation_dataset, training_dataset]
          datasets: {evaluation: ["holdout"]}
          metric_aliases: {recall: [recall_score]}
        """,
    SYNONYMS: """\
        evidence:
          require: [eval_table, evaluation_dataset, training_dataset]
          table:
            paths: ["reports/*.csv"]
            columns: {label: y_true, score: y_score, prediction: pred, row_id: id}
          configs: ["conf/*.yaml"]
          datasets: {training: ["train"], evaluation: ["holdout"]}
          segment_keys: ["{metric}/{column}:{value}"]
        """,
    CUSTOM: """\
        evidence:
          require: [eval_table, evaluation_dataset, training_dataset]
          table:
            paths: ["analysis/*.parquet"]
            columns: {label: is_default, score: p_default, prediction: decision,
                      segments: [region]}
          configs: ["settings/train_config.yaml"]
          datasets: {training: ["snap-a"], evaluation: ["snap-b"]}
          segment_keys: ["{metric}_{column}_{value}"]
        """,
    TWO_TABLES: """\
        evidence:
          require: [eval_table]
          table: {paths: ["reports/a.csv"]}
        """,
}


def _review(registry: TeamRegistry, model: str, policy: str) -> Decision:
    policies = load_policy_text(policy, f"{model}.yaml")
    return review_once(registry.tracking_uri, model, 2, policies)


def _checks(decision: Decision) -> dict[str, Any]:
    return {c.id: c for c in decision.checks}


@pytest.fixture(scope="module")
def registry(team_registry: TeamRegistry) -> TeamRegistry:
    return team_registry


def test_evaluate_output_is_read_natively(registry: TeamRegistry) -> None:
    decision = _review(
        registry,
        EVALUATED,
        _policy(
            EVALUATED,
            POLICIES[EVALUATED],
            "evidence:\n  require: [evaluation_dataset, training_dataset]\n",
        ),
    )
    checks = _checks(decision)
    assert checks["evidence.evaluation_dataset"].status == "pass"
    assert checks["metrics.recall.min"].status == "pass"
    assert checks["comparability.same_eval_dataset"].status == "pass"
    assert checks["comparability.train_eval_overlap"].status == "pass"
    assert decision.verdict == "approve", decision.reasons
    origins = decision.evidence_origins[f"{EVALUATED}/2"]
    linked = [o for o in origins if o.kind == "evaluation_dataset"]
    assert linked and "logged model's metrics" in linked[0].detail
    assert registry.eval_digest[EVALUATED] in linked[0].source
    assert any(o.kind == "metric_alias" and "recall_score" in o.source for o in origins)


@pytest.mark.parametrize(
    ("model", "require"),
    [(EVALUATED, "evidence:\n  require: [evaluation_dataset]\n"), (SYNONYMS, REQUIRE)],
    ids=["evaluated", "synonyms"],
)
def test_discoverable_styles_approve_without_a_mapping(
    registry: TeamRegistry, model: str, require: str
) -> None:
    decision = _review(registry, model, _policy(model, POLICIES[model], require))
    assert decision.verdict == "approve", decision.reasons
    assert all(c.status in ("pass", "skip", "warn") for c in decision.checks)


def test_synonym_table_config_and_keys_are_discovered_and_recorded(
    registry: TeamRegistry,
) -> None:
    decision = _review(registry, SYNONYMS, _policy(SYNONYMS, POLICIES[SYNONYMS], REQUIRE))
    origins = {o.kind: o for o in decision.evidence_origins[f"{SYNONYMS}/2"]}
    assert origins["eval_table"].source == "reports/scored.csv"
    assert origins["eval_table"].how == "discovery"
    assert "label='y_true'" in origins["eval_table"].detail
    assert origins["pipeline_config"].source == "conf/train.yaml"
    assert origins["training_dataset"].how == "discovery"
    checks = _checks(decision)
    assert checks["pipeline.require.seed"].status == "pass"
    assert any(c.id.startswith("segments.region.recall") for c in decision.checks)


@pytest.mark.parametrize("model", [EVALUATED, SYNONYMS, CUSTOM, TWO_TABLES])
def test_every_style_reviews_with_a_mapping(registry: TeamRegistry, model: str) -> None:
    decision = _review(registry, model, _policy(model, POLICIES[model], MAPPINGS[model]))
    checks = _checks(decision)
    assert not [c.id for c in decision.checks if c.status == "error"], decision.reasons
    if model == CUSTOM:
        # The mapping lets the gate see the real problem: v2's recall in the south dropped.
        assert decision.verdict == "block"
        failed = [c.id for c in decision.checks if c.status == "fail"]
        assert any(i.startswith("segments.region.recall") and "south" in i for i in failed), failed
        assert checks["pipeline.require.seed"].status == "pass"
        origins = {o.kind: o.how for o in decision.evidence_origins[f"{CUSTOM}/2"]}
        assert origins["eval_table"] == "mapping"
        assert origins["pipeline_config"] == "mapping"
        assert origins["training_dataset"] == "mapping"
    else:
        assert decision.verdict == "approve", decision.reasons


def test_custom_spellings_without_a_mapping_say_what_is_missing(registry: TeamRegistry) -> None:
    decision = _review(registry, CUSTOM, _policy(CUSTOM, POLICIES[CUSTOM], REQUIRE))
    assert decision.verdict == "block"
    checks = _checks(decision)
    table = checks["evidence.eval_table"]
    assert table.status == "error"
    # The reason is the table's columns, not a bare "missing".
    assert "analysis/out.parquet" in table.message and "is_default" in table.message
    assert checks["evidence.training_dataset"].status == "error"
    assert checks["pipeline.require.seed"].status in ("error", "fail")
    assert "settings/train_config.yaml" in " ".join(
        decision.reasons + [c.message for c in decision.checks]
    )


def test_two_candidate_tables_are_an_error_naming_both(registry: TeamRegistry) -> None:
    decision = _review(
        registry, TWO_TABLES, _policy(TWO_TABLES, POLICIES[TWO_TABLES], REQUIRE_TABLE)
    )
    assert decision.verdict == "block"
    table = _checks(decision)["evidence.eval_table"]
    assert table.status == "error"
    assert "reports/a.csv" in table.message and "reports/b.csv" in table.message
    assert "paths:" in table.message


AUTOLOGGED_POLICY = """\
    metrics:
      - {name: r2, min: 0.8, max_drop: 0.02}
      - {name: rmse, max: 1.5, max_relative_drop: 0.05, lower_is_better: true}
    comparability: {same_eval_dataset: required, train_eval_overlap: forbid}
    evidence:
      require: [evaluation_dataset, training_dataset]
    """


def test_an_autologged_regressor_is_read_natively(registry: TeamRegistry) -> None:
    """What `mlflow.sklearn.autolog()` and `evaluate(model_type="regressor")` log, unmapped: the
    data tagged `train` is the training set, so the overlap check runs and the candidate passes."""
    decision = _review(registry, AUTOLOGGED, _policy(AUTOLOGGED, AUTOLOGGED_POLICY))
    assert decision.verdict == "approve", decision.reasons
    checks = _checks(decision)
    assert checks["evidence.training_dataset"].status == "pass"
    assert checks["comparability.train_eval_overlap"].status == "pass"
    assert checks["comparability.same_eval_dataset"].status == "pass"
    assert checks["metrics.rmse.max_relative_drop"].status == "pass"
    origins = decision.evidence_origins[f"{AUTOLOGGED}/2"]
    (train,) = [o for o in origins if o.kind == "training_dataset"]
    assert train.how == "convention" and "tagged 'train'" in train.detail
    (evaluation,) = [o for o in origins if o.kind == "evaluation_dataset"]
    assert registry.eval_digest[AUTOLOGGED] in evaluation.source
    aliases = {o.source: o.detail for o in origins if o.kind == "metric_alias"}
    assert aliases == {
        "metric 'r2_score'": "read as 'r2'",
        "metric 'root_mean_squared_error'": "read as 'rmse'",
    }


def test_an_autologged_regressor_worse_than_its_bar_blocks(registry: TeamRegistry) -> None:
    policy = AUTOLOGGED_POLICY.replace("max: 1.5,", "max: 0.5,")
    decision = _review(registry, AUTOLOGGED, _policy(AUTOLOGGED, policy))
    assert decision.verdict == "block"
    failed = [c.id for c in decision.checks if c.status in ("fail", "error")]
    assert failed == ["metrics.rmse.max"], decision.reasons


def test_an_evaluation_run_of_its_own_is_the_evaluation_set(registry: TeamRegistry) -> None:
    """`mlflow.models.evaluate` in a run apart from training: its dataset is no input of the
    source run, but the logged model's metrics name it; v2 is clean and approves."""
    policy = _policy(
        EVALUATED_APART,
        POLICIES[EVALUATED],
        "evidence:\n  require: [evaluation_dataset, training_dataset]\n"
        "  metric_aliases: {recall: [recall_score]}\n",
    )
    decision = _review(registry, EVALUATED_APART, policy)
    assert decision.verdict == "approve", decision.reasons
    checks = _checks(decision)
    assert checks["evidence.evaluation_dataset"].status == "pass"
    assert checks["comparability.train_eval_overlap"].status == "pass"
    (evaluation,) = [
        o
        for o in decision.evidence_origins[f"{EVALUATED_APART}/2"]
        if o.kind == "evaluation_dataset"
    ]
    assert registry.eval_digest[EVALUATED_APART] in evaluation.source
    assert "no evaluation input on the source run" in evaluation.detail
    # Scored on its own training data in that run: never approved.
    decision = review_once(
        registry.tracking_uri, EVALUATED_APART, 3, load_policy_text(policy, "p.yaml")
    )
    assert decision.verdict == "block"
    checks = _checks(decision)
    assert checks["comparability.same_eval_dataset"].status == "fail"
    assert checks["comparability.train_eval_overlap"].status != "pass"
