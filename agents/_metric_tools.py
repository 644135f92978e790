"""The metric tools: list, get, compare, and read metric histories."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from comparison import (
    all_metrics,
    metric_history_ref,
)
from tools.errors import ToolError
from tools.evidence import MetricPoint

if TYPE_CHECKING:
    from langchain.tools import ToolRuntime

    pass

from agents._tool_base import (
    _MAX_LIMIT,
    ReviewContext,
    Side,
    _checks_about,
    _error,
    _limit,
    _metric_source,
    _respond,
    _round,
)

__all__ = ["compare_metric", "get_metric", "get_metric_history", "list_metrics"]

# --------------------------------------------------------------------------------------------
# Metrics


def list_metrics(
    runtime: ToolRuntime[ReviewContext],
    prefix: str = "",
    version: Side = "candidate",
    limit: int = 50,
) -> str:
    """List the metric keys logged for a version, with their latest values.

    Use a prefix to narrow long lists, e.g. "segment/region=" or "safety/".

    Args:
        prefix: Only keys starting with this text; empty for all keys.
        version: "candidate" (the version under review) or "baseline" (the champion).
        limit: At most this many keys (1-100), in alphabetical order.
    """
    ctx = runtime.context
    side = ctx.side(version)
    if side is None:
        return _error(ctx, "list_metrics", "there is no baseline version")
    metrics = {k: v for k, v in sorted(all_metrics(side).items()) if k.startswith(prefix)}
    shown = list(metrics.items())[: _limit(limit, 50)]
    return _respond(
        ctx,
        "list_metrics",
        {
            "version": side.ref,
            "total": len(metrics),
            "shown": len(shown),
            "metrics": {k: _round(v) for k, v in shown},
        },
    )


def get_metric(name: str, runtime: ToolRuntime[ReviewContext], version: Side = "candidate") -> str:
    """Get the latest value of one metric of a version, and where it was logged.

    A metric logged on the MLflow logged model also names the dataset it was computed on.

    Args:
        name: The metric key, e.g. "roc_auc" or "segment/region=west/recall".
        version: "candidate" (the version under review) or "baseline" (the champion).
    """
    ctx = runtime.context
    side = ctx.side(version)
    if side is None:
        return _error(ctx, "get_metric", "there is no baseline version")
    value, where = _metric_source(side, name)
    if value is None:
        close = sorted(k for k in all_metrics(side) if name.lower() in k.lower())[:10]
        return _error(
            ctx, "get_metric", f"{side.ref} logged no metric {name!r}", similar_keys=close
        )
    return _respond(
        ctx, "get_metric", {"version": side.ref, "metric": name, "value": _round(value), **where}
    )


def compare_metric(name: str, runtime: ToolRuntime[ReviewContext]) -> str:
    """Compare one metric between the candidate and the baseline, with the policy checks on it.

    Args:
        name: The metric key, e.g. "roc_auc".
    """
    ctx = runtime.context
    cand, cand_where = _metric_source(ctx.bundle.candidate, name)
    baseline = ctx.bundle.baseline
    base: float | None = None
    base_where: dict[str, Any] = {"evidence": []}
    if baseline is not None:
        base, base_where = _metric_source(baseline, name)
    delta = cand - base if cand is not None and base is not None else None
    relative = delta / abs(base) if delta is not None and base else None
    return _respond(
        ctx,
        "compare_metric",
        {
            "metric": name,
            "candidate": _round(cand),
            "baseline": _round(base),
            "delta": _round(delta),
            "relative_change": _round(relative),
            "candidate_dataset_digest": cand_where.get("dataset_digest"),
            "baseline_dataset_digest": base_where.get("dataset_digest"),
            "checks": _checks_about(
                ctx.verdict,
                lambda c: c.details.get("metric") == name or f".{name}." in f".{c.id}.",
            ),
            "evidence": [*cand_where["evidence"], *base_where["evidence"]],
        },
    )


def _summarise_history(points: list[MetricPoint], max_points: int) -> dict[str, Any]:
    values = [p.value for p in points]
    if len(points) <= max_points:
        shown = points
    else:
        # Evenly spaced, always keeping the first and the last point.
        step = (len(points) - 1) / (max_points - 1)
        shown = [points[round(i * step)] for i in range(max_points)]
    return {
        "points_logged": len(points),
        "first": _round(values[0]) if values else None,
        "last": _round(values[-1]) if values else None,
        "min": _round(min(values)) if values else None,
        "max": _round(max(values)) if values else None,
        "points": [[p.step, _round(p.value)] for p in shown],
    }


def get_metric_history(
    name: str,
    runtime: ToolRuntime[ReviewContext],
    version: Side = "candidate",
    max_points: int = 20,
) -> str:
    """Get a metric's history over training steps (e.g. a loss curve), downsampled.

    Use it to ask whether training converged, diverged or stopped early.

    Args:
        name: The metric key, e.g. "train_loss" or "val_loss".
        version: "candidate" (the version under review) or "baseline" (the champion).
        max_points: At most this many [step, value] points (2-100), evenly spaced.
    """
    ctx = runtime.context
    side = ctx.side(version)
    if side is None:
        return _error(ctx, "get_metric_history", "there is no baseline version")
    points = side.metric_histories.get(name)
    origin = "bundle"
    if points is None and ctx.client is not None and side.run_id is not None:
        from tools.runs import read_metric_history

        try:
            points = read_metric_history(ctx.client, side.run_id, name)
        except ToolError as exc:
            return _error(ctx, "get_metric_history", f"could not read the history: {exc}")
        origin = "mlflow"
    if not points:
        return _error(
            ctx,
            "get_metric_history",
            f"{side.ref} has no history of {name!r}",
            histories_available=sorted(side.metric_histories)[:30],
        )
    return _respond(
        ctx,
        "get_metric_history",
        {
            "version": side.ref,
            "metric": name,
            "read_from": origin,
            **_summarise_history(points, max(2, min(_MAX_LIMIT, max_points))),
            "evidence": [metric_history_ref(side, name)],
        },
    )
