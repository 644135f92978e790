"""The pages in a real headless Chromium, against a real `promogate serve` over the demo registry.

One server is started for the module, on loopback, over the session's demo registry (a real
SQLite MLflow store with real models) and a ledger holding the demo's decisions. Screenshots go to
`test-artifacts/screenshots/` (kept by CI); the assertions are on what the pages show.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FAILING_CHECK = "segments.region.recall.west"
TIMEOUT_MS = 120_000

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class DemoSite:
    """A served demo: its URL, a viewer token and the blocked decision with a failing segment."""

    url: str
    token: str
    model: str
    version: int
    decision_id: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chromium() -> Path:
    """The system Chromium; the browser tests skip, saying why, when it or Playwright is absent."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (.ci/run does)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
    return CHROMIUM


@pytest.fixture(scope="module")
def demo_site(
    chromium: Path, demo_registry: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoSite]:
    """`promogate serve` on a loopback port over the demo registry and its reviewed decisions."""
    from api.demo_site import DemoManifest
    from demo import EXAMPLE_POLICIES, review_demo_candidates
    from ledger.store import Ledger

    del chromium
    root = tmp_path_factory.mktemp("pages-demo")
    ledger_path = root / "promogate.db"
    decisions, mismatches = review_demo_candidates(
        demo_registry.tracking_uri, demo_registry.candidates, ledger_path
    )
    assert not mismatches, mismatches
    blocked = next(
        d for d in decisions if any(c.id == FAILING_CHECK and c.status == "fail" for c in d.checks)
    )
    with Ledger(f"sqlite:///{ledger_path}") as ledger:
        token = ledger.tokens.create_token("browser-viewer", "viewer")[1]
    # As `promogate demo DIR` leaves it, served as a newcomer would: `promogate serve --demo DIR`.
    DemoManifest(
        tracking_uri=demo_registry.tracking_uri,
        ledger_url=f"sqlite:///{ledger_path}",
        policies_dir=EXAMPLE_POLICIES,
        decision_ids=[d.id for d in decisions],
    ).write(root)
    port = _free_port()
    command = [
        str(Path(sys.executable).parent / "promogate"),
        "serve",
        "--demo",
        str(root),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--require-token",
    ]
    log = (root / "serve.log").open("wb")
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"promogate serve exited: {(root / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("promogate serve did not start within 120 s")
            time.sleep(0.5)
        yield DemoSite(
            url=url,
            token=token,
            model=blocked.model,
            version=blocked.version,
            decision_id=blocked.id,
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


@pytest.fixture
def browser(chromium: Path, tmp_path: Path) -> Iterator[Any]:
    """A fresh headless Chromium context (new empty profile) per test."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(chromium),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


def _log_in(page: Any, site: DemoSite, path: str = "/") -> None:
    page.goto(f"{site.url}{path}")
    page.fill("#token", site.token)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def test_log_in_with_a_token_and_land_on_the_linked_page(browser: Any, demo_site: DemoSite) -> None:
    page = browser.new_page()
    page.goto(f"{demo_site.url}/decisions/{demo_site.decision_id}")
    assert page.url.startswith(f"{demo_site.url}/login?next=")
    _shot(page, "01-login")
    page.fill("#token", demo_site.token)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{demo_site.url}/decisions/{demo_site.decision_id}")
    assert "BLOCKED" in page.inner_text("h1").upper()
    assert demo_site.token not in page.content()
    cookies = {c["name"]: c for c in browser.cookies()}
    session = cookies["promogate_session"]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert demo_site.token not in session["value"]


def test_open_a_blocked_decision_from_the_model_page_and_see_the_failing_segment(
    browser: Any, demo_site: DemoSite
) -> None:
    page = browser.new_page()
    _log_in(page, demo_site)
    page.click(f"#models a:text-is('{demo_site.model}')")
    page.wait_for_url(f"**/models/{demo_site.model}")
    _shot(page, "02-model")
    row = page.locator("#versions tr", has_text=f"v{demo_site.version}").first
    assert "BLOCKED" in row.inner_text().upper()
    row.locator("a.verdict, a:has(.verdict)").first.click()
    page.wait_for_url(f"**/decisions/{demo_site.decision_id}")
    failing = page.locator("#segments g.segment-fail")
    assert failing.count() == 1
    assert failing.get_attribute("data-segment") == "west"
    assert "FAIL" in (failing.text_content() or "")
    passing = page.locator("#segments g.segment-pass")
    assert passing.count() >= 2
    page.locator("#segments").screenshot(path=str(_shot_path("03-segment-chart")))
    _shot(page, "03-decision")
    check = page.locator(f"tr[id='check-{FAILING_CHECK}']")
    assert check.locator(".status").inner_text().strip().lower() == "fail"


def _shot_path(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def test_ask_which_segment_got_worse_and_follow_the_citation(
    browser: Any, demo_site: DemoSite
) -> None:
    page = browser.new_page()
    _log_in(page, demo_site, f"/decisions/{demo_site.decision_id}")
    page.click("text=Ask about this decision")
    page.wait_for_url("**/chat?**")
    assert page.input_value("#chat-model") == demo_site.model
    page.fill("#question", "which segment got worse?")
    page.click("#send")
    cited = page.locator(".msg .citations a.cite-check").first
    cited.wait_for()
    answer = page.locator(".msg-a").first.inner_text()
    assert "west" in answer
    assert cited.inner_text() == f"{FAILING_CHECK} (fail)"
    # The conversation keeps its context: a follow-up names no version.
    page.fill("#question", "is that drop significant?")
    page.click("#send")
    page.locator(".msg").nth(1).locator(".citations a").first.wait_for()
    follow_up = page.locator(".msg-a").nth(1).inner_text()
    assert "significant" in follow_up
    assert "region=west" in follow_up
    _shot(page, "04-chat")
    cited.click()
    page.wait_for_url(f"**/decisions/{demo_site.decision_id}#check-{FAILING_CHECK}")
    row = page.locator(f"tr[id='check-{FAILING_CHECK}']")
    assert row.is_visible()
    assert row.locator(".status").inner_text().strip().lower() == "fail"
    _shot(page, "05-citation-target", full_page=False)
