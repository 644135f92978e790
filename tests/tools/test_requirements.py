"""Requirements of a logged model, read from its environment files."""

from __future__ import annotations

import pytest

from tools._requirements import read_model_requirements

PYTHON_ENV = (
    "python: 3.11.7\nbuild_dependencies:\n- pip\n- setuptools\n"
    "dependencies:\n- -r requirements.txt\n"
)
CONDA = (
    "channels: [conda-forge]\ndependencies:\n- python=3.11.7\n- pip\n- pip:\n"
    "  - mlflow==3.17.2\n  - scikit-learn\nname: mlflow-env\n"
)


@pytest.mark.parametrize(
    ("line", "kind", "name", "pinned"),
    [
        ("scikit-learn==1.5.2", "package", "scikit-learn", "1.5.2"),
        ("Scikit_Learn==1.5.2 ; python_version >= '3.9'", "package", "scikit-learn", "1.5.2"),
        ("numpy>=1.26", "package", "numpy", None),
        ("numpy==2.*", "package", "numpy", None),
        ("numpy", "package", "numpy", None),
        ("numpy>=1,<=1", "package", "numpy", None),
        ("git+https://github.com/acme/feat.git@main#egg=feat", "vcs", None, None),
        ("feat @ git+https://github.com/acme/feat.git", "vcs", "feat", None),
        ("https://example.com/feat-1.0.whl", "url", None, None),
        ("feat @ https://example.com/feat-1.0.whl", "url", "feat", None),
        ("./wheels/feat-1.0-py3-none-any.whl", "path", None, None),
        ("feat @ file:///opt/feat", "path", "feat", None),
        ("-e ./src", "path", None, None),
        ("--extra-index-url https://mirror.example.com/simple", "index", None, None),
        ("--trusted-host mirror.example.com", "index", None, None),
        ("not a requirement!!", "invalid", None, None),
    ],
    ids=[
        "pinned",
        "pinned-with-marker",
        "range",
        "wildcard",
        "bare",
        "range-of-one",
        "vcs",
        "named-vcs",
        "url",
        "named-url",
        "local-wheel",
        "file-url",
        "editable",
        "extra-index",
        "trusted-host",
        "invalid",
    ],
)
def test_requirement_lines(line: str, kind: str, name: str | None, pinned: str | None) -> None:
    [entry] = read_model_requirements({"requirements.txt": line + "  # comment\n"})
    assert (entry.kind, entry.name, entry.pinned) == (kind, name, pinned)


def test_mlflow_env_files_together() -> None:
    files = {
        "requirements.txt": "mlflow==3.17.2\nscikit-learn==1.5.2\n",
        "python_env.yaml": PYTHON_ENV,
        "conda.yaml": CONDA,
    }
    entries = read_model_requirements(files)
    by_source = {(e.source, e.name): e for e in entries}
    # python_env.yaml includes requirements.txt: read once, not twice.
    assert sum(e.source == "requirements.txt" for e in entries) == 2
    assert by_source[("python_env.yaml:build_dependencies", "pip")].tool
    assert by_source[("conda.yaml:conda", "python")].pinned == "3.11.7"
    # conda.yaml's own pip section may disagree with requirements.txt: both are read.
    assert by_source[("conda.yaml:pip", "scikit-learn")].pinned is None


def test_missing_include_is_invalid() -> None:
    [entry] = read_model_requirements({"requirements.txt": "-r other.txt\n"})
    assert entry.kind == "invalid"
    assert "other.txt" in str(entry.problem)
