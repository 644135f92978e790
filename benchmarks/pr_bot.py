"""The PR bot against the fake GitHub on loopback: delivery-to-comment latency, and concurrency.

The API (uvicorn, SQLite ledger, in-process job queue) receives signed `pull_request` deliveries
for pipeline-config changes (the static config review: no MLflow needed) and posts to the fake
GitHub (`api.github.testing.FakeGitHub`, App mode):

- **latency**: `--deliveries` deliveries one after another, each a new push to one of the pull
  requests; the time from sending the delivery to the comment showing the new head on the fake
  GitHub, next to the time the webhook took to answer (the ratio is the work moved off the
  request);
- **concurrency**: `--concurrent` deliveries at once for `--prs` pull requests (opened,
  reopened, redelivered and synchronize events mixed); afterwards there must be exactly one
  comment and one check run per pull request.

    uv run python -m benchmarks.pr_bot [--deliveries 40] [--concurrent 50] [--prs 10]
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import httpx
import uvicorn

from api.app import create_app
from api.github.signature import sign_payload
from api.github.testing import FakeGitHub, FakePull, generate_app_key
from api.settings import Settings

__all__ = ["main"]

_REPO: Final = "acme/credit-models"
_SECRET: Final = "benchmark-secret"
_APP_ID: Final = "4242"
_POLICY: Final = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {name: credit, revision: 1}
match: {model: credit-risk}
metrics:
  - {name: roc_auc, min: 0.7}
pipeline:
  require: [seed]
  forbid_changes: ["data.source"]
"""
_CONFIG: Final = f"""\
repositories:
  {_REPO}:
    pipelines:
      - {{paths: ["pipelines/*"], model: credit-risk}}
"""


def _train(window: int, source: str = "v1") -> str:
    return (
        f"data:\n  source: s3://bucket/credit/{source}\n  window: {window}d\nseed: 7\n"
        f"model:\n  C: {1.0 / window:.6f}\n"
    )


def _head(pr: int, push: int) -> str:
    return f"{pr:04d}{push:036d}"


def _payload(pr: int, head: str, action: str, before: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "action": action,
        "number": pr,
        "pull_request": {"number": pr, "head": {"sha": head}},
        "repository": {"full_name": _REPO},
        "installation": {"id": 1},
        "sender": {"login": "dev", "id": 1, "type": "User"},
    }
    if before is not None:
        payload["before"], payload["after"] = before, head
    return payload


class _Served:
    def __init__(self, app: Any) -> None:
        with __import__("socket").socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.02)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


def _deliver(http: httpx.Client, payload: dict[str, Any], delivery: str | None = None) -> float:
    body = json.dumps(payload).encode()
    started = time.perf_counter()
    answer = http.post(
        "/v1/github/webhook",
        content=body,
        headers={
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": delivery or secrets.token_hex(16),
            "X-Hub-Signature-256": sign_payload(_SECRET, body),
        },
    )
    if answer.status_code not in (200, 202):
        raise RuntimeError(f"delivery refused: {answer.status_code} {answer.text}")
    return time.perf_counter() - started


