"""MLmodel load facts from real MLflow-saved models and crafted edits."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.model_artifacts import save_sklearn_model, trained_tree

from tools._mlmodel import MLmodelParseError, parse_mlmodel


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("mlmodel")
    model = trained_tree()
    return {
        "skops": save_sklearn_model(root / "skops", model),
        "cloudpickle": save_sklearn_model(
            root / "cloudpickle", model, serialization_format="cloudpickle"
        ),
    }


def test_skops_model(saved: dict[str, Path]) -> None:
    facts = parse_mlmodel((saved["skops"] / "MLmodel").read_text())
    sklearn = facts.flavor("sklearn")
    assert sklearn is not None
    assert sklearn.serialization_format == "skops"
    assert sklearn.skops_trusted_types == ["sklearn.tree._tree.Tree"]
    assert facts.load_code == []
    assert facts.mlflow_version


def test_cloudpickle_model(saved: dict[str, Path]) -> None:
    facts = parse_mlmodel((saved["cloudpickle"] / "MLmodel").read_text())
    sklearn = facts.flavor("sklearn")
    assert sklearn is not None and sklearn.serialization_format == "cloudpickle"


def test_format_comes_from_mlmodel_not_the_file_name(saved: dict[str, Path]) -> None:
    # A cloudpickle renamed model.skops is still loaded with cloudpickle.
    text = (saved["cloudpickle"] / "MLmodel").read_text().replace("model.pkl", "model.skops")
    sklearn = parse_mlmodel(text).flavor("sklearn")
    assert sklearn is not None
    assert sklearn.model_file == "model.skops"
    assert sklearn.serialization_format == "cloudpickle"


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        (("    code: null", "    code: code"), "code_paths"),
        (("loader_module: mlflow.sklearn", "loader_module: evil_loader"), "loader_module"),
        (("python_function:\n", "python_function:\n    model_code_path: model.py\n"), "model_code"),
        (
            ("python_function:\n", "python_function:\n    python_model: python_model.pkl\n"),
            "python_model",
        ),
    ],
    ids=["code-paths", "custom-loader", "models-from-code", "pickled-python-model"],
)
def test_code_that_runs_on_load_is_flagged(
    saved: dict[str, Path], edit: tuple[str, str], kind: str
) -> None:
    text = (saved["skops"] / "MLmodel").read_text()
    assert edit[0] in text
    facts = parse_mlmodel(text.replace(edit[0], edit[1], 1))
    assert kind in {c.kind for c in facts.load_code}


@pytest.mark.parametrize(
    "text",
    ["", "flavors: [1, 2]", "not: [valid", "x" * (300 * 1024)],
    ids=["empty", "flavors-not-mapping", "bad-yaml", "too-large"],
)
def test_unreadable_mlmodel_is_an_error(text: str) -> None:
    with pytest.raises(MLmodelParseError):
        parse_mlmodel(text)
