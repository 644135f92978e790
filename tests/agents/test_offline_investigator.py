"""The offline investigator is a fixed plan of the LLM's own tool calls: the tools it records exist,
and it cites evidence the way the tools do. It once recorded tools no agent has (`paired_bootstrap`,
`get_dataset_inputs`, and in the pipeline questions `load_pipeline_config`, `diff_pipeline_configs`,
`assess_convergence`) and cited `artifact:<model>/<version>/<table>`, which no tool returns."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agents._agent_tools import review_tools
from agents.offline_investigator import OfflineInvestigator
from comparison import Comparison
from policies.evaluator import evaluate_policies
from policies.loader import load_policy_text


def test_the_plan_records_only_tools_the_llm_has(kit: Any) -> None:
    bundle = kit.regression()
    facts = Comparison(bundle)
    investigation = OfflineInvestigator().investigate(bundle, kit.verdict(bundle), comparison=facts)
    recorded = {tool for q in investigation.questions for tool in q.tools}
    assert {"compare_datasets", "test_significance"} <= recorded
    assert {"get_pipeline_diff", "get_metric_history"} <= recorded
    assert recorded <= {t.name for t in review_tools()}


def test_the_plan_cites_the_references_the_tools_return(kit: Any) -> None:
    bundle = kit.regression()
    investigation = OfflineInvestigator().investigate(bundle, kit.verdict(bundle))
    tested = [q for q in investigation.questions if q.tools == ["test_significance"]]
    assert tested
    for question in tested:
        assert question.evidence == [
            f"run:{bundle.candidate.run_id}/artifacts/{bundle.candidate.eval_table.path}",
            f"run:{bundle.baseline.run_id}/artifacts/{bundle.baseline.eval_table.path}",
        ]
    (datasets,) = [q for q in investigation.questions if q.tools == ["compare_datasets"]]
    assert all(ref.startswith("run:") and ref.endswith("/inputs") for ref in datasets.evidence)


def test_a_metric_failing_two_rules_is_questioned_once(kit: Any) -> None:
    path = Path(__file__).resolve().parents[2] / "policies" / "examples" / "credit-risk.yaml"
    strict = path.read_text().replace("{name: roc_auc, min: 0.75,", "{name: roc_auc, min: 0.99,")
    policies = load_policy_text(strict, path.name)
    bundle = kit.regression()
    verdict = evaluate_policies(policies, bundle)
    failed = {c.id for c in verdict.checks if c.status == "fail"}
    assert {"metrics.roc_auc.min", "metrics.roc_auc.max_drop"} <= failed
    investigation = OfflineInvestigator().investigate(bundle, verdict)
    asked = [q.question for q in investigation.questions]
    assert asked.count("Is the change in roc_auc significant, or could it be noise?") == 1
