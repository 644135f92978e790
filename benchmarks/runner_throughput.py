"""Runner throughput against a loopback endpoint with a fixed latency, next to the ideal.

With a fixed per-request latency L and C requests in flight, no runner can do better than C / L
requests per second. This measures how close the suite runner gets at concurrency 1, 8 and 32 over
a real HTTP connection (an OpenAI-compatible endpoint on 127.0.0.1 that sleeps L before answering),
including the offline judge on every response::

    uv run python -m benchmarks.runner_throughput [--latency-ms 100] [--rounds 20]

Each level sends `rounds x concurrency` cases, so the ideal wall time of every level is
`rounds x L` (2 s by default): bounded in count and in time. The endpoint runs in its own process
and each level's connections are opened before timing starts.

`LoopbackEndpoint` is also the test double the runner's tests talk to over real sockets: it speaks
the OpenAI chat-completions and the MLflow `/invocations` protocols, and can answer slowly, fail
the next requests with given HTTP statuses, and count requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
from pydantic import BaseModel

from agents.loopback_server import LoopbackHttpServer, LoopbackServerThread
from evals.judges import OfflineJudge
from evals.runner import run_suite
from evals.suite import Case, Suite, SuiteHeader, SuiteThresholds
from evals.targets import OpenAIChatTarget

__all__ = [
    "LoopbackEndpoint",
    "LoopbackRequest",
    "ThroughputRow",
    "main",
    "measure_throughput",
]

REFUSAL = "I'm sorry, but I can't help with that request."


class LoopbackRequest(BaseModel):
    """What the endpoint received in one request."""

    path: str
    prompt: str
    context: str | None = None
    system_prompt: str | None = None
    authorization: str | None = None
    body: dict[str, Any] = {}
    status: int


Responder = Callable[[LoopbackRequest], str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LoopbackHttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm and
        # the client's delayed ACK add ~40 ms to every keep-alive response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        # Quiet: a benchmark prints its own table, tests assert on counters.
        return

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/stats":
            self._reply(200, self.server.owner.stats(), {})
        else:
            self._reply(404, {"error": f"no route {self.path}"}, {})

    def do_POST(self) -> None:
        if self.path == "/reset":
            self.server.owner.reset()
            self._reply(200, {}, {})
            return
        length = int(self.headers.get("Content-Length", "0"))
        try:
            payload = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._reply(400, {"error": "body is not JSON"}, {})
            return
        self.server.owner._handle(self, payload)


class LoopbackEndpoint(LoopbackServerThread):
    """An HTTP server on 127.0.0.1 in a background thread, for benchmarks and tests.

    Args:
        latency_s: Seconds every request sleeps before answering.
        responder: Text answered for a request; a fixed refusal by default.
        latency_for: Per-request latency override (e.g. one slow prompt).
    """

    handler_class = _Handler

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        responder: Responder | None = None,
        latency_for: Callable[[LoopbackRequest], float | None] | None = None,
    ) -> None:
        self.latency_s = latency_s
        self.responder: Responder = responder or (lambda request: REFUSAL)
        self.latency_for = latency_for
        self.requests: list[LoopbackRequest] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._failures: deque[tuple[int, dict[str, str]]] = deque()
        self._lock = threading.Lock()

    # --- control -----------------------------------------------------------------------------

    def fail_next(self, *statuses: int, retry_after_s: float | None = None) -> None:
        """Answer the next requests with these HTTP statuses, in order, then normally again."""
        headers = {} if retry_after_s is None else {"Retry-After": f"{retry_after_s:g}"}
        with self._lock:
            self._failures.extend((status, headers) for status in statuses)

    def reset(self) -> None:
        """Forget received requests and pending failures."""
        with self._lock:
            self.requests.clear()
            self._failures.clear()
            self.max_in_flight = 0

    def stats(self) -> dict[str, int]:
        """Requests received and the most ever in flight at once."""
        with self._lock:
            return {"requests": len(self.requests), "max_in_flight": self.max_in_flight}

    def prompts(self) -> list[str]:
        """Prompts of the requests answered so far (not failed), in arrival order."""
        with self._lock:
            return [r.prompt for r in self.requests if r.status == 200]

    @property
    def base_url(self) -> str:
        """OpenAI-compatible API root (`.../v1`)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def invocations_url(self) -> str:
        """MLflow serving endpoint."""
        return f"http://127.0.0.1:{self.port}/invocations"

    # --- serving -----------------------------------------------------------------------------

    def _parse(
        self, path: str, payload: dict[str, Any], authorization: str | None
    ) -> LoopbackRequest | None:
        if path.endswith("/chat/completions"):
            messages = payload.get("messages") or []
            system = next((m["content"] for m in messages if m.get("role") == "system"), None)
            user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
            return LoopbackRequest(
                path=path,
                prompt=user,
                system_prompt=system,
                authorization=authorization,
                body=payload,
                status=200,
            )
        if path.endswith("/invocations"):
            records = payload.get("dataframe_records") or [{}]
            record = records[0]
            return LoopbackRequest(
                path=path,
                prompt=str(record.get("prompt", "")),
                context=record.get("context"),
                system_prompt=record.get("system_prompt"),
                authorization=authorization,
                body=payload,
                status=200,
            )
        return None

    def _handle(self, handler: _Handler, payload: dict[str, Any]) -> None:
        if not payload:
            # A client that went away mid-request leaves an empty body: nothing to answer or count.
            handler._reply(400, {"error": "empty request body"}, {})
            return
        request = self._parse(handler.path, payload, handler.headers.get("Authorization"))
        if request is None:
            handler._reply(404, {"error": f"no route {handler.path}"}, {})
            return
        with self._lock:
            failure = self._failures.popleft() if self._failures else None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            delay = self.latency_s
            if self.latency_for is not None:
                override = self.latency_for(request)
                delay = delay if override is None else override
            if delay > 0:
                time.sleep(delay)
            if failure is not None:
                status, headers = failure
                with self._lock:
                    self.requests.append(request.model_copy(update={"status": status}))
                handler._reply(status, {"error": f"injected HTTP {status}"}, headers)
                return
            text = self.responder(request)
            with self._lock:
                self.requests.append(request)
        finally:
            with self._lock:
                self.in_flight -= 1
        if request.path.endswith("/invocations"):
            handler._reply(200, {"predictions": [text]}, {})
        else:
            handler._reply(
                200,
                {
                    "id": "chatcmpl-loopback",
                    "object": "chat.completion",
                    "model": "loopback",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                },
                {},
            )


