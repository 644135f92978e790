"""The demo's post-promotion watch: production windows for the champion, one of them drifting.

After the reviews, `run_watch_scenario` brings the demo's champion under promogate's ledger (v1,
as the gate allows it), promotes the clean improvement v2 through the gate, and then plays a few
days of production for v2:

- a reference profile logged with v2: its evaluation holdout with the features, v2's scores and
  the labels (what the promotion decision rested on);
- stable days drawn from the same synthetic population as the training data;
- one day on which the credit bureau serving `north` reports revolving-credit `utilization`
  against the total of open and closed limits, so the value v2 sees in that region is a third of
  the true one. Defaults still follow the true utilization, so v2 misses defaulters in `north`:
  drift confined to one region, with a realised recall drop there. v1 never used `utilization`,
  which is why moving back is the advice.

Each day's window and its labels are logged with the watch writers, and one watch pass
(`promogate watch credit-risk@champion`) evaluates them. Deterministic from the seed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from scenarios._data import (
    AS_OF,
    FEATURE_COLUMNS,
    LABEL_COLUMN,
    ROW_ID_COLUMN,
    SEGMENT_COLUMN,
    make_credit_applications,
)
from scenarios.demo_registry import CHAMPION_ALIAS, DEMO_MODEL_NAME, DemoRegistry

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from ledger.records import WatchRecord
    from review.gate import GateService
    from review.watch_runner import WatchPass

__all__ = [
    "DRIFT_FEATURE",
    "DRIFT_REGION",
    "WATCH_DAYS",
    "DemoWatch",
    "RealisedMetric",
    "WatchDay",
    "describe_watch",
    "production_day",
    "run_watch_scenario",
    "watch_command",
]

logger = logging.getLogger("promogate.evals")

DRIFT_REGION: Final = "north"
DRIFT_FEATURE: Final = "utilization"
# Utilization against open and closed limits together: about a third of the true value.
_REPORTED_SHARE: Final = 1.0 / 3.0
_THRESHOLD: Final = 0.5
_ROWS_PER_DAY: Final = 2400
_FIRST_DAY: Final = datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC) + timedelta(days=1)
_PREVIOUS_VERSION: Final = 1
_PROMOTED_VERSION: Final = 2
_PROMOTER: Final = "release-bot"
_EXPERIMENT: Final = f"monitoring/{DEMO_MODEL_NAME}"


@dataclass(frozen=True)
class WatchDay:
    """One day of production: its window's bounds and whether the north bureau misreports."""

    day: int
    drifting: bool

    @property
    def start(self) -> datetime:
        return _FIRST_DAY + timedelta(days=self.day)

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=1)


WATCH_DAYS: Final[tuple[WatchDay, ...]] = (
    WatchDay(0, drifting=False),
    WatchDay(1, drifting=False),
    WatchDay(2, drifting=False),
    WatchDay(3, drifting=True),
)


@dataclass(frozen=True)
class RealisedMetric:
    """A realised metric of one window against its value at promotion, as the watch judged it."""

    window_id: str
    metric: str
    segment: str | None
    promotion_value: float
    realised_value: float
    p_value: float | None
    status: str


@dataclass(frozen=True)
class DemoWatch:
    """What the watch scenario did: the promotion, the windows logged and the watch pass."""

    champion_version: int
    previous_version: int
    promotion_id: str
    previous_promotion_id: str
    window_ids: dict[int, str]
    """day -> the window's run id."""
    drifting_window_id: str
    watch: WatchPass
    realised: list[RealisedMetric]
    """The realised metrics of every window evaluated (from the ledger's watch records)."""


def production_day(day: WatchDay, seed: int) -> pd.DataFrame:
    """The applications of one production day, as serving logs them (features as reported).

    The label column holds what happened later: defaults follow the true utilization even on
    the drifting day.
    """
    applications = make_credit_applications(
        seed * 1000 + 101 + day.day, n_rows=_ROWS_PER_DAY, eval_fraction=0.0
    )
    frame = applications.train.drop(columns=["application_date"])
    if day.drifting:
        north = frame[SEGMENT_COLUMN] == DRIFT_REGION
        frame.loc[north, DRIFT_FEATURE] = np.round(
            frame.loc[north, DRIFT_FEATURE] * _REPORTED_SHARE, 4
        )
    return frame.reset_index(drop=True)


