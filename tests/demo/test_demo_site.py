"""`promogate demo DIR` leaves a manifest and page links; `promogate serve --demo DIR` reads it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer
from rich.console import Console
from typer.testing import CliRunner

from api._server_commands import _demo_site, register_server_commands
from api.demo_site import MANIFEST_NAME, DemoManifest, DemoSiteError, read_demo_manifest
from demo.command import EXAMPLE_POLICIES, _print_page_urls
from policies.decision import Decision


def _manifest(tmp_path: Path) -> DemoManifest:
    return DemoManifest(
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        ledger_url=f"sqlite:///{tmp_path / 'promogate.db'}",
        policies_dir=EXAMPLE_POLICIES,
        decision_ids=["d1"],
    )


def test_the_manifest_round_trips(tmp_path: Path) -> None:
    written = _manifest(tmp_path)
    assert written.write(tmp_path) == tmp_path / MANIFEST_NAME
    assert read_demo_manifest(tmp_path) == written


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "run `promogate demo"), ("{not json", "cannot read the demo manifest")],
    ids=["missing", "corrupt"],
)
def test_a_directory_without_a_usable_demo_is_refused(
    tmp_path: Path, content: str | None, message: str
) -> None:
    if content is not None:
        (tmp_path / MANIFEST_NAME).write_text(content)
    with pytest.raises(DemoSiteError, match=message):
        read_demo_manifest(tmp_path)
    cli = typer.Typer()
    register_server_commands(cli)
    result = CliRunner().invoke(cli, ["serve", "--demo", str(tmp_path)])
    assert result.exit_code == 3
    assert message in result.output


@pytest.mark.parametrize(
    ("switch", "anonymous"),
    [(None, True), (False, False), (True, True)],
    ids=["default-anonymous", "require-token", "allow-anonymous"],
)
def test_serve_demo_serves_the_demo_site_anonymously_unless_told_not_to(
    tmp_path: Path, switch: bool | None, anonymous: bool
) -> None:
    manifest = _manifest(tmp_path)
    manifest.write(tmp_path)
    assert _demo_site(tmp_path, None, None, None, switch) == (
        manifest.tracking_uri,
        manifest.ledger_url,
        EXAMPLE_POLICIES,
        anonymous,
    )
    # Explicit options win over the manifest.
    assert _demo_site(tmp_path, "http://mlflow:5000", None, None, switch)[0] == (
        "http://mlflow:5000"
    )


def test_the_demo_ends_with_the_page_of_each_decision(tmp_path: Path) -> None:
    decision = Decision(
        id="0123abcd",
        model="credit-risk",
        version=3,
        verdict="block",
        policy_verdict="block",
        created_at=datetime.now(UTC),
    )
    console = Console(record=True, width=200)
    _print_page_urls(console, tmp_path, [decision], "http://127.0.0.1:8080/")
    text = console.export_text()
    assert f"promogate serve --demo {tmp_path}" in text
    assert "credit-risk v3 block    http://127.0.0.1:8080/decisions/0123abcd" in text
