"""Per-version promotion policies: schema, loader, selector, and the deterministic evaluator
that turns the comparison's facts into checks; the decision types (`policies.decision`).

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from policies.conclusions import draw_conclusions as draw_conclusions
    from policies.decision import Conclusion as Conclusion
    from policies.decision import (
        Decision as Decision,
    )
    from policies.decision import (
        Finding as Finding,
    )
    from policies.decision import (
        LlmUsage as LlmUsage,
    )
    from policies.decision import (
        QuestionAnswer as QuestionAnswer,
    )
    from policies.decision import (
        Severity as Severity,
    )
    from policies.errors import (
        PolicyDirectoryError as PolicyDirectoryError,
    )
    from policies.errors import (
        PolicyError as PolicyError,
    )
    from policies.evaluator import (
        DENY_BY_DEFAULT as DENY_BY_DEFAULT,
    )
    from policies.evaluator import (
        evaluate_policies as evaluate_policies,
    )
    from policies.evaluator import (
        evaluate_policy as evaluate_policy,
    )
    from policies.evaluator import (
        is_overridable as is_overridable,
    )
    from policies.evaluator import (
        run_significance_tests as run_significance_tests,
    )
    from policies.evidence_mapping import (
        applicable_mapping as applicable_mapping,
    )
    from policies.evidence_mapping import (
        metric_names_for as metric_names_for,
    )
    from policies.loader import (
        LoadedPolicy as LoadedPolicy,
    )
    from policies.loader import (
        load_policy_dir as load_policy_dir,
    )
    from policies.loader import (
        load_policy_text as load_policy_text,
    )
    from policies.pipeline_rules import (
        HOW_TO_LOG_PIPELINE as HOW_TO_LOG_PIPELINE,
    )
    from policies.plausibility_rules import PlausibilityRequest as PlausibilityRequest
    from policies.plausibility_rules import matching_pattern as matching_pattern
    from policies.plausibility_rules import plausibility_findings as plausibility_findings
    from policies.plausibility_rules import plausibility_request as plausibility_request
    from policies.plausibility_rules import plausibility_request_for as plausibility_request_for
    from policies.plausibility_settings import (
        DEFAULT_POST_OUTCOME_PATTERNS as DEFAULT_POST_OUTCOME_PATTERNS,
    )
    from policies.plausibility_settings import PlausibilityRules as PlausibilityRules
    from policies.result import (
        CheckResult as CheckResult,
    )
    from policies.result import CheckStatus as CheckStatus
    from policies.result import (
        PolicyRef as PolicyRef,
    )
    from policies.result import (
        PolicyVerdict as PolicyVerdict,
    )
    from policies.result import (
        Verdict as Verdict,
    )
    from policies.schema import (
        Policy as Policy,
    )
    from policies.schema import VersionRange as VersionRange
    from policies.schema import (
        policy_json_schema as policy_json_schema,
    )
    from policies.security_checks import scan_request_for as scan_request_for
    from policies.selector import select_policies as select_policies
    from policies.testing import (
        run_policy_tests as run_policy_tests,
    )
    from policies.watch_rules import DriftMethod as DriftMethod
    from policies.watch_rules import DriftRules as DriftRules
    from policies.watch_rules import PerformanceRule as PerformanceRule
    from policies.watch_rules import QualityRules as QualityRules
    from policies.watch_rules import WatchAction as WatchAction
    from policies.watch_rules import WatchLevel as WatchLevel
    from policies.watch_rules import WatchRules as WatchRules


_EXPORTS: dict[str, str] = {
    "Conclusion": "policies.decision",
    "draw_conclusions": "policies.conclusions",
    "matching_pattern": "policies.plausibility_rules",
    "DEFAULT_POST_OUTCOME_PATTERNS": "policies.plausibility_settings",
    "PlausibilityRequest": "policies.plausibility_rules",
    "plausibility_findings": "policies.plausibility_rules",
    "plausibility_request": "policies.plausibility_rules",
    "plausibility_request_for": "policies.plausibility_rules",
    "PlausibilityRules": "policies.plausibility_settings",
    "select_policies": "policies.selector",
    "scan_request_for": "policies.security_checks",
    "VersionRange": "policies.schema",
    "CheckStatus": "policies.result",
    "applicable_mapping": "policies.evidence_mapping",
    "metric_names_for": "policies.evidence_mapping",
    "CheckResult": "policies.result",
    "Decision": "policies.decision",
    "DENY_BY_DEFAULT": "policies.evaluator",
    "evaluate_policies": "policies.evaluator",
    "evaluate_policy": "policies.evaluator",
    "Finding": "policies.decision",
    "HOW_TO_LOG_PIPELINE": "policies.pipeline_rules",
    "is_overridable": "policies.evaluator",
    "LlmUsage": "policies.decision",
    "load_policy_dir": "policies.loader",
    "load_policy_text": "policies.loader",
    "LoadedPolicy": "policies.loader",
    "Policy": "policies.schema",
    "policy_json_schema": "policies.schema",
    "PolicyDirectoryError": "policies.errors",
    "PolicyError": "policies.errors",
    "PolicyRef": "policies.result",
    "PolicyVerdict": "policies.result",
    "QuestionAnswer": "policies.decision",
    "run_policy_tests": "policies.testing",
    "run_significance_tests": "policies.evaluator",
    "Severity": "policies.decision",
    "Verdict": "policies.result",
    "PipelineRules": "policies._pipeline_schema",
    "STATUS_ORDER": "policies.result",
    "review_config_change": "policies.config_review",
    "DriftMethod": "policies.watch_rules",
    "DriftRules": "policies.watch_rules",
    "PerformanceRule": "policies.watch_rules",
    "QualityRules": "policies.watch_rules",
    "WatchAction": "policies.watch_rules",
    "WatchLevel": "policies.watch_rules",
    "WatchRules": "policies.watch_rules",
}

__all__ = [
    "DEFAULT_POST_OUTCOME_PATTERNS",
    "DENY_BY_DEFAULT",
    "HOW_TO_LOG_PIPELINE",
    "STATUS_ORDER",
    "CheckResult",
    "CheckStatus",
    "Conclusion",
    "Decision",
    "DriftMethod",
    "DriftRules",
    "Finding",
    "LlmUsage",
    "LoadedPolicy",
    "PerformanceRule",
    "PipelineRules",
    "PlausibilityRequest",
    "PlausibilityRules",
    "Policy",
    "PolicyDirectoryError",
    "PolicyError",
    "PolicyRef",
    "PolicyVerdict",
    "QualityRules",
    "QuestionAnswer",
    "Severity",
    "Verdict",
    "VersionRange",
    "WatchAction",
    "WatchLevel",
    "WatchRules",
    "applicable_mapping",
    "draw_conclusions",
    "evaluate_policies",
    "evaluate_policy",
    "is_overridable",
    "load_policy_dir",
    "load_policy_text",
    "matching_pattern",
    "metric_names_for",
    "plausibility_findings",
    "plausibility_request",
    "plausibility_request_for",
    "policy_json_schema",
    "review_config_change",
    "run_policy_tests",
    "run_significance_tests",
    "scan_request_for",
    "select_policies",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
