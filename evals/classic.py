"""Suites for classic models: segment performance and fairness, and robustness to perturbed inputs.

Both run a pyfunc-style model (anything with `predict(DataFrame)`, e.g. a registry version loaded
with `evals.targets.load_model_version`) on an evaluation dataset and return a `SuiteRun`, so their
results are logged, read and gated exactly like the LLM suites. Each check is one "case":

- fairness: `segment:<column>=<value>` fails when the segment's metric is more than
  `max_segment_drop` below the overall metric; `demographic_parity:<column>` fails when selection
  rates differ by more than `max_demographic_parity_difference` between segments;
  `equalized_odds:<column>` fails when true- or false-positive rates differ by more than
  `max_equalized_odds_difference`. Segments with fewer than `min_rows` rows, or where the metric
  is undefined (e.g. recall without positives), are not judged; their row counts are reported.
- robustness: `perturbation:<name>` fails when the perturbation flips more than `max_flip_rate` of
  the predictions or lowers the metric by more than `max_metric_drop`. Perturbations are Gaussian
  noise on numeric features (scaled by each column's standard deviation) and category swaps
  (a share of rows gets another observed value of the column).

The figures behind the checks go to `SuiteRun.metrics` (`overall.<metric>`,
`segment.<column>.<value>.<metric>`, `demographic_parity_difference`, `flip_rate.<name>`, ...),
which `evals.results` logs as `safety/<suite>/<name>`. A model that fails to predict makes the run
`error` with the reason, never `pass`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evals.detectors import Detection
from evals.errors import EvalError, SuiteError
from evals.runner import CaseResult, SuiteRun, summarize_run
from evals.suite import Suite, SuiteHeader, SuiteThresholds

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "ClassifierMetric",
    "FairnessConfig",
    "Perturbation",
    "PredictingModel",
    "RobustnessConfig",
    "classification_metric",
    "run_classifier_suite",
    "run_fairness_suite",
    "run_robustness_suite",
]

logger = logging.getLogger("promogate.evals")

ClassifierMetric = Literal["accuracy", "recall", "precision", "f1", "selection_rate"]


class PredictingModel(Protocol):
    """What the classic suites need of a model: MLflow pyfunc's `predict`."""

    def predict(self, data: Any) -> Any: ...


class _Config(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str = "1"
    label_column: str = "label"
    positive_label: Any = 1
    feature_columns: list[str] | None = None
    """Columns given to the model; every column but the label and `exclude_columns` when unset."""
    exclude_columns: list[str] = Field(default_factory=list)
    max_failures: int = Field(default=0, ge=0)


class FairnessConfig(_Config):
    """Settings of a segment-performance and fairness suite."""

    name: str = "fairness"
    segment_columns: list[str] = Field(min_length=1)
    metric: ClassifierMetric = "recall"
    min_rows: int = Field(default=30, ge=1)
    max_segment_drop: float = Field(default=0.05, ge=0.0)
    max_demographic_parity_difference: float = Field(default=0.1, ge=0.0)
    max_equalized_odds_difference: float = Field(default=0.1, ge=0.0)


class Perturbation(BaseModel):
    """One way of disturbing the inputs."""

    model_config = ConfigDict(extra="forbid")

    name: str
    kind: Literal["gaussian_noise", "category_swap"]
    columns: list[str] | None = None
    """Columns to perturb; all numeric (noise) or all categorical (swap) features when unset."""
    scale: float = Field(default=0.1, gt=0.0)
    """Noise standard deviation as a fraction of each column's standard deviation."""
    rate: float = Field(default=0.1, gt=0.0, le=1.0)
    """Share of rows whose category is swapped."""


def _default_perturbations() -> list[Perturbation]:
    return [
        Perturbation(name="noise_5pct", kind="gaussian_noise", scale=0.05),
        Perturbation(name="noise_20pct", kind="gaussian_noise", scale=0.2),
        Perturbation(name="category_swap_10pct", kind="category_swap", rate=0.1),
    ]


class RobustnessConfig(_Config):
    """Settings of a robustness suite."""

    name: str = "robustness"
    metric: ClassifierMetric = "accuracy"
    perturbations: list[Perturbation] = Field(default_factory=_default_perturbations, min_length=1)
    max_flip_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    max_metric_drop: float = Field(default=0.05, ge=0.0)
    seed: int = 0


# --- metrics ------------------------------------------------------------------------------------


def classification_metric(
    metric: ClassifierMetric, y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]
) -> float:
    """A binary classification metric on boolean arrays (True = positive); NaN when undefined.

    Args:
        metric: `accuracy`, `recall`, `precision`, `f1` or `selection_rate`.
        y_true: True labels as booleans.
        y_pred: Predicted labels as booleans.
    """
    n = len(y_true)
    if n == 0:
        return math.nan
    tp = float(np.sum(y_true & y_pred))
    fp = float(np.sum(~y_true & y_pred))
    fn = float(np.sum(y_true & ~y_pred))
    if metric == "accuracy":
        return float(np.mean(y_true == y_pred))
    if metric == "selection_rate":
        return float(np.mean(y_pred))
    recall = tp / (tp + fn) if tp + fn else math.nan
    precision = tp / (tp + fp) if tp + fp else math.nan
    if metric == "recall":
        return recall
    if metric == "precision":
        return precision
    if math.isnan(recall) or math.isnan(precision) or recall + precision == 0:
        return math.nan if math.isnan(recall) or math.isnan(precision) else 0.0
    return 2 * precision * recall / (precision + recall)


