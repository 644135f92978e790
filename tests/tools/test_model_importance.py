"""Feature importances are read without running the model author's code.

A hostile pickle that creates a file when unpickled is logged as a model in the formats a reader
might be tricked into loading; the reader must report importances unavailable and the file must
never appear. skops files load only with the types the policy trusts.
"""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import skops.io as sio
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from scenarios.plausibility_registry import FEATURES, LEAKED, fraud_frame
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


def _scaled_logistic(frame: Any) -> Any:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(
        frame[FEATURES], frame["is_fraud"]
    )


def _function_and_trees(frame: Any) -> Any:
    # A numpy function inside a FunctionTransformer: a type outside skops' defaults besides the
    # tree, so a policy trusting only one of them still refuses the file.
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(
        FunctionTransformer(np.nan_to_num),
        GradientBoostingClassifier(n_estimators=3, random_state=0),
    ).fit(frame[FEATURES], frame["is_fraud"])


_MODEL_FILES = {
    "trees": lambda frame, tree: sio.dumps(tree),
    "scaled-logistic": lambda frame, tree: sio.dumps(_scaled_logistic(frame)),
    "function-and-trees": lambda frame, tree: sio.dumps(_function_and_trees(frame)),
    "truncated": lambda frame, tree: sio.dumps(tree)[:5000],
    "not-a-zip": lambda frame, tree: b"PK\x03\x04 not really",
}


@pytest.mark.parametrize(
    "trusted", [[], [TREE], [TREE, "numpy.nan_to_num"]], ids=["none", "tree", "all"]
)
@pytest.mark.parametrize("kind", sorted(_MODEL_FILES), ids=str)
def test_one_parse_answers_as_skops_public_functions_do(
    frame: Any,
    tree_model: GradientBoostingClassifier,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    trusted: list[str],
) -> None:
    from tools import model_importance

    data = _MODEL_FILES[kind](frame, tree_model)
    one_parse = model_importance._load_skops_importances(
        data, trusted_types=trusted, source="s", model_file="model.skops"
    )
    monkeypatch.setattr(model_importance, "_parse_once", lambda data, trusted: None)
    public = model_importance._load_skops_importances(
        data, trusted_types=trusted, source="s", model_file="model.skops"
    )
    assert one_parse == public


@pytest.mark.parametrize(
    ("trusted", "loaded", "untrusted"),
    [([], False, [TREE]), ([TREE], True, [])],
    ids=["refused", "trusted"],
)
def test_a_model_file_is_parsed_once_either_way(
    tree_model: GradientBoostingClassifier, trusted: list[str], loaded: bool, untrusted: list[str]
) -> None:
    # Fails if a skops upgrade drops the parts the one parse is built from (the public route
    # still answers, at two parses per refused file).
    from tools.model_importance import _parse_once

    parsed = _parse_once(sio.dumps(tree_model), trusted)
    assert parsed is not None
    estimator, needed = parsed
    assert (estimator is not None) is loaded
    assert needed == untrusted


@pytest.fixture(scope="module")
def local_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, str]]:
    """Two small forests logged as skops files into a store of this module's own (the tests
    rewrite the files), with different inputs: a client, and each model's `models:/` source."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    root = tmp_path_factory.mktemp("importance-files")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    train = fraud_frame(300, 1)
    sources: dict[str, str] = {}
    with _use_tracking_uri(uri):
        experiment = mlflow.create_experiment("files", artifact_location=str(root / "artifacts"))
        for name, features in (("plain", FEATURES), ("leaky", [*FEATURES, LEAKED])):
            model = GradientBoostingClassifier(n_estimators=10, max_depth=2, random_state=0)
            model.fit(train[features], train["is_fraud"])
            with mlflow.start_run(experiment_id=experiment):
                info = mlflow.sklearn.log_model(
                    model,
                    name="model",
                    pip_requirements=["scikit-learn"],
                    skops_trusted_types=[TREE],
                )
            sources[name] = info.model_uri
    return MlflowClient(uri, uri), sources


def _model_file(client: Any, source: str) -> Path:
    from mlflow.utils.file_utils import local_file_uri_to_path

    model_id = source.removeprefix("models:/")
    directory = Path(local_file_uri_to_path(client.get_logged_model(model_id).artifact_location))
    (found,) = directory.glob("*.skops")
    return found


def _rewrite_in_place(path: Path, other: Path) -> None:
    # The other model's bytes, the file's own times restored: only its change time tells.
    info = path.stat()
    path.write_bytes(other.read_bytes())
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))


def _replace_by_rename(path: Path, other: Path) -> None:
    staged = path.with_name("staged.skops")
    staged.write_bytes(other.read_bytes())
    os.replace(staged, path)


@pytest.mark.parametrize(
    "change",
    [None, _rewrite_in_place, _replace_by_rename],
    ids=["unchanged", "rewritten-times-restored", "replaced-by-rename"],
)
def test_a_local_model_file_is_read_again_only_when_it_changed(
    local_models: tuple[Any, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    change: Any,
) -> None:
    """Importances already read are found from the file's `stat`, without reading it; a file
    changed in any way is read again and its new importances returned."""
    import tools.model_importance as importance
    from tools import file_hashes

    client, sources = local_models
    path, other = _model_file(client, sources["plain"]), _model_file(client, sources["leaky"])
    original = path.read_bytes()
    monkeypatch.setattr(file_hashes, "RACY_NS", 50_000_000)
    reads: list[str] = []
    real_download = importance.download_artifact

    def counted(*args: Any, **kwargs: Any) -> bytes:
        reads.append(str(args[3]))
        return real_download(*args, **kwargs)

    monkeypatch.setattr(importance, "download_artifact", counted)

    def read() -> Any:
        return read_feature_importances(
            client, sources["plain"], allowed_formats=["skops"], trusted_types=[TREE]
        )

    importance.IMPORTANCE_CACHE.clear()  # so that only the file's own digest can find a result
    try:
        time.sleep(0.1)  # settled: its hash is kept
        first = read()
        assert first.available, first.reason
        if change is not None:
            change(path, other)
            time.sleep(0.1)
        reads.clear()
        second = read()
        model_reads = [p for p in reads if p.endswith(".skops")]
        if change is None:
            assert model_reads == [] and second == first
        else:
            assert model_reads == [path.name]
            assert second.top is not None and LEAKED in second.shares
            assert second != first
    finally:
        path.write_bytes(original)


def test_a_read_is_under_way_from_its_start_until_its_answer(
    local_models: tuple[Any, dict[str, str]],
) -> None:
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import tools.model_importance as importance

    client, sources = local_models
    importance.IMPORTANCE_CACHE.clear()
    release = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(release.wait, 30.0)  # the read queues behind this
        assert not importance.importance_reads_under_way()
        started = importance.start_reading_importances(
            client, sources["leaky"], allowed_formats=["skops"], trusted_types=[TREE], run_in=pool
        )
        assert started and importance.importance_reads_under_way()
        release.set()
    assert not importance.importance_reads_under_way()
    found = read_feature_importances(
        client, sources["leaky"], allowed_formats=["skops"], trusted_types=[TREE]
    )
    assert found.available and LEAKED in found.shares
