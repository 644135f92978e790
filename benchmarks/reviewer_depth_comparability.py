"""Reviewer depth: comparability beyond the digest and conclusions, next to MLflow's native check.

A churn model's registry, logged the way a team elsewhere logs it (real scikit-learn models, a
real SQLite MLflow store): a champion and six candidates, each reviewed against @champion::

    uv run python -m benchmarks.reviewer_depth_comparability [--json]

=====  ==========================  ============================================================
v2     label redefinition          same evaluation rows (same digest), ``data.label`` changed
                                   from churned_90d to churned_30d: labels differ on ~20% of
                                   the paired rows and every metric falls
v3     positive class changed      ``data.positive_class`` churned -> stayed: the labels flip
v4     another averaging           ``f1_average`` binary -> macro: f1 looks better
v5     decision threshold moved    ``model.decision_threshold`` 0.5 -> 0.75: recall falls in
                                   every region (one decision, not four regressions)
v6/v7  harmless retrains           new seeds, nothing else: must approve
=====  ==========================  ============================================================

For each candidate, in the same run: MLflow's ``validate_evaluation_results`` with thresholds
equivalent to the policy (`benchmarks.mlflow_native.validate_natively`, headline metrics plus
every region's recall key), and promogate's review (offline investigator). The latency columns
time the review, and the part of it the deeper questions cost: label agreement, label and metric
definition changes, the two comparability checks and the conclusions, computed on a fresh
comparison of the same evidence.

Like `api/`, this module sits on top of the packages it measures and nothing imports it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
import textwrap
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field

from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks.mlflow_native import NativeOutcome, validate_natively
from policies.loader import LoadedPolicy, load_policy_text

if TYPE_CHECKING:
    from policies.decision import Decision

__all__ = [
    "MODEL",
    "POLICY",
    "DepthRow",
    "Scenario",
    "ScenarioRegistry",
    "build_scenarios",
    "depth_policies",
    "main",
    "measure",
    "render_table",
    "review_scenario",
]

logger = logging.getLogger("promogate.evals")

MODEL: Final = "churn-depth"
REGIONS: Final = ("north", "south", "east", "west")
_TRAIN_ROWS: Final = 3000
_EVAL_ROWS: Final = 2400
_TRUSTED: Final = ["sklearn.tree._tree.Tree"]

POLICY: Final = textwrap.dedent(
    f"""\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {{name: churn-depth, revision: 1}}
    match: {{model: {MODEL}, target_alias: champion}}
    metrics:
      - {{name: roc_auc, min: 0.7, max_drop: 0.01, significance: 0.05}}
      - {{name: recall, max_drop: 0.03, significance: 0.05}}
      - {{name: f1, max_drop: 0.03, significance: 0.05}}
    segments: {{by: region, metric: recall, max_drop: 0.03, min_rows: 100, significance: 0.05}}
    comparability: {{same_eval_dataset: required, train_eval_overlap: forbid}}
    pipeline: {{require: [seed]}}
    """
)


def depth_policies() -> list[LoadedPolicy]:
    """The scenarios' policy (what a team would write; nothing in it names the new checks)."""
    return load_policy_text(POLICY, "churn-depth.yaml")


