"""Reviews of GenAI apps evaluated with plain ``mlflow.genai.evaluate`` and code scorers.

The registry is real (tests/support/genai_registry.py): real evaluations whose traces carry the
scorers' assessments. Each app is reviewed once by discovery alone and once with a mapping.
"""

from __future__ import annotations

import textwrap
from typing import Any

import pytest
from support.genai_registry import FAQ_BOT, HELP_BOT, SUPPORT_BOT, GenaiRegistry
from support.team_registry import review_once

from policies.decision import Decision
from policies.loader import load_policy_text

pytestmark = pytest.mark.slow

DISCOVERY = """\
    metrics:
      - {name: exact_match, min: 0.7, max_drop: 0.05}
    comparability: {same_eval_dataset: required, train_eval_overlap: "off"}
    evidence:
      require: [eval_table, evaluation_dataset]
    """
# The team says which scorer decides whether an example passed, which dataset input is the
# evaluation set, and that their "accuracy" is exact_match: the paired test then runs on it.
MAPPED = """\
    metrics:
      - {name: accuracy, min: 0.7, max_drop: 0.05, significance: 0.05}
    comparability: {same_eval_dataset: required, train_eval_overlap: "off"}
    evidence:
      require: [eval_table, evaluation_dataset]
      table: {columns: {prediction: exact_match}}
      datasets: {evaluation: ["dataset"]}
      metric_aliases: {accuracy: [exact_match/mean]}
    """


def _review(registry: GenaiRegistry, model: str, version: int, body: str) -> Decision:
    text = textwrap.dedent(
        f"""\
        apiVersion: promogate/v1
        kind: PromotionPolicy
        metadata: {{name: {model}-policy, revision: 1}}
        match: {{model: {model}}}
        """
    ) + textwrap.dedent(body)
    return review_once(registry.tracking_uri, model, version, load_policy_text(text, "p.yaml"))


def _checks(decision: Decision) -> dict[str, Any]:
    return {c.id: c for c in decision.checks}


@pytest.mark.parametrize(
    ("model", "version", "verdict"),
    [
        (SUPPORT_BOT, 2, "approve"),
        (SUPPORT_BOT, 3, "block"),
        (FAQ_BOT, 2, "approve"),
        (HELP_BOT, 2, "approve"),
    ],
    ids=[
        "predict-fn-better",
        "predict-fn-regression",
        "precomputed-outputs-better",
        "evaluated-in-its-own-run",
    ],
)
def test_discovery_alone_reads_genai_evaluate(
    genai_registry: GenaiRegistry, model: str, version: int, verdict: str
) -> None:
    decision = _review(genai_registry, model, version, DISCOVERY)
    checks = _checks(decision)
    assert decision.verdict == verdict, decision.reasons
    # Nothing is "missing": the table, the dataset and the metric are found.
    assert not [c.id for c in decision.checks if c.status == "error"], decision.reasons
    assert checks["evidence.eval_table"].status == "pass"
    assert checks["evidence.evaluation_dataset"].status == "pass"
    assert checks["comparability.same_eval_dataset"].status == "pass"
    assert "evaluation table row ids" in checks["comparability.same_eval_dataset"].message
    run_id = genai_registry.run_ids[(model, version)]
    origins = {o.kind: o for o in decision.evidence_origins[f"{model}/{version}"]}
    assert origins["eval_table"].how == "discovery"
    assert run_id in origins["eval_table"].source
    assert "mlflow.genai.evaluate" in origins["eval_table"].source
    assert "exact_match" in origins["eval_table"].detail
    assert "mlflow.genai.evaluate" in origins["evaluation_dataset"].detail
    assert "exact_match/mean" in origins["metric_alias"].source
    if verdict == "block":
        assert checks["metrics.exact_match.min"].status == "fail"
        assert checks["metrics.exact_match.max_drop"].status == "fail"
        assert any("exact_match" in r for r in decision.reasons), decision.reasons


def test_precomputed_outputs_compare_the_examples_not_the_answers(
    genai_registry: GenaiRegistry,
) -> None:
    decision = _review(genai_registry, FAQ_BOT, 2, DISCOVERY)
    origins = [o for o in decision.evidence_origins[f"{FAQ_BOT}/2"]]
    dataset = next(o for o in origins if o.kind == "evaluation_dataset")
    assert "(examples)" in dataset.source
    assert "precomputed outputs" in dataset.detail
    same = _checks(decision)["comparability.same_eval_dataset"]
    assert same.status == "pass"
    assert "evaluation dataset inputs" in same.message


@pytest.mark.parametrize(
    ("version", "verdict", "status"),
    [(2, "approve", "pass"), (3, "block", "fail")],
    ids=["better", "regression"],
)
def test_with_a_mapping(
    genai_registry: GenaiRegistry, version: int, verdict: str, status: str
) -> None:
    decision = _review(genai_registry, SUPPORT_BOT, version, MAPPED)
    checks = _checks(decision)
    assert decision.verdict == verdict, decision.reasons
    drop = checks["metrics.accuracy.max_drop"]
    assert drop.status == status
    origins = {o.kind: o for o in decision.evidence_origins[f"{SUPPORT_BOT}/{version}"]}
    assert origins["eval_table"].how == "mapping"
    assert "prediction='exact_match'" in origins["eval_table"].detail
    assert origins["evaluation_dataset"].how == "mapping"
    if verdict == "block":
        # The drop is tested on the paired per-example results the traces hold.
        assert "significant" in drop.message and "paired bootstrap on 12" in drop.message
        assert drop.p_value is not None and drop.p_value < 0.05


def test_a_metric_no_scorer_logged_is_an_error(genai_registry: GenaiRegistry) -> None:
    decision = _review(
        genai_registry,
        SUPPORT_BOT,
        2,
        "metrics: [{name: relevance, min: 0.5}]\nevidence: {require: [eval_table]}\n",
    )
    assert decision.verdict == "block"
    check = _checks(decision)["metrics.relevance.min"]
    assert check.status == "error"
    assert "'relevance'" in check.message


def test_an_evaluation_in_its_own_run_is_found_through_the_logged_model(
    genai_registry: GenaiRegistry,
) -> None:
    decision = _review(genai_registry, HELP_BOT, 2, DISCOVERY)
    origins = {o.kind: o for o in decision.evidence_origins[f"{HELP_BOT}/2"]}
    eval_run = genai_registry.run_ids[(HELP_BOT, 2)]
    assert eval_run in origins["eval_table"].source
    assert "logged metrics on logged model" in origins["eval_table"].detail
    assert eval_run in origins["evaluation_dataset"].detail
