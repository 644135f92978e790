"""Each package's face: `__init__` exports what other packages use, and this pins it (as httpx
pins its public API). Changing a face is a deliberate act: update the list here with it.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

FACES: dict[str, list[str]] = {
    "tools": [
        "BackendUnavailableError",
        "BootstrapResult",
        "CHANGE_CLASSES",
        "ChangeClass",
        "ConfigChange",
        "ConfigFormat",
        "ConfigProblem",
        "ConfigValue",
        "DatasetInput",
        "EvalTable",
        "EvidenceBundle",
        "EvidenceGap",
        "METRIC_NAMES",
        "MetricName",
        "MetricPoint",
        "NotFoundError",
        "PipelineConfig",
        "PipelineDiff",
        "SafetySuiteResult",
        "SegmentMetric",
        "TablePairing",
        "ToolError",
        "VersionEvidence",
        "call_mlflow",
        "classify_key",
        "collect_bundle",
        "collect_version",
        "diff_pipeline_configs",
        "is_config_artifact",
        "key_matches",
        "load_config_files",
        "load_pipeline_config",
        "make_client",
        "metric_inputs",
        "numeric_value",
        "pair_tables",
        "paired_bootstrap",
        "parse_segment_metric_key",
        "rate_difference_interval",
        "read_metric_history",
        "read_text_artifact",
        "registered_aliases",
        "segment_metric_key",
        "segment_metrics_from_keys",
        "segment_metrics_from_table",
        "table_metric_name",
        "value_text",
        "wilson_interval",
    ],
    "comparison": [
        "BOOTSTRAP_RESAMPLES",
        "BOOTSTRAP_SEED",
        "Comparison",
        "ConvergenceAssessment",
        "ConvergenceCriteria",
        "ConvergenceState",
        "DatasetOverlap",
        "Fact",
        "MetricValue",
        "PairedTables",
        "PipelineEvidence",
        "SameDataset",
        "Side",
        "TrainEvalOverlap",
        "Unavailable",
        "all_metrics",
        "artifact_ref",
        "assess_convergence",
        "dataset_inputs_ref",
        "dataset_overlaps",
        "dataset_ref",
        "evaluation_digests",
        "input_digests",
        "metric_dataset_digests",
        "metric_ref",
        "metric_value",
        "pair_eval_tables",
        "pipeline_evidence",
        "safety_ref",
        "train_eval_overlap",
        "version_ref",
    ],
    "policies": [
        "CheckResult",
        "DENY_BY_DEFAULT",
        "Decision",
        "Finding",
        "HOW_TO_LOG_PIPELINE",
        "LlmUsage",
        "LoadedPolicy",
        "Policy",
        "PolicyDirectoryError",
        "PolicyError",
        "PolicyRef",
        "PolicyVerdict",
        "QuestionAnswer",
        "Severity",
        "Verdict",
        "evaluate_policies",
        "evaluate_policy",
        "is_overridable",
        "load_policy_dir",
        "load_policy_text",
        "policy_json_schema",
        "run_policy_tests",
    ],
    "evals": [
        "Case",
        "DatasetImportError",
        "EvalError",
        "Judge",
        "LoggedSuiteRun",
        "OfflineJudge",
        "OpenAIChatTarget",
        "PyfuncTarget",
        "ResponseCache",
        "Suite",
        "SuiteError",
        "SuiteHeader",
        "SuiteRun",
        "SuiteThresholds",
        "builtin_suite_paths",
        "case_records",
        "classify_refusal",
        "find_suite",
        "load_model_version",
        "load_suite",
        "log_suite_run",
        "make_judge",
        "parse_model_version",
        "parse_target",
        "quiet_mlflow_logging",
        "resolve_model_version",
        "run_classifier_suite",
        "run_suite",
    ],
    "ledger": [
        "ChainReport",
        "IdempotencyConflictError",
        "IdempotencyInProgressError",
        "IdempotencyStore",
        "Ledger",
        "LedgerError",
        "LedgerUnavailableError",
        "Override",
        "Promotion",
        "ROLES",
        "RecordNotFoundError",
        "Role",
        "TokenError",
        "TokenStore",
        "policy_refs_key",
    ],
    "agents": [
        "AgentError",
        "AgentRunner",
        "BENIGN",
        "BudgetExceededError",
        "ChatAnswer",
        "ChatSession",
        "CorpusText",
        "InvalidReviewError",
        "Investigation",
        "Investigator",
        "LlmConfigError",
        "LlmInvestigator",
        "LlmUnavailableError",
        "LoopbackHttpServer",
        "LoopbackServerThread",
        "MlflowReviewTracer",
        "OfflineInvestigator",
        "PLACES",
        "PLANTED",
        "Place",
        "ReviewBudget",
        "ReviewContext",
        "Screening",
        "ScriptedOpenAIServer",
        "build_chat_model",
        "call_tool",
        "clear_screening_cache",
        "external_corpus",
        "make_llm_investigator",
        "parse_model_spec",
        "quote_untrusted",
        "review_playbook",
        "review_tools",
        "scan_bundle",
        "screen_bundle",
        "screen_text",
        "screened_texts",
        "untrusted_text_check",
    ],
    "review": [
        "ApproverNotAllowedError",
        "Assessment",
        "EvaluatedEvidence",
        "GateError",
        "GateResponse",
        "GateService",
        "HUMAN_APPROVAL",
        "InvalidOverrideError",
        "MlflowUnavailableError",
        "OverrideOrder",
        "OverrideRefusedError",
        "PromoteResponse",
        "PromotionRefusedError",
        "ReviewConfig",
        "ReviewObserver",
        "ReviewOutcome",
        "ReviewService",
        "SubjectNotFoundError",
        "compose_decision",
        "decide",
        "decision_tags",
        "error_decision",
        "evaluate_evidence",
        "gather_evidence",
        "history_keys_for",
        "package_versions",
        "publish_decision_tags",
        "version_hint",
    ],
    "api": [
        "AsJson",
        "Settings",
        "build_review_service",
        "configure_mlflow_environment",
        "create_app",
        "decisions_table",
        "load_settings",
        "main",
        "make_investigator",
        "print_decision",
    ],
    "demo": [
        "CHAMPION_ALIAS",
        "DEMO_MODEL_NAME",
        "DemoRegistry",
        "EXAMPLE_POLICIES",
        "build_demo_registry",
        "build_support_assistant_versions",
        "review_demo_candidates",
        "run_demo",
    ],
}


def _imports_from_other_packages() -> dict[str, set[str]]:
    """Names each package's modules are imported for by modules of the other packages."""
    found: dict[str, set[str]] = {p: set() for p in FACES}
    for path in sorted(ROOT.glob("*/**/*.py")):
        source = path.relative_to(ROOT).parts[0]
        if source in ("tests", ".venv"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.module or node.level:
                continue
            package, _, rest = node.module.partition(".")
            if package not in FACES or package == source or not rest:
                continue
            found[package] |= {
                a.name for a in node.names if not (ROOT / package / f"{a.name}.py").exists()
            }
    return found


@pytest.mark.parametrize("package", sorted(FACES))
def test_the_face_is_pinned_and_every_name_resolves(package: str) -> None:
    module = importlib.import_module(package)
    assert sorted(module.__all__) == FACES[package]
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


def test_other_packages_use_only_what_a_face_exports() -> None:
    unexported = {
        package: sorted(names - set(FACES[package]))
        for package, names in _imports_from_other_packages().items()
        if names - set(FACES[package])
    }
    assert unexported == {}