class Scenario(BaseModel):
    """One candidate version, what was done to it, and the decision it should get."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    title: str
    expected_verdict: str
    expected_failing: list[str] = Field(default_factory=list)
    expected_conclusion: str | None = None


@dataclass
class ScenarioRegistry:
    """Where the store lives and which candidates it holds."""

    root: Path
    tracking_uri: str
    scenarios: list[Scenario] = field(default_factory=list)
    eval_digest: str = ""


@dataclass(frozen=True)
class _Recipe:
    title: str
    expected_verdict: str
    expected_failing: tuple[str, ...] = ()
    expected_conclusion: str | None = None
    seed: int = 7
    label: str = "churned_90d"
    positive_class: str = "churned"
    threshold: float = 0.5
    average: str = "binary"


_RECIPES: Final[tuple[_Recipe, ...]] = (
    _Recipe("champion", "approve"),
    _Recipe(
        "label redefinition on the same rows",
        "block",
        ("comparability.same_labels",),
        "labels_changed",
        label="churned_30d",
    ),
    _Recipe(
        "positive class changed",
        "block",
        ("comparability.same_labels",),
        positive_class="stayed",
    ),
    _Recipe(
        "f1 computed with another averaging",
        "block",
        ("comparability.same_metric_definitions",),
        average="macro",
    ),
    _Recipe(
        "decision threshold moved",
        "block",
        ("segments.region.recall.north", "segments.region.recall.south"),
        "decision_threshold_moved",
        threshold=0.75,
    ),
    _Recipe("harmless retrain (new seed)", "approve", seed=8),
    _Recipe("harmless retrain (another seed)", "approve", seed=9),
)


def _frames(seed: int = 0) -> tuple[Any, Any]:
    """Training and evaluation frames with both label definitions (90 and 30 days)."""
    import pandas as pd  # type: ignore[import-untyped]

    rng = np.random.default_rng(seed)

    def frame(rows: int) -> Any:
        x = rng.normal(size=(rows, 5))
        region = np.array(REGIONS)[np.arange(rows) % len(REGIONS)]
        latent = 1.4 * x[:, 0] - x[:, 1] + 0.6 * x[:, 2] * x[:, 3] + 0.5 * rng.normal(size=rows)
        df = pd.DataFrame(x, columns=[f"f{i}" for i in range(5)])
        df["region"] = region
        df["churned_90d"] = (latent > 0.6).astype(int)
        # The 30-day label: churn sooner, a different outcome on a share of the same customers.
        df["churned_30d"] = (latent + 0.9 * rng.normal(size=rows) > 1.0).astype(int)
        return df

    return frame(_TRAIN_ROWS), frame(_EVAL_ROWS)


def _labels(frame: Any, recipe: _Recipe) -> Any:
    labels = frame[recipe.label].to_numpy()
    return labels if recipe.positive_class == "churned" else 1 - labels


def _scores(labels: Any, preds: Any, scores: Any, average: str) -> dict[str, float]:
    from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(labels, scores)),
        "recall": float(recall_score(labels, preds)),
        "precision": float(precision_score(labels, preds, zero_division=0)),
        "f1": float(f1_score(labels, preds, average=average)),
    }


def build_scenarios(root: Path) -> ScenarioRegistry:
    """Train and log the champion and every candidate into a fresh SQLite store under `root`.

    MLflow's fluent tracking URI is set only while logging.
    """
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    root.mkdir(parents=True, exist_ok=True)
    with _use_tracking_uri(f"sqlite:///{root / 'mlflow.db'}"):
        return _log_scenarios(root)


def _log_scenarios(root: Path) -> ScenarioRegistry:
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.data.pandas_dataset import from_pandas
    from sklearn.ensemble import GradientBoostingClassifier

    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(uri, uri)
    experiment = mlflow.create_experiment("churn-depth", artifact_location=str(root / "artifacts"))
    registry = ScenarioRegistry(root=root, tracking_uri=uri)
    train, holdout = _frames()
    features = [f"f{i}" for i in range(5)]
    eval_data = from_pandas(holdout, name="churn-eval-2026-10")
    train_data = from_pandas(train, name="churn-train-2026-10")
    registry.eval_digest = eval_data.digest
    fitted: dict[tuple[int, str, str], Any] = {}
    for number, recipe in enumerate(_RECIPES, start=1):
        key = (recipe.seed, recipe.label, recipe.positive_class)
        if key not in fitted:
            fitted[key] = GradientBoostingClassifier(
                n_estimators=60, max_depth=3, subsample=0.8, random_state=recipe.seed
            ).fit(train[features], _labels(train, recipe))
        model = fitted[key]
        labels = _labels(holdout, recipe)
        scores = np.round(model.predict_proba(holdout[features])[:, 1], 6)
        preds = (scores >= recipe.threshold).astype(int)
        config = {
            "data": {
                "source": "warehouse.churn.snapshot_2026_10",
                "label": recipe.label,
                "positive_class": recipe.positive_class,
            },
            "features": {"include": features},
            "model": {
                "type": "gradient_boosting",
                "n_estimators": 60,
                "max_depth": 3,
                "decision_threshold": recipe.threshold,
            },
            "train": {"seed": recipe.seed},
        }
        with mlflow.start_run(experiment_id=experiment, run_name=f"churn-{number}"):
            mlflow.log_text(yaml.safe_dump(config, sort_keys=False), "pipeline/pipeline.yaml")
            # Evaluation settings as the team logs them: a run param beside the metric.
            mlflow.log_param("f1_average", recipe.average)
            mlflow.log_input(train_data, context="training")
            mlflow.log_input(eval_data, context="evaluation")
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                pip_requirements=["scikit-learn"],
                skops_trusted_types=_TRUSTED,
            )
            mlflow.log_metrics(_scores(labels, preds, scores, recipe.average))
            regions = holdout["region"].to_numpy()
            for region in REGIONS:
                mask = regions == region
                positives = labels[mask] == 1
                mlflow.log_metric(
                    f"segment/region:{region}/recall", float((preds[mask][positives] == 1).mean())
                )
                mlflow.log_metric(f"segment/region:{region}/rows", float(mask.sum()))
            table = pd.DataFrame(
                {
                    "row_id": [f"c{i:05d}" for i in range(len(holdout))],
                    "label": labels,
                    "score": scores,
                    "prediction": preds,
                    "region": regions,
                }
            )
            mlflow.log_table(table, artifact_file="eval/predictions.json")
        version = mlflow.register_model(info.model_uri, MODEL)
        if number == 1:
            client.set_registered_model_alias(MODEL, "champion", version.version)
            continue
        registry.scenarios.append(
            Scenario(
                version=int(version.version),
                title=recipe.title,
                expected_verdict=recipe.expected_verdict,
                expected_failing=list(recipe.expected_failing),
                expected_conclusion=recipe.expected_conclusion,
            )
        )
    return registry


def review_scenario(
    tracking_uri: str, version: int, policies: Sequence[LoadedPolicy]
) -> tuple[Decision, float]:
    """Review one candidate offline (gather, evaluate, investigate, decide); and its seconds."""
    from mlflow import MlflowClient

    from agents.offline_investigator import OfflineInvestigator
    from review import decide, evaluate_evidence, gather_evidence

    client = MlflowClient(tracking_uri, tracking_uri)
    started = time.perf_counter()
    bundle = gather_evidence(client, MODEL, version, policies=policies)
    decision = decide(
        evaluate_evidence(bundle, policies),
        investigator=OfflineInvestigator(),
        target_alias="champion",
        created_at=datetime.now(UTC),
        started=started,
    )
    return decision, time.perf_counter() - started


def _depth_seconds(
    tracking_uri: str, version: int, policies: Sequence[LoadedPolicy]
) -> tuple[float, float]:
    """(seconds of the deeper facts, checks and conclusions; seconds of the whole evaluation),
    both on a fresh comparison of the same evidence."""
    from mlflow import MlflowClient

    from comparison import Comparison
    from policies.conclusions import draw_conclusions
    from policies.evaluator import evaluate_policies
    from review import gather_evidence

    client = MlflowClient(tracking_uri, tracking_uri)
    bundle = gather_evidence(client, MODEL, version, policies=policies)
    facts = Comparison(bundle)
    started = time.perf_counter()
    verdict = evaluate_policies(policies, facts)
    evaluate_s = time.perf_counter() - started
    depth = Comparison(bundle)
    depth.pipeline_diff()  # shared with the pipeline rules: not a cost of the new questions
    started = time.perf_counter()
    depth.label_agreement()
    depth.label_changes()
    depth.metric_definition_changes()
    draw_conclusions(verdict.checks, depth)
    return time.perf_counter() - started, evaluate_s


class DepthRow(BaseModel):
    """One candidate: MLflow's native check against promogate's review, and the time it took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scenario: Scenario
    mlflow: NativeOutcome
    verdict: str
    failing: list[str]
    conclusions: list[str] = Field(description="Each conclusion's kind and grouped check ids.")
    first_reason: str
    same_dataset_answer: str | None
    review_ms: float
    depth_ms: float
    evaluate_ms: float