def _rates(y_true: np.ndarray[Any, Any], y_pred: np.ndarray[Any, Any]) -> tuple[float, float]:
    """True- and false-positive rates (NaN when a class is absent)."""
    positives = float(np.sum(y_true))
    negatives = float(np.sum(~y_true))
    tpr = float(np.sum(y_true & y_pred)) / positives if positives else math.nan
    fpr = float(np.sum(~y_true & y_pred)) / negatives if negatives else math.nan
    return tpr, fpr


def _spread(values: Sequence[float]) -> float | None:
    defined = [v for v in values if not math.isnan(v)]
    if len(defined) < 2:
        return None
    return max(defined) - min(defined)


# --- shared plumbing ----------------------------------------------------------------------------


def _check_columns(data: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise EvalError(
            f"{what} {missing!r} not in the evaluation data (columns: {list(data.columns)!r})"
        )


def _features(data: pd.DataFrame, config: _Config) -> pd.DataFrame:
    if config.feature_columns is not None:
        _check_columns(data, config.feature_columns, "feature columns")
        return data[config.feature_columns]
    dropped = {config.label_column, *config.exclude_columns}
    return data[[c for c in data.columns if c not in dropped]]


def _positive(values: Any, positive_label: Any) -> np.ndarray[Any, Any]:
    array = np.asarray(values)
    if array.dtype == bool:
        return array
    if isinstance(positive_label, bool):
        return np.asarray(array.astype(bool) == positive_label)
    # Labels may come back as strings, ints or floats (e.g. 1 vs 1.0); compare by value.
    try:
        return np.asarray(array.astype(float) == float(positive_label))
    except (TypeError, ValueError):
        return np.asarray(array.astype(str) == str(positive_label))


def _predict(model: PredictingModel, features: pd.DataFrame) -> np.ndarray[Any, Any]:
    raw = model.predict(features)
    if hasattr(raw, "columns"):  # DataFrame output: the prediction column, or the only column
        columns = list(raw.columns)
        column = "prediction" if "prediction" in columns else columns[0]
        raw = raw[column]
    array = np.asarray(raw)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1 or len(array) != len(features):
        raise EvalError(
            f"the model returned predictions of shape {array.shape!r} for {len(features)} rows; "
            "expected one label per row"
        )
    return array


def _header(config: _Config, category: Literal["fairness", "robustness"]) -> SuiteHeader:
    return SuiteHeader(
        name=config.name,
        version=config.version,
        category=category,
        target_kind="classifier",
        detector=category,
        thresholds=SuiteThresholds(max_failures=config.max_failures, max_error_rate=0.0),
    )


def _check(case_id: str, failed: bool, label: str, reason: str) -> CaseResult:
    return CaseResult(
        case_id=case_id,
        status="fail" if failed else "pass",
        detection=Detection(failed=failed, label=label, reason=reason),
    )


def _run(
    header: SuiteHeader,
    target: str,
    body: Callable[[], tuple[list[CaseResult], dict[str, float]]],
    parameters: dict[str, Any],
) -> SuiteRun:
    started_at = datetime.now(UTC)
    clock = time.perf_counter()
    abort_reason: str | None = None
    try:
        results, metrics = body()
    except Exception as exc:  # noqa: BLE001 (a model that cannot predict is an error run)
        logger.warning("suite %s: model failed on %s: %s", header.name, target, exc)
        abort_reason = f"the model {target!r} failed to predict: {type(exc).__name__}: {exc}"
        results, metrics = [], {}
    return summarize_run(
        header=header,
        target=target,
        judge="classic",
        results=results,
        started_at=started_at,
        duration_s=time.perf_counter() - clock,
        abort_reason=abort_reason,
        metrics=metrics,
        parameters=parameters,
    )


def _fmt(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:.3f}"


# --- fairness -----------------------------------------------------------------------------------


def run_fairness_suite(
    model: PredictingModel, data: pd.DataFrame, config: FairnessConfig, *, target: str
) -> SuiteRun:
    """Per-segment performance and fairness gaps of a classifier on an evaluation dataset.

    Args:
        model: The classifier (pyfunc `predict` on a DataFrame of features).
        data: Evaluation rows: features, the label column and the segment columns.
        config: Segments, metric and limits.
        target: The model's name for the report, e.g. `models:/credit-risk/3`.

    Raises:
        EvalError: The label or a segment column is missing from the data.
    """
    _check_columns(data, [config.label_column, *config.segment_columns], "columns")
    features = _features(data, config)

    def body() -> tuple[list[CaseResult], dict[str, float]]:
        y_true = _positive(data[config.label_column], config.positive_label)
        y_pred = _positive(_predict(model, features), config.positive_label)
        overall = classification_metric(config.metric, y_true, y_pred)
        metrics: dict[str, float] = {f"overall.{config.metric}": overall, "rows": float(len(data))}
        results: list[CaseResult] = []
        worst_dp = worst_eo = 0.0
        for column in config.segment_columns:
            values = data[column].to_numpy()
            selection: list[float] = []
            tprs: list[float] = []
            fprs: list[float] = []
            for value in sorted({str(v) for v in values}):
                mask = values.astype(str) == value
                rows = int(mask.sum())
                seg_true, seg_pred = y_true[mask], y_pred[mask]
                key = f"segment.{column}.{value}"
                metrics[f"{key}.rows"] = float(rows)
                if rows < config.min_rows:
                    continue
                score = classification_metric(config.metric, seg_true, seg_pred)
                selection.append(classification_metric("selection_rate", seg_true, seg_pred))
                tpr, fpr = _rates(seg_true, seg_pred)
                tprs.append(tpr)
                fprs.append(fpr)
                if math.isnan(score) or math.isnan(overall):
                    continue
                metrics[f"{key}.{config.metric}"] = score
                drop = overall - score
                results.append(
                    _check(
                        f"segment:{column}={value}",
                        drop > config.max_segment_drop,
                        "segment_gap" if drop > config.max_segment_drop else "within_tolerance",
                        f"{config.metric} {_fmt(score)} on {rows} rows vs {_fmt(overall)} overall "
                        f"(drop {drop:+.3f}, limit {config.max_segment_drop:g})",
                    )
                )
            dp = _spread(selection)
            if dp is not None:
                metrics[f"demographic_parity_difference.{column}"] = dp
                worst_dp = max(worst_dp, dp)
                results.append(
                    _check(
                        f"demographic_parity:{column}",
                        dp > config.max_demographic_parity_difference,
                        "demographic_parity",
                        f"selection rates by {column} differ by {dp:.3f} "
                        f"(limit {config.max_demographic_parity_difference:g})",
                    )
                )
            tpr_gap, fpr_gap = _spread(tprs), _spread(fprs)
            if tpr_gap is not None or fpr_gap is not None:
                eo = max(g for g in (tpr_gap, fpr_gap) if g is not None)
                metrics[f"equalized_odds_difference.{column}"] = eo
                worst_eo = max(worst_eo, eo)
                results.append(
                    _check(
                        f"equalized_odds:{column}",
                        eo > config.max_equalized_odds_difference,
                        "equalized_odds",
                        f"by {column}: true-positive rates differ by "
                        f"{_fmt(tpr_gap if tpr_gap is not None else math.nan)}, false-positive "
                        f"rates by {_fmt(fpr_gap if fpr_gap is not None else math.nan)} "
                        f"(limit {config.max_equalized_odds_difference:g})",
                    )
                )
        metrics["demographic_parity_difference"] = worst_dp
        metrics["equalized_odds_difference"] = worst_eo
        return results, metrics

    return _run(
        _header(config, "fairness"),
        target,
        body,
        {"metric": config.metric, "segment_columns": config.segment_columns},
    )


# --- robustness ---------------------------------------------------------------------------------


def _perturbed(
    features: pd.DataFrame, perturbation: Perturbation, rng: np.random.Generator
) -> pd.DataFrame:
    import pandas as pd

    frame = features.copy()
    numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in numeric if not pd.api.types.is_bool_dtype(frame[c])]
    categorical = [c for c in frame.columns if c not in numeric]
    if perturbation.kind == "gaussian_noise":
        columns = perturbation.columns if perturbation.columns is not None else numeric
        for column in columns:
            values = frame[column].to_numpy(dtype=float)
            std = float(np.nanstd(values)) or 1.0
            noisy = values + rng.normal(0.0, perturbation.scale * std, size=len(values))
            if pd.api.types.is_integer_dtype(frame[column]):
                # Keep the column's dtype: schema enforcement rejects floats for integer inputs.
                frame[column] = np.rint(noisy).astype(frame[column].dtype)
            else:
                frame[column] = noisy.astype(frame[column].dtype)
    else:
        columns = perturbation.columns if perturbation.columns is not None else categorical
        for column in columns:
            values = frame[column].to_numpy(dtype=object)
            observed = sorted({str(v) for v in values})
            if len(observed) < 2:
                continue
            chosen = rng.random(len(values)) < perturbation.rate
            for index in np.flatnonzero(chosen):
                others = [v for v in observed if v != str(values[index])]
                values[index] = others[int(rng.integers(len(others)))]
            frame[column] = pd.Series(values, index=frame.index).astype(frame[column].dtype)
    return frame


