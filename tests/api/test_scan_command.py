"""`promogate scan models:/NAME/VERSION` with human, --json and --sarif output."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api._scan_commands import parse_model_uri, scan_command

# The command as `promogate` registers it, on an app of its own so the test leaves the global
# app as it found it.
app = typer.Typer()
app.callback()(lambda: None)
app.command(name="scan")(scan_command)


def test_promogate_registers_scan() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "scan", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--sarif" in done.stdout


def _run(registry: Any, *args: str) -> Any:
    return CliRunner().invoke(
        app,
        [
            "scan",
            *args,
            "--tracking-uri",
            registry.tracking_uri,
            "--policies",
            str(registry.policies_dir),
        ],
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [("models:/m/3", ("m", "3")), ("models:/credit-risk@champion", ("credit-risk", "@champion"))],
    ids=["version", "alias"],
)
def test_model_uris(uri: str, expected: tuple[str, str]) -> None:
    assert parse_model_uri(uri) == expected


def test_bad_uri_is_a_usage_error(security_registry: Any) -> None:
    result = _run(security_registry, "runs:/abc/model")
    assert result.exit_code == 2
    assert "models:/NAME/VERSION" in result.output


def test_clean_version_json(security_registry: Any) -> None:
    result = _run(security_registry, "models:/secure-model/1", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["policies"] == ["secure-models"]
    assert report["artifact_digest"]
    assert {c["status"] for c in report["checks"]} == {"pass"}


def test_payload_version_sarif(security_registry: Any) -> None:
    result = _run(security_registry, "models:/secure-model/2", "--sarif")
    assert result.exit_code == 1, result.output
    sarif = json.loads(result.output)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = {r["id"] for r in run["tool"]["driver"]["rules"]}
    failing = {r["ruleId"] for r in run["results"]}
    assert {"security.pickles.picklescan", "security.pickles.fickling"} <= failing <= rule_ids
    pickle_result = next(r for r in run["results"] if r["ruleId"] == "security.pickles.fickling")
    assert pickle_result["level"] == "error"
    location = pickle_result["locations"][0]["physicalLocation"]["artifactLocation"]
    assert location == {"uri": "model.pkl", "uriBaseId": "MODEL_ARTIFACTS"}
    assert run["originalUriBaseIds"]["MODEL_ARTIFACTS"]["uri"].startswith("models:/m-")


def test_human_output(security_registry: Any) -> None:
    result = _run(security_registry, "models:/secure-model/2")
    assert result.exit_code == 1
    assert "security.pickles.fickling" in result.output
    assert "FAIL" in result.output
