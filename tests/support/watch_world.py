"""A production world with known truth for the post-promotion watch, on a real trained model.

Applicants have `income`, `age`, `debt_ratio`, `tenure` (numeric), `channel` (categorical) and a
`region` (segment). Default risk follows a fixed logistic law; a scikit-learn logistic
regression is trained on it, registered in a real MLflow store and its evaluation table (with
the features) logged as the version's evidence. `draw` produces windows of traffic scored by
that model, with or without one of the scenarios:

- `stable`: the same law as at training time;
- `income_shift`: every applicant's income up by 0.8 standard deviations (covariate drift);
- `north_debt`: debt ratios up sharply, in the north only (drift confined to one segment);
- `north_hidden_risk`: in the north, a cause of default the model never saw (a share of
  applicants defaults whatever their features): more positives, most of them missed, so the
  realised recall falls (label shift with a performance loss) while the inputs do not move.

The generator is used by tests/watch and by benchmarks/watch_drift.py (which adds many
features); the MLflow part is built once per test session.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

Scenario = Literal["stable", "income_shift", "north_debt", "north_hidden_risk"]
SCENARIOS: tuple[Scenario, ...] = ("stable", "income_shift", "north_debt", "north_hidden_risk")
NUMERIC = ["income", "age", "debt_ratio", "tenure"]
FEATURES = [*NUMERIC, "channel"]
REGIONS = ["north", "south", "east", "west"]
MODEL_NAME = "credit-watch"


def applicants(n: int, rng: np.random.Generator, scenario: Scenario = "stable") -> pd.DataFrame:
    """`n` applicants with their true default label, under `scenario`."""
    region = rng.choice(REGIONS, size=n, p=[0.3, 0.3, 0.2, 0.2])
    income = rng.normal(50.0, 12.0, n)
    if scenario == "income_shift":
        income = income + 0.8 * 12.0
    debt = rng.beta(2.0, 5.0, n)
    north = region == "north"
    if scenario == "north_debt":
        debt = np.where(north, np.clip(debt + 0.25, 0.0, 1.0), debt)
    frame = pd.DataFrame(
        {
            "income": np.round(income, 2),
            "age": np.round(rng.normal(41.0, 11.0, n).clip(18, 90), 1),
            "debt_ratio": np.round(debt, 4),
            "tenure": np.round(rng.exponential(6.0, n), 2),
            "channel": rng.choice(["web", "branch", "phone"], size=n, p=[0.5, 0.3, 0.2]),
            "region": region,
        }
    )
    logit = (
        -1.0
        - 0.06 * (frame["income"] - 50.0)
        + 5.0 * (frame["debt_ratio"] - 0.28)
        - 0.08 * frame["tenure"]
        + np.where(frame["channel"] == "phone", 0.6, 0.0)
    )
    risk = 1.0 / (1.0 + np.exp(-logit.to_numpy()))
    label = rng.random(n) < risk
    if scenario == "north_hidden_risk":
        label = label | (north & (rng.random(n) < 0.35))
    frame["label"] = label.astype(int)
    return frame


def encode(frame: pd.DataFrame) -> np.ndarray[Any, Any]:
    """The model's design matrix: numeric features and the channel one-hot."""
    numeric = frame[NUMERIC].to_numpy(dtype=float)
    channel = np.stack(
        [(frame["channel"] == c).to_numpy(dtype=float) for c in ("branch", "phone")], axis=1
    )
    return np.hstack([numeric, channel])


def train_model(seed: int = 0) -> Any:
    """A logistic regression trained on 4000 applicants of the stable world."""
    from sklearn.linear_model import LogisticRegression

    data = applicants(4000, np.random.default_rng(seed))
    return LogisticRegression(max_iter=1000).fit(encode(data), data["label"])


def score(model: Any, frame: pd.DataFrame, threshold: float = 0.3) -> pd.DataFrame:
    """`frame` with the model's `score` and `prediction` (positive at `threshold`)."""
    out = frame.copy()
    out["score"] = np.round(model.predict_proba(encode(frame))[:, 1], 6)
    out["prediction"] = (out["score"] >= threshold).astype(int)
    return out


def draw(
    model: Any, n: int, seed: int, scenario: Scenario = "stable", *, first_row: int = 0
) -> pd.DataFrame:
    """A scored window of `n` requests with `row_id`s from `first_row`, labels included."""
    frame = score(model, applicants(n, np.random.default_rng(seed), scenario))
    frame.insert(0, "row_id", [f"r{first_row + i}" for i in range(n)])
    return frame


@dataclass
class WatchWorld:
    """The registered model, its evaluation table and where the store lives."""

    root: Path
    tracking_uri: str
    model: Any
    version: str
    evaluation: pd.DataFrame
    recall: float


def build_watch_world(root: Path, *, eval_rows: int = 800) -> WatchWorld:
    """Train, log and register the model with its evaluation table, in a SQLite store at `root`."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    uri = f"sqlite:///{root / 'mlflow.db'}"
    with _use_tracking_uri(uri):
        return _log(root, uri, eval_rows)


def _log(root: Path, uri: str, eval_rows: int) -> WatchWorld:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow

    model = train_model()
    evaluation = draw(model, eval_rows, seed=1)
    positives = evaluation["label"] == 1
    recall = float((evaluation.loc[positives, "prediction"] == 1).mean())
    experiment = mlflow.create_experiment("credit", artifact_location=str(root / "artifacts"))
    with mlflow.start_run(experiment_id=experiment):
        train = applicants(4000, np.random.default_rng(0))
        mlflow.log_input(mlflow.data.from_pandas(train, name="train"), context="training")
        mlflow.log_input(mlflow.data.from_pandas(evaluation, name="holdout"), context="evaluation")
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mlflow.log_metric("recall", recall)
        mlflow.log_table(evaluation, artifact_file="eval/predictions.json")
    version = mlflow.register_model(info.model_uri, MODEL_NAME).version
    return WatchWorld(
        root=root,
        tracking_uri=uri,
        model=model,
        version=str(version),
        evaluation=evaluation,
        recall=recall,
    )
