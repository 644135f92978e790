"""External anchors end to end: the API checkpoints the head while it serves, an MLflow run keeps
checkpoints, and `promogate ledger verify --anchors` catches a truncation with a rewound head."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import mlflow
from click.testing import Result
from sqlalchemy import select
from typer.testing import CliRunner

from api._anchoring import MlflowRunAnchorStore
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
