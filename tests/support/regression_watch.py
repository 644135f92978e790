"""A regressor under watch: delivery-time models in a real MLflow store, promoted by the gate.

`build_delivery_models` (once per session) trains v1, a ridge regression on distance and items,
and v2, one on every input, and logs them with the metrics
`mlflow.models.evaluate(model_type="regressor")` names (`root_mean_squared_error`,
`mean_absolute_error`, `r2_score`) and their signatures. `DeliveryScenario` registers and promotes
them as `WatchScenario` does and logs v2's traffic:

- ``stable``: the training population;
- ``drift`` (roadworks): in region ``west`` each kilometre takes 1.2 minutes longer. The inputs
  look as before; the outcome does not, so only the realised error shows it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from support.watch_scenario import WatchModels, WatchScenario, log_fitted

FEATURES = ["distance_km", "items", "hour", "west"]
VERSION_FEATURES = {1: ["distance_km", "items"], 2: FEATURES}
REGIONS = ("north", "south", "east", "west")
WEST_DELAY = 1.2

POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {name: delivery, revision: 1}
match: {model: "watched-*"}
metrics:
  - {name: root_mean_squared_error, max: 8.0, max_drop: 0.3}
comparability: {same_eval_dataset: "off", train_eval_overlap: "off"}
plausibility: {action: report}
watch:
  sample_floor: 200
  label_floor: 100
  segments: [region]
  min_segment_rows: 100
  prediction_drift: {column: prediction}
  performance:
    - {metric: rmse, max_drop: 0.5, significance: 0.05, segments: [region]}
  on_alert: [notify, re_review]
  rollback: advise
"""


def orders(seed: int, rows: int, *, west_delay: float = 0.0) -> pd.DataFrame:
    """Orders: inputs, region, row ids and the minutes each delivery took."""
    rng = np.random.default_rng(seed)
    region = rng.choice(REGIONS, rows)
    distance = rng.gamma(2.0, 2.5, rows)
    items = rng.integers(1, 12, rows)
    hour = rng.integers(8, 23, rows)
    west = (region == "west").astype(float)
    rush = ((hour >= 17) & (hour <= 19)).astype(float)
    minutes = 12 + 3.1 * distance + 0.8 * items + 6 * rush + 2 * west + rng.normal(0, 3.0, rows)
    minutes += west_delay * distance * west
    return pd.DataFrame(
        {
            "distance_km": distance,
            "items": items.astype(float),
            "hour": hour.astype(float),
            "west": west,
            "region": region,
            "label": minutes,
            "row_id": [f"o{seed}-{i}" for i in range(rows)],
        }
    )


def build_delivery_models(root: Path) -> WatchModels:
    """Train and log both versions once (MLflow's fluent URI is set only while logging)."""
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.linear_model import Ridge

    from tools.regression_metrics import regression_metrics

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, uri)
    experiment_id = client.create_experiment("delivery", artifact_location=(root / "art").as_uri())
    train, holdout = orders(1, 3000), orders(2, 1500)
    sources: dict[int, tuple[str, str]] = {}
    fitted: dict[int, Any] = {}
    with _use_tracking_uri(uri):
        for version, columns in VERSION_FEATURES.items():
            model = Ridge(alpha=1.0).fit(train[columns], train["label"])
            preds = model.predict(holdout[columns])
            scores = regression_metrics(holdout["label"], preds)
            sources[version] = log_fitted(
                experiment_id,
                model,
                holdout[columns],
                preds,
                {
                    "root_mean_squared_error": scores["rmse"],
                    "mean_absolute_error": scores["mae"],
                    "r2_score": scores["r2"],
                },
                {"features": ",".join(columns)},
            )
            fitted[version] = model
    return WatchModels(
        root=root, tracking_uri=uri, experiment_id=experiment_id, sources=sources, fitted=fitted
    )


class DeliveryScenario(WatchScenario):
    """A delivery-time regressor promoted to champion (v1 then v2), watched on its error."""

    def __init__(self, models: WatchModels, workdir: Path) -> None:
        super().__init__(models, workdir, policy=POLICY)

    def _predicted(self, frame: pd.DataFrame, version: int = 2) -> pd.DataFrame:
        model = self.load(version)
        return frame.assign(prediction=model.predict(frame[VERSION_FEATURES[version]]))

    def log_reference(self) -> None:
        from watch.monitoring import log_reference_profile

        frame = self._predicted(orders(2, 1500))
        log_reference_profile(frame.drop(columns=["row_id"]), self.name, 2, client=self.client)

    def frame(self, day: int, *, drift: bool = False, rows: int = 1200) -> pd.DataFrame:
        """A day of v2's traffic: inputs, v2's predictions, region, row ids and the minutes."""
        delay = WEST_DELAY if drift else 0.0
        return self._predicted(orders(100 + day, rows, west_delay=delay))

    def log_labels(self, day: int, *, drift: bool = False, rows: int = 1200) -> str:
        from datetime import timedelta

        from support.watch_scenario import START

        from watch.monitoring import log_labels

        frame = self.frame(day, drift=drift, rows=rows)
        start, end = START + timedelta(days=day), START + timedelta(days=day + 1)
        return log_labels(
            frame[["row_id", "label", "prediction", "region"]],
            self.name,
            2,
            start,
            end,
            client=self.client,
        )
