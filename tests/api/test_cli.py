"""The CLI end to end on the demo registry: exit codes, recorded decisions, tags, bad input."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
from mlflow import MlflowClient
from typer.testing import CliRunner

from api.cli import app
from demo.command import EXAMPLE_POLICIES
from ledger.store import Ledger

pytestmark = pytest.mark.slow

runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture()
def ledger_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


def _invoke(args: list[str], *, tracking_uri: str, ledger_url: str) -> Any:
    return runner.invoke(
        app,
        [*args, "--tracking-uri", tracking_uri, "--ledger-url", ledger_url],
        catch_exceptions=False,
    )


@pytest.mark.parametrize(
    ("command", "version", "expected_exit", "verdict"),
    [
        ("gate", "2", 0, "approve"),
        ("gate", "3", 1, "block"),
        ("review", "4", 1, "block"),
        ("review", "5", 1, "block"),
        ("gate", "@champion", 0, "approve"),
    ],
    ids=["clean-approves", "segment-regression-blocks", "other-eval-set", "overlap", "alias"],
)
def test_exit_codes_and_recorded_decisions(
    demo_registry: Any,
    ledger_url: str,
    command: str,
    version: str,
    expected_exit: int,
    verdict: str,
) -> None:
    result = _invoke(
        [command, "credit-risk", version, "--policies", str(EXAMPLE_POLICIES), "--json"],
        tracking_uri=demo_registry.tracking_uri,
        ledger_url=ledger_url,
    )
    assert result.exit_code == expected_exit, result.output
    body = json.loads(result.output)
    assert body["verdict"] == verdict
    # `review` prints the decision; `gate` prints the gate's answer, as `POST /v1/gate` does.
    decision_id = body["decision_id"] if command == "gate" else body["id"]
    recorded = Ledger(ledger_url).get_decision(decision_id)
    assert recorded.verdict == verdict
    assert recorded.evidence_digest == body["evidence_digest"]
    tags = (
        MlflowClient(demo_registry.tracking_uri)
        .get_model_version("credit-risk", str(recorded.version))
        .tags
    )
    assert tags["promogate.decision_id"] == decision_id
    assert tags["promogate.verdict"] == verdict


def test_policy_forbidding_agent_approval_escalates(
    demo_registry: Any, ledger_url: str, tmp_path: Path
) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (EXAMPLE_POLICIES / "credit-risk.yaml").read_text()
    assert "may_approve: true" in text
    (policies / "credit-risk.yaml").write_text(
        text.replace("may_approve: true", "may_approve: false")
    )
    result = _invoke(
        ["gate", "credit-risk", "2", "--policies", str(policies)],
        tracking_uri=demo_registry.tracking_uri,
        ledger_url=ledger_url,
    )
    assert result.exit_code == 2, result.output
    assert result.output.startswith("deny escalate credit-risk v2 @champion")


def test_review_prints_tables_and_markdown(demo_registry: Any, ledger_url: str) -> None:
    rich = _invoke(
        ["review", "credit-risk", "3", "--policies", str(EXAMPLE_POLICIES), "--no-publish"],
        tracking_uri=demo_registry.tracking_uri,
        ledger_url=ledger_url,
    )
    assert rich.exit_code == 1
    assert "segments.region.recall" in rich.output
    assert "Diagnostic questions" in rich.output
    markdown = _invoke(
        ["review", "credit-risk", "3", "--policies", str(EXAMPLE_POLICIES), "--markdown"],
        tracking_uri=demo_registry.tracking_uri,
        ledger_url=ledger_url,
    )
    assert markdown.output.startswith("### ❌ promogate: **block** `credit-risk` v3")
    # The planted "pre-approved" text in v3's description is reported, not obeyed.
    assert "Planted instruction" in markdown.output


def _write_bad_policy(directory: Path) -> None:
    directory.mkdir()
    (directory / "broken.yaml").write_text(
        "apiVersion: promogate/v1\nkind: PromotionPolicy\nmetadata:\n  name: broken\n"
        "  revision: 1\nmatch:\n  model: 'credit-*'\nmetrics:\n"
        "  - name: roc_auc\n    minimum: 0.8\n"
    )


@pytest.mark.parametrize(
    ("case", "model", "version", "message"),
    [
        ("unknown-model", "credit-riks", "2", "credit-riks"),
        ("unknown-version", "credit-risk", "99", "99"),
        ("unknown-alias", "credit-risk", "@nowhere", "nowhere"),
        ("bad-policy", "credit-risk", "2", "broken.yaml:10"),
        ("mlflow-down", "credit-risk", "2", "127.0.0.1"),
    ],
    ids=lambda v: str(v),
)
def test_bad_input_exits_3_and_blocks(
    demo_registry: Any,
    ledger_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    model: str,
    version: str,
    message: str,
) -> None:
    policies = EXAMPLE_POLICIES
    tracking_uri = demo_registry.tracking_uri
    if case == "bad-policy":
        policies = tmp_path / "bad"
        _write_bad_policy(policies)
    if case == "mlflow-down":
        tracking_uri = f"http://127.0.0.1:{_free_port()}"
        monkeypatch.setenv("PROMOGATE_MLFLOW_HTTP_RETRIES", "0")
        monkeypatch.setenv("PROMOGATE_MLFLOW_HTTP_TIMEOUT_S", "2")
    result = _invoke(
        [
            "gate",
            "credit-risk" if case != "unknown-model" else model,
            version,
            "--policies",
            str(policies),
            "--json",
        ],
        tracking_uri=tracking_uri,
        ledger_url=ledger_url,
    )
    assert result.exit_code == 3, result.output
    answer = json.loads(result.stdout)
    assert answer["verdict"] == "block" and answer["allowed"] is False
    assert message in answer["error"]
    ledger = Ledger(ledger_url)
    # A review that never resolved a version (a typo) is counted, not appended to the ledger.
    unresolved = case.startswith("unknown-")
    expected = [] if unresolved else [answer["decision_id"]]
    assert [d.id for d in ledger.list_decisions()] == expected
    assert ledger.verify().ok


def test_ledger_verify_detects_an_edited_record(demo_registry: Any, ledger_url: str) -> None:
    for version in ("2", "3"):
        _invoke(
            ["gate", "credit-risk", version, "--policies", str(EXAMPLE_POLICIES)],
            tracking_uri=demo_registry.tracking_uri,
            ledger_url=ledger_url,
        )
    ok = runner.invoke(app, ["ledger", "verify", "--ledger-url", ledger_url])
    assert ok.exit_code == 0, ok.output
    engine = sqlalchemy.create_engine(ledger_url)
    with engine.begin() as conn:
        conn.execute(
            sqlalchemy.text("UPDATE ledger_records SET verdict = 'approve' WHERE verdict = 'block'")
        )
    engine.dispose()
    broken = runner.invoke(app, ["ledger", "verify", "--ledger-url", ledger_url])
    assert broken.exit_code == 1
    assert json.loads(broken.output)["ok"] is False


@pytest.mark.parametrize(
    ("args", "expected_exit", "needle"),
    [
        (["policy", "validate", str(EXAMPLE_POLICIES)], 0, "ok credit-risk@"),
        (["policy", "schema"], 0, '"PromotionPolicy"'),
    ],
    ids=["validate-examples", "schema"],
)
def test_policy_commands(args: list[str], expected_exit: int, needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == expected_exit, result.output
    assert needle in result.output


def test_policy_validate_names_file_and_line(tmp_path: Path) -> None:
    _write_bad_policy(tmp_path / "bad")
    result = runner.invoke(app, ["policy", "validate", str(tmp_path / "bad")])
    assert result.exit_code == 3
    assert "broken.yaml:10" in result.output


def test_a_repeated_review_takes_its_screening_and_model_hashes_from_disk(
    demo_registry: Any, ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a later `promogate review` process finds in the cache: the same decision, with
    neither the screening nor the model files' reads done again."""
    import agents.untrusted as untrusted
    import tools.model_importance as importance
    from tools.evidence_cache import IMPORTANCE_CACHE_BYTES

    monkeypatch.setenv("PROMOGATE_DISK_CACHE", "true")
    monkeypatch.setenv("PROMOGATE_CACHE_DIR", str(tmp_path / "cache"))
    read: list[str] = []
    download = importance.download_artifact

    def recorded(client: Any, kind: Any, owner: str, path: str, **kwargs: Any) -> bytes:
        read.append(path)
        return download(client, kind, owner, path, **kwargs)

    monkeypatch.setattr(importance, "download_artifact", recorded)

    def review() -> dict[str, Any]:
        # A new process: nothing in memory.
        untrusted.clear_screening_cache()
        importance.IMPORTANCE_CACHE.clear()
        importance._MODEL_FILE_HASHES._hashes.clear()
        result = _invoke(
            ["review", "credit-risk", "3", "--policies", str(EXAMPLE_POLICIES), "--json"],
            tracking_uri=demo_registry.tracking_uri,
            ledger_url=ledger_url,
        )
        assert result.exit_code == 1, result.output
        body: dict[str, Any] = json.loads(result.output)
        return body

    try:
        # Every file counts as settled, however recently the demo wrote it (`RACY_NS`).
        monkeypatch.setattr("tools.file_hashes.RACY_NS", 0)
        first = review()
        assert len(list((tmp_path / "cache" / "screenings").glob("*.entry"))) == 1
        assert any(path.endswith(".skops") for path in read)
        read.clear()

        def refused(*args: object, **kwargs: object) -> Any:
            raise AssertionError("screened afresh although the screening was on disk")

        monkeypatch.setattr(untrusted, "_screen_version", refused)
        second = review()
    finally:
        untrusted.use_screening_disk_cache(None)
        importance.use_importance_disk_cache(None)
        importance.IMPORTANCE_CACHE.resize(IMPORTANCE_CACHE_BYTES)
    assert not [path for path in read if path.endswith(".skops")], read
    assert {key for key in first if first[key] != second[key]} <= {
        "id",
        "created_at",
        "duration_ms",
    }
    assert "Planted instruction" in json.dumps(second["findings"])
