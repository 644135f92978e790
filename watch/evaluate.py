"""Evaluate one monitoring window against the reference: `evaluate_window` (pure, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping

from policies.watch_rules import WatchRules
from watch.report import WindowReport
from watch.window import MonitoringWindow, Reference

__all__ = ["evaluate_window"]


def evaluate_window(
    reference: Reference,
    window: MonitoringWindow,
    watch_policy: WatchRules,
    promotion_metrics: Mapping[str, float],
) -> WindowReport:
    """Judge one window: drift, data quality and realised metrics, each ok / watch / alert / skip.

    Args:
        reference: What the promotion decision rested on (profile, sample, evaluation table).
        window: The window's inputs and the labels that have arrived for it.
        watch_policy: The `watch:` section of the policy that applies to the model.
        promotion_metrics: Metric values at promotion (`recall`, and per segment
            `segment/<column>:<value>/<metric>`); used where the reference has no labelled rows.
    """
    raise NotImplementedError("first version of the signature; implementation follows")
