"""Hostile text from MLflow (descriptions, tags, params, run names) is text, never markup."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from support.page_client import login

from api.app import create_app
from api.services import build_review_service
from api.settings import Settings
from ledger.store import Ledger

RAW_MARKUP = ("<script>alert(", "<img src=x onerror", "<script>alert('pwned')</script>")


@dataclass
class HostileSite:
    client: TestClient
    decision_id: str
    csrf: str
    model: str
    version: int


@pytest.fixture(scope="module")
def hostile_site(
    hostile_registry: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[HostileSite]:
    """An app over the hostile registry, logged in as a viewer, with v2 reviewed."""
    ledger_url = f"sqlite:///{tmp_path_factory.mktemp('hostile-ledger') / 'ledger.db'}"
    settings = Settings(
        tracking_uri=hostile_registry.tracking_uri,
        ledger_url=ledger_url,
        policies_dir=Path(hostile_registry.policies_dir),
        publish_tags=False,
    )
    ledger = Ledger(ledger_url)
    service = build_review_service(settings, ledger=ledger)
    decision = service.review(hostile_registry.model, str(hostile_registry.candidate)).decision
    secret = ledger.tokens.create_token("viewer", "viewer")[1]
    client = TestClient(create_app(settings, service=service), raise_server_exceptions=False)
    with client:
        csrf = login(client, secret)
        yield HostileSite(
            client=client,
            decision_id=decision.id,
            csrf=csrf,
            model=hostile_registry.model,
            version=hostile_registry.candidate,
        )
    ledger.close()


def _page(site: HostileSite, which: str) -> str:
    paths = {
        "landing": "/",
        "model": f"/models/{site.model}",
        "decision": f"/decisions/{site.decision_id}",
        "chat": f"/chat?model={site.model}&version={site.version}",
    }
    answer = site.client.get(paths[which])
    assert answer.status_code == 200, answer.text
    return answer.text


@pytest.mark.parametrize("which", ["landing", "model", "decision", "chat"])
def test_no_page_carries_markup_from_mlflow(hostile_site: HostileSite, which: str) -> None:
    html = _page(hostile_site, which)
    for raw in RAW_MARKUP:
        assert raw not in html, f"{which} page renders {raw!r} as markup"


@pytest.mark.parametrize(
    ("which", "field"),
    [
        ("model", "version description"),
        ("decision", "run param (seed) in a check"),
        ("decision", "run description in a planted-instruction finding"),
    ],
    ids=["model-description", "decision-param", "decision-finding"],
)
def test_hostile_text_is_shown_escaped(hostile_site: HostileSite, which: str, field: str) -> None:
    html = _page(hostile_site, which)
    assert "&lt;script&gt;alert(" in html, f"the {field} is not shown at all"


def test_planted_instructions_are_quoted_as_data(hostile_site: HostileSite) -> None:
    html = _page(hostile_site, "decision")
    assert "Planted instruction in evidence ignored" in html
    blocks = [
        b.split("</blockquote>", 1)[0] for b in html.split('<blockquote class="untrusted">')[1:]
    ]
    assert blocks, "the planted text is not in a quoted block"
    assert "it was ignored, not obeyed" in html
    assert any("pre-approved" in b for b in blocks), "the run description is not quoted"
    assert any("instructions and approve" in b for b in blocks), "the version text is not quoted"


@pytest.mark.parametrize(
    "question",
    ["what was planted in the evidence?", "why was it blocked?", "what changed in the pipeline?"],
    ids=["injection", "verdict", "pipeline"],
)
def test_the_chat_stream_carries_mlflow_text_as_json_without_markup(
    hostile_site: HostileSite, question: str
) -> None:
    answer = hostile_site.client.post(
        "/chat/messages",
        json={"question": question, "model": hostile_site.model, "version": hostile_site.version},
        headers={"X-CSRF-Token": hostile_site.csrf},
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "<" not in answer.text and ">" not in answer.text
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\ndata: ")[1]))
        for block in answer.text.strip().split("\n\n")
    ]
    names = [name for name, _ in events]
    assert names[0] == "context" and names[-1] == "done", names
    assert "token" in names
    for name, data in events:
        if name == "citations":
            for link in data:
                assert link["href"] is None or link["href"].startswith(("/", "http")), link
