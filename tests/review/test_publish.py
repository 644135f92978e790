"""Publishing a decision as model-version tags, on a real MLflow SQLite store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policies.decision import Decision
from review._decide import error_decision
from review._publish import decision_tags, publish_decision_tags


def _decision(model: str) -> Decision:
    from datetime import UTC, datetime

    return error_decision(
        model=model,
        version=1,
        target_alias="champion",
        error="example",
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        duration_ms=1.0,
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from mlflow import MlflowClient

    root: Path = tmp_path_factory.mktemp("publish")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    found = MlflowClient(tracking_uri=uri, registry_uri=uri)
    found.create_registered_model("tagged")
    found.create_model_version("tagged", (root / "model").as_uri())
    return found


def test_every_tag_is_set_on_the_version(client: Any) -> None:
    decision = _decision("tagged")
    publish_decision_tags(client, decision, "abc123")
    tags = client.get_model_version("tagged", "1").tags
    assert {k: v for k, v in tags.items() if k.startswith("promogate.")} == decision_tags(
        decision, "abc123"
    )


def test_a_prompt_is_refused_before_any_tag_is_set(client: Any) -> None:
    from mlflow.exceptions import MlflowException

    client.register_prompt(name="a-prompt", template="Answer {{question}}")
    with pytest.raises(MlflowException):
        publish_decision_tags(client, _decision("a-prompt"), "abc123")
    tags = client.get_prompt_version("a-prompt", 1).tags
    assert tags is not None and not [k for k in tags if k.startswith("promogate.")]
