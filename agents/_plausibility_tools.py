"""The plausibility tools: is the good news believable?"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agents._tool_base import (
    ReviewContext,
    Side,
    _checks_about,
    _error,
    _limit,
    _respond,
    _round,
)
from comparison import Unavailable, version_ref
from policies.plausibility_rules import matching_pattern
from tools.metric_direction import lower_is_better as direction_by_name

if TYPE_CHECKING:
    from langchain.tools import ToolRuntime
from policies.plausibility_settings import DEFAULT_POST_OUTCOME_PATTERNS

__all__ = ["check_gain_plausibility", "get_feature_importances", "list_new_inputs"]


def check_gain_plausibility(
    runtime: ToolRuntime[ReviewContext],
    metric: str = "roc_auc",
    lower_is_better: bool | None = None,
) -> str:
    """How far a metric improved against the model's own version history and the changed settings.

    Answers "is this improvement plausible?": the gain, every earlier registered version's value,
    the largest move between earlier versions, and which classes of pipeline settings changed.

    Args:
        metric: The metric name, e.g. "roc_auc".
        lower_is_better: True when a smaller value is better; leave it out to have it read
            from the metric's name (errors and losses such as rmse and val_loss are).
    """
    ctx = runtime.context
    fact = ctx.facts.gain(metric, lower_is_better=direction_by_name(metric, lower_is_better))
    if isinstance(fact, Unavailable):
        return _error(ctx, "check_gain_plausibility", fact.reason)
    history = ctx.facts.version_history()
    return _respond(
        ctx,
        "check_gain_plausibility",
        {
            "metric": metric,
            "baseline": _round(fact.baseline),
            "candidate": _round(fact.candidate),
            "gain": _round(fact.gain),
            "history": [[v, _round(x)] for v, x in fact.history],
            "largest_history_move": _round(fact.largest_history_move),
            "best_before": _round(fact.best_before),
            "changed_setting_classes": fact.changed_classes,
            "pipeline_diff_unavailable": fact.diff_unavailable,
            "history_gaps": [] if isinstance(history, Unavailable) else history.gaps,
            "checks": _checks_about(ctx.verdict, lambda c: c.id == f"plausibility.gain.{metric}"),
            "evidence": fact.evidence,
        },
    )


def list_new_inputs(runtime: ToolRuntime[ReviewContext]) -> str:
    """List the candidate's new or changed inputs and flag names that suggest post-outcome data.

    Inputs are found in the pipeline config diff, the model signatures and the importances the
    logged models state. A name like "chargeback_filed" or "days_to_default" is information known
    only after the outcome (target leakage) and must not feed a model that predicts it.
    """
    ctx = runtime.context
    fact = ctx.facts.input_changes()
    if isinstance(fact, Unavailable):
        return _error(ctx, "list_new_inputs", fact.reason)
    patterns = list(DEFAULT_POST_OUTCOME_PATTERNS)
    rows: list[dict[str, Any]] = [
        {
            "name": c.name,
            "found_by": c.how,
            "detail": c.detail,
            "post_outcome_pattern": matching_pattern(c.name, patterns),
            "evidence": c.evidence,
        }
        for c in fact.changes
    ]
    return _respond(
        ctx,
        "list_new_inputs",
        {
            "new_inputs": rows,
            "looked_at": fact.sources,
            "not_read": fact.notes,
            "checks": _checks_about(
                ctx.verdict, lambda c: c.id == "plausibility.post_outcome_inputs"
            ),
            "evidence": list(dict.fromkeys(r for c in fact.changes for r in c.evidence)),
        },
    )


def get_feature_importances(
    runtime: ToolRuntime[ReviewContext], version: Side = "candidate", limit: int = 15
) -> str:
    """Get what a version's logged model says about its inputs: each input's share of importance.

    Read from the model file through a loader that only opens skops files with the types the
    policy trusts; for any other format the result says why importances are unavailable.

    Args:
        version: "candidate" (the version under review) or "baseline" (the champion).
        limit: At most this many inputs, largest share first (1-100).
    """
    ctx = runtime.context
    found = ctx.facts.feature_importances(version)
    if isinstance(found, Unavailable):
        return _error(ctx, "get_feature_importances", found.reason, available=False)
    side = ctx.side(version)
    assert side is not None  # an available fact has its version
    ranked = sorted(found.shares.items(), key=lambda kv: -kv[1])[: _limit(limit, 15)]
    return _respond(
        ctx,
        "get_feature_importances",
        {
            "version": side.ref,
            "available": True,
            "kind": found.kind,
            "estimator": found.estimator,
            "shares": {name: _round(share, 4) for name, share in ranked},
            "inputs": len(found.shares),
            "checks": _checks_about(ctx.verdict, lambda c: c.id == "plausibility.importance"),
            "evidence": [version_ref(side, "importances")],
        },
    )
