"""Feature importances are read without running the model author's code.

A hostile pickle that creates a file when unpickled is logged as a model in the formats a reader
might be tricked into loading; the reader must report importances unavailable and the file must
never appear. skops files load only with the types the policy trusts.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from scenarios.plausibility_registry import FEATURES, fraud_frame
from tools.model_importance import (
    importances_from_estimator,
    load_skops_importances,
    read_feature_importances,
)

TREE = "sklearn.tree._tree.Tree"
_MLMODEL = """\
flavors:
  sklearn:
    pickled_model: {file}
    serialization_format: {fmt}
    sklearn_version: 1.9.1
mlflow_version: 3.17.2
"""


class _Payload:
    """Unpickling this creates the directory `marker`: proof that something was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.mkdir, (str(self.marker),)


@pytest.fixture(scope="module")
def frame() -> Any:
    return fraud_frame(300, 3)


@pytest.fixture(scope="module")
def tree_model(frame: Any) -> GradientBoostingClassifier:
    return GradientBoostingClassifier(n_estimators=10, random_state=0).fit(
        frame[FEATURES], frame["is_fraud"]
    )


def test_trees_give_shares_that_sum_to_one(tree_model: GradientBoostingClassifier) -> None:
    found = importances_from_estimator(tree_model)
    assert not isinstance(found, str)
    kind, shares = found
    assert kind == "feature_importances_"
    assert list(shares) == FEATURES
    assert sum(shares.values()) == pytest.approx(1.0)


def test_a_scaled_linear_pipeline_gives_coefficient_shares(frame: Any) -> None:
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(
        frame[FEATURES], frame["is_fraud"]
    )
    found = importances_from_estimator(model)
    assert not isinstance(found, str)
    kind, shares = found
    assert kind == "coef_"
    assert max(shares, key=lambda k: shares[k]) == "amount"


def test_a_model_fitted_without_names_says_so(frame: Any) -> None:
    model = LogisticRegression().fit(np.asarray(frame[FEATURES]), frame["is_fraud"])
    assert "without input names" in str(importances_from_estimator(model))


@pytest.mark.parametrize(
    ("trusted", "available", "reason"),
    [([TREE], True, None), ([], False, TREE)],
    ids=["tree-type-trusted", "tree-type-not-trusted"],
)
def test_skops_loads_only_trusted_types(
    tree_model: GradientBoostingClassifier,
    trusted: list[str],
    available: bool,
    reason: str | None,
) -> None:
    result = load_skops_importances(sio.dumps(tree_model), trusted_types=trusted)
    assert result.available is available
    if reason is not None:
        assert result.reason is not None and reason in result.reason
        assert "not loaded" in result.reason


@pytest.fixture(scope="module")
def hostile_runs(plausibility_registry: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Runs whose model file is a hostile pickle, declared as cloudpickle and as skops."""
    from mlflow import MlflowClient

    client = MlflowClient(plausibility_registry.tracking_uri, plausibility_registry.tracking_uri)
    scratch = tmp_path_factory.mktemp("hostile")
    marker = scratch / "unpickled.txt"
    experiment = client.create_experiment(
        "hostile-models", artifact_location=str(scratch / "artifacts")
    )
    runs: dict[str, str] = {}
    for fmt, file in (("cloudpickle", "model.pkl"), ("skops", "model.skops")):
        folder = scratch / fmt
        folder.mkdir()
        (folder / "MLmodel").write_text(_MLMODEL.format(file=file, fmt=fmt))
        (folder / file).write_bytes(pickle.dumps(_Payload(marker)))
        run = client.create_run(experiment)
        client.log_artifacts(run.info.run_id, str(folder), "model")
        client.set_terminated(run.info.run_id)
        runs[fmt] = run.info.run_id
    return client, runs, marker


@pytest.mark.parametrize(
    ("fmt", "reason"),
    [("cloudpickle", "serialized as cloudpickle"), ("skops", "skops file cannot be read")],
    ids=["declared-cloudpickle", "pickle-posing-as-skops"],
)
def test_a_hostile_pickle_is_never_loaded(hostile_runs: Any, fmt: str, reason: str) -> None:
    client, runs, marker = hostile_runs
    result = read_feature_importances(
        client,
        f"runs:/{runs[fmt]}/model",
        allowed_formats=["skops", "cloudpickle", "pickle"],
        trusted_types=[TREE],
    )
    assert result.available is False
    assert result.reason is not None and reason in result.reason
    assert not marker.exists()


def test_the_payload_would_have_run_had_it_been_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled.txt"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_a_registered_skops_model_is_read_from_mlflow(plausibility_registry: Any) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(plausibility_registry.tracking_uri, plausibility_registry.tracking_uri)
    version = client.get_model_version("fraud-leak", "4")
    result = read_feature_importances(
        client, str(version.source), allowed_formats=["skops"], trusted_types=[TREE]
    )
    assert result.available, result.reason
    assert result.top is not None and result.top[0] == "chargeback_filed"
