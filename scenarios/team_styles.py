"""A real MLflow registry whose models are logged the ways teams log them, not per convention.

Discovery is tested against it (built once per test session) and benchmarked on it. Each
registered model has v1 (``@champion``) and v2, both real scikit-learn models:

- ``evaluated``: scored with ``mlflow.models.evaluate`` (metrics ``recall_score``, ``roc_auc``...;
  the evaluation dataset is an untagged input the logged model's metrics point at by digest).
- ``synonyms``: a per-example table at ``reports/scored.csv`` with columns ``id``, ``y_true``,
  ``y_score``, ``pred``, ``region``; the config at ``conf/train.yaml``; segment metrics spelled
  ``recall/region:north``; dataset inputs named ``train``/``holdout`` without context tags.
- ``custom``: the table at ``analysis/out.parquet`` with columns ``is_default``, ``p_default``;
  two configs under ``settings/``; segment keys ``recall_region_north``; dataset inputs named
  ``snap-a``/``snap-b`` without context tags. Nothing here is discoverable without a mapping;
  v2's recall in the south segment is much lower than v1's.
- ``two-tables``: two per-example tables (``reports/a.csv``, ``reports/b.csv``).
- ``autologged``: a regressor fitted under ``mlflow.sklearn.autolog()``, which logs the data it
  was fit on as an input tagged ``train`` (and what the model predicts on as ``eval``), scored with
  ``mlflow.models.evaluate(model_type="regressor")`` (``r2_score``, ``root_mean_squared_error``,
  ...). v2 is a little better than v1.
- ``evaluated-apart``: ``mlflow.models.evaluate`` in a run of its own (the evaluation set is an
  input of that run only; the logged model's metrics name it by digest), the training set logged
  with ``context="training"``. v2 is clean; v3 was evaluated on its own training set.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "AUTOLOGGED",
    "CUSTOM",
    "EVALUATED",
    "EVALUATED_APART",
    "SYNONYMS",
    "TWO_TABLES",
    "TeamRegistry",
    "build_team_registry",
]

EVALUATED = "evaluated"
SYNONYMS = "synonyms"
CUSTOM = "custom"
TWO_TABLES = "two-tables"
AUTOLOGGED = "autologged"
EVALUATED_APART = "evaluated-apart"


@dataclass
class TeamRegistry:
    """Where the store lives and what was logged."""

    root: Path
    tracking_uri: str
    models: list[str] = field(default_factory=list)
    eval_digest: dict[str, str] = field(default_factory=dict)


def _frame(seed: int, rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["f0", "f1", "f2"])
    frame["target"] = ((1.5 * frame["f0"] - frame["f1"] + 0.4 * rng.normal(size=rows)) > 0).astype(
        int
    )
    return frame


def _recall(labels: Any, preds: Any) -> float:
    positives = labels == 1
    return float((preds[positives] == 1).mean())


def build_team_registry(root: Path) -> TeamRegistry:
    """Log every style's two versions into a fresh SQLite store under `root`.

    MLflow's fluent tracking URI is set only while logging, so later tests that rely on MLflow's
    default store (or on their own explicit URIs) are not pointed at this store.
    """
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(f"sqlite:///{root / 'mlflow.db'}"):
        return _log_team_registry(root)


def _log_team_registry(root: Path) -> TeamRegistry:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow import MlflowClient
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.linear_model import LogisticRegression

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = mlflow.create_experiment("team-styles", artifact_location=str(root / "artifacts"))
    registry = TeamRegistry(root=root, tracking_uri=uri)
    train, holdout = _frame(1), _frame(2, rows=800)
    features = ["f0", "f1", "f2"]
    regions = np.where(np.arange(len(holdout)) % 2 == 0, "north", "south")

    def fit(c: float) -> Any:
        return LogisticRegression(C=c).fit(train[features], train["target"])

    def register(name: str, info: Any, version_alias: str | None) -> None:
        mv = mlflow.register_model(info.model_uri, name)
        if version_alias is not None:
            client.set_registered_model_alias(name, version_alias, mv.version)

    for name in (EVALUATED, SYNONYMS, CUSTOM, TWO_TABLES):
        registry.models.append(name)
        for version, c in ((1, 1.0), (2, 0.5)):
            model = fit(c)
            preds = model.predict(holdout[features])
            scores = np.round(model.predict_proba(holdout[features])[:, 1], 6)
            if name == CUSTOM and version == 2:
                # v2 misses most positives in the south: a real segment regression.
                south = regions == "south"
                preds = np.where(south & (np.arange(len(preds)) % 3 != 0), 0, preds)
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.sklearn.log_model(
                    model, name="model", pip_requirements=["scikit-learn"]
                )
                if name == EVALUATED:
                    mlflow.log_input(
                        from_pandas(train, targets="target", name="train"),
                        context="training",
                    )
                    data = from_pandas(holdout, targets="target", name="holdout")
                    mlflow.models.evaluate(  # type: ignore[no-untyped-call]
                        info.model_uri, data, model_type="classifier", evaluators=["default"]
                    )
                    registry.eval_digest[name] = data.digest
                elif name == SYNONYMS:
                    mlflow.log_input(from_pandas(train, name="train"))
                    mlflow.log_input(from_pandas(holdout, name="holdout"))
                    table = pd.DataFrame(
                        {
                            "id": [f"r{i}" for i in range(len(holdout))],
                            "y_true": holdout["target"],
                            "y_score": scores,
                            "pred": preds,
                            "region": regions,
                        }
                    )
                    path = _scratch(root, name, version) / "scored.csv"
                    table.to_csv(path, index=False)
                    mlflow.log_artifact(str(path), artifact_path="reports")
                    _log_text(f"seed: 7\nmodel:\n  C: {c}\n", "conf/train.yaml")
                    for region in ("north", "south"):
                        mask = regions == region
                        mlflow.log_metric(
                            f"recall/region:{region}",
                            _recall(holdout["target"].to_numpy()[mask], preds[mask]),
                        )
                    mlflow.log_metric("recall", _recall(holdout["target"].to_numpy(), preds))
                elif name == CUSTOM:
                    mlflow.log_input(from_pandas(train, name="snap-a"))
                    mlflow.log_input(from_pandas(holdout, name="snap-b"))
                    table = pd.DataFrame(
                        {
                            "is_default": holdout["target"],
                            "p_default": scores,
                            "decision": preds,
                            "region": regions,
                        }
                    )
                    path = _scratch(root, name, version) / "out.parquet"
                    table.to_parquet(path, index=False)
                    mlflow.log_artifact(str(path), artifact_path="analysis")
                    _log_text(f"seed: 7\nC: {c}\n", "settings/train_config.yaml")
                    _log_text("features: [f0, f1, f2]\n", "settings/feature_config.yaml")
                    for region in ("north", "south"):
                        mask = regions == region
                        mlflow.log_metric(
                            f"recall_region_{region}",
                            _recall(holdout["target"].to_numpy()[mask], preds[mask]),
                        )
                        mlflow.log_metric(f"rows_region_{region}", float(mask.sum()))
                else:
                    for part in ("a", "b"):
                        table = pd.DataFrame(
                            {"label": holdout["target"], "score": scores, "prediction": preds}
                        )
                        path = _scratch(root, name, version) / f"{part}.csv"
                        table.to_csv(path, index=False)
                        mlflow.log_artifact(str(path), artifact_path="reports")
                    mlflow.log_metric("recall", _recall(holdout["target"].to_numpy(), preds))
            register(name, info, "champion" if version == 1 else None)
    _log_autologged(experiment, registry, register)
    _log_evaluated_apart(experiment, registry, register, train, holdout)
    return registry


def _log_evaluated_apart(
    experiment: str,
    registry: TeamRegistry,
    register: Callable[[str, Any, str | None], None],
    train: pd.DataFrame,
    holdout: pd.DataFrame,
) -> None:
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.linear_model import LogisticRegression

    features = ["f0", "f1", "f2"]
    registry.models.append(EVALUATED_APART)
    for version, c, scored in ((1, 1.0, holdout), (2, 0.5, holdout), (3, 0.7, train)):
        with mlflow.start_run(experiment_id=experiment, run_name="train"):
            model = LogisticRegression(C=c).fit(train[features], train["target"])
            mlflow.log_input(from_pandas(train, targets="target", name="train"), context="training")
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        with mlflow.start_run(experiment_id=experiment, run_name="evaluate"):
            data = from_pandas(scored, targets="target", name="scored")
            mlflow.models.evaluate(  # type: ignore[no-untyped-call]
                info.model_uri, data, model_type="classifier", evaluators=["default"]
            )
        if version == 1:
            registry.eval_digest[EVALUATED_APART] = data.digest
        register(EVALUATED_APART, info, "champion" if version == 1 else None)


def _log_autologged(
    experiment: str, registry: TeamRegistry, register: Callable[[str, Any, str | None], None]
) -> None:
    import mlflow
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.normal(size=(900, 4)), columns=["x0", "x1", "x2", "x3"])
    frame["price"] = 3 * frame["x0"] - 2 * frame["x1"] + frame["x2"] + rng.normal(size=900)
    train, holdout = frame.iloc[:600], frame.iloc[600:]
    features = ["x0", "x1", "x2", "x3"]
    registry.models.append(AUTOLOGGED)
    mlflow.sklearn.autolog(log_models=False, silent=True)
    try:
        for version, alpha in ((1, 300.0), (2, 1.0)):
            with mlflow.start_run(experiment_id=experiment):
                model = Ridge(alpha=alpha).fit(train[features], train["price"])
                # The input example makes MLflow predict on it, which autologging logs (`eval`).
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    input_example=holdout[features].head(2),
                    pip_requirements=["scikit-learn"],
                )
                data = from_pandas(holdout, targets="price", name="holdout")
                mlflow.models.evaluate(  # type: ignore[no-untyped-call]
                    info.model_uri, data, model_type="regressor", evaluators=["default"]
                )
                registry.eval_digest.setdefault(AUTOLOGGED, data.digest)
            register(AUTOLOGGED, info, "champion" if version == 1 else None)
    finally:
        mlflow.sklearn.autolog(disable=True)


def _scratch(root: Path, name: str, version: int) -> Path:
    folder = root / "scratch" / f"{name}-{version}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _log_text(text: str, artifact_file: str) -> None:
    import mlflow

    mlflow.log_text(text, artifact_file)
