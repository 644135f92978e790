"""The demo's planted pickle is blocked by its review, which never loads it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demo._planted_pickle import PLANTED_MODEL_NAME, build_planted_pickle_versions
from demo.command import review_demo_candidates


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[object]]:
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")
    root = tmp_path_factory.mktemp("planted")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    versions = build_planted_pickle_versions(uri, artifact_location=(root / "artifacts").as_uri())
    return uri, list(versions)


def test_planted_pickle_is_blocked_and_never_loaded(
    planted: tuple[str, list[object]], tmp_path: Path
) -> None:
    uri, versions = planted
    champion, candidate = versions
    marker = Path(str(candidate.marker))  # type: ignore[attr-defined]
    assert not marker.exists()

    decisions, mismatches = review_demo_candidates(uri, versions, tmp_path / "ledger.db")  # type: ignore[arg-type]

    assert mismatches == []
    by_version = {d.version: d for d in decisions}
    assert by_version[champion.version].verdict == "approve"  # type: ignore[attr-defined]
    blocked = by_version[candidate.version]  # type: ignore[attr-defined]
    assert blocked.model == PLANTED_MODEL_NAME and blocked.verdict == "block"
    failed = {c.id for c in blocked.checks if c.status == "fail"}
    assert set(candidate.failing_checks) <= failed  # type: ignore[attr-defined]
    assert all(not c.overridable for c in blocked.checks if c.id.startswith("security."))
    # The payload's only effect would be this file: the review never unpickled the model.
    assert not marker.exists()
    assert marker.parent.is_dir()