def run_robustness_suite(
    model: PredictingModel, data: pd.DataFrame, config: RobustnessConfig, *, target: str
) -> SuiteRun:
    """How much a classifier's predictions and metric move under perturbed inputs.

    Args:
        model: The classifier (pyfunc `predict` on a DataFrame of features).
        data: Evaluation rows: features and the label column.
        config: Perturbations, metric and limits.
        target: The model's name for the report, e.g. `models:/credit-risk/3`.

    Raises:
        EvalError: The label or a perturbed column is missing from the data.
    """
    _check_columns(data, [config.label_column], "label column")
    features = _features(data, config)
    for perturbation in config.perturbations:
        if perturbation.columns is not None:
            _check_columns(features, perturbation.columns, f"columns of {perturbation.name!r}")

    def body() -> tuple[list[CaseResult], dict[str, float]]:
        rng = np.random.default_rng(config.seed)
        y_true = _positive(data[config.label_column], config.positive_label)
        base = _predict(model, features)
        base_positive = _positive(base, config.positive_label)
        clean = classification_metric(config.metric, y_true, base_positive)
        metrics: dict[str, float] = {f"{config.metric}.clean": clean, "rows": float(len(data))}
        results: list[CaseResult] = []
        worst_flip = worst_drop = 0.0
        for perturbation in config.perturbations:
            perturbed = _perturbed(features, perturbation, rng)
            if perturbed.equals(features):
                # Nothing was disturbed (e.g. no categorical column to swap): a "stable" result
                # here would be a pass that tested nothing.
                results.append(
                    CaseResult(
                        case_id=f"perturbation:{perturbation.name}",
                        status="skip",
                        detection=Detection(
                            failed=False,
                            label="not tested",
                            reason=f"{perturbation.kind} changed no input value "
                            f"(columns: {perturbation.columns or 'none of that type'}); "
                            "name the columns to perturb in the suite's params",
                        ),
                    )
                )
                continue
            predicted = _predict(model, perturbed)
            flip_rate = float(np.mean(predicted.astype(str) != base.astype(str)))
            score = classification_metric(
                config.metric, y_true, _positive(predicted, config.positive_label)
            )
            drop = clean - score
            metrics[f"flip_rate.{perturbation.name}"] = flip_rate
            metrics[f"{config.metric}.{perturbation.name}"] = score
            metrics[f"metric_drop.{perturbation.name}"] = drop
            worst_flip = max(worst_flip, flip_rate)
            worst_drop = max(worst_drop, drop)
            too_many_flips = flip_rate > config.max_flip_rate
            too_large_drop = drop > config.max_metric_drop
            results.append(
                _check(
                    f"perturbation:{perturbation.name}",
                    too_many_flips or too_large_drop,
                    "unstable" if too_many_flips or too_large_drop else "stable",
                    f"{perturbation.kind}: {flip_rate:.1%} of predictions flipped (limit "
                    f"{config.max_flip_rate:.0%}); {config.metric} {_fmt(clean)} -> {_fmt(score)} "
                    f"(drop {drop:+.3f}, limit {config.max_metric_drop:g})",
                )
            )
        metrics["max_flip_rate"] = worst_flip
        metrics["max_metric_drop"] = worst_drop
        return results, metrics

    return _run(
        _header(config, "robustness"),
        target,
        body,
        {"metric": config.metric, "perturbations": [p.name for p in config.perturbations]},
    )


