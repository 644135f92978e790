"""Prometheus gauges of the post-promotion watch, read from the ledger at scrape time.

Every process that runs a watch pass (the API, a `promogate worker`, a `promogate watch` from cron)
writes its windows to the ledger, so gauges computed from the ledger's latest ``watch`` record
per model and alias agree whichever process evaluated the window. One scrape reads one record
per watched alias.

Gauges (levels: -1 skip, 0 ok, 1 watch, 2 alert; a check that errored counts as 3):

- ``promogate_watch_level{model,alias,version}``: the latest window's level;
- ``promogate_watch_check_level{model,alias,check,kind}``: each check of the latest window;
- ``promogate_watch_drift_score{model,alias,feature,method}``: each feature's drift statistic
  (KS D, normalised distance, chi-squared, PSI) in the latest window;
- ``promogate_watch_drift_share{model,alias}``: the share of drifted features;
- ``promogate_watch_realised_metric{model,alias,metric,segment}``: realised metrics from labels;
- ``promogate_watch_last_window_end_timestamp_seconds{model,alias}`` and
  ``promogate_watch_last_evaluation_timestamp_seconds{model,alias}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry, write_to_textfile
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from ledger.errors import LedgerError
from ledger.records import WatchRecord
from ledger.store import Ledger
from ledger.tables import LedgerRecordRow

__all__ = ["LEVEL_VALUES", "WatchCollector", "write_watch_metrics"]

logger = logging.getLogger("promogate.api")

LEVEL_VALUES: Final[dict[str, float]] = {
    "skip": -1.0,
    "ok": 0.0,
    "watch": 1.0,
    "alert": 2.0,
    "error": 3.0,
}


def latest_watch_records(ledger: Ledger) -> list[WatchRecord]:
    """The newest watch record of every watched model and alias.

    Args:
        ledger: The decision ledger.
    """
    newest = (
        select(func.max(LedgerRecordRow.seq))
        .where(LedgerRecordRow.kind == "watch")
        .group_by(LedgerRecordRow.model, LedgerRecordRow.target_alias)
    )
    query = select(LedgerRecordRow.payload).where(LedgerRecordRow.seq.in_(newest))
    with ledger.database.read() as session:
        payloads = list(session.execute(query).scalars())
    return [WatchRecord.model_validate(json.loads(p)) for p in payloads]


class WatchCollector(Collector):
    """Builds the watch gauges from the ledger on every scrape.

    Args:
        ledger: The decision ledger the passes record to.
    """

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def describe(self) -> list[Any]:
        # Described lazily: the families depend on what the ledger holds at scrape time.
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        level = GaugeMetricFamily(
            "promogate_watch_level",
            "Level of the latest evaluated monitoring window (-1 skip, 0 ok, 1 watch, 2 alert).",
            labels=["model", "alias", "version"],
        )
        checks = GaugeMetricFamily(
            "promogate_watch_check_level",
            "Level of each check of the latest window (-1 skip, 0 ok, 1 watch, 2 alert, 3 error).",
            labels=["model", "alias", "check", "kind"],
        )
        drift = GaugeMetricFamily(
            "promogate_watch_drift_score",
            "Drift statistic of each feature in the latest window, by method.",
            labels=["model", "alias", "feature", "method"],
        )
        share = GaugeMetricFamily(
            "promogate_watch_drift_share",
            "Share of the watched features that drifted in the latest window.",
            labels=["model", "alias"],
        )
        realised = GaugeMetricFamily(
            "promogate_watch_realised_metric",
            "Realised metric from late labels in the latest window ('' segment: overall).",
            labels=["model", "alias", "metric", "segment"],
        )
        window_end = GaugeMetricFamily(
            "promogate_watch_last_window_end_timestamp_seconds",
            "End of the latest evaluated monitoring window (Unix time).",
            labels=["model", "alias"],
        )
        evaluated = GaugeMetricFamily(
            "promogate_watch_last_evaluation_timestamp_seconds",
            "When the latest window was evaluated (Unix time).",
            labels=["model", "alias"],
        )
        try:
            records = latest_watch_records(self.ledger)
        except LedgerError as exc:
            logger.warning("watch gauges not exported: the ledger cannot be read: %s", exc)
            records = []
        for record in records:
            key = [record.model, record.target_alias]
            level.add_metric([*key, str(record.version)], LEVEL_VALUES.get(record.level, 3.0))
            evaluated.add_metric(key, record.created_at.timestamp())
            if record.window_end is not None:
                window_end.add_metric(key, record.window_end.timestamp())
            report = record.report
            if isinstance(report.get("drift_share"), int | float):
                share.add_metric(key, float(report["drift_share"]))
            for check in report.get("checks") or []:
                if not isinstance(check, dict):
                    continue
                status = str(check.get("status", "error"))
                checks.add_metric(
                    [*key, str(check.get("id")), str(check.get("kind"))],
                    LEVEL_VALUES.get(status, 3.0),
                )
                evidence = check.get("drift")
                if (
                    isinstance(evidence, dict)
                    and check.get("kind") == "feature_drift"
                    and isinstance(evidence.get("statistic"), int | float)
                ):
                    drift.add_metric(
                        [*key, str(evidence.get("feature")), str(evidence.get("method"))],
                        float(evidence["statistic"]),
                    )
                metric = check.get("metric")
                if isinstance(metric, dict) and isinstance(
                    metric.get("realised_value"), int | float
                ):
                    realised.add_metric(
                        [*key, str(metric.get("metric")), str(metric.get("segment") or "")],
                        float(metric["realised_value"]),
                    )
        yield from (level, checks, drift, share, realised, window_end, evaluated)


def write_watch_metrics(ledger: Ledger, path: Path) -> None:
    """Write the watch gauges to `path` in the text format (node_exporter's textfile collector).

    Args:
        ledger: The decision ledger.
        path: The ``.prom`` file to (atomically) replace.
    """
    registry = CollectorRegistry(auto_describe=False)
    registry.register(WatchCollector(ledger))
    write_to_textfile(str(path), registry)
