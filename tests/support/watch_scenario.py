"""A champion under watch: real scikit-learn models in a real MLflow store, promoted by the gate.

`build_watch_models` (once per session) trains two logistic regressions, v1 on f1-f3 and v2 on
every feature, and logs them with their evaluation metrics and signatures. `WatchScenario` (once per
test) registers them as v1 and v2 of a fresh model, promotes v1 then v2 through the gate (so the
ledger holds the approvals), logs v2's reference, and logs production-like windows:

- ``stable``: the training population;
- ``drift``: in region ``north`` the sensor behind ``f0`` reads 1.6 low. Labels follow the true
  value, so the model misses positives there: covariate drift confined to one segment, with a
  realised recall drop in that segment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

FEATURES = ["f0", "f1", "f2", "f3"]
REGIONS = ["north", "south", "east", "west"]
VERSION_FEATURES = {1: ["f1", "f2", "f3"], 2: FEATURES}
"""v1 does without f0 (weaker, but blind to its sensor); v2 uses every feature."""
START = datetime(2026, 11, 2, tzinfo=UTC)
NORTH_SHIFT = 1.6

POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {{name: watched, revision: 1}}
match: {{model: "watched-*"}}
metrics:
  - {{name: recall, min: 0.5}}
comparability: {{same_eval_dataset: "off", train_eval_overlap: "off"}}
# v2 adds the sensor f0, which carries most of its importance: a known, honest gain here, so the
# plausibility questions report it instead of escalating every promotion of the scenario.
plausibility: {{action: report}}
watch:
  sample_floor: 200
  label_floor: 100
  segments: [region]
  min_segment_rows: 100
  performance:
    - {{metric: recall, max_drop: 0.05, significance: 0.05, segments: [region]}}
  on_alert: {on_alert}
  rollback: {rollback}
"""


def watch_policy(rollback: Literal["advise", "automatic"] = "advise") -> str:
    """The scenario's policy (`watched-*` models) with the given rollback mode."""
    on_alert = "[notify, re_review, rollback]" if rollback == "automatic" else "[notify, re_review]"
    return POLICY.format(on_alert=on_alert, rollback=rollback)


def population(seed: int, rows: int, *, north_shift: float = 0.0) -> pd.DataFrame:
    """Rows of the scenario's population: features as the model sees them, region, true label."""
    rng = np.random.default_rng(seed)
    true = rng.normal(size=(rows, len(FEATURES)))
    region = rng.choice(REGIONS, size=rows)
    logit = 2.0 * true[:, 0] - 1.2 * true[:, 1] + 0.6 * true[:, 2]
    label = (logit + 0.5 * rng.logistic(size=rows) > 0.3).astype(int)
    seen = true.copy()
    seen[region == "north", 0] -= north_shift
    frame = pd.DataFrame(seen, columns=FEATURES)
    frame["region"] = region
    frame["label"] = label
    frame["row_id"] = [f"r{seed}-{i}" for i in range(rows)]
    return frame


@dataclass(frozen=True)
class WatchModels:
    """Two logged models (v1 without f0, v2 with every feature) and where they live."""

    root: Path
    tracking_uri: str
    experiment_id: str
    sources: dict[int, tuple[str, str]] = field(default_factory=dict)
    """version -> (model URI, run id)."""
    fitted: dict[int, Any] = field(default_factory=dict)
    """version -> the trained estimator (what serving runs)."""


def log_fitted(
    experiment_id: str,
    model: Any,
    inputs: pd.DataFrame,
    predictions: Any,
    metrics: dict[str, float],
    params: dict[str, str],
) -> tuple[str, str]:
    """Log one trained version in a run of its own (under the fluent tracking URI set by the
    caller): its metrics, params and model with its signature. Returns (model URI, run id)."""
    import mlflow
    import sklearn
    from mlflow.models import infer_signature

    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metrics(metrics)
        mlflow.log_params(params)
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(inputs, predictions),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    return info.model_uri, run.info.run_id


def build_watch_models(root: Path, tracking_uri: str | None = None) -> WatchModels:
    """Train and log the two models once (MLflow's fluent URI is set only while logging).

    Args:
        root: Directory of the store (when `tracking_uri` is None) and of the artifacts.
        tracking_uri: Log through this MLflow (a server) instead of a SQLite store at `root`.
    """
    import mlflow
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri
    from sklearn.linear_model import LogisticRegression

    uri = tracking_uri or f"sqlite:///{root / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri, uri)
    experiment_id = client.create_experiment("watch", artifact_location=(root / "art").as_uri())
    train, holdout = population(1, 3000), population(2, 1500)
    sources: dict[int, tuple[str, str]] = {}
    fitted: dict[int, Any] = {}
    with _use_tracking_uri(uri):
        for version, columns in VERSION_FEATURES.items():
            model = LogisticRegression(max_iter=500).fit(train[columns], train["label"])
            preds = model.predict(holdout[columns])
            positives = holdout["label"].to_numpy() == 1
            sources[version] = log_fitted(
                experiment_id,
                model,
                holdout[columns],
                preds,
                {
                    "recall": float((preds[positives] == 1).mean()),
                    "accuracy": float((preds == holdout["label"].to_numpy()).mean()),
                },
                {"features": ",".join(columns), "seed": "1"},
            )
            fitted[version] = model
    return WatchModels(
        root=root, tracking_uri=uri, experiment_id=experiment_id, sources=sources, fitted=fitted
    )