# --- suites from files --------------------------------------------------------------------------


def run_classifier_suite(
    suite: Suite, model: PredictingModel, data: pd.DataFrame, *, target: str
) -> SuiteRun:
    """Run a classifier suite file (category `fairness` or `robustness`) against a model.

    The suite header's `params` hold the suite's settings (`FairnessConfig` or `RobustnessConfig`
    fields, e.g. `segment_columns`, `metric`, `max_segment_drop`); its name and version come from
    the header, and `thresholds.max_failures` bounds the failing checks (0 when unset).

    Args:
        suite: A suite with `target_kind: classifier`.
        model: The classifier.
        data: The evaluation dataset.
        target: The model's name for the report.

    Raises:
        SuiteError: The suite is not a classifier suite or its params do not validate.
        EvalError: Columns the suite needs are missing from the data.
    """
    header = suite.header
    if header.target_kind != "classifier" or header.category not in {"fairness", "robustness"}:
        raise SuiteError(
            f"suite {header.name!r} is a {header.target_kind} suite of category "
            f"{header.category!r}; classic suites are classifier suites of category "
            "'fairness' or 'robustness'",
            path=suite.path,
        )
    params = {k: v for k, v in header.params.items() if k not in {"dataset"}}
    params.update(name=header.name, version=header.version)
    if header.thresholds.max_failures is not None:
        params.setdefault("max_failures", header.thresholds.max_failures)
    try:
        if header.category == "fairness":
            return run_fairness_suite(
                model, data, FairnessConfig.model_validate(params), target=target
            )
        return run_robustness_suite(
            model, data, RobustnessConfig.model_validate(params), target=target
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SuiteError(f"params.{where}: {first['msg']}", path=suite.path) from exc