def measure(registry: ScenarioRegistry) -> list[DepthRow]:
    """Run MLflow's native threshold check and promogate's review on every scenario."""
    from tools.client import make_client

    policies = depth_policies()
    client: Any = make_client(registry.tracking_uri, None)
    # One untimed pass, so that neither side pays for first-use costs (imports, connections).
    first = registry.scenarios[0].version
    validate_natively(client, MODEL, first, policies, thresholds="segments")
    review_scenario(registry.tracking_uri, first, policies)
    rows: list[DepthRow] = []
    for scenario in registry.scenarios:
        native = validate_natively(client, MODEL, scenario.version, policies, thresholds="segments")
        decision, seconds = review_scenario(registry.tracking_uri, scenario.version, policies)
        depth_s, evaluate_s = _depth_seconds(registry.tracking_uri, scenario.version, policies)
        same = next(
            (q.answer for q in decision.questions if q.question.startswith("Were both")), None
        )
        rows.append(
            DepthRow(
                scenario=scenario,
                mlflow=native,
                verdict=decision.verdict,
                failing=sorted(c.id for c in decision.checks if c.status in ("fail", "error")),
                conclusions=[f"{c.kind}: {', '.join(c.check_ids)}" for c in decision.conclusions],
                first_reason=decision.reasons[0] if decision.reasons else "",
                same_dataset_answer=same,
                review_ms=seconds * 1000.0,
                depth_ms=depth_s * 1000.0,
                evaluate_ms=evaluate_s * 1000.0,
            )
        )
    return rows