class WatchScenario:
    """One fresh model under watch: v1 then v2 promoted by the gate, v2's reference logged.

    Args:
        models: The session's logged models.
        workdir: The test's directory (ledger, policies).
        rollback: The watch section's rollback mode.
        tracking_uri: Where to reach MLflow (the store, or a server in front of it).
        policy: The policy text, for `watched-*` models (default: `watch_policy(rollback)`).
    """

    def __init__(
        self,
        models: WatchModels,
        workdir: Path,
        *,
        rollback: Literal["advise", "automatic"] = "advise",
        tracking_uri: str | None = None,
        ledger_url: str | None = None,
        policy: str | None = None,
    ) -> None:
        import mlflow

        from agents.offline_investigator import OfflineInvestigator
        from ledger.store import Ledger
        from review.gate import GateService
        from review.service import ReviewConfig, ReviewService

        self.models = models
        self.tracking_uri = tracking_uri or models.tracking_uri
        self.name = f"watched-{uuid.uuid4().hex[:8]}"
        self.policies_dir = workdir / "policies"
        self.policies_dir.mkdir(exist_ok=True)
        (self.policies_dir / "watched.yaml").write_text(policy or watch_policy(rollback))
        self.ledger_url = ledger_url or f"sqlite:///{workdir / 'ledger.db'}"
        self.client = mlflow.MlflowClient(self.tracking_uri, self.tracking_uri)
        self.client.create_registered_model(self.name)
        from mlflow.tracking._tracking_service.utils import _use_tracking_uri

        # The registry resolves a models:/m-... source through the fluent tracking URI.
        with _use_tracking_uri(self.tracking_uri):
            for version in (1, 2):
                uri, run_id = models.sources[version]
                # A server checks a models:/ source against the model id it is given.
                mv = self.client.create_model_version(
                    self.name, uri, run_id=run_id, model_id=uri.removeprefix("models:/")
                )
                assert int(mv.version) == version
        self.ledger = Ledger(self.ledger_url)
        self.reviews = ReviewService(
            ReviewConfig(
                tracking_uri=self.tracking_uri,
                policies_dir=self.policies_dir,
                evidence_timeout_s=30.0,
                publish_tags=True,
            ),
            ledger=self.ledger,
            investigator=OfflineInvestigator(),
        )
        self.gate = GateService(self.reviews)
        self.promotions: dict[int, Any] = {}
        for version in (1, 2):
            answer = self.gate.gate(self.name, version)
            assert answer.allowed, answer.reasons
            self.promotions[version] = self.gate.promote(
                self.name, version, target_alias=None, actor="release-bot"
            )
        self.log_reference()

    def log_reference(self) -> None:
        from watch.monitoring import log_reference_profile

        frame = population(2, 1500)
        model = self.load(2)
        frame["score"] = model.predict_proba(frame[FEATURES])[:, 1]
        frame["prediction"] = model.predict(frame[FEATURES])
        log_reference_profile(frame.drop(columns=["row_id"]), self.name, 2, client=self.client)

    def load(self, version: int) -> Any:
        return self.models.fitted[version]

    def frame(self, day: int, *, drift: bool = False, rows: int = 1200) -> pd.DataFrame:
        """A day of v2's traffic: inputs, v2's outputs, region, row ids and the true labels."""
        frame = population(100 + day, rows, north_shift=NORTH_SHIFT if drift else 0.0)
        model = self.load(2)
        frame["score"] = model.predict_proba(frame[FEATURES])[:, 1]
        frame["prediction"] = model.predict(frame[FEATURES])
        return frame

    def log_window(
        self, day: int, *, drift: bool = False, labels: bool = True, rows: int = 1200
    ) -> str:
        """Log day `day`'s window for v2 (and its labels unless `labels` is False)."""
        from watch.monitoring import log_monitoring_window

        frame = self.frame(day, drift=drift, rows=rows)
        start, end = START + timedelta(days=day), START + timedelta(days=day + 1)
        run_id = log_monitoring_window(
            frame.drop(columns=["label"]), self.name, 2, start, end, client=self.client
        )
        if labels:
            self.log_labels(day, drift=drift, rows=rows)
        return run_id

    def log_labels(self, day: int, *, drift: bool = False, rows: int = 1200) -> str:
        from watch.monitoring import log_labels

        frame = self.frame(day, drift=drift, rows=rows)
        start, end = START + timedelta(days=day), START + timedelta(days=day + 1)
        return log_labels(
            frame[["row_id", "label", "prediction", "score", "region"]],
            self.name,
            2,
            start,
            end,
            client=self.client,
        )

    def champion(self) -> int:
        from tools.registry import registered_aliases

        return registered_aliases(self.client, self.name)["champion"]

    def close(self) -> None:
        self.gate.drain()
        self.ledger.close()