# --- the benchmark -----------------------------------------------------------------------------


class ThroughputRow(BaseModel):
    """One concurrency level's measurement."""

    concurrency: int
    cases: int
    latency_ms: float
    seconds: float
    throughput_rps: float
    ideal_rps: float
    ratio: float
    max_in_flight: int
    errors: int


def _suite(cases: int) -> Suite:
    header = SuiteHeader(
        name="throughput",
        version="1",
        category="jailbreak",
        target_kind="llm",
        detector="refusal",
        thresholds=SuiteThresholds(max_error_rate=0.0),
    )
    return Suite(
        header=header,
        cases=[Case(id=f"c{i:04d}", prompt=f"benchmark prompt {i}") for i in range(cases)],
        path="<benchmark>",
    )


def _serve(latency_s: float, ports: multiprocessing.Queue[int]) -> None:
    endpoint = LoopbackEndpoint(latency_s=latency_s).start()
    ports.put(endpoint.port)
    threading.Event().wait()  # serve until the parent terminates this process


async def _measure_level(
    root: str, latency_s: float, concurrency: int, rounds: int
) -> ThroughputRow:
    cases = concurrency * rounds
    target = OpenAIChatTarget("loopback", f"{root}/v1")
    async with httpx.AsyncClient(base_url=root) as control:
        try:
            # Open the level's connections first: the figure is the runner's steady state, not
            # TCP setup (which a real endpoint amortises over a suite far longer than this one).
            warmup = Case(id="warmup", prompt="warmup")
            await asyncio.gather(
                *(
                    target.respond(warmup, system_prompt=None, timeout_s=30)
                    for _ in range(concurrency)
                )
            )
            (await control.post("/reset")).raise_for_status()
            run = await run_suite(
                _suite(cases),
                target,
                judge=OfflineJudge(),
                concurrency=concurrency,
                timeout_s=latency_s * 50 + 5,
                retries=0,
            )
            stats = (await control.get("/stats")).json()
        finally:
            await target.close()
    throughput = cases / run.duration_s
    ideal = concurrency / latency_s
    return ThroughputRow(
        concurrency=concurrency,
        cases=cases,
        latency_ms=latency_s * 1000,
        seconds=run.duration_s,
        throughput_rps=throughput,
        ideal_rps=ideal,
        ratio=throughput / ideal,
        max_in_flight=int(stats["max_in_flight"]),
        errors=run.errors,
    )


def measure_throughput(
    levels: Sequence[int] = (1, 8, 32), *, latency_s: float = 0.1, rounds: int = 20
) -> list[ThroughputRow]:
    """Measure runner throughput at each concurrency level against a loopback endpoint.

    The endpoint runs in a separate process so that its threads do not compete with the runner
    for the interpreter lock: the figures are the runner's.

    Args:
        levels: Concurrency levels.
        latency_s: Fixed latency of every request (seconds).
        rounds: Cases per level are `rounds x concurrency`.
    """
    if latency_s <= 0:
        raise ValueError(f"latency_s must be positive, got {latency_s!r}")
    if not 1 <= rounds <= 100:
        raise ValueError(f"rounds must be between 1 and 100, got {rounds!r}")
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue[int] = context.Queue()
    server = context.Process(target=_serve, args=(latency_s, ports), daemon=True)
    server.start()
    try:
        root = f"http://127.0.0.1:{ports.get(timeout=30)}"
        return [asyncio.run(_measure_level(root, latency_s, level, rounds)) for level in levels]
    finally:
        server.terminate()
        server.join(timeout=5)


def _table(rows: Sequence[ThroughputRow]) -> str:
    lines = [
        "| concurrency | cases | latency (ms) | wall time (s) | throughput (req/s) "
        "| ideal (req/s) | ratio | max in flight | errors |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.concurrency} | {row.cases} | {row.latency_ms:.0f} | {row.seconds:.2f} "
            f"| {row.throughput_rps:.1f} | {row.ideal_rps:.1f} | {row.ratio:.2f} "
            f"| {row.max_in_flight} | {row.errors} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--levels", default="1,8,32", help="comma-separated concurrency levels")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    levels = [int(level) for level in args.levels.split(",") if level.strip()]
    if any(level < 1 or level > 64 for level in levels):
        parser.error(f"concurrency levels must be between 1 and 64, got {args.levels!r}")
    rows = measure_throughput(levels, latency_s=args.latency_ms / 1000, rounds=args.rounds)
    if args.json:
        print(json.dumps([row.model_dump() for row in rows], indent=2))
    else:
        print(_table(rows))


if __name__ == "__main__":
    main()
