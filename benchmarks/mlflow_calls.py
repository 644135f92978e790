"""MLflow calls per gate: the requests `promogate serve` sends an `mlflow server` for each demo
candidate, on a fresh gate and on a reused one, counted by a relay in front of the server. A
fresh gate's tags and fingerprint are written after its answer; they are counted with it (the
relay is read once MLflow has had no request for half a second).

Against `mlflow server --workers 1` these calls are answered one after another, about 10 ms each
on 2 cores, so their number bounds both gate figures. MLflow's native check makes 4.

    uv run python -m benchmarks.mlflow_calls [--workdir DIR]

Bounded: one registry build (20-60 s), one MLflow server, one API server, two gate calls per
candidate.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import httpx
from pydantic import BaseModel

from benchmarks._api_server import ApiServer, create_token, fresh_ledger_url
from benchmarks._http_relay import HttpRelay
from benchmarks._mlflow_server import MlflowServer
from scenarios.demo_registry import DEMO_MODEL_NAME, build_demo_registry

__all__ = ["CallCount", "count_mlflow_calls", "main"]

_TIMEOUT_S = 300.0


class CallCount(BaseModel):
    """The MLflow requests of one gate call, by endpoint."""

    version: int
    reused: bool
    calls: int
    by_endpoint: dict[str, int]


def _endpoint(path: str) -> str:
    # Logged models are read by id in the path; count them as one endpoint.
    parts = path.split("/")
    if len(parts) > 5 and parts[4] == "logged-models" and parts[5].startswith("m-"):
        return "/".join([*parts[:5], "{id}"])
    return path


def count_mlflow_calls(workdir: Path, policies_dir: Path, env: dict[str, str]) -> list[CallCount]:
    """Gate every demo candidate twice (fresh, then reused) and count the MLflow requests.

    Args:
        workdir: Scratch directory (registry, ledger, logs).
        policies_dir: The trusted policies.
        env: Environment of the servers.
    """
    registry = build_demo_registry(workdir / "registry")
    ledger_url = fresh_ledger_url(workdir)
    token = create_token(ledger_url, "bench", "deployer", env=env)
    counts: list[CallCount] = []
    with (
        MlflowServer(
            registry.tracking_uri,
            workdir / "served-artifacts",
            env=env,
            log_path=workdir / "mlflow-server.log",
        ) as mlflow_server,
        HttpRelay(mlflow_server.port) as relay,
    ):
        api = ApiServer(
            tracking_uri=relay.url,
            ledger_url=ledger_url,
            policies_dir=policies_dir,
            env=env,
            log_path=workdir / "api-server.log",
        )
        api.start()
        try:
            with httpx.Client() as client:
                relay.take_requests()
                for candidate in registry.candidates:
                    for _ in range(2):
                        response = client.post(
                            f"{api.url}/v1/gate",
                            json={"model": DEMO_MODEL_NAME, "version": candidate.version},
                            headers={"Authorization": f"Bearer {token}"},
                            timeout=_TIMEOUT_S,
                        )
                        response.raise_for_status()
                        paths = [_endpoint(p) for _, p in relay.take_requests_when_quiet()]
                        counts.append(
                            CallCount(
                                version=candidate.version,
                                reused=bool(response.json()["reused"]),
                                calls=len(paths),
                                by_endpoint=dict(collections.Counter(paths).most_common()),
                            )
                        )
        finally:
            api.stop()
    return counts


def _table(counts: Sequence[CallCount]) -> str:
    lines = ["| version | gate | MLflow calls | by endpoint |", "|---|---|---:|---|"]
    for c in counts:
        endpoints = ", ".join(
            f"{n} {p.removeprefix('/api/2.0/mlflow/')}" for p, n in c.by_endpoint.items()
        )
        kind = "reused" if c.reused else "fresh"
        lines.append(f"| v{c.version} | {kind} | {c.calls} | {endpoints} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Count and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--policies", type=Path, default=Path("policies/examples"))
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="promogate-calls-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        counts = count_mlflow_calls(workdir, args.policies.resolve(), env)
    if args.json:
        print("[" + ",".join(c.model_dump_json() for c in counts) + "]")
    else:
        print(_table(counts))


if __name__ == "__main__":
    main()