def _scored(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with the model's `score` and `prediction`, as its serving layer logs them."""
    inputs = frame[[SEGMENT_COLUMN, *FEATURE_COLUMNS]]
    out = frame.copy()
    out["score"] = np.round(model.predict_proba(inputs)[:, 1], 6)
    out["prediction"] = (out["score"] >= _THRESHOLD).astype(np.int64)
    return out


def _load_sklearn(tracking_uri: str, version: int) -> Any:
    """The fitted scikit-learn pipeline of a registered version (what serving runs)."""
    from evals import load_model_version

    return load_model_version(DEMO_MODEL_NAME, version, tracking_uri=tracking_uri).get_raw_model()


def _promote(gate: GateService, version: int) -> str:
    """Ask the gate about `version` for @champion and promote it on an allowing answer."""
    from evals.errors import EvalError

    answer = gate.gate(DEMO_MODEL_NAME, version, target_alias=CHAMPION_ALIAS)
    if not answer.allowed:
        raise EvalError(
            f"the gate denies {DEMO_MODEL_NAME!r} v{version} for @{CHAMPION_ALIAS}: "
            + "; ".join(answer.reasons[:3])
        )
    promoted = gate.promote(DEMO_MODEL_NAME, version, target_alias=CHAMPION_ALIAS, actor=_PROMOTER)
    return promoted.record_id


def _monitoring_experiment(client: MlflowClient, artifact_root: str) -> None:
    """Create the monitoring experiment with its artifacts beside the demo's, not in ./mlruns."""
    if client.get_experiment_by_name(_EXPERIMENT) is None:
        client.create_experiment(
            _EXPERIMENT, artifact_location=f"{artifact_root.rstrip('/')}/monitoring"
        )


def _log_production(
    client: MlflowClient, tracking_uri: str, workdir: Path, seed: int
) -> dict[int, str]:
    from watch.monitoring import log_labels, log_monitoring_window, log_reference_profile

    model = _load_sklearn(tracking_uri, _PROMOTED_VERSION)
    holdout = pd.read_parquet(workdir / "data" / "credit_applications_eval.parquet")
    reference = _scored(model, holdout.drop(columns=["application_date", ROW_ID_COLUMN]))
    log_reference_profile(
        reference, DEMO_MODEL_NAME, _PROMOTED_VERSION, client=client, experiment=_EXPERIMENT
    )
    windows: dict[int, str] = {}
    for day in WATCH_DAYS:
        frame = _scored(model, production_day(day, seed))
        windows[day.day] = log_monitoring_window(
            frame.drop(columns=[LABEL_COLUMN]),
            DEMO_MODEL_NAME,
            _PROMOTED_VERSION,
            day.start,
            day.end,
            client=client,
            experiment=_EXPERIMENT,
        )
        # In production the labels arrive weeks later, as a batch of their own.
        log_labels(
            frame[[ROW_ID_COLUMN, LABEL_COLUMN, "prediction", "score", SEGMENT_COLUMN]],
            DEMO_MODEL_NAME,
            _PROMOTED_VERSION,
            day.start,
            day.end,
            client=client,
            experiment=_EXPERIMENT,
        )
    return windows


def run_watch_scenario(
    registry: DemoRegistry, ledger_path: Path, policies_dir: Path, *, seed: int = 0
) -> DemoWatch:
    """Promote v2 through the gate, log its production windows and run one watch pass.

    The gate reuses the decisions already in `ledger_path` (the demo's reviews), and reviews v1
    and v2 itself when there are none.

    Args:
        registry: The demo registry (its store, artifact root and evaluation data file).
        ledger_path: The demo's SQLite ledger.
        policies_dir: The policies (the example policies, with their `watch:` section).
        seed: Seed of the production days.

    Raises:
        EvalError: The gate refuses a promotion the scenario needs.
    """
    import mlflow

    from review.gate import GateService
    from review.watch_runner import Watcher
    from scenarios.demo_review import offline_review_service

    tracking_uri = registry.tracking_uri
    reviews = offline_review_service(tracking_uri, ledger_path, policies_dir)
    gate = GateService(reviews)
    try:
        # v1 was made champion when the registry was built, outside promogate: approving it
        # now puts it in the ledger as a version promogate vouches for, the rollback target.
        previous_promotion = _promote(gate, _PREVIOUS_VERSION)
        promotion = _promote(gate, _PROMOTED_VERSION)
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        _monitoring_experiment(client, registry.artifact_root)
        windows = _log_production(client, tracking_uri, registry.workdir, seed)
        result = Watcher(gate).watch(DEMO_MODEL_NAME, CHAMPION_ALIAS)
        realised = [
            metric
            for window in result.windows
            if window.record_id is not None
            for metric in _realised(window.window_id, reviews.ledger.get_watch(window.record_id))
        ]
    finally:
        gate.drain()
        reviews.ledger.close()
    drifting = next(d for d in WATCH_DAYS if d.drifting)
    logger.info("demo watch: %s on %d windows", result.level, len(result.windows))
    return DemoWatch(
        champion_version=_PROMOTED_VERSION,
        previous_version=_PREVIOUS_VERSION,
        promotion_id=promotion,
        previous_promotion_id=previous_promotion,
        window_ids=windows,
        drifting_window_id=windows[drifting.day],
        watch=result,
        realised=realised,
    )


def _realised(window_id: str, record: WatchRecord) -> list[RealisedMetric]:
    found: list[RealisedMetric] = []
    for check in record.report.get("checks") or []:
        metric = check.get("metric")
        if check.get("kind") != "performance" or not isinstance(metric, dict):
            continue
        found.append(
            RealisedMetric(
                window_id=window_id,
                metric=str(metric["metric"]),
                segment=metric.get("segment"),
                promotion_value=float(metric["promotion_value"]),
                realised_value=float(metric["realised_value"]),
                p_value=metric.get("p_value"),
                status=str(check.get("status")),
            )
        )
    return found


def describe_watch(watched: DemoWatch, command: str, pages_url: str | None = None) -> list[str]:
    """What the demo prints of its watch pass: each day, the drops, the advice, the command.

    Args:
        watched: The scenario's outcome.
        command: The command that runs the pass again.
        pages_url: Where `promogate serve --demo` serves the pages (the reopened decision's).
    """
    result = watched.watch
    lines = [
        f"v{watched.champion_version} promoted to @{CHAMPION_ALIAS} by the gate (was "
        f"v{watched.previous_version}); {len(watched.window_ids)} production days logged, on the "
        f"last the {DRIFT_REGION} bureau reports {DRIFT_FEATURE} against closed limits too.",
        f"promogate watch {DEMO_MODEL_NAME}@{CHAMPION_ALIAS}: {result.level} "
        f"({len(result.windows)} windows)",
    ]
    for window in result.windows:
        day = f"{window.window_start:%Y-%m-%d}" if window.window_start else window.window_id
        line = f"  {day}: {window.level}"
        if window.drifted_features:
            line += f"; drifted: {', '.join(window.drifted_features)}"
        if window.drifted_segments:
            line += (
                " (within "
                + "; ".join(
                    f"{segment}: {', '.join(features)}"
                    for segment, features in window.drifted_segments.items()
                )
                + ")"
            )
        drops = [
            m for m in watched.realised if m.window_id == window.window_id and m.status == "alert"
        ]
        for m in drops:
            where = f" in {m.segment}" if m.segment else ""
            p = "" if m.p_value is None else f", p={m.p_value:.1g}"
            if m.p_value is not None and m.p_value < 1e-4:
                p = ", p<0.0001"
            line += (
                f"; realised {m.metric}{where} {m.realised_value:.3f} vs "
                f"{m.promotion_value:.3f} at promotion{p}"
            )
        lines.append(line)
    if result.decision_id is not None:
        lines.append(f"  decision reopened: {result.decision_id} ({result.decision_verdict})")
        if pages_url is not None:
            lines.append(f"  {pages_url.rstrip('/')}/decisions/{result.decision_id}")
    if result.advice is not None:
        lines.append(f"  {result.advice.summary}")
    lines.extend(f"  error: {e}" for e in result.errors)
    lines.append(f"Run it again: {command}")
    return lines


def watch_command(directory: Path, policies_dir: Path) -> str:
    """The command that runs the same watch pass again on the demo's registry and ledger."""
    return (
        f"promogate watch {DEMO_MODEL_NAME}@{CHAMPION_ALIAS} "
        f"--tracking-uri sqlite:///{directory / 'mlflow.db'} "
        f"--ledger-url sqlite:///{directory / 'promogate.db'} --policies {policies_dir}"
    )
