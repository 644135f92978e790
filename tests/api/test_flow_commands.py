"""`promote`, `override create|list|revoke`, `reviews list|show` with `--server`, against the API
served by uvicorn on a loopback port over the session's real `mlflow server`."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app

MODEL = "gate-model"
ROC_DROP = "metrics.roc_auc.max_drop"


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, token: str, *args: str
) -> tuple[int, str, str]:
    _mount_optional_apps()
    monkeypatch.setenv("PROMOGATE_TOKEN", token)
    code = run_app(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.slow
def test_the_whole_flow_through_the_server(
    make_live_api: Callable[..., Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    target = f"prod-{secrets.token_hex(3)}"
    with make_live_api(f"sqlite:///{tmp_path / 'ledger.db'}") as live:
        lead = live.ledger.tokens.create_token("release-lead", "approver")[1]
        deployer, viewer = live.tokens["deployer"], live.tokens["viewer"]
        server = ["--server", live.url]

        def run(token: str, *args: str) -> tuple[int, str, str]:
            return _run(capsys, monkeypatch, token, *args)

        code, out, _ = run(deployer, "gate", *server, MODEL, "v3", "--target-alias", target)
        assert code == 1, out
        code, out, err = run(deployer, "promote", MODEL, "3", "--target-alias", target, *server)
        assert code == 1 and "HTTP 409" in err, err

        code, out, _ = run(viewer, "reviews", "list", "--model", MODEL, "--version", "3", *server)
        assert code == 0
        decision_id, _, verdict = out.splitlines()[0].split(" ")[:3]
        assert verdict == "v3"
        code, out, _ = run(viewer, "reviews", "show", decision_id, *server)
        assert code == 0 and out.startswith(f"block {MODEL} v3")
        assert f"check fail {ROC_DROP}" in out

        code, out, err = run(
            lead, "override", "create", MODEL, "v3", "--check-id", ROC_DROP,
            "--justification", "v3 is the fallback model of the outage runbook",
            "--expires-in-hours", "12", "--target-alias", target, *server, "--json",
        )  # fmt: skip
        assert code == 0, err
        override = json.loads(out)
        assert override["approver"] == "release-lead" and override["check_ids"] == [ROC_DROP]
        code, out, _ = run(viewer, "override", "list", MODEL, "3", *server)
        assert code == 0 and override["id"] in out

        code, out, _ = run(deployer, "gate", *server, MODEL, "3", "--target-alias", target)
        assert code == 0, out
        code, out, err = run(deployer, "promote", MODEL, "3", "--target-alias", target, *server)
        assert code == 0 and out.startswith(f"promoted {MODEL} v3 to @{target}"), err
        code, out, err = run(
            deployer, "promote", MODEL, "3", "--target-alias", target, *server, "--json"
        )
        assert code == 0, err
        again = json.loads(out)
        assert again["unchanged"] is True and again["version"] == 3

        code, out, err = run(
            lead, "override", "revoke", override["id"], "--reason", "runbook closed", *server
        )
        assert code == 0, err
        code, out, _ = run(viewer, "override", "list", MODEL, "3", *server)
        assert "no active overrides" in out
        code, out, err = run(
            lead, "override", "revoke", override["id"], "--reason", "again", *server
        )
        assert code == 1 and "already revoked" in err
        assert live.ledger.verify().ok


def test_an_unreachable_server_exits_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for args in (
        ["promote", MODEL, "2", "--server", "http://127.0.0.1:9"],
        ["reviews", "list", "--server", "http://127.0.0.1:9"],
        ["override", "list", MODEL, "2", "--server", "not-a-url"],
    ):
        code, _, err = _run(capsys, monkeypatch, "x", *args)
        assert code == 3, (args, err)
        assert "error:" in err
