"""A registered credit model with its evaluation table, built once per session (real MLflow)."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def watch_world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from support.watch_world import build_watch_world

    return build_watch_world(tmp_path_factory.mktemp("watch-world"))


@pytest.fixture(scope="session")
def watch_client(watch_world: Any) -> Any:
    from mlflow import MlflowClient

    return MlflowClient(watch_world.tracking_uri, watch_world.tracking_uri)