def _native_cell(outcome: NativeOutcome) -> str:
    if outcome.passed:
        return "pass"
    return "fail: " + ", ".join(outcome.failed_metrics)


def _clip(text: str, limit: int = 150) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render_table(rows: Sequence[DepthRow]) -> str:
    """The rows as a Markdown table plus the totals."""
    lines = [
        "| version | scenario | expected | MLflow native | promogate | conclusion | first reason "
        "| MLflow (ms) | review (ms) | deeper questions (ms) | share |",
        "|---|---|---|---|---|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        s = row.scenario
        failing = ", ".join(f"`{c}`" for c in row.failing)
        lines.append(
            f"| v{s.version} | {s.title} | {s.expected_verdict} | {_native_cell(row.mlflow)} "
            f"| {row.verdict}{': ' + failing if failing else ''} "
            f"| {'; '.join(row.conclusions) or '-'} | {_clip(row.first_reason)} "
            f"| {row.mlflow.seconds * 1000.0:.0f} | {row.review_ms:.0f} | {row.depth_ms:.1f} "
            f"| {row.depth_ms / row.review_ms:.1%} |"
        )
    right = sum(1 for r in rows if r.verdict == r.scenario.expected_verdict)
    native_right = sum(
        1 for r in rows if (r.mlflow.passed) == (r.scenario.expected_verdict == "approve")
    )
    lines += [
        "",
        f"Expected verdicts: promogate {right}/{len(rows)}, MLflow native {native_right}/"
        f"{len(rows)}. Median review {float(np.median([r.review_ms for r in rows])):.0f} ms; the "
        f"deeper questions {float(np.median([r.depth_ms for r in rows])):.1f} ms of it (median), "
        f"the whole policy evaluation {float(np.median([r.evaluate_ms for r in rows])):.1f} ms.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Build the scenario registry in a temporary directory, measure, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_mlflow()
    workdir = Path(tempfile.mkdtemp(prefix="promogate-depth-"))
    try:
        started = time.perf_counter()
        registry = build_scenarios(workdir)
        built = time.perf_counter() - started
        rows = measure(registry)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps([r.model_dump(mode="json") for r in rows], indent=2))
        return
    print(render_table(rows))
    print(f"\n(registry of {len(rows) + 1} versions built in {built:.1f} s)")


if __name__ == "__main__":
    main()
