"""External anchors end to end: the API checkpoints the head while it serves, an MLflow run keeps
checkpoints, and `promogate ledger verify --anchors` catches a truncation with a rewound head."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from api import _anchoring
from api._anchoring import (
    DECISION_ID_TAG,
    RECORD_HASH_TAG,
    MlflowRunAnchorStore,
    published_record_anchors,
)
from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app
from ledger.anchors import Checkpoint, FileAnchorStore, verify_anchors, write_checkpoint
from ledger.store import Ledger
from ledger.tables import HEAD_ROW_ID, LedgerHeadRow, LedgerRecordRow

MODEL = "gate-model"


def test_the_api_checkpoints_the_head_while_it_serves(make_api: Any, tmp_path: Path) -> None:
    anchors = tmp_path / "anchors.jsonl"
    api = make_api(anchor_file=anchors, anchor_interval_s=0.2)
    answer = api.client.post(
        "/v1/gate", json={"model": MODEL, "version": 2}, headers=api.headers("deployer")
    )
    assert answer.status_code == 200
    api.settle()
    head = api.ledger.head()
    deadline = time.monotonic() + 60.0
    while time.monotonic() < deadline:
        checkpoints = FileAnchorStore(anchors).read()
        if checkpoints and (checkpoints[-1].seq, checkpoints[-1].record_hash) == head:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"no checkpoint of head {head} in {anchors.read_text()!r}")
    assert verify_anchors(api.ledger, [FileAnchorStore(anchors)]).ok


def test_an_mlflow_run_keeps_checkpoints(gate_registry: Any, tmp_path: Path) -> None:
    client = mlflow.MlflowClient(gate_registry.tracking_uri)
    experiment = client.get_experiment_by_name("gate-tests")
    assert experiment is not None
    run = client.create_run(experiment.experiment_id, run_name="ledger-anchors")
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    store = MlflowRunAnchorStore(client, run.info.run_id)
    first = write_checkpoint(ledger, [store])
    assert store.read() == [first]
    second = Checkpoint(seq=3, record_hash="b" * 64, written_at=first.written_at)
    store.write(second)
    report = verify_anchors(ledger, [store])
    assert [p.kind for p in report.problems] == ["rewound"]


def test_ledger_verify_with_anchors_catches_a_rewound_head(make_api: Any, tmp_path: Path) -> None:
    api = make_api()
    for version in (2, 3):
        api.client.post(
            "/v1/gate", json={"model": MODEL, "version": version}, headers=api.headers("deployer")
        )
    api.settle()
    anchors = tmp_path / "anchors.jsonl"
    # The CLI refuses a SQLite tracking store that does not exist (it never creates one).
    (tmp_path / "empty-mlflow.db").touch()
    # In process: what is under test is the anchor check, not the console script's start-up.
    env: dict[str, str | None] = {
        **{k: None for k in os.environ if k.startswith("PROMOGATE_")},
        "PROMOGATE_LEDGER_URL": api.settings.ledger_url,
        "PROMOGATE_ANCHOR_FILE": str(anchors),
        "PROMOGATE_TRACKING_URI": f"sqlite:///{tmp_path / 'empty-mlflow.db'}",
    }

    _mount_optional_apps()

    def promogate(*args: str) -> Result:
        return CliRunner().invoke(app, list(args), env=env)

    anchored = promogate("ledger", "anchor")
    assert anchored.exit_code == 0, anchored.output
    assert promogate("ledger", "verify", "--anchors").exit_code == 0
    # Delete the newest decision and rewind the head: the chain alone verifies again.
    with api.ledger.database.write() as session:
        last = session.execute(
            select(LedgerRecordRow).order_by(LedgerRecordRow.seq.desc()).limit(1)
        ).scalar_one()
        previous = session.get(LedgerRecordRow, last.seq - 1)
        head = session.get(LedgerHeadRow, HEAD_ROW_ID)
        assert previous is not None and head is not None
        session.delete(last)
        head.seq, head.record_hash = previous.seq, previous.record_hash
    assert promogate("ledger", "verify").exit_code == 0
    caught = promogate("ledger", "verify", "--anchors")
    assert caught.exit_code == 1
    report = json.loads(caught.stdout)
    assert report["chain"]["ok"] is True
    assert [p["kind"] for p in report["anchors"]["problems"]] == ["rewound"]


def test_every_published_record_hash_is_read_across_pages_and_models(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "mlflow.db"
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    source = tmp_path / "model"
    source.mkdir()
    published: set[tuple[str, str]] = set()
    # A quote in a name broke the filter of a per-model search; the search is of all versions.
    for name in ("alpha", "team's model"):
        client.create_registered_model(name)
        for n in range(3):
            version = client.create_model_version(name, str(source))
            if n == 1:
                continue  # never reviewed: no tags
            record_id = f"{name}-{version.version}"
            client.set_model_version_tag(name, version.version, DECISION_ID_TAG, record_id)
            client.set_model_version_tag(name, version.version, RECORD_HASH_TAG, "c" * 64)
            published.add((record_id, "c" * 64))
    monkeypatch.setattr(_anchoring, "_VERSIONS_PAGE", 2)
    found = list(published_record_anchors(client))
    assert {(a.record_id, a.record_hash) for a in found} == published
    assert len(found) == len(published)
    assert '"team\'s model" v3 tags' in {a.source for a in found}


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_ledger_verify_with_anchors_says_mlflow_is_down_and_exits_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    Ledger(ledger_url).head()
    for key in [k for k in os.environ if k.startswith("PROMOGATE_")]:
        monkeypatch.delenv(key)
    # The command sets MLflow's retry variables for its process; these restore them afterwards.
    for key in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.setenv(key, os.environ.get(key, "1"))
    monkeypatch.setenv("PROMOGATE_MLFLOW_HTTP_RETRIES", "0")
    _mount_optional_apps()
    code = run_app(
        app,
        ["ledger", "verify", "--anchors", "--ledger-url", ledger_url,
         "--tracking-uri", f"http://127.0.0.1:{_closed_port()}"],
    )  # fmt: skip
    err = capsys.readouterr().err
    assert code == 3
    assert err.startswith("error: search_model_versions() failed: MLflow is unavailable"), err
    assert "Traceback" not in err
    # MLflow's client was told the settings' retries, not left at its own seven with doubling
    # waits, which kept the command waiting for minutes.
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
