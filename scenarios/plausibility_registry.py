"""A real MLflow registry of good-news scenarios, logged the way a fraud team would log them.

Built once per test session (``plausibility_registry`` fixture in tests/conftest.py) and by
``python -m benchmarks.reviewer_depth_plausibility``; `PLAUSIBILITY_SCENARIOS` lists the
candidates and the verdict each should get under the default plausibility settings. Every version
is a real trained scikit-learn model (gradient boosting, saved by MLflow with skops), with its
ROC AUC, its training and evaluation datasets and its pipeline config (``pipeline/pipeline.yaml``)
on the source run:

- ``fraud-leak``: v1-v3 are retrains of one recipe (champion v3); v4 adds the column
  ``chargeback_filed`` to ``features.include``: a chargeback is filed after the fraud happened, so
  the column carries the outcome. ROC AUC jumps from ~0.86 to ~0.97.
- ``fraud-more-data``: v1-v2 train on 200 rows (champion v2); v3 trains on 4,000 rows of the same
  source (``data.rows``), an honest gain of ~0.04-0.05 ROC AUC.
- ``fraud-seeds``: v1 is the champion; v2-v4 retrain it with other seeds (row subsampling makes
  the seed matter).
- ``fraud-pickled``: v1 (skops) is the champion; v2 is the same recipe saved with cloudpickle.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

LEAK = "fraud-leak"
MORE_DATA = "fraud-more-data"
SEEDS = "fraud-seeds"
PICKLED = "fraud-pickled"

FEATURES = [
    "amount",
    "account_age_days",
    "txn_per_hour",
    "merchant_risk",
    "hour_of_day",
    "device_changes",
    "distance_km",
    "prior_declines",
]
LEAKED = "chargeback_filed"
TREE_TYPES = ["sklearn.tree._tree.Tree"]

__all__ = [
    "LEAK",
    "LEAKED",
    "MORE_DATA",
    "PICKLED",
    "PLAUSIBILITY_SCENARIOS",
    "SEEDS",
    "PlausibilityRegistry",
    "PlausibilityScenario",
    "build_plausibility_registry",
    "fraud_frame",
]


@dataclass(frozen=True)
class PlausibilityScenario:
    """One candidate of the registry and the verdict the default settings should give it."""

    model: str
    version: int
    title: str
    expected_verdict: str


PLAUSIBILITY_SCENARIOS: tuple[PlausibilityScenario, ...] = (
    PlausibilityScenario(LEAK, 4, "leakage: chargeback_filed added", "escalate"),
    PlausibilityScenario(MORE_DATA, 3, "honest gain: 20x the training data", "approve"),
    PlausibilityScenario(SEEDS, 2, "retrain, new seed (2)", "approve"),
    PlausibilityScenario(SEEDS, 3, "retrain, new seed (3)", "approve"),
    PlausibilityScenario(SEEDS, 4, "retrain, new seed (4)", "approve"),
    PlausibilityScenario(PICKLED, 2, "same recipe saved with cloudpickle", "approve"),
)


@dataclass
class PlausibilityRegistry:
    """Where the store lives and what was logged (ROC AUC per model and version)."""

    root: Path
    tracking_uri: str
    auc: dict[str, dict[int, float]] = field(default_factory=dict)
    champion: dict[str, int] = field(default_factory=dict)


def fraud_frame(rows: int, seed: int) -> pd.DataFrame:
    """Transactions with a non-linear fraud signal, and the chargeback filed after the fact."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, len(FEATURES)))
    logit = (
        1.2 * x[:, 0] - 0.8 * x[:, 1] + 0.9 * x[:, 2] * x[:, 3] + 0.6 * np.sin(2 * x[:, 4])
    ) + 0.8 * rng.normal(size=rows)
    frame = pd.DataFrame(x, columns=FEATURES)
    frame["is_fraud"] = (logit > 0.8).astype(int)
    # Known only after the outcome: a chargeback follows 93% of frauds and a few other cases.
    agree = rng.random(rows) < 0.93
    frame[LEAKED] = np.where(agree, frame["is_fraud"], 1 - frame["is_fraud"]).astype(float)
    return frame


