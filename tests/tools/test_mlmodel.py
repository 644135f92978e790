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


SKOPS = "flavors:\n  sklearn: {serialization_format: skops}\n"


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(SKOPS.replace("sklearn", "xgboost"), id="flavor"),
        pytest.param(
            SKOPS + 'signature: {inputs: \'[{"type": "double", "name": "a"}]\'}\n',
            id="signature",
        ),
        pytest.param(
            SKOPS.replace("flavors:\n", "flavors:\n  python_function: {}\n"), id="flavor-added"
        ),
    ],
)
def test_a_logged_models_mlmodel_is_kept_under_its_text_and_a_changed_text_is_parsed_afresh(
    changed: str,
) -> None:
    from tools._logged_models import MLMODEL_CACHE
    from tools._logged_models import parse_mlmodel as parse_logged_model_mlmodel

    MLMODEL_CACHE.clear()
    first = parse_logged_model_mlmodel(SKOPS)
    assert parse_logged_model_mlmodel(SKOPS) == first
    assert MLMODEL_CACHE.stats().hits == 1
    # Each answer is what parsing that text gives, whatever was parsed before it.
    MLMODEL_CACHE.resize(0)
    uncached = parse_logged_model_mlmodel(changed)
    MLMODEL_CACHE.resize(1024 * 1024)
    misses = MLMODEL_CACHE.stats().misses
    assert parse_logged_model_mlmodel(changed) == uncached
    assert parse_logged_model_mlmodel(changed) != first
    assert MLMODEL_CACHE.stats().misses == misses + 1
    assert parse_logged_model_mlmodel(SKOPS) == first


def test_a_caller_changing_its_signature_does_not_change_the_next_answer() -> None:
    from tools._logged_models import parse_mlmodel as parse_logged_model_mlmodel

    text = SKOPS + "signature: {inputs: '[]'}\n"
    flavors, signature = parse_logged_model_mlmodel(text)
    assert signature is not None
    flavors.append("mutated")
    signature["inputs"] = "mutated"
    assert parse_logged_model_mlmodel(text) == (["sklearn"], {"inputs": []})
