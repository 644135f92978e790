"""A registered model's own history: the metrics of its earlier versions.

How far a candidate's metric moved is only half a fact; how far this model's metrics usually move
from one version to the next is the other half. This reads the latest metric values of the
versions registered before the candidate, from their source runs (the logged model's metrics when
the run has none of that name).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tools.client import call_mlflow
from tools.errors import ToolError, UnsearchableValueError
from tools.plausibility_models import HistoricVersion, VersionHistory
from tools.read_once import kept_answer
from tools.registry import logged_model_id_from_source
from tools.search_filter import filter_literal

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["HISTORY_MAX_VERSIONS", "read_version_history", "search_earlier_versions"]

logger = logging.getLogger("promogate.tools")

#: At most this many earlier versions are read.
HISTORY_MAX_VERSIONS = 50


def search_earlier_versions(
    client: MlflowClient, model: str, before_version: int, count: int = HISTORY_MAX_VERSIONS
) -> list[Any]:
    """The newest `count` versions of `model` numbered below `before_version`, oldest first.

    One page of one search whatever the number of versions the model has. Listing the model's
    versions instead reads every one of them, and past a page MLflow's default order (most
    recently updated first) need not hold the versions just before the candidate.

    Args:
        client: MLflow client.
        model: Registered model name.
        before_version: The candidate's version number.
        count: How many versions at most.

    Raises:
        ToolError: The registry could not be searched (`UnsearchableValueError`: the name holds
            both quote characters).
    """
    if before_version <= 1:
        return []
    name = filter_literal(model)
    found = call_mlflow(
        lambda: client.search_model_versions(
            f"name = {name} AND version_number < {int(before_version)}",
            max_results=count,
            order_by=["version_number DESC"],
        ),
        f"search_model_versions({model!r}, before version {before_version})",
    )
    return sorted(found, key=lambda mv: int(mv.version))


def _runs_metrics(
    client: MlflowClient, run_ids: Sequence[str], experiment_ids: Sequence[str]
) -> dict[str, dict[str, float]]:
    """The latest metrics of the runs among `run_ids` that `experiment_ids` hold, in one search.

    One search instead of a `get_run` per earlier version: the metrics are the same (the latest
    value of each key, deleted runs included), and a run the search does not find is read alone.
    A run this gathering has read already (`tools.read_once`) is not searched for again. A
    failed search finds nothing, so every run is read alone and a failure becomes its gap.
    """
    wanted = sorted({r for r in run_ids if "'" not in r})
    if not wanted or not experiment_ids:
        return {}
    metrics: dict[str, dict[str, float]] = {}
    for run_id in wanted:
        run = kept_answer(client, "get_run", (run_id,))
        if run is not None:
            metrics[run_id] = dict(run.data.metrics)
    rest = [r for r in wanted if r not in metrics]
    if not rest:
        return metrics
    from mlflow.entities import ViewType

    listed = ", ".join(f"'{r}'" for r in rest)
    try:
        runs = call_mlflow(
            lambda: client.search_runs(
                list(experiment_ids),
                f"attributes.run_id IN ({listed})",
                run_view_type=ViewType.ALL,
                max_results=len(rest),
            ),
            f"search_runs(run_id IN {len(rest)} runs)",
            attempts=1,
        )
    except ToolError as exc:
        logger.debug("searching the earlier versions' runs failed, reading each: %s", exc)
        return metrics
    return metrics | {str(run.info.run_id): dict(run.data.metrics) for run in runs}


def _metrics_of(
    client: MlflowClient, mv: Any, names: set[str], searched: dict[str, dict[str, float]]
) -> tuple[dict[str, float], str]:
    found: dict[str, float] = {}
    ref = ""
    run_id = str(mv.run_id) if getattr(mv, "run_id", None) else None
    if run_id:
        metrics = searched.get(run_id)
        if metrics is None:
            run = call_mlflow(lambda: client.get_run(run_id), f"get_run({run_id!r})", attempts=1)
            metrics = run.data.metrics
        found = {k: float(v) for k, v in metrics.items() if k in names}
        ref = f"run:{run_id}/metrics"
    missing = names - set(found)
    model_id = logged_model_id_from_source(getattr(mv, "source", None))
    if missing and model_id:
        logged = call_mlflow(
            lambda: client.get_logged_model(model_id),
            f"get_logged_model({model_id!r})",
            attempts=1,
        )
        for m in logged.metrics or []:
            if m.key in missing and m.key not in found:
                found[str(m.key)] = float(m.value)
        ref = ref or f"logged_model:{model_id}/metrics"
    return found, ref


def read_version_history(
    client: MlflowClient,
    model: str,
    before_version: int,
    metrics: Sequence[str],
    *,
    max_versions: int = HISTORY_MAX_VERSIONS,
    experiment_ids: Sequence[str] = (),
) -> VersionHistory:
    """The named metrics of the versions registered before `before_version` (newest `max_versions`).

    A version whose run cannot be read is recorded as a gap, not guessed.

    Args:
        client: MLflow client.
        model: Registered model name.
        before_version: The candidate's version number; only lower numbers are read.
        metrics: The metric names wanted.
        max_versions: How many of the latest earlier versions to read.
        experiment_ids: Experiments the earlier versions' runs are likely in (the candidate's
            and the baseline's); their runs are read in one search, any other run alone.
    """
    history = VersionHistory(model=model, before_version=before_version)
    if not metrics:
        return history
    # Always the fingerprint's count, so a review after a fingerprint reuses its search.
    count = max(max_versions, HISTORY_MAX_VERSIONS)
    try:
        earlier = search_earlier_versions(client, model, before_version, count)[-max_versions:]
    except UnsearchableValueError as exc:
        # A history that could not be read is a gap, never an empty history.
        return history.model_copy(update={"gaps": [str(exc)]})
    names = set(metrics)
    searched = _runs_metrics(
        client, [str(mv.run_id) for mv in earlier if getattr(mv, "run_id", None)], experiment_ids
    )
    versions: list[HistoricVersion] = []
    gaps: list[str] = []
    for mv in earlier:
        number = int(mv.version)
        try:
            found, ref = _metrics_of(client, mv, names, searched)
        except ToolError as exc:
            gaps.append(f"{model}/{number}: {exc}")
            continue
        versions.append(
            HistoricVersion(
                version=number,
                run_id=str(mv.run_id) if getattr(mv, "run_id", None) else None,
                metrics=found,
                evidence=[f"registry:{model}/{number}"] + ([ref] if ref else []),
            )
        )
    logger.debug("read %d earlier versions of %s", len(versions), model)
    return history.model_copy(update={"versions": versions, "gaps": gaps})