def build_plausibility_registry(root: Path) -> PlausibilityRegistry:
    """Log every scenario into a fresh SQLite store under `root` (MLflow's fluent tracking URI
    is set only while logging)."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with _use_tracking_uri(f"sqlite:///{root / 'mlflow.db'}"):
        return _log(root)


def _config(seed: int, rows: int, features: list[str], subsample: float) -> str:
    listed = ", ".join(features)
    return (
        "data:\n"
        "  source: warehouse.fraud.transactions\n"
        f"  rows: {rows}\n"
        "features:\n"
        f"  include: [{listed}]\n"
        "train:\n"
        f"  seed: {seed}\n"
        "  n_estimators: 40\n"
        "  max_depth: 3\n"
        f"  subsample: {subsample}\n"
    )


def _log(root: Path) -> PlausibilityRegistry:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    from mlflow import MlflowClient
    from mlflow.data.pandas_dataset import from_pandas
    from mlflow.models import infer_signature
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = mlflow.create_experiment(
        "fraud-scoring", artifact_location=str(root / "artifacts")
    )
    registry = PlausibilityRegistry(root=root, tracking_uri=uri)
    holdout = fraud_frame(2000, 99)
    big_train = fraud_frame(4000, 7)

    def train_and_log(
        name: str,
        *,
        train: pd.DataFrame,
        seed: int,
        features: list[str],
        subsample: float = 1.0,
        serialization: str = "skops",
    ) -> None:
        model = GradientBoostingClassifier(
            n_estimators=40, max_depth=3, subsample=subsample, random_state=seed
        ).fit(train[features], train["is_fraud"])
        auc = float(
            roc_auc_score(holdout["is_fraud"], model.predict_proba(holdout[features])[:, 1])
        )
        with mlflow.start_run(experiment_id=experiment):
            mlflow.log_text(
                _config(seed, len(train), features, subsample), "pipeline/pipeline.yaml"
            )
            mlflow.log_input(
                from_pandas(train[[*features, "is_fraud"]], targets="is_fraud", name="fraud-train"),
                context="training",
            )
            mlflow.log_input(
                from_pandas(
                    holdout[[*features, "is_fraud"]], targets="is_fraud", name="fraud-holdout"
                ),
                context="evaluation",
            )
            mlflow.log_metric("roc_auc", auc)
            extra: dict[str, Any] = (
                {"skops_trusted_types": TREE_TYPES}
                if serialization == "skops"
                else {"serialization_format": serialization}
            )
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                pip_requirements=["scikit-learn"],
                signature=infer_signature(train[features].head(3)),
                **extra,
            )
        mv = mlflow.register_model(info.model_uri, name)
        registry.auc.setdefault(name, {})[int(mv.version)] = auc

    def champion(name: str, version: int) -> None:
        client.set_registered_model_alias(name, "champion", str(version))
        registry.champion[name] = version

    small = fraud_frame(300, 1)
    for seed in (1, 2, 3):
        train_and_log(LEAK, train=small, seed=seed, features=FEATURES)
    champion(LEAK, 3)
    train_and_log(LEAK, train=small, seed=4, features=[*FEATURES, LEAKED])

    tiny = fraud_frame(200, 1)
    for seed in (1, 2):
        train_and_log(MORE_DATA, train=tiny, seed=seed, features=FEATURES)
    champion(MORE_DATA, 2)
    train_and_log(MORE_DATA, train=big_train, seed=2, features=FEATURES)

    for seed in (1, 2, 3, 4):
        train_and_log(SEEDS, train=small, seed=seed, features=FEATURES, subsample=0.8)
    champion(SEEDS, 1)

    train_and_log(PICKLED, train=small, seed=1, features=FEATURES)
    champion(PICKLED, 1)
    train_and_log(PICKLED, train=small, seed=2, features=FEATURES, serialization="cloudpickle")
    return registry
