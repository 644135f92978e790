"""Start-to-exit time of the CI client `promogate gate --server`, next to `import mlflow`.

Each command runs as a fresh process, `--runs` times, timed from spawn to exit. The client talks to
a loopback stub that answers `POST /v1/gate` at once, so the figure is the client's own cost
(interpreter start, imports, one HTTP round trip), which CI pays on every deploy; the review behind
a real gate call is measured by `gate_latency`.

    uv run python -m benchmarks.client_startup [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel

__all__ = ["StartupRow", "main", "measure_client_startup"]

BUDGET_S: Final = 0.5
_ANSWER: Final = json.dumps(
    {
        "allowed": True,
        "verdict": "approve",
        "model": "credit-risk",
        "version": 2,
        "target_alias": "champion",
        "decision_id": "stub",
        "reused": True,
        "evidence_digest": "0" * 64,
        "reasons": ["every applied check passed"],
        "overrides": [],
        "error": None,
    }
).encode()


class StartupRow(BaseModel):
    """One command's start-to-exit times in milliseconds."""

    command: str
    runs: int
    median_ms: float
    p90_ms: float
    max_ms: float


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(_ANSWER)))
        self.end_headers()
        self.wfile.write(_ANSWER)

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


def _time(command: Sequence[str], env: Mapping[str, str], runs: int, expect: int) -> list[float]:
    timings: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(list(command), env=dict(env), capture_output=True, check=False)
        timings.append((time.perf_counter() - started) * 1000.0)
        if result.returncode != expect:
            raise RuntimeError(
                f"{' '.join(command)!r} exited {result.returncode}: {result.stderr.decode()[-500:]}"
            )
    return timings


def _row(label: str, timings: list[float]) -> StartupRow:
    ordered = sorted(timings)
    return StartupRow(
        command=label,
        runs=len(ordered),
        median_ms=statistics.median(ordered),
        p90_ms=ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        max_ms=ordered[-1],
    )


def measure_client_startup(runs: int, env: Mapping[str, str]) -> list[StartupRow]:
    """Time the client, the gate client module, mlflow's import and a bare interpreter.

    Args:
        runs: Processes started per command.
        env: Environment of the commands (the client's token is added).
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client_env = {**env, "PROMOGATE_TOKEN": "pgt_benchmark"}
    promogate = str(Path(sys.executable).with_name("promogate"))
    python = sys.executable
    try:
        commands: list[tuple[str, list[str], int]] = [
            (
                f"promogate gate --server {url} credit-risk 2",
                [promogate, "gate", "--server", url, "credit-risk", "2"],
                0,
            ),
            (
                "python -m api.gate_client gate --server ... (module)",
                [python, "-m", "api.gate_client", "gate", "--server", url, "credit-risk", "2"],
                0,
            ),
            ('python -c "import mlflow"', [python, "-c", "import mlflow"], 0),
            ('python -c "pass" (interpreter only)', [python, "-c", "pass"], 0),
        ]
        # One untimed run each warms the OS page cache, as on a CI runner that ran it before.
        for _, command, expect in commands:
            _time(command, client_env, 1, expect)
        return [
            _row(label, _time(command, client_env, runs, expect))
            for label, command, expect in commands
        ]
    finally:
        server.shutdown()
        server.server_close()


def _table(rows: Sequence[StartupRow]) -> str:
    lines = [
        "| command | runs | median (ms) | p90 (ms) | max (ms) |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| `{r.command}` | {r.runs} | {r.median_ms:.0f} | {r.p90_ms:.0f} | {r.max_ms:.0f} |"
        for r in rows
    ]
    client, mlflow = rows[0], rows[2]
    lines.append("")
    lines.append(
        f"`import mlflow` / client: {mlflow.median_ms / client.median_ms:.1f}x (medians); "
        f"client p90 {client.p90_ms:.0f} ms vs the {BUDGET_S * 1000:.0f} ms budget: "
        f"{'within' if client.p90_ms <= BUDGET_S * 1000 else 'OVER'}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 200:
        parser.error(f"--runs must be between 1 and 200, got {args.runs}")
    # The timed commands are child processes of this script; they get its environment.
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    rows = measure_client_startup(args.runs, env)
    if args.json:
        print(json.dumps([r.model_dump() for r in rows], indent=2))
    else:
        print(_table(rows))


if __name__ == "__main__":
    main()
