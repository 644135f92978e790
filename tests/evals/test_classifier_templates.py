"""Classifier suite templates in their own vocabulary; a perturbation that changes nothing skips."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd  # type: ignore[import-untyped]
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from api._eval_commands import eval_app
from evals.classic import Perturbation, RobustnessConfig, run_robustness_suite
from evals.suite import find_suite


def _data(rows: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.normal(size=(rows, 3)), columns=["a", "b", "c"])
    frame["label"] = (frame["a"] - frame["b"] > 0).astype(int)
    return frame


def test_a_perturbation_that_changes_nothing_is_skipped_not_passed() -> None:
    data = _data()
    model = LogisticRegression().fit(data[["a", "b", "c"]], data["label"])
    config = RobustnessConfig(
        perturbations=[
            Perturbation(name="swap", kind="category_swap", rate=0.5),
            Perturbation(name="noise", kind="gaussian_noise", scale=0.05),
        ]
    )
    run = run_robustness_suite(model, data, config, target="m")
    status = {r.case_id: r for r in run.results}
    assert status["perturbation:swap"].status == "skip"
    assert status["perturbation:swap"].detection is not None
    assert "changed no input" in status["perturbation:swap"].detection.reason
    assert status["perturbation:noise"].status == "pass"
    assert run.failures == 0 and run.attack_success_rate == 0.0


def test_templates_are_listed_in_their_own_vocabulary() -> None:
    for name in ("classifier-fairness", "classifier-robustness"):
        suite = find_suite(name)
        assert suite.header.target_kind == "classifier"
    result = CliRunner().invoke(eval_app, ["list", "--json"])
    rows = {r["name"]: r for r in json.loads(result.stdout)}
    assert rows["classifier-fairness"]["thresholds"]["max_segment_drop"] == 0.05
    assert rows["classifier-robustness"]["thresholds"]["max_flip_rate"] == 0.1
    plain = CliRunner().invoke(eval_app, ["list"])
    fairness = next(line for line in plain.stdout.splitlines() if "classifier-fairness" in line)
    assert "segment drop <= 0.05" in fairness and "parity difference" in fairness
    assert "asr" not in fairness and "attack" not in fairness
