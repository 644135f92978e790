"""The LLM reviewer's tools: read-only views of the evidence, for the model to ask questions with.

Each tool's Google-style docstring is the model's contract (the generated schemas are snapshot
tested). What the model must not control - which model and version are reviewed, the policies,
the MLflow client, the bundle, the caller - is injected through LangChain's `ToolRuntime` from a
`ReviewContext`, and is not part of any tool schema: the model can only choose between the
candidate and its baseline.

Every result is compact JSON with an ``evidence`` list of references the model can cite. Text an
author controls (descriptions, tags, params, artifact contents, dataset sources, config values,
model outputs) is returned quoted (`agents.untrusted.quote_untrusted`), and any other string that
looks like a planted instruction is quoted too, so that nothing a tool returns reads as an order.
Results are capped in size; the model narrows a query (``prefix``, ``limit``) to see more.
"""

from __future__ import annotations

import inspect
import json
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agents._comparability_tools import check_comparability, find_common_causes
from agents._evidence_tools import (
    compare_datasets,
    get_pipeline_diff,
    get_safety_results,
    list_evidence_gaps,
)
from agents._metric_tools import compare_metric, get_metric, get_metric_history, list_metrics
from agents._plausibility_tools import (
    check_gain_plausibility,
    get_feature_importances,
    list_new_inputs,
)
from agents._segment_tools import get_segment_metrics, test_significance
from agents._tool_base import ReviewContext, Side
from agents._version_tools import get_artifact, get_check, get_version_metadata

if TYPE_CHECKING:
    from langchain_core.tools import BaseTool

    REVIEW_TOOLS: tuple[BaseTool, ...]

__all__ = [
    "REVIEW_TOOLS",
    "ReviewContext",
    "Side",
    "call_tool",
    "check_comparability",
    "check_gain_plausibility",
    "compare_datasets",
    "compare_metric",
    "find_common_causes",
    "get_artifact",
    "get_check",
    "get_feature_importances",
    "get_metric",
    "get_metric_history",
    "get_pipeline_diff",
    "get_safety_results",
    "get_segment_metrics",
    "get_version_metadata",
    "list_evidence_gaps",
    "list_metrics",
    "list_new_inputs",
    "review_tools",
    "test_significance",
]

# The tools are plain functions: the offline investigator and offline chat call them directly,
# and only the LLM path wraps them as LangChain tools (importing LangChain costs about a second).
_FUNCTIONS: tuple[Callable[..., str], ...] = (
    get_check,
    list_metrics,
    get_metric,
    compare_metric,
    get_metric_history,
    get_segment_metrics,
    test_significance,
    compare_datasets,
    check_comparability,
    find_common_causes,
    get_pipeline_diff,
    get_safety_results,
    list_evidence_gaps,
    get_artifact,
    get_version_metadata,
    check_gain_plausibility,
    list_new_inputs,
    get_feature_importances,
)
_BY_NAME: dict[str, Callable[..., str]] = {fn.__name__: fn for fn in _FUNCTIONS}
_WRAPPED: list[BaseTool] = []
_WRAP_LOCK = threading.Lock()


def review_tools() -> list[BaseTool]:
    """The tools of the LLM reviewer, in a stable order (LangChain tools, built on first use)."""
    with _WRAP_LOCK:
        if not _WRAPPED:
            from langchain.tools import ToolRuntime, tool

            for fn in _FUNCTIONS:
                # LangChain resolves the string annotations in the function's module to find the
                # injected runtime; the modules import ToolRuntime only for type checking.
                vars(sys.modules[fn.__module__]).setdefault("ToolRuntime", ToolRuntime)
                _WRAPPED.append(tool(parse_docstring=True, error_on_invalid_docstring=True)(fn))
        return list(_WRAPPED)


def __getattr__(name: str) -> Any:
    if name == "REVIEW_TOOLS":
        return tuple(review_tools())
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class _Runtime:
    """What a tool reads from LangChain's `ToolRuntime`: the injected review context."""

    context: ReviewContext


def call_tool(tool_name: str, ctx: ReviewContext, **args: Any) -> dict[str, Any]:
    """Run one review tool outside an agent (offline chat, tests) and return its parsed result.

    Args:
        tool_name: The tool's name, e.g. "compare_datasets".
        ctx: The review context the tool reads.
        **args: The tool's arguments, as the model would pass them.

    Raises:
        KeyError: No tool of that name.
        TypeError: An argument the tool does not take, or a required one missing.
    """
    fn = _BY_NAME[tool_name]
    bound = inspect.signature(fn).bind(runtime=_Runtime(ctx), **args)
    text = fn(*bound.args, **bound.kwargs)
    parsed = json.loads(text)
    return parsed if isinstance(parsed, dict) else {"value": parsed}
