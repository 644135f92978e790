"""Safety evaluation suites: suite files, runner, detectors, judges, importers, targets.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from evals.classic import (
        run_classifier_suite as run_classifier_suite,
    )
    from evals.detectors import (
        classify_refusal as classify_refusal,
    )
    from evals.errors import (
        DatasetImportError as DatasetImportError,
    )
    from evals.errors import (
        EvalError as EvalError,
    )
    from evals.errors import (
        SuiteError as SuiteError,
    )
    from evals.judges import (
        Judge as Judge,
    )
    from evals.judges import (
        OfflineJudge as OfflineJudge,
    )
    from evals.judges import (
        make_judge as make_judge,
    )
    from evals.mlflow_logging import (
        quiet_mlflow_logging as quiet_mlflow_logging,
    )
    from evals.response_cache import (
        ResponseCache as ResponseCache,
    )
    from evals.results import (
        LoggedSuiteRun as LoggedSuiteRun,
    )
    from evals.results import (
        case_records as case_records,
    )
    from evals.results import (
        log_suite_run as log_suite_run,
    )
    from evals.results import (
        parse_model_version as parse_model_version,
    )
    from evals.runner import (
        SuiteRun as SuiteRun,
    )
    from evals.runner import (
        run_suite as run_suite,
    )
    from evals.suite import (
        Case as Case,
    )
    from evals.suite import (
        Suite as Suite,
    )
    from evals.suite import (
        SuiteHeader as SuiteHeader,
    )
    from evals.suite import (
        SuiteThresholds as SuiteThresholds,
    )
    from evals.suite import (
        builtin_suite_paths as builtin_suite_paths,
    )
    from evals.suite import (
        find_suite as find_suite,
    )
    from evals.suite import (
        load_suite as load_suite,
    )
    from evals.targets import (
        OpenAIChatTarget as OpenAIChatTarget,
    )
    from evals.targets import (
        PyfuncTarget as PyfuncTarget,
    )
    from evals.targets import (
        load_model_version as load_model_version,
    )
    from evals.targets import (
        parse_target as parse_target,
    )
    from evals.targets import (
        resolve_model_version as resolve_model_version,
    )

_EXPORTS: dict[str, str] = {
    "builtin_suite_paths": "evals.suite",
    "Case": "evals.suite",
    "case_records": "evals.results",
    "classify_refusal": "evals.detectors",
    "DatasetImportError": "evals.errors",
    "EvalError": "evals.errors",
    "find_suite": "evals.suite",
    "Judge": "evals.judges",
    "load_model_version": "evals.targets",
    "load_suite": "evals.suite",
    "log_suite_run": "evals.results",
    "LoggedSuiteRun": "evals.results",
    "make_judge": "evals.judges",
    "OfflineJudge": "evals.judges",
    "OpenAIChatTarget": "evals.targets",
    "parse_model_version": "evals.results",
    "parse_target": "evals.targets",
    "PyfuncTarget": "evals.targets",
    "quiet_mlflow_logging": "evals.mlflow_logging",
    "resolve_model_version": "evals.targets",
    "ResponseCache": "evals.response_cache",
    "run_classifier_suite": "evals.classic",
    "run_suite": "evals.runner",
    "Suite": "evals.suite",
    "SuiteError": "evals.errors",
    "SuiteHeader": "evals.suite",
    "SuiteRun": "evals.runner",
    "SuiteThresholds": "evals.suite",
}

__all__ = [
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
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
