"""Did training converge? A loss history judged against thresholds: converged, still falling at
the end, diverged, or too short to tell."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.evidence import MetricPoint

__all__ = [
    "ConvergenceAssessment",
    "ConvergenceCriteria",
    "ConvergenceState",
    "assess_convergence",
]

ConvergenceState = Literal["converged", "still_falling", "diverged", "insufficient"]


class ConvergenceCriteria(BaseModel):
    """Thresholds of a convergence judgement, on the metric history of `metric`.

    Diverged: a non-finite value, a last value above the first, or a rebound from the best value
    of more than `max_rebound` of the total improvement. Still falling: over the last
    `tail_fraction` of the points, the fitted (least-squares) drop is more than
    `max_tail_improvement` of the total improvement.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str = "train_loss"
    min_points: int = Field(default=5, ge=3)
    tail_fraction: float = Field(default=0.2, gt=0.0, le=0.5)
    max_tail_improvement: float = Field(default=0.02, ge=0.0)
    max_rebound: float = Field(default=0.5, gt=0.0)


class ConvergenceAssessment(BaseModel):
    """What a loss history says about convergence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    metric: str
    state: ConvergenceState
    points: int
    first: float | None = None
    best: float | None = None
    last: float | None = None
    tail_improvement: float | None = Field(
        default=None, description="Share of the total improvement made over the tail."
    )
    message: str


def _tail_drop(points: Sequence[MetricPoint]) -> float:
    """Least-squares fitted drop across the tail (positive when the loss is still falling)."""
    xs = [float(p.step) for p in points]
    ys = [p.value for p in points]
    if len(set(xs)) < 2:
        xs = [float(i) for i in range(len(points))]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return -slope * (xs[-1] - xs[0])


def assess_convergence(
    points: Sequence[MetricPoint], rule: ConvergenceCriteria
) -> ConvergenceAssessment:
    """Judge a loss history: converged, still falling at the end, diverged, or too short.

    Args:
        points: The metric history (any order; sorted by step here).
        rule: Thresholds; see `ConvergenceCriteria` (a policy's `ConvergenceRule` is one).
    """
    name = rule.metric
    ordered = sorted(points, key=lambda p: (p.step, p.timestamp))
    n = len(ordered)
    if n < rule.min_points:
        return ConvergenceAssessment(
            metric=name,
            state="insufficient",
            points=n,
            message=f"{name} has {n} point(s), fewer than the {rule.min_points} needed to judge",
        )
    bad = next((p for p in ordered if not math.isfinite(p.value)), None)
    if bad is not None:
        return ConvergenceAssessment(
            metric=name,
            state="diverged",
            points=n,
            message=f"{name} became {bad.value} at step {bad.step}: training diverged",
        )
    values = [p.value for p in ordered]
    first, last, best = values[0], values[-1], min(values)
    best_step = ordered[values.index(best)].step
    common = {"metric": name, "points": n, "first": first, "best": best, "last": last}
    if last > first:
        return ConvergenceAssessment(
            **common,
            state="diverged",
            message=f"{name} ended at {last:.4g}, above where it started ({first:.4g}): diverged",
        )
    total = first - best
    if total <= 0:
        return ConvergenceAssessment(
            **common,
            state="converged",
            tail_improvement=0.0,
            message=f"{name} stayed at {first:.4g} over {n} points (no improvement to judge)",
        )
    rebound = last - best
    if rebound > rule.max_rebound * total:
        return ConvergenceAssessment(
            **common,
            state="diverged",
            message=(
                f"{name} rose from its best {best:.4g} (step {best_step}) to {last:.4g}, "
                f"giving back {rebound / total:.0%} of the improvement: diverging"
            ),
        )
    tail = ordered[-max(2, math.ceil(n * rule.tail_fraction)) :]
    share = _tail_drop(tail) / total
    if share > rule.max_tail_improvement:
        return ConvergenceAssessment(
            **common,
            state="still_falling",
            tail_improvement=share,
            message=(
                f"{name} was still falling at the end: the last {len(tail)} of {n} points made "
                f"{share:.1%} of the total improvement ({first:.4g} -> {last:.4g}); more training "
                "would change the model"
            ),
        )
    return ConvergenceAssessment(
        **common,
        state="converged",
        tail_improvement=share,
        message=(
            f"{name} converged: {first:.4g} -> {last:.4g}; the last {len(tail)} of {n} points made "
            f"{max(share, 0.0):.1%} of the improvement"
        ),
    )
