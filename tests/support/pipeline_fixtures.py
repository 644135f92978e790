"""The pipeline-config fixture files under tests/fixtures/pipeline, as evidence objects."""

from __future__ import annotations

from pathlib import Path

from tools.evidence import ArtifactFile, MetricPoint

__all__ = ["FIXTURES", "PREFIX", "artifacts", "curve", "tree"]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "pipeline"

# Where each format's files live as run artifacts (logged-model files for `deps`).
PREFIX = {
    "yaml": "",
    "json": "pipeline/",
    "dvc": "",
    "mlproject": "",
    "kubeflow": "pipeline/",
    "hydra": "pipeline/",
    "deps": "",
    "label": "",
}


def tree(fmt: str, revision: str) -> dict[str, str]:
    """Artifact path -> text of one format's `old` or `new` fixture files."""
    root = FIXTURES / fmt / revision
    return {
        PREFIX[fmt] + p.relative_to(root).as_posix(): p.read_text()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def artifacts(fmt: str, revision: str) -> list[ArtifactFile]:
    """The same files as `ArtifactFile`s owned by the run (the logged model for `deps`)."""
    owner = "logged_model" if fmt == "deps" else "run"
    return [
        ArtifactFile(path=path, owner=owner, content=text)
        for path, text in tree(fmt, revision).items()
    ]


def curve(values: list[float]) -> list[MetricPoint]:
    """A metric history with steps 0, 1, 2, ..."""
    return [MetricPoint(step=i, value=v) for i, v in enumerate(values)]
