"""Gate latency against a real `mlflow server`, next to MLflow's own validation check.

For every candidate of the demo registry (`credit-risk` v2-v6, champion v1), on loopback:

- **promogate, fresh**: `POST /v1/gate` to `promogate serve` when no decision exists yet: resolve
  both versions, gather all evidence, evaluate the policy, investigate, record, publish tags;
- **promogate, reused**: the same call again: the evidence fingerprint (versions, runs, logged
  models, histories, artifact listings, policies) is unchanged, so the decision recorded with it
  is reused without reading the evidence; each reused call is followed by one native check, so
  both see the same load;
- **promogate, re-review**: once every version has its decision, a comment is added to every
  policy file (a policy revised: the same rules in new bytes) and each version is gated again,
  `--rounds` times: a fresh review by a process that has fingerprinted the version before, as
  after a team revises a policy; each is followed by a native check too, once the gate has
  written its tags and fingerprint;
- **MLflow-native**: what a pipeline does with MLflow alone: resolve the candidate and `@champion`,
  fetch both source runs, wrap their metrics as `EvaluationResult`s and call
  `mlflow.validate_evaluation_results` with the policy's `roc_auc >= 0.75` threshold;
- **decision reads**: `GET /v1/reviews/{id}` of the decisions just made, on the same API,
  from 32 kept-alive connections for `--read-seconds` (a bare asyncio client, see
  `benchmarks.api_throughput.drive_raw_reads`);
- **readiness probe**: with the decision reads, `GET /readyz` one call after another beside
  `GET /health` of the MLflow server it asks (its one MLflow request), medians of 50.

    uv run python -m benchmarks.gate_latency [--rounds 5] [--workdir DIR] [--mlflow-workers 1]
        [--api-workers 1] [--more-versions N] [--native-quick-acks] [--gate-reads store]

The MLflow server runs one worker unless `--mlflow-workers` asks for more (`mlflow server`'s own
default is 4), so that it answers requests one after another; `--api-workers` is
`promogate serve --workers`. A multi-worker server holds each answer's later packets until the
client acknowledges the first, which MLflow's client delays by 40 ms; promogate's calls ask for
quick acknowledgements (`tools.quick_acks`), and `--native-quick-acks` gives the native check the
same, so that it is compared at its fastest. `--more-versions N` registers N more versions of the
model before anything is timed (no run, a directory as source: a long-lived model's other
retrains), so the gate runs against a model with many versions. `--gate-reads store` has
`promogate serve` read the server's own database (the registry's SQLite file) instead of going
through the server, as a promogate deployed beside MLflow's database can; the native check still
reads through the server.

Bounded: one registry build (30-60 s), one MLflow server, `rounds` calls per version and method.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, Literal

import httpx
from pydantic import BaseModel

from benchmarks._api_server import ApiServer, create_token, fresh_ledger_url
from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks._mlflow_server import MlflowServer
from benchmarks.api_throughput import drive_raw_reads
from scenarios.demo_registry import (
    CHAMPION_ALIAS,
    DEMO_MODEL_NAME,
    DemoRegistry,
    build_demo_registry,
)

__all__ = ["LatencyRow", "main", "measure_gate_latency", "native_check", "revise_policies"]

_ROC_AUC_MIN: Final = 0.75
_GATE_TIMEOUT_S: Final = 300.0


class LatencyRow(BaseModel):
    """One candidate version: what each check concluded and how long it took (milliseconds)."""

    version: int
    defect: str
    promogate_verdict: str
    native_result: str
    fresh_ms: float
    reused_ms: float
    rereview_ms: float
    native_ms: float

    @property
    def fresh_ratio(self) -> float:
        return self.fresh_ms / self.native_ms

    @property
    def reused_ratio(self) -> float:
        return self.reused_ms / self.native_ms

    @property
    def rereview_ratio(self) -> float:
        return self.rereview_ms / self.native_ms


def native_check(tracking_uri: str, model: str, version: int) -> str:
    """MLflow's own promotion check: both runs' metrics through `validate_evaluation_results`.

    Args:
        tracking_uri: The MLflow server.
        model: Registered model name.
        version: Candidate version.

    Returns:
        ``pass`` or ``fail``.
    """
    from mlflow import MlflowClient
    from mlflow.models import MetricThreshold
    from mlflow.models.evaluation import EvaluationResult
    from mlflow.models.evaluation.validation import (
        ModelValidationFailedException,
        validate_evaluation_results,
    )

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    candidate = client.get_model_version(model, str(version))
    champion = client.get_model_version_by_alias(model, CHAMPION_ALIAS)
    if candidate.run_id is None or champion.run_id is None:
        raise ValueError(f"{model!r} v{version} or its champion has no source run")
    candidate_run = client.get_run(candidate.run_id)
    champion_run = client.get_run(champion.run_id)
    # MLflow's validation classes are untyped.
    threshold: Any = MetricThreshold(threshold=_ROC_AUC_MIN, greater_is_better=True)  # type: ignore[no-untyped-call]
    results: list[Any] = [
        EvaluationResult(metrics=dict(run.data.metrics), artifacts={})  # type: ignore[no-untyped-call]
        for run in (candidate_run, champion_run)
    ]
    try:
        validate_evaluation_results({"roc_auc": threshold}, results[0], results[1])
    except ModelValidationFailedException:
        return "fail"
    return "pass"


def _gate(client: httpx.Client, url: str, token: str, version: int) -> tuple[float, Any]:
    started = time.perf_counter()
    response = client.post(
        f"{url}/v1/gate",
        json={"model": DEMO_MODEL_NAME, "version": version},
        headers={"Authorization": f"Bearer {token}"},
        timeout=_GATE_TIMEOUT_S,
    )
    elapsed = (time.perf_counter() - started) * 1000.0
    response.raise_for_status()
    return elapsed, response.json()


_READ_CONNECTIONS: Final = 32
_PROBE_CALLS: Final = 50
#: Untimed pause after a re-review: a fresh gate writes its tags and fingerprint after its
#: answer, and the native check that follows should not share MLflow's server with them.
_SETTLE_S: Final = 0.5


def revise_policies(policies_dir: Path, mark: str) -> None:
    """Add a comment to every policy file: a revision that changes no rule but every digest."""
    for path in sorted(policies_dir.glob("*.y*ml")):
        with path.open("a", encoding="utf-8") as file:
            # On a line of its own, whether or not the file ended with a line break.
            file.write(f"\n# revised: {mark}\n")


def _register_more_versions(registry: DemoRegistry, count: int, sources: Path) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry.tracking_uri, registry_uri=registry.tracking_uri)
    for i in range(count):
        client.create_model_version(registry.model_name, str(sources / str(i)))


def _median_get_ms(client: httpx.Client, url: str) -> float:
    """The median time of `_PROBE_CALLS` GETs of `url`, one after another, after one untimed."""
    client.get(url).raise_for_status()
    times: list[float] = []
    for _ in range(_PROBE_CALLS):
        started = time.perf_counter()
        client.get(url).raise_for_status()
        times.append((time.perf_counter() - started) * 1000.0)
    return statistics.median(times)


def measure_gate_latency(
    workdir: Path,
    policies_dir: Path,
    *,
    rounds: int,
    env: dict[str, str],
    read_seconds: float = 5.0,
    mlflow_workers: int = 1,
    api_workers: int = 1,
    more_versions: int = 0,
    gate_reads: Literal["server", "store"] = "server",
) -> tuple[list[LatencyRow], dict[str, float]]:
    """Build the demo registry, serve it, and time the gate against the native check.

    Args:
        workdir: Scratch directory (registry, ledger, logs).
        policies_dir: The trusted policies (`policies/examples`); the servers read a copy, which
            the re-reviews revise.
        rounds: Timed calls per version and method (the median is reported).
        env: Environment of the MLflow and promogate servers.
        read_seconds: Duration of the decision-read measurement (0: none).
        mlflow_workers: The MLflow server's worker processes (``mlflow server`` defaults to 4).
        api_workers: ``promogate serve --workers``.
        more_versions: Versions of the model registered after the demo's, before timing.
        gate_reads: Where promogate reads MLflow: through the same `mlflow server` as the native
            check (``server``), or from the server's own database (``store``), as a promogate
            deployed beside MLflow's database can; the native check reads through the server.

    Returns:
        One row per candidate, and the set-up timings (seconds) and read figures.
    """
    setup: dict[str, float] = {}
    started = time.perf_counter()
    registry = build_demo_registry(workdir / "registry")
    setup["registry_build_s"] = time.perf_counter() - started
    if more_versions:
        _register_more_versions(registry, more_versions, workdir / "more-versions")
        setup["more_versions"] = float(more_versions)
    ledger_url = fresh_ledger_url(workdir)
    policies = workdir / "policies"
    shutil.copytree(policies_dir, policies, dirs_exist_ok=True)
    token = create_token(ledger_url, "bench", "deployer", env=env)
    rows: list[LatencyRow] = []
    with MlflowServer(
        registry.tracking_uri,
        workdir / "served-artifacts",
        env=env,
        log_path=workdir / "mlflow-server.log",
        workers=mlflow_workers,
    ) as mlflow_server:
        setup["mlflow_server_start_s"] = mlflow_server.last_start_seconds or 0.0
        setup["mlflow_workers"] = float(mlflow_workers)
        api = ApiServer(
            tracking_uri=registry.tracking_uri if gate_reads == "store" else mlflow_server.url,
            ledger_url=ledger_url,
            policies_dir=policies,
            env=env,
            log_path=workdir / "api-server.log",
            workers=api_workers,
        )
        setup["api_workers"] = float(api_workers)
        setup["api_server_start_s"] = api.start()
        try:
            with httpx.Client() as client:
                # Warm both servers' code paths on the champion, which is not measured.
                _gate(client, api.url, token, registry.champion_version)
                native_check(mlflow_server.url, DEMO_MODEL_NAME, registry.champion_version)
                decision_ids: list[str] = []
                found: list[tuple[Any, str, str, float, float]] = []
                native_by_version: dict[int, list[float]] = {}
                for candidate in registry.candidates:
                    fresh_ms, answer = _gate(client, api.url, token, candidate.version)
                    decision_ids.append(str(answer["decision_id"]))
                    # Alternated, so that a shared machine's load weighs on both alike.
                    reused: list[tuple[float, Any]] = []
                    native_ms: list[float] = []
                    result = ""
                    for _ in range(rounds):
                        reused.append(_gate(client, api.url, token, candidate.version))
                        t0 = time.perf_counter()
                        result = native_check(mlflow_server.url, DEMO_MODEL_NAME, candidate.version)
                        native_ms.append((time.perf_counter() - t0) * 1000.0)
                    if not all(body["reused"] for _, body in reused):
                        raise RuntimeError(f"v{candidate.version}: a repeated gate did not reuse")
                    verdict = answer["verdict"] + (" (error)" if answer["error"] else "")
                    reused_ms = statistics.median(ms for ms, _ in reused)
                    found.append((candidate, verdict, result, fresh_ms, reused_ms))
                    native_by_version[candidate.version] = native_ms
                rereviews: dict[int, list[float]] = {c.version: [] for c in registry.candidates}
                for round_ in range(rounds):
                    for candidate in registry.candidates:
                        revise_policies(policies, f"round {round_}, v{candidate.version}")
                        ms, body = _gate(client, api.url, token, candidate.version)
                        if body["reused"] or body["error"]:
                            raise RuntimeError(f"v{candidate.version}: a re-review was {body!r}")
                        rereviews[candidate.version].append(ms)
                        time.sleep(_SETTLE_S)
                        t0 = time.perf_counter()
                        native_check(mlflow_server.url, DEMO_MODEL_NAME, candidate.version)
                        native_by_version[candidate.version].append(
                            (time.perf_counter() - t0) * 1000.0
                        )
                for candidate, verdict, result, fresh_ms, reused_ms in found:
                    rows.append(
                        LatencyRow(
                            version=candidate.version,
                            defect=candidate.title,
                            promogate_verdict=verdict,
                            native_result=result,
                            fresh_ms=fresh_ms,
                            reused_ms=reused_ms,
                            rereview_ms=statistics.median(rereviews[candidate.version]),
                            native_ms=statistics.median(native_by_version[candidate.version]),
                        )
                    )
            if read_seconds > 0:
                paths = [f"/v1/reviews/{i}" for i in decision_ids]
                latencies, errors, seconds = asyncio.run(
                    drive_raw_reads(api.url, paths, token, _READ_CONNECTIONS, read_seconds)
                )
                setup["reads_per_s"] = len(latencies) / seconds
                setup["read_errors"] = float(errors)
                setup["read_p50_ms"] = statistics.median(latencies) if latencies else 0.0
                with httpx.Client() as client:
                    setup["probe_ms"] = _median_get_ms(client, f"{api.url}/readyz")
                    setup["mlflow_health_ms"] = _median_get_ms(
                        client, f"{mlflow_server.url}/health"
                    )
        finally:
            api.stop()
    return rows, setup


def _table(rows: Sequence[LatencyRow], setup: dict[str, float], rounds: int) -> str:
    lines = [
        "| version | candidate | promogate | MLflow-native | gate, fresh (ms) | "
        "gate, reused (ms) | gate, re-review (ms) | native (ms) | fresh / native | "
        "reused / native | re-review / native |",
        "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| v{r.version} | {r.defect} | {r.promogate_verdict} | {r.native_result} | "
            f"{r.fresh_ms:.0f} | {r.reused_ms:.0f} | {r.rereview_ms:.0f} | {r.native_ms:.0f} | "
            f"{r.fresh_ratio:.1f}x | {r.reused_ratio:.1f}x | {r.rereview_ratio:.1f}x |"
        )
    fresh = statistics.median(r.fresh_ms for r in rows)
    reused = statistics.median(r.reused_ms for r in rows)
    rereview = statistics.median(r.rereview_ms for r in rows)
    native = statistics.median(r.native_ms for r in rows)
    lines.append(
        f"| median | | | | {fresh:.0f} | {reused:.0f} | {rereview:.0f} | {native:.0f} | "
        f"{fresh / native:.1f}x | {reused / native:.1f}x | {rereview / native:.1f}x |"
    )
    lines.append("")
    read_keys = ("reads_per_s", "read_errors", "read_p50_ms", "probe_ms", "mlflow_health_ms")
    reads = {k: setup.pop(k) for k in read_keys if k in setup}
    lines.append(
        f"Medians of {rounds} calls per version (fresh: one call; native: {2 * rounds}). Set-up: "
        + ", ".join(f"{k} {v:.1f}" for k, v in setup.items())
    )
    if reads:
        lines.append("")
        lines.append(
            f"Decision reads (`GET /v1/reviews/{{id}}`, `promogate serve --workers "
            f"{setup.get('api_workers', 1.0):.0f}`, {_READ_CONNECTIONS} "
            f"connections): {reads['reads_per_s']:.0f}/s, p50 {reads['read_p50_ms']:.1f} ms, "
            f"{reads['read_errors']:.0f} errors"
        )
        probe, health = reads["probe_ms"], reads["mlflow_health_ms"]
        lines.append("")
        lines.append(
            f"Readiness probe (`GET /readyz`, medians of {_PROBE_CALLS}): {probe:.1f} ms; the "
            f"MLflow server's `GET /health` it asks: {health:.1f} ms ({probe / health:.1f}x)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--policies", type=Path, default=Path("policies/examples"))
    parser.add_argument("--workdir", type=Path, default=None, help="scratch directory")
    parser.add_argument("--read-seconds", type=float, default=5.0, help="0: no read figure")
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        default=1,
        help="the MLflow server's worker processes (1: requests served one after another; "
        "`mlflow server` itself defaults to 4)",
    )
    parser.add_argument(
        "--api-workers", type=int, default=1, help="`promogate serve --workers` (API processes)"
    )
    parser.add_argument(
        "--more-versions",
        type=int,
        default=0,
        help="register this many more versions of the model before timing (default 0)",
    )
    parser.add_argument(
        "--native-quick-acks",
        action="store_true",
        help="give the native check's MLflow client the quick acknowledgements promogate's own "
        "calls use (against a multi-worker `mlflow server` it otherwise waits 40 ms a call)",
    )
    parser.add_argument(
        "--gate-reads",
        choices=("server", "store"),
        default="server",
        help="promogate reads MLflow through the server (default) or from the server's database "
        "(the native check always reads through the server)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON rows instead of a table")
    args = parser.parse_args(argv)
    if not 0 <= args.more_versions <= 5000:
        parser.error(f"--more-versions must be between 0 and 5000, got {args.more_versions}")
    for option, value in (
        ("--mlflow-workers", args.mlflow_workers),
        ("--api-workers", args.api_workers),
    ):
        if not 1 <= value <= 8:
            parser.error(f"{option} must be between 1 and 8, got {value}")
    if not 0 <= args.read_seconds <= 60:
        parser.error(f"--read-seconds must be in [0, 60], got {args.read_seconds}")
    if not 1 <= args.rounds <= 50:
        parser.error(f"--rounds must be between 1 and 50, got {args.rounds}")
    if args.native_quick_acks:
        # The native check runs in this process; the servers install their own at start-up.
        from tools.quick_acks import acknowledge_responses_at_once

        acknowledge_responses_at_once()
    # MLflow logs every validation and store operation at INFO; the table is the output here.
    quiet_mlflow()
    # The servers run as child processes of this script; they get its environment.
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="promogate-gate-latency-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        rows, setup = measure_gate_latency(
            workdir,
            args.policies.resolve(),
            rounds=args.rounds,
            env=env,
            read_seconds=args.read_seconds,
            mlflow_workers=args.mlflow_workers,
            api_workers=args.api_workers,
            more_versions=args.more_versions,
            gate_reads=args.gate_reads,
        )
    if args.native_quick_acks:
        setup["native_quick_acks"] = 1.0
    if args.gate_reads == "store":
        setup["gate_reads_store"] = 1.0
    if args.json:
        print(json.dumps({"rows": [r.model_dump() for r in rows], "setup": setup}, indent=2))
    else:
        print(_table(rows, setup, args.rounds))


if __name__ == "__main__":
    main()
