"""Builders of realistic evidence for policy tests: no MLflow, just `EvidenceBundle` objects.

The evaluation data mimics the demo's credit-risk set: a latent risk drives the label, each model
scores the latent risk with its own noise, and rows fall into four regions. A "retrain" is a model
whose noise is strongly correlated with the baseline's (same recipe, another seed); a "defect"
shifts one region's scores down so that its recall really drops.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import yaml

from policies.loader import LoadedPolicy, load_policy_text
from policies.result import CheckResult, PolicyVerdict
from tools.evidence import (
    DatasetInput,
    EvalTable,
    EvidenceBundle,
    LoggedModelEvidence,
    LoggedModelMetric,
    RunEvidence,
    SafetySuiteResult,
    VersionEvidence,
)
from tools.significance import metric_value

REGIONS = ("north", "south", "east", "west")
EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


@dataclass(frozen=True)
class EvalData:
    """The evaluation rows shared by every model version."""

    row_ids: list[str]
    labels: npt.NDArray[np.int64]
    regions: list[str]
    latent: npt.NDArray[np.float64]


class Kit:
    """Builders for evaluation tables, versions, bundles and policies."""

    regions = REGIONS
    examples = EXAMPLES

    def eval_data(self, n_per_region: int = 800, seed: int = 11) -> EvalData:
        rng = np.random.default_rng(seed)
        n = n_per_region * len(REGIONS)
        latent = rng.normal(0.0, 1.0, n)
        labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-(1.6 * latent - 1.0)))).astype(np.int64)
        regions = [REGIONS[i % len(REGIONS)] for i in range(n)]
        return EvalData([f"r{i:05d}" for i in range(n)], labels, regions, latent)

    def scores(
        self,
        data: EvalData,
        *,
        seed: int,
        base_seed: int = 100,
        rho: float = 1.0,
        noise_scale: float = 0.9,
        region_shift: dict[str, float] | None = None,
    ) -> npt.NDArray[np.float64]:
        """A model's scores: `rho` is the correlation of its noise with the `base_seed` model's.

        A smaller `noise_scale` is a better model; a negative `region_shift` lowers a region's
        scores, so fewer of its positives are caught (its recall drops).
        """
        base_noise = np.random.default_rng(base_seed).normal(0.0, 1.0, len(data.labels))
        own = np.random.default_rng(seed).normal(0.0, 1.0, len(data.labels))
        noise = rho * base_noise + np.sqrt(max(0.0, 1.0 - rho * rho)) * own
        logit = 1.6 * data.latent - 1.0 + noise_scale * noise
        for region, shift in (region_shift or {}).items():
            mask = np.array([r == region for r in data.regions])
            logit = np.where(mask, logit + shift, logit)
        scores: npt.NDArray[np.float64] = np.round(1.0 / (1.0 + np.exp(-logit)), 4)
        return scores

    def table(
        self, data: EvalData, scores: npt.NDArray[np.float64], *, row_ids: bool = True
    ) -> EvalTable:
        preds = (scores >= 0.5).astype(int)
        columns = ["label", "prediction", "score", "region"]
        rows: list[list[Any]] = [
            [int(y), int(p), float(s), r]
            for y, p, s, r in zip(data.labels, preds, scores, data.regions, strict=True)
        ]
        if row_ids:
            columns = ["row_id", *columns]
            rows = [[rid, *row] for rid, row in zip(data.row_ids, rows, strict=True)]
        return EvalTable(path="eval/predictions.json", columns=columns, rows=rows)

    def table_metrics(self, table: EvalTable) -> dict[str, float]:
        if "score" not in table.columns:
            return {}  # a regressor's table: the tests name the metrics they need
        labels = table.column("label")
        preds = table.column("prediction")
        return {
            "roc_auc": metric_value("roc_auc", labels, table.column("score")),
            "recall": metric_value("recall", labels, preds),
            "precision": metric_value("precision", labels, preds),
            "accuracy": metric_value("accuracy", labels, preds),
        }

    def datasets(
        self, *, train: str | None = "train-v1", evaluation: str | None = "eval-2024q4"
    ) -> list[DatasetInput]:
        out = []
        if train is not None:
            out.append(
                DatasetInput(name="train", digest=train, context="training", source_type="code")
            )
        if evaluation is not None:
            out.append(
                DatasetInput(
                    name="eval", digest=evaluation, context="evaluation", source_type="code"
                )
            )
        return out

    def version(
        self,
        version: int,
        *,
        model: str = "credit-risk",
        table: EvalTable | None = None,
        metrics: dict[str, float] | None = None,
        datasets: list[DatasetInput] | None = None,
        tags: dict[str, str] | None = None,
        safety: dict[str, SafetySuiteResult] | None = None,
        logged_model: LoggedModelEvidence | None = None,
        artifact_paths: list[str] | None = None,
        params: dict[str, str] | None = None,
    ) -> VersionEvidence:
        run_metrics = dict(self.table_metrics(table)) if table is not None else {}
        run_metrics.update(metrics or {})
        run_id = f"run{version:04d}"
        return VersionEvidence(
            model=model,
            version=version,
            tags=tags or {},
            source=f"models:/m-{version:04d}",
            run_id=run_id,
            model_id=f"m-{version:04d}",
            run=RunEvidence(
                run_id=run_id,
                experiment_id="1",
                status="FINISHED",
                metrics=run_metrics,
                params=params if params is not None else {"seed": str(version)},
            ),
            logged_model=logged_model,
            datasets=self.datasets() if datasets is None else datasets,
            eval_table=table,
            artifact_paths=artifact_paths or [],
            safety=safety or {},
        )

    def bundle(
        self,
        candidate: VersionEvidence,
        baseline: VersionEvidence | None = None,
        *,
        target_alias: str = "champion",
        baseline_alias: str | None = "champion",
    ) -> EvidenceBundle:
        return EvidenceBundle(
            candidate=candidate,
            baseline=baseline,
            baseline_alias=baseline_alias,
            target_alias=target_alias,
        )

    def policy(self, name: str = "test-policy", **sections: Any) -> LoadedPolicy:
        """A policy from sections; `match` defaults to every model, `comparability` to off."""
        doc: dict[str, Any] = {
            "apiVersion": "promogate/v1",
            "kind": "PromotionPolicy",
            "metadata": {"name": name, "revision": 1},
            "match": {"model": "*"},
            "comparability": {"same_eval_dataset": "off", "train_eval_overlap": "off"},
        }
        doc.update(sections)
        (loaded,) = load_policy_text(yaml.safe_dump(doc, sort_keys=False), f"{name}.yaml")
        return loaded

    def suite(self, suite: str, cases: int, failures: int, errors: int = 0) -> SafetySuiteResult:
        return SafetySuiteResult(
            suite=suite,
            cases=cases,
            failures=failures,
            errors=errors,
            artifact_path=f"safety/{suite}/results.json",
        )

    def logged_model(
        self, version: int, metrics: dict[str, tuple[float, str]]
    ) -> LoggedModelEvidence:
        return LoggedModelEvidence(
            model_id=f"m-{version:04d}",
            metrics=[
                LoggedModelMetric(key=k, value=v, dataset_name="eval", dataset_digest=d)
                for k, (v, d) in metrics.items()
            ],
        )

    def check(self, verdict: PolicyVerdict, check_id: str) -> CheckResult:
        """The one check with this id; fails the test with the ids present otherwise."""
        found = [c for c in verdict.checks if c.id == check_id]
        assert len(found) == 1, f"{check_id!r} not in {[c.id for c in verdict.checks]!r}"
        return found[0]


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit()


@pytest.fixture(scope="session")
def eval_data(kit: Kit) -> EvalData:
    return kit.eval_data()
