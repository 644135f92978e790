"""Logged models (metrics with datasets, flavors, signature) and artifact reads."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tools._logged_models import parse_mlmodel, read_logged_model
from tools.artifacts import (
    list_logged_model_artifacts,
    list_run_artifacts,
    read_logged_model_text_artifacts,
    read_run_text_artifacts,
    read_text_artifact,
)
from tools.errors import (
    ArtifactNotFoundError,
    ArtifactTooLargeError,
    LoggedModelNotFoundError,
    MalformedArtifactError,
)


@pytest.mark.parametrize("version", [1, 2], ids=["logistic-regression", "decision-tree-skops"])
def test_read_logged_model(mlflow_store: Any, client: Any, version: int) -> None:
    facts = mlflow_store.versions[version]
    logged = read_logged_model(client, facts.model_id)
    assert logged.model_id == facts.model_id
    assert logged.name == "model"
    assert logged.flavors == ["python_function", "sklearn"]
    assert logged.signature is not None
    assert [c["name"] for c in logged.signature["inputs"]] == ["f0", "f1", "f2"]
    assert logged.signature["outputs"][0]["type"] == "long"
    linked = [m for m in logged.metrics if m.dataset_digest is not None]
    assert [(m.key, m.value, m.dataset_name, m.dataset_digest) for m in linked] == [
        ("roc_auc", facts.metrics["roc_auc"], "credit-eval", facts.eval_digest)
    ]
    assert logged.params == facts.params


def test_unknown_logged_model(client: Any) -> None:
    with pytest.raises(LoggedModelNotFoundError, match="'m-00000000000000000000000000000000'"):
        read_logged_model(client, "m-00000000000000000000000000000000")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("flavors: [unclosed", "not valid YAML"),
        ("- a list", "not a YAML mapping"),
        ("artifact_path: model\n", "no 'flavors' mapping"),
        ("flavors: {sklearn: {}}\nsignature:\n  inputs: '[not json'\n", "signature 'inputs'"),
    ],
    ids=["bad-yaml", "not-mapping", "no-flavors", "bad-signature"],
)
def test_parse_mlmodel_rejects_malformed(content: str, reason: str) -> None:
    with pytest.raises(MalformedArtifactError, match=reason) as caught:
        parse_mlmodel(content)
    assert caught.value.path == "MLmodel"


def test_parse_mlmodel_without_signature() -> None:
    assert parse_mlmodel("flavors:\n  sklearn: {}\n  python_function: {}\n") == (
        ["python_function", "sklearn"],
        None,
    )


def test_list_artifacts_of_run_and_logged_model(mlflow_store: Any, client: Any) -> None:
    facts = mlflow_store.versions[1]
    run_paths = [e.path for e in list_run_artifacts(client, facts.run_id)]
    assert run_paths == sorted(
        [
            *mlflow_store.run_files,
            "pipeline/blob.bin",
            "pipeline/huge.txt",
            "notes.txt",
            "eval/predictions.json",
            "safety/jailbreak-core/results.json",
        ]
    )
    pipeline = list_run_artifacts(client, facts.run_id, "pipeline")
    assert [e.path for e in pipeline] == sorted(p for p in run_paths if p.startswith("pipeline/"))
    assert {e.path: e.size for e in pipeline}["pipeline/huge.txt"] == mlflow_store.huge_bytes
    model_paths = {e.path for e in list_logged_model_artifacts(client, facts.model_id)}
    assert {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml"} <= model_paths
    assert "model.skops" in model_paths


def test_run_text_artifacts_reads_configs_and_reports_skips(mlflow_store: Any, client: Any) -> None:
    listing = read_run_text_artifacts(client, mlflow_store.versions[1].run_id)
    # Text documents are read too (the reviewer screens them), not only config files.
    assert {f.path: f.content for f in listing.files} == {
        **mlflow_store.run_files,
        "notes.txt": "not a config file",
    }
    assert all(f.owner == "run" for f in listing.files)
    assert "notes.txt" in listing.paths
    skipped = {s.path: s.reason for s in listing.skipped}
    assert set(skipped) == {"pipeline/blob.bin", "pipeline/huge.txt"}
    assert "binary" in skipped["pipeline/blob.bin"]
    assert f"{mlflow_store.huge_bytes} bytes" in skipped["pipeline/huge.txt"]
    assert listing.truncated is False


def test_run_text_artifacts_listing_cap(mlflow_store: Any, client: Any) -> None:
    listing = read_run_text_artifacts(client, mlflow_store.versions[1].run_id, max_entries=3)
    assert listing.truncated is True
    assert len(listing.paths) == 3


def test_logged_model_text_artifacts(mlflow_store: Any, client: Any) -> None:
    facts = mlflow_store.versions[2]
    listing = read_logged_model_text_artifacts(client, facts.model_id)
    files = {f.path: f.content for f in listing.files}
    assert sorted(files) == ["MLmodel", "conda.yaml", "python_env.yaml", "requirements.txt"]
    assert "scikit-learn" in files["requirements.txt"].splitlines()
    mlmodel = yaml.safe_load(files["MLmodel"])
    assert mlmodel["flavors"]["sklearn"]["skops_trusted_types"] == ["sklearn.tree._tree.Tree"]
    assert mlmodel["model_id"] == facts.model_id
    assert all(f.owner == "logged_model" for f in listing.files)
    assert listing.skipped == []


def test_read_text_artifact_errors(mlflow_store: Any, client: Any) -> None:
    run_id = mlflow_store.versions[1].run_id
    with pytest.raises(ArtifactNotFoundError, match=r"'pipeline/missing\.yaml'"):
        read_text_artifact(client, "run", run_id, "pipeline/missing.yaml")
    with pytest.raises(ArtifactTooLargeError) as too_large:
        read_text_artifact(client, "run", run_id, "params.yaml", max_bytes=4)
    assert too_large.value.size == len(mlflow_store.run_files["params.yaml"])
    with pytest.raises(MalformedArtifactError, match="binary content"):
        read_text_artifact(client, "run", run_id, "pipeline/blob.bin")


def test_tree_model_round_trips_through_skops(mlflow_store: Any, client: Any) -> None:
    """The skops-serialised tree loads back with its trusted types and predicts as logged."""
    import mlflow.sklearn

    facts = mlflow_store.versions[2]
    location = client.get_logged_model(facts.model_id).artifact_location
    model = mlflow.sklearn.load_model(location)
    table = facts.eval_table
    assert type(model).__name__ == "DecisionTreeClassifier"
    features = mlflow_store.eval_features
    assert list(model.predict(features)) == list(table["prediction"])
