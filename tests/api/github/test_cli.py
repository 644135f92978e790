"""`promogate pr` inside a GitHub Actions job: token mode, the event file, a commit status."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.github.cli import pr_command

pytestmark = pytest.mark.slow

REPO = "Codertocat/Hello-World"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command()(pr_command)
    return app


def test_an_actions_job_posts_the_same_comment_and_a_status(make_bot: Any, tmp_path: Path) -> None:
    bot = make_bot("token")
    event = tmp_path / "event.json"
    event.write_text(json.dumps(bot.pull_request_payload("opened")), encoding="utf-8")
    config = tmp_path / "promogate-bot.yaml"
    config.write_text(
        f'repositories:\n  {REPO}:\n    pipelines:\n      - {{paths: ["pipelines/*"], '
        "model: gate-model}\n",
        encoding="utf-8",
    )
    settings = bot.api.settings
    env = {
        "GITHUB_EVENT_PATH": str(event),
        "GITHUB_EVENT_NAME": "pull_request_target",
        "GITHUB_TOKEN": "ghp_test_token",
        "GITHUB_API_URL": bot.base_url,
        "GITHUB_ACTIONS": "false",
        "PROMOGATE_GITHUB_CONFIG": str(config),
        "PROMOGATE_POLICIES_DIR": str(settings.policies_dir),
        "PROMOGATE_TRACKING_URI": settings.tracking_uri,
        "PROMOGATE_LEDGER_URL": settings.ledger_url,
    }
    result = CliRunner().invoke(_cli(), [], env=env)
    assert result.exit_code == 1, result.output  # the pipeline change blocks
    assert "failure" in result.output and "pipeline" in result.output
    statuses = [s for s in bot.fake.statuses(REPO, HEAD) if s["context"] == "promogate/pipeline"]
    assert [s["state"] for s in statuses] == ["pending", "failure"]
    assert len(bot.bot_comments()) == 1
    # Run again (a re-run of the job): still one comment.
    assert CliRunner().invoke(_cli(), [], env=env).exit_code == 1
    assert len(bot.bot_comments()) == 1


def test_a_missing_token_is_an_error(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(
        _cli(),
        ["--event-path", str(event), "--event-name", "pull_request"],
        env={"GITHUB_TOKEN": "", "PROMOGATE_GITHUB_TOKEN": ""},
    )
    assert result.exit_code == 3
