"""Fixtures of the PR bot tests: a fake GitHub on loopback, the API on the session's registry,
and signed deliveries built from GitHub's published example payloads (``../shared``)."""

from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from api.github.signature import sign_payload
from api.github.testing import FakeGitHub, FakePull, generate_app_key

REPO = "Codertocat/Hello-World"
NUMBER = 2
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
BASE = "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
SECRET = "webhook-secret-for-tests"
APP_ID = "4242"
BOT_CONFIG = f"""\
repositories:
  {REPO}:
    pipelines:
      - {{paths: ["pipelines/*"], model: gate-model}}
    requests: ["promotions/*.yaml"]
approvers:
  release-lead: [alice, "@acme/ml-leads"]
"""
PIPELINE_RULES = """\
pipeline:
  require: [seed]
  forbid_changes: ["data.source"]
"""
TRAIN_BASE = """\
data:
  source: s3://bucket/credit/v1
  window: 365d
seed: 7
model:
  C: 1.0
"""
TRAIN_HEAD = """\
data:
  source: s3://bucket/credit/v2
  window: 90d
seed: 7
model:
  C: 0.5
"""


def request_file(version: int, target: str = "champion") -> str:
    return (
        "apiVersion: promogate/v1\nkind: PromotionRequest\n"
        f"model: gate-model\nversion: {version}\ntarget_alias: {target}\n"
    )


@pytest.fixture(scope="session")
def webhook_samples(shared_data: Path) -> Path:
    folder = shared_data / "github-webhooks"
    if not folder.is_dir():
        pytest.skip(f"GitHub webhook samples {folder} are absent")
    return folder


@pytest.fixture(scope="session")
def app_key() -> tuple[str, str]:
    return generate_app_key()


@dataclass
class BotHarness:
    """The API with the PR bot, a fake GitHub behind it, and ways to deliver events."""

    api: Any
    fake: FakeGitHub
    samples: Path
    mode: Literal["app", "token"]
    base_url: str

    def sample(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.samples / name).read_text(encoding="utf-8"))
        return copy.deepcopy(data)

    def pull_request_payload(
        self, action: str = "opened", *, head: str = HEAD, before: str | None = None
    ) -> dict[str, Any]:
        name = "synchronize" if action == "synchronize" else "opened"
        payload = self.sample(f"pull_request/{name}.payload.json")
        payload["action"] = action
        payload["pull_request"]["head"]["sha"] = head
        if before is not None:
            payload["before"], payload["after"] = before, head
        return payload

    def comment_payload(self, body: str, login: str, user_id: int) -> dict[str, Any]:
        payload = self.sample("issue_comment/created.with-installation.payload.json")
        payload["issue"]["number"] = NUMBER
        # The published examples comment on a plain issue; a pull request comment has this key.
        payload["issue"]["pull_request"] = {
            "url": f"https://api.github.com/repos/{REPO}/pulls/{NUMBER}",
            "html_url": f"https://github.com/{REPO}/pull/{NUMBER}",
            "diff_url": f"https://github.com/{REPO}/pull/{NUMBER}.diff",
            "patch_url": f"https://github.com/{REPO}/pull/{NUMBER}.patch",
            "merged_at": None,
        }
        payload["comment"]["id"] = 7_000_000 + secrets.randbelow(1_000_000)
        payload["comment"]["body"] = body
        payload["comment"]["user"].update({"login": login, "id": user_id, "type": "User"})
        return payload

    def deliver(
        self,
        event: str,
        payload: dict[str, Any] | bytes,
        *,
        delivery: str | None = None,
        signature: str | Literal["sign"] | None = "sign",
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = {
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery or secrets.token_hex(16),
            "Content-Type": "application/json",
        }
        if signature == "sign":
            headers["X-Hub-Signature-256"] = sign_payload(SECRET, body)
        elif signature is not None:
            headers["X-Hub-Signature-256"] = signature
        response: httpx.Response = self.api.client.post(
            "/v1/github/webhook", content=body, headers=headers
        )
        return response

    def wait(self) -> None:
        webhook = self.api.client.app.state.promogate_github
        assert webhook.queue.join(timeout=240.0), "PR bot jobs did not finish"

    def comments(self) -> list[dict[str, Any]]:
        return self.fake.comments(REPO, NUMBER)

    def bot_comments(self) -> list[dict[str, Any]]:
        return [c for c in self.comments() if "<!-- promogate:subject=" in c["body"]]


BotFactory = Callable[..., BotHarness]


@pytest.fixture
def make_bot(
    make_api: Any,
    gate_registry: Any,
    webhook_samples: Path,
    app_key: tuple[str, str],
    tmp_path: Path,
) -> Iterator[BotFactory]:
    """`make_bot(mode="app"|"token", head_files=..., body=...)`: fake GitHub + API with the bot."""
    stack: list[Any] = []

    def factory(
        mode: Literal["app", "token"] = "app",
        *,
        head_files: dict[str, str | None] | None = None,
        base_files: dict[str, str] | None = None,
        body: str = "",
        title: str = "Update the training pipeline",
    ) -> BotHarness:
        private, public = app_key
        fake = FakeGitHub(app_id=APP_ID, app_public_key=public)
        fake.add_pull(
            REPO,
            FakePull(number=NUMBER, head_sha=HEAD, base_sha=BASE, title=title, body=body),
            base_files=base_files
            if base_files is not None
            else {"pipelines/train.yaml": TRAIN_BASE},
            head_files=head_files
            if head_files is not None
            else {"pipelines/train.yaml": TRAIN_HEAD},
        )
        fake.set_permission(REPO, "alice", "write")
        fake.set_permission(REPO, "bob", "read")
        fake.set_permission(REPO, "carol", "admin")
        serving = fake.serve()
        base_url = serving.__enter__()
        stack.append(serving)
        policies = tmp_path / f"policies-{secrets.token_hex(3)}"
        policies.mkdir()
        for source in gate_registry.policies_dir.glob("*.yaml"):
            text = source.read_text(encoding="utf-8")
            if source.name == "gate-test.yaml":
                text += PIPELINE_RULES
            (policies / source.name).write_text(text, encoding="utf-8")
        config = tmp_path / f"bot-{secrets.token_hex(3)}.yaml"
        config.write_text(BOT_CONFIG, encoding="utf-8")
        credentials: dict[str, Any] = (
            {
                "github_app_id": APP_ID,
                "github_app_private_key": private,
                "github_bot_login": "promogate[bot]",
            }
            if mode == "app"
            else {"github_token": "ghp_test_token"}
        )
        api = make_api(
            tracking_uri=gate_registry.tracking_uri,
            policies_dir=policies,
            github_config=config,
            github_webhook_secret=SECRET,
            github_api_url=base_url,
            public_url="https://gate.example",
            **credentials,
        )
        harness = BotHarness(
            api=api, fake=fake, samples=webhook_samples, mode=mode, base_url=base_url
        )
        harnesses.append(harness)
        return harness

    harnesses: list[BotHarness] = []
    yield factory
    for harness in harnesses:
        # Close the bot's GitHub connections before the fake server goes away.
        webhook = getattr(harness.api.client.app.state, "promogate_github", None)
        if webhook is not None:
            webhook.close()
    for serving in stack:
        serving.__exit__(None, None, None)
