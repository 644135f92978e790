"""Fairness and robustness suites against real scikit-learn models, directly and as pyfuncs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from evals.classic import (
    FairnessConfig,
    Perturbation,
    RobustnessConfig,
    classification_metric,
    run_classifier_suite,
    run_fairness_suite,
    run_robustness_suite,
)
from evals.errors import EvalError, SuiteError
from evals.suite import Suite, SuiteHeader, SuiteThresholds

FEATURES = ["group", "x1", "x2", "age"]


def make_data(n: int, *, seed: int, b_follows_x2: bool = False) -> pd.DataFrame:
    """Two groups; the label follows x1, except (optionally) in group b where it follows x2."""
    rng = np.random.default_rng(seed)
    group = rng.choice(["a", "b"], size=n, p=[0.6, 0.4])
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    label = (x1 + 0.3 * rng.normal(size=n) > 0).astype(int)
    if b_follows_x2:
        label = np.where(group == "b", (x2 > 0).astype(int), label)
    age = rng.integers(18, 80, size=n)
    return pd.DataFrame({"group": group, "x1": x1, "x2": x2, "age": age, "label": label})


@pytest.fixture(scope="module")
def model() -> Pipeline:
    train = make_data(2000, seed=1)
    pipeline = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        ("cat", OneHotEncoder(handle_unknown="ignore"), ["group"]),
                        ("num", StandardScaler(), ["x1", "x2", "age"]),
                    ]
                ),
            ),
            ("clf", LogisticRegression(max_iter=500)),
        ]
    )
    pipeline.fit(train[FEATURES], train["label"])
    return pipeline


@pytest.fixture(scope="module")
def pyfunc_model(model: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Any:
    import mlflow
    from mlflow.models import infer_signature

    sample = make_data(50, seed=2)[FEATURES]
    path = tmp_path_factory.mktemp("pyfunc") / "model"
    mlflow.sklearn.save_model(
        model,
        str(path),
        signature=infer_signature(sample, model.predict(sample)),
        pip_requirements=["scikit-learn"],
        serialization_format="cloudpickle",
    )
    return mlflow.pyfunc.load_model(str(path))


FAIR = FairnessConfig(segment_columns=["group"], metric="recall", max_segment_drop=0.1)


def test_a_model_that_fails_one_group_fails_the_fairness_suite(model: Pipeline) -> None:
    data = make_data(1500, seed=3, b_follows_x2=True)
    result = run_fairness_suite(model, data, FAIR, target="sklearn:pipeline")
    by_id = {r.case_id: r for r in result.results}
    assert set(by_id) == {
        "segment:group=a",
        "segment:group=b",
        "demographic_parity:group",
        "equalized_odds:group",
    }
    assert by_id["segment:group=a"].status == "pass"
    assert by_id["segment:group=b"].status == "fail"
    assert by_id["equalized_odds:group"].status == "fail"
    assert result.status == "fail" and result.failures >= 2
    overall = result.metrics["overall.recall"]
    recall_b = result.metrics["segment.group.b.recall"]
    assert overall - recall_b > 0.1
    detection = by_id["segment:group=b"].detection
    assert detection is not None and detection.label == "segment_gap"
    assert f"{recall_b:.3f}" in detection.reason
    assert result.metrics["segment.group.b.rows"] == float((data["group"] == "b").sum())


def test_a_fair_model_passes_and_the_gaps_match_a_manual_computation(model: Pipeline) -> None:
    data = make_data(1500, seed=4)
    result = run_fairness_suite(model, data, FAIR, target="sklearn:pipeline")
    assert result.status == "pass", result.reason
    assert result.failures == 0 and result.errors == 0
    predicted = model.predict(data[FEATURES]).astype(bool)
    truth = data["label"].to_numpy().astype(bool)
    rates = [predicted[data["group"].to_numpy() == g].mean() for g in ("a", "b")]
    assert result.metrics["demographic_parity_difference.group"] == pytest.approx(
        abs(rates[0] - rates[1])
    )
    tprs = [predicted[(data["group"].to_numpy() == g) & truth].mean() for g in ("a", "b")]
    fprs = [predicted[(data["group"].to_numpy() == g) & ~truth].mean() for g in ("a", "b")]
    assert result.metrics["equalized_odds_difference.group"] == pytest.approx(
        max(abs(tprs[0] - tprs[1]), abs(fprs[0] - fprs[1]))
    )


def test_small_segments_are_reported_not_judged(model: Pipeline) -> None:
    data = make_data(400, seed=5)
    data.loc[data.index[:10], "group"] = "c"
    result = run_fairness_suite(
        model, data, FAIR.model_copy(update={"min_rows": 20}), target="sklearn:pipeline"
    )
    assert "segment:group=c" not in {r.case_id for r in result.results}
    assert result.metrics["segment.group.c.rows"] == 10.0


def test_fairness_runs_against_a_pyfunc(pyfunc_model: Any) -> None:
    data = make_data(1500, seed=3, b_follows_x2=True)
    result = run_fairness_suite(pyfunc_model, data, FAIR, target="pyfunc:pipeline")
    assert result.status == "fail"
    assert {r.case_id for r in result.failing} >= {"segment:group=b"}


@pytest.mark.parametrize(
    ("perturbation", "expected"),
    [
        (Perturbation(name="tiny_noise", kind="gaussian_noise", scale=0.01), "pass"),
        (Perturbation(name="heavy_noise", kind="gaussian_noise", scale=1.5), "fail"),
        (Perturbation(name="swap", kind="category_swap", rate=0.5), "pass"),
    ],
    ids=["tiny-noise", "heavy-noise", "category-swap"],
)
def test_robustness_flags_unstable_predictions(
    pyfunc_model: Any, perturbation: Perturbation, expected: str
) -> None:
    data = make_data(1000, seed=6)
    config = RobustnessConfig(perturbations=[perturbation], max_flip_rate=0.1)
    # A pyfunc with a signature: perturbed integer columns must keep their dtype to be accepted.
    result = run_robustness_suite(pyfunc_model, data, config, target="pyfunc:pipeline")
    assert result.status == expected, result.reason
    flip_rate = result.metrics[f"flip_rate.{perturbation.name}"]
    if expected == "fail":
        assert flip_rate > 0.1
        assert result.results[0].detection is not None
        assert result.results[0].detection.label == "unstable"
    else:
        assert flip_rate <= 0.1
    assert result.metrics["accuracy.clean"] > 0.85


def test_category_swap_changes_only_the_share_of_rows_asked_for(model: Pipeline) -> None:
    data = make_data(1000, seed=7)
    seen: list[pd.DataFrame] = []

    class Recording:
        def predict(self, frame: pd.DataFrame) -> Any:
            seen.append(frame.copy())
            return model.predict(frame)

    config = RobustnessConfig(
        perturbations=[Perturbation(name="swap", kind="category_swap", rate=0.2)]
    )
    run_robustness_suite(Recording(), data, config, target="recording")
    clean, swapped = seen
    changed = (clean["group"] != swapped["group"]).mean()
    assert 0.15 < changed < 0.25
    assert (clean[["x1", "x2", "age"]] == swapped[["x1", "x2", "age"]]).all().all()
    assert "label" not in clean.columns


class Broken:
    def predict(self, frame: pd.DataFrame) -> Any:
        raise ValueError("feature 'x3' missing")


@pytest.mark.parametrize("kind", ["fairness", "robustness"], ids=["fairness", "robustness"])
def test_a_model_that_cannot_predict_is_an_error_run(kind: str) -> None:
    data = make_data(100, seed=8)
    if kind == "fairness":
        result = run_fairness_suite(Broken(), data, FAIR, target="broken")
    else:
        result = run_robustness_suite(Broken(), data, RobustnessConfig(), target="broken")
    assert result.status == "error"
    assert result.reason is not None and "feature 'x3' missing" in result.reason


def test_missing_columns_are_named(model: Pipeline) -> None:
    data = make_data(100, seed=9)
    with pytest.raises(EvalError, match="'region'"):
        run_fairness_suite(
            model, data, FairnessConfig(segment_columns=["region"]), target="sklearn:pipeline"
        )


@pytest.mark.parametrize(
    ("metric", "truth", "predicted", "expected"),
    [
        ("accuracy", [1, 0, 1, 0], [1, 0, 0, 0], 0.75),
        ("recall", [1, 0, 1, 0], [1, 0, 0, 0], 0.5),
        ("precision", [1, 0, 1, 0], [1, 1, 0, 0], 0.5),
        ("f1", [1, 0, 1, 0], [1, 1, 0, 0], 0.5),
        ("selection_rate", [1, 0, 1, 0], [1, 1, 1, 0], 0.75),
        ("recall", [0, 0], [1, 0], math.nan),
        ("precision", [1, 1], [0, 0], math.nan),
    ],
    ids=[
        "accuracy",
        "recall",
        "precision",
        "f1",
        "selection-rate",
        "recall-undefined",
        "precision-undefined",
    ],
)
def test_classification_metric(
    metric: Any, truth: list[int], predicted: list[int], expected: float
) -> None:
    value = classification_metric(
        metric, np.array(truth, dtype=bool), np.array(predicted, dtype=bool)
    )
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected)


def _suite(category: str, params: dict[str, Any], tmp_path: Path) -> Suite:
    header = SuiteHeader(
        name=f"credit-{category}",
        version="2",
        category=category,
        target_kind="classifier",
        detector=category,
        thresholds=SuiteThresholds(max_failures=1),
        params=params,
    )
    return Suite(header=header, cases=[], path=str(tmp_path / f"{category}.yaml"))


def test_suite_files_drive_the_classic_suites(model: Pipeline, tmp_path: Path) -> None:
    data = make_data(1500, seed=3, b_follows_x2=True)
    suite = _suite("fairness", {"segment_columns": ["group"], "max_segment_drop": 0.1}, tmp_path)
    result = run_classifier_suite(suite, model, data, target="sklearn:pipeline")
    assert (result.suite, result.suite_version, result.category) == (
        "credit-fairness",
        "2",
        "fairness",
    )
    assert result.thresholds.max_failures == 1
    assert result.failures >= 2 and result.status == "fail"


def test_invalid_suite_params_name_the_suite_file(model: Pipeline, tmp_path: Path) -> None:
    suite = _suite("robustness", {"max_flip_rate": 3}, tmp_path)
    with pytest.raises(SuiteError, match=r"params\.max_flip_rate") as info:
        run_classifier_suite(suite, model, make_data(50, seed=1), target="x")
    assert "robustness.yaml" in str(info.value)
