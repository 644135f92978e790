"""Pages: time to first byte and full load of a 50-check decision page, chat time to first token.

Against `promogate serve` (a process of its own, on loopback) over the demo registry:

- **decision page**: a recorded decision with 50 checks (the demo's blocked v3 decision, padded
  with segment checks over 46 more segments) fetched with httpx: time to first byte (response
  headers) and to the last byte; beside it the peer engineers read today, the same decision as
  JSON from `GET /v1/reviews/{id}`. Then loaded in headless Chromium: navigation timing's
  ``responseStart`` and ``loadEventEnd`` (HTML, CSS, inline SVG charts rendered);
- **page weight**: bytes of the HTML, the CSS and the chat script, against the JSON;
- **chat**: time to the first streamed token of an answer (``event: token``) on a new
  conversation (evidence read from MLflow first) and on a follow-up, offline and with the LLM
  agent against the scripted OpenAI-compatible server (agents/testing.py); beside it
  `promogate chat MODEL VERSION -q ...`, the terminal's whole run for one answer.

    uv run python -m benchmarks.pages [--rounds 10] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Final

import httpx

from benchmarks._api_server import ApiServer, create_token, fresh_ledger_url
from policies.result import CheckResult

__all__ = ["main"]

_CHECKS: Final = 50
_QUESTION: Final = "which segment got worse?"
_FOLLOW_UP: Final = "is that drop significant?"
_CHROMIUM: Final = "/usr/bin/chromium"


def _padded_decision(decision: Any) -> Any:
    """The decision with segment checks over more segments, up to 50 checks in all."""
    template = next(c for c in decision.checks if c.kind == "segment")
    extra: list[CheckResult] = []
    for index in range(_CHECKS - len(decision.checks)):
        segment = f"branch-{index:02d}"
        baseline = 0.40 + (index % 9) * 0.03
        observed = baseline + ((index % 7) - 3) * 0.01
        extra.append(
            template.model_copy(
                update={
                    "id": f"segments.branch.recall.{segment}",
                    "status": "pass",
                    "observed": observed,
                    "baseline": baseline,
                    "delta": observed - baseline,
                    "p_value": None,
                    "message": f"recall for branch={segment}: {observed:.4f} vs {baseline:.4f}",
                    "details": {**template.details, "column": "branch", "segment": segment},
                }
            )
        )
    return decision.model_copy(
        update={"id": uuid.uuid4().hex, "checks": [*decision.checks, *extra]}
    )


def _timed_get(client: httpx.Client, url: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    with client.stream("GET", url) as response:
        first = time.perf_counter() - started
        body = response.read()
        response.raise_for_status()
    return first * 1000, (time.perf_counter() - started) * 1000, len(body)


def _first_token_ms(client: httpx.Client, body: dict[str, Any]) -> float:
    started = time.perf_counter()
    with client.stream("POST", "/chat/messages", json=body, timeout=300) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if line == "event: token":
                return (time.perf_counter() - started) * 1000
            if line == "event: error":
                raise RuntimeError(f"the chat answered with an error: {response.read()!r}")
    raise RuntimeError("the chat stream ended without a token")


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _chromium_load(url: str, token: str, rounds: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright

    ttfb: list[float] = []
    load: list[float] = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as profile:
        context = playwright.chromium.launch_persistent_context(
            profile,
            executable_path=_CHROMIUM,
            headless=True,
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
            extra_http_headers={"Authorization": f"Bearer {token}"},
        )
        page = context.new_page()
        page.goto(url, wait_until="load")  # warm-up: CSS cached as a returning engineer has it
        for _ in range(rounds):
            page.goto(url, wait_until="load")
            timing = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return [n.responseStart - n.requestStart, n.loadEventEnd - n.startTime]; }"
            )
            ttfb.append(float(timing[0]))
            load.append(float(timing[1]))
        context.close()
    return ttfb, load


def _logged_in(server_url: str, token: str) -> httpx.Client:
    """A client logged in through the form, as a browser is: a new session, a new conversation."""
    client = httpx.Client(base_url=server_url, timeout=300)
    form = client.get("/login").text
    login_csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    if login_csrf is None:
        raise RuntimeError("the login form carries no CSRF token")
    client.post("/login", data={"token": token, "csrf_token": login_csrf.group(1)})
    page = client.get("/chat").text
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    if csrf is None:
        raise RuntimeError("the chat page carries no CSRF token: the login failed")
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client


def _chat_rounds(
    server_url: str, token: str, model: str, version: int, rounds: int
) -> dict[str, float]:
    new: list[float] = []
    follow: list[float] = []
    for _ in range(rounds):
        client = _logged_in(server_url, token)
        try:
            first = {"question": _QUESTION, "model": model, "version": version}
            new.append(_first_token_ms(client, first))
            follow.append(_first_token_ms(client, {"question": _FOLLOW_UP}))
        finally:
            client.close()
    return {"new": _median(new), "follow_up": _median(follow)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--chat-rounds", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")
    from agents.testing import ScriptedOpenAIServer, ScriptedReply
    from ledger.store import Ledger
    from scenarios import EXAMPLE_POLICIES, build_demo_registry, review_demo_candidates

    workdir = (args.workdir or Path(tempfile.mkdtemp(prefix="pages-bench-"))).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    registry = build_demo_registry(workdir / "registry")
    ledger_url = fresh_ledger_url(workdir)
    ledger_path = Path(ledger_url.removeprefix("sqlite:///"))
    decisions, _ = review_demo_candidates(registry.tracking_uri, registry.candidates, ledger_path)
    blocked = next(
        d for d in decisions if any(c.kind == "segment" and c.status == "fail" for c in d.checks)
    )
    padded = _padded_decision(blocked)
    with Ledger(ledger_url) as ledger:
        ledger.append_decision(padded)
    env = dict(os.environ)
    token = create_token(ledger_url, "bench-viewer", "viewer", env=env)
    server = ApiServer(
        tracking_uri=registry.tracking_uri,
        ledger_url=ledger_url,
        policies_dir=EXAMPLE_POLICIES,
        env=env,
        log_path=workdir / "serve.log",
    )
    server.start()
    results: dict[str, Any] = {"checks": len(padded.checks)}
    try:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            page_path = f"/decisions/{padded.id}"
            json_path = f"/v1/reviews/{padded.id}"
            _timed_get(client, page_path)
            _timed_get(client, json_path)
            page = [_timed_get(client, page_path) for _ in range(args.rounds)]
            api = [_timed_get(client, json_path) for _ in range(args.rounds)]
            css = len(client.get("/assets/pages.css").content)
            script = len(client.get("/assets/chat.js").content)
            chat_html = len(client.get("/chat").content)
        results["page_ttfb_ms"] = _median([p[0] for p in page])
        results["page_total_ms"] = _median([p[1] for p in page])
        results["json_ttfb_ms"] = _median([a[0] for a in api])
        results["json_total_ms"] = _median([a[1] for a in api])
        results["page_html_bytes"] = page[0][2]
        results["json_bytes"] = api[0][2]
        results["css_bytes"] = css
        results["chat_js_bytes"] = script
        results["chat_html_bytes"] = chat_html
        if Path(_CHROMIUM).exists():
            ttfb, load = _chromium_load(f"{server.url}/decisions/{padded.id}", token, args.rounds)
            results["chromium_ttfb_ms"] = _median(ttfb)
            results["chromium_load_ms"] = _median(load)
        results["chat_offline"] = _chat_rounds(
            server.url, token, blocked.model, blocked.version, args.chat_rounds
        )
        started = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "api.cli",
                "chat",
                blocked.model,
                str(blocked.version),
                "-q",
                _QUESTION,
                "--tracking-uri",
                registry.tracking_uri,
                "--ledger-url",
                ledger_url,
                "--policies",
                str(EXAMPLE_POLICIES),
            ],
            check=True,
            capture_output=True,
            env=env,
        )
        results["cli_chat_ms"] = (time.perf_counter() - started) * 1000
    finally:
        server.stop()

    reply = "The west region's recall fell from 0.580 to 0.265 (segments.region.recall.west)."
    with ScriptedOpenAIServer(responder=lambda _request: ScriptedReply.text(reply)) as llm:
        llm_env = {
            **env,
            "PROMOGATE_LLM": "openai:scripted-model",
            "OPENAI_API_KEY": "bench-key",
            "OPENAI_BASE_URL": llm.base_url,
        }
        llm_server = ApiServer(
            tracking_uri=registry.tracking_uri,
            ledger_url=ledger_url,
            policies_dir=EXAMPLE_POLICIES,
            env=llm_env,
            log_path=workdir / "serve-llm.log",
        )
        llm_server.start()
        try:
            results["chat_llm"] = _chat_rounds(
                llm_server.url, token, blocked.model, blocked.version, args.chat_rounds
            )
        finally:
            llm_server.stop()
    print(json.dumps(results, indent=2))
    _report(results, args.rounds)


def _report(r: dict[str, Any], rounds: int) -> None:
    print(f"\ndecision page, {r['checks']} checks (median of {rounds}):")
    print(
        f"  httpx    TTFB {r['page_ttfb_ms']:.1f} ms, last byte {r['page_total_ms']:.1f} ms | "
        f"JSON API TTFB {r['json_ttfb_ms']:.1f} ms, last byte {r['json_total_ms']:.1f} ms | "
        f"ratio {r['page_total_ms'] / r['json_total_ms']:.2f}x"
    )
    if "chromium_load_ms" in r:
        print(
            f"  chromium TTFB {r['chromium_ttfb_ms']:.1f} ms, "
            f"load event {r['chromium_load_ms']:.1f} ms"
        )
    weight = r["page_html_bytes"] + r["css_bytes"]
    print(
        f"  weight   HTML {r['page_html_bytes'] / 1024:.1f} KiB + CSS {r['css_bytes'] / 1024:.1f} "
        f"KiB | JSON {r['json_bytes'] / 1024:.1f} KiB | ratio {weight / r['json_bytes']:.2f}x"
    )
    print(
        f"  chat page HTML {r['chat_html_bytes'] / 1024:.1f} KiB + CSS + "
        f"chat.js {r['chat_js_bytes'] / 1024:.1f} KiB"
    )
    for mode in ("chat_offline", "chat_llm"):
        print(
            f"{mode}: first token, new conversation {r[mode]['new']:.0f} ms, "
            f"follow-up {r[mode]['follow_up']:.0f} ms"
        )
    ratio = r["chat_offline"]["new"] / r["cli_chat_ms"]
    print(
        f"terminal peer: `promogate chat -q`, one answer, whole run {r['cli_chat_ms']:.0f} ms | "
        f"web first token on a new conversation / CLI run = {ratio:.2f}x"
    )


if __name__ == "__main__":
    main()