def _comment_shows(fake: FakeGitHub, pr: int, head: str) -> bool:
    return any(
        head[:12] in c["body"] and "promogate:subject=pipeline" in c["body"]
        for c in fake.comments(_REPO, pr)
    )


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(deliveries: int, concurrent: int, prs: int) -> dict[str, Any]:
    private, public = generate_app_key()
    fake = FakeGitHub(app_id=_APP_ID, app_public_key=public)
    for pr in range(1, prs + 1):
        fake.add_pull(
            _REPO,
            FakePull(number=pr, head_sha=_head(pr, 0), base_sha=f"{pr:04d}" + "b" * 36),
            base_files={"pipelines/train.yaml": _train(365)},
            head_files={"pipelines/train.yaml": _train(180)},
        )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "policies").mkdir()
        (root / "policies" / "credit.yaml").write_text(_POLICY)
        (root / "bot.yaml").write_text(_CONFIG)
        with fake.serve() as github_url:
            settings = Settings(
                tracking_uri=f"sqlite:///{root / 'mlflow.db'}",
                ledger_url=f"sqlite:///{root / 'ledger.db'}",
                policies_dir=root / "policies",
                allow_anonymous=True,
                job_concurrency=4,
                github_config=root / "bot.yaml",
                github_webhook_secret=_SECRET,
                github_api_url=github_url,
                github_app_id=_APP_ID,
                github_app_private_key=private,
                github_bot_login="promogate[bot]",
            )
            app = create_app(settings)
            with _Served(app) as api_url, httpx.Client(base_url=api_url, timeout=60) as http:
                acks: list[float] = []
                latencies: list[float] = []
                push = 0
                for i in range(deliveries):
                    pr = i % prs + 1
                    push += 1
                    head = _head(pr, push)
                    before = fake.push(_REPO, pr, head, {"pipelines/train.yaml": _train(30 + i)})
                    started = time.perf_counter()
                    acks.append(_deliver(http, _payload(pr, head, "synchronize", before)))
                    while not _comment_shows(fake, pr, head):
                        if time.perf_counter() - started > 120:
                            raise RuntimeError(f"no comment for {head} after 120 s")
                        time.sleep(0.002)
                    latencies.append(time.perf_counter() - started)
                app.state.promogate_github.queue.join(120)

                # Concurrency: a fresh head per PR, then `concurrent` deliveries at once.
                heads: dict[int, tuple[str, str]] = {}
                for pr in range(1, prs + 1):
                    push += 1
                    new_head = _head(pr, push)
                    before = fake.push(_REPO, pr, new_head, {"pipelines/train.yaml": _train(7)})
                    heads[pr] = (new_head, before)
                jobs: list[tuple[dict[str, Any], str | None]] = []
                for i in range(concurrent):
                    pr = i % prs + 1
                    head, before = heads[pr]
                    kind = i // prs % 4
                    if kind == 0:
                        jobs.append((_payload(pr, head, "synchronize", before), f"sync-{pr}"))
                    elif kind == 1:
                        jobs.append((_payload(pr, head, "reopened"), None))
                    elif kind == 2:  # a redelivery of the synchronize event
                        jobs.append((_payload(pr, head, "synchronize", before), f"sync-{pr}"))
                    else:
                        jobs.append((_payload(pr, head, "opened"), None))
                started = time.perf_counter()
                with ThreadPoolExecutor(max_workers=concurrent) as pool:
                    list(pool.map(lambda job: _deliver(http, *job), jobs))
                app.state.promogate_github.queue.join(300)
                burst_s = time.perf_counter() - started
                comments = sum(
                    1
                    for pr in range(1, prs + 1)
                    for c in fake.comments(_REPO, pr)
                    if "promogate:subject=pipeline" in c["body"]
                )
                checks = sum(
                    len(
                        [
                            r
                            for r in fake.check_runs(_REPO, heads[pr][0])
                            if r["name"] == "promogate/pipeline"
                        ]
                    )
                    for pr in range(1, prs + 1)
                )
                current = sum(_comment_shows(fake, pr, heads[pr][0]) for pr in range(1, prs + 1))
    return {
        "deliveries": deliveries,
        "ack_ms_median": statistics.median(acks) * 1000,
        "ack_ms_p95": _quantile(acks, 0.95) * 1000,
        "comment_ms_median": statistics.median(latencies) * 1000,
        "comment_ms_p95": _quantile(latencies, 0.95) * 1000,
        "concurrent": concurrent,
        "prs": prs,
        "burst_s": burst_s,
        "comments": comments,
        "checks": checks,
        "comments_showing_head": current,
        "github_requests": len(fake.requests),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=40)
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--prs", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args.deliveries, args.concurrent, args.prs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    ratio = result["comment_ms_median"] / result["ack_ms_median"]
    print(
        f"delivery -> webhook answer   median {result['ack_ms_median']:7.1f} ms   "
        f"p95 {result['ack_ms_p95']:7.1f} ms   ({result['deliveries']} deliveries)"
    )
    print(
        f"delivery -> comment on PR    median {result['comment_ms_median']:7.1f} ms   "
        f"p95 {result['comment_ms_p95']:7.1f} ms   ({ratio:.1f}x the answer)"
    )
    print(
        f"{result['concurrent']} concurrent deliveries for {result['prs']} PRs: "
        f"{result['comments']} comments, {result['checks']} check runs on the heads, "
        f"{result['comments_showing_head']} comments showing the head, "
        f"done in {result['burst_s']:.1f} s"
    )
    ok = result["comments"] == result["prs"] and result["checks"] == result["prs"]
    print("exactly one comment and one check per PR:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
