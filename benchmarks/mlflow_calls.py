"""MLflow calls per gate: the requests `promogate serve` sends an `mlflow server` for each demo
candidate, on a fresh gate and on a reused one, counted by a relay in front of the server. A
fresh gate's tags and fingerprint are written after its answer; they are counted with it (the
relay is read once MLflow has had no request for half a second).

Against `mlflow server --workers 1` these calls are answered one after another, about 10 ms each
on 2 cores, so their number bounds both gate figures. MLflow's native check makes 4.

Then, on the same server, the reads a reused gate waits for (both versions; the model's
versions; both runs and the candidate's earlier versions' runs in one search; the evaluation
runs in one search; the logged models of all of them in one search; the loss history of both
runs in one bulk read: what the evidence fingerprint reads when nothing moved) are timed beside
the native check's four (both versions, both runs), each set sent one after another and all at
once, medians of `--repeats`: what the server's own work sets as the floor of the reused gate's
ratio. The same reads are timed a third time as the server's JSON, through MLflow's own HTTP
call but without its protobuf parsing and entities: the part of their time that is the
client's; and each of them alone, so the table says which read costs what.

    uv run python -m benchmarks.mlflow_calls [--workdir DIR] [--repeats 30]

Bounded: one registry build (20-60 s), one MLflow server, one API server, two gate calls per
candidate.
"""

from __future__ import annotations

import argparse
import collections
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from benchmarks._api_server import ApiServer, create_token, fresh_ledger_url
from benchmarks._http_relay import HttpRelay
from benchmarks._mlflow_logging import quiet_mlflow
from benchmarks._mlflow_server import MlflowServer
from benchmarks._timing import median_ms
from scenarios.demo_registry import CHAMPION_ALIAS, DEMO_MODEL_NAME, build_demo_registry

__all__ = ["CallCount", "ReadTiming", "count_mlflow_calls", "main", "time_reads"]

_TIMEOUT_S = 300.0
_ALONE = "alone: "


class CallCount(BaseModel):
    """The MLflow requests of one gate call, by endpoint."""

    version: int
    reused: bool
    calls: int
    by_endpoint: dict[str, int]


class ReadTiming(BaseModel):
    """One set of reads timed on the server: sent one after another, and all at once."""

    reads: str
    calls: int
    sequential_ms: float
    concurrent_ms: float


def _endpoint(path: str) -> str:
    # Logged models are read by id in the path; count them as one endpoint.
    parts = path.split("/")
    if len(parts) > 5 and parts[4] == "logged-models" and parts[5].startswith("m-"):
        return "/".join([*parts[:5], "{id}"])
    return path


def count_mlflow_calls(
    workdir: Path, policies_dir: Path, env: dict[str, str], *, repeats: int = 0
) -> tuple[list[CallCount], list[ReadTiming]]:
    """Gate every demo candidate twice (fresh, then reused) and count the MLflow requests; then,
    when `repeats` is positive, time the reused gate's reads beside the native check's
    (`time_reads`, on the first candidate).

    Args:
        workdir: Scratch directory (registry, ledger, logs).
        policies_dir: The trusted policies.
        env: Environment of the servers.
        repeats: Timed rounds of each set of reads (0: none).
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
        timings = (
            time_reads(
                mlflow_server.url,
                DEMO_MODEL_NAME,
                registry.candidates[0].version,
                CHAMPION_ALIAS,
                repeats=repeats,
            )
            if repeats > 0
            else []
        )
    return counts, timings


def time_reads(
    tracking_uri: str, model: str, version: int, baseline_alias: str, *, repeats: int = 30
) -> list[ReadTiming]:
    """Time the reused gate's reads and the native check's on one candidate (see the module).

    Args:
        tracking_uri: The MLflow server.
        model: Registered model name.
        version: The candidate.
        baseline_alias: The champion's alias.
        repeats: Timed rounds of each set, each way.
    """
    from mlflow import MlflowClient
    from mlflow.entities import ViewType
    from mlflow.utils.rest_utils import http_request

    from tools import EVAL_TARGET_TAG, LOSS_LIKE_KEYS, logged_model_id_from_source

    client = MlflowClient(tracking_uri, tracking_uri)
    candidate = client.get_model_version(model, str(version))
    champion = client.get_model_version_by_alias(model, baseline_alias)
    run_ids = [str(candidate.run_id), str(champion.run_id)]
    runs = [client.get_run(r) for r in run_ids]
    experiments = sorted({r.info.experiment_id for r in runs})
    versions_filter = f"name = '{model}'"
    earlier = [
        mv
        for mv in client.search_model_versions(versions_filter, max_results=1000)
        if int(mv.version) < version
    ]
    # The source runs and logged models, and the candidate's earlier versions' (its history).
    covered = [candidate, champion, *earlier]
    all_run_ids = sorted({str(mv.run_id) for mv in covered if mv.run_id})
    model_ids = sorted(
        {str(mv.model_id or logged_model_id_from_source(mv.source)) for mv in covered}
    )
    evaluations_filter = f"tags.`{EVAL_TARGET_TAG}` LIKE '{model}/%'"
    keys = sorted(k for k in LOSS_LIKE_KEYS if all(k in r.data.metrics for r in runs))
    # The credentials the gate's bulk history read uses (review._fingerprint).
    creds: Any = client._tracking_client.store.get_host_creds()

    def quoted(ids: Sequence[str]) -> str:
        return ", ".join(f"'{i}'" for i in ids)

    reused: list[Callable[[], object]] = [
        lambda: client.get_model_version(model, str(version)),
        lambda: client.get_model_version_by_alias(model, baseline_alias),
        lambda: client.search_model_versions(versions_filter, max_results=1000),
        lambda: client.search_runs(
            experiments,
            f"attributes.run_id IN ({quoted(all_run_ids)})",
            run_view_type=ViewType.ALL,
            max_results=len(all_run_ids),
        ),
        lambda: client.search_runs(experiments, evaluations_filter, max_results=1000),
        lambda: client.search_logged_models(
            experiment_ids=experiments,
            filter_string=f"attributes.model_id IN ({quoted(model_ids)})",
            max_results=len(model_ids),
        ),
    ]
    reused += [
        lambda key=key: http_request(  # type: ignore[misc,no-untyped-call]
            creds,
            "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
            "GET",
            params=[*(("run_id", r) for r in run_ids), ("metric_key", key)],
        )
        for key in keys
    ]
    # The same reads as the server's JSON through MLflow's own HTTP call (its credentials,
    # headers and retries), without its protobuf parsing and entities: the client's share.
    from mlflow.utils.rest_utils import verify_rest_response

    def as_json(path: str, method: str, **request: Any) -> object:
        response = http_request(creds, path, method, **request)  # type: ignore[no-untyped-call]
        return verify_rest_response(response, path).json()

    reused_json: list[Callable[[], object]] = [
        lambda: as_json(
            "/api/2.0/mlflow/model-versions/get",
            "GET",
            params={"name": model, "version": str(version)},
        ),
        lambda: as_json(
            "/api/2.0/mlflow/registered-models/alias",
            "GET",
            params={"name": model, "alias": baseline_alias},
        ),
        lambda: as_json(
            "/api/2.0/mlflow/model-versions/search",
            "GET",
            params={"filter": versions_filter, "max_results": 1000},
        ),
        lambda: as_json(
            "/api/2.0/mlflow/runs/search",
            "POST",
            json={
                "experiment_ids": experiments,
                "filter": f"attributes.run_id IN ({quoted(all_run_ids)})",
                "run_view_type": "ALL",
                "max_results": len(all_run_ids),
            },
        ),
        lambda: as_json(
            "/api/2.0/mlflow/runs/search",
            "POST",
            json={
                "experiment_ids": experiments,
                "filter": evaluations_filter,
                "max_results": 1000,
            },
        ),
        lambda: as_json(
            "/api/2.0/mlflow/logged-models/search",
            "POST",
            json={
                "experiment_ids": experiments,
                "filter": f"attributes.model_id IN ({quoted(model_ids)})",
                "max_results": len(model_ids),
            },
        ),
        *reused[6:],
    ]
    native: list[Callable[[], object]] = [
        lambda: client.get_model_version(model, str(version)),
        lambda: client.get_model_version_by_alias(model, baseline_alias),
        lambda: client.get_run(run_ids[0]),
        lambda: client.get_run(run_ids[1]),
    ]
    # Each of the reused gate's reads alone: where the server's time goes.
    names = [
        "the candidate version",
        "the baseline by alias",
        "the model's versions",
        f"{len(all_run_ids)} runs by id",
        "evaluation runs by tag",
        f"{len(model_ids)} logged models by id",
        *(f"bulk history of {key}" for key in keys),
    ]
    alone = [(f"{_ALONE}{name}", [read]) for name, read in zip(names, reused, strict=True)]
    timings = []
    with ThreadPoolExecutor(max_workers=8) as pool:
        for label, reads in (
            ("reused gate", reused),
            ("native check", native),
            ("reused gate, as JSON", reused_json),
            *alone,
        ):

            def one_after_another(reads: list[Callable[[], object]] = reads) -> None:
                for read in reads:
                    read()

            def all_at_once(reads: list[Callable[[], object]] = reads) -> None:
                for future in [pool.submit(read) for read in reads]:
                    future.result()

            one_after_another()  # connections and first-use costs out of the timings
            timings.append(
                ReadTiming(
                    reads=label,
                    calls=len(reads),
                    sequential_ms=median_ms(one_after_another, repeats),
                    concurrent_ms=median_ms(all_at_once, repeats),
                )
            )
    return timings


def _timing_table(timings: Sequence[ReadTiming]) -> str:
    lines = [
        "| reads | calls | one after another (ms) | all at once (ms) |",
        "|---|---:|---:|---:|",
    ]
    lines += [
        f"| {t.reads} | {t.calls} | {t.sequential_ms:.1f} | {t.concurrent_ms:.1f} |"
        for t in timings
    ]
    native = {t.reads: t for t in timings}.get("native check")
    if native is not None and native.sequential_ms > 0:
        lines.append("")
        lines += [
            f"{t.reads}'s reads / native check's: {t.sequential_ms / native.sequential_ms:.2f}x "
            f"one after another, {t.concurrent_ms / native.sequential_ms:.2f}x all at once"
            for t in timings
            if t is not native and not t.reads.startswith(_ALONE)
        ]
    return "\n".join(lines)


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
    parser.add_argument("--repeats", type=int, default=30, help="timed rounds of reads (0: none)")
    args = parser.parse_args(argv)
    if not 0 <= args.repeats <= 500:
        parser.error(f"--repeats must be between 0 and 500, got {args.repeats}")
    quiet_mlflow()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="promogate-calls-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        counts, timings = count_mlflow_calls(
            workdir, args.policies.resolve(), env, repeats=args.repeats
        )
    if args.json:
        print("[" + ",".join(c.model_dump_json() for c in [*counts, *timings]) + "]")
    else:
        print(_table(counts))
        if timings:
            print()
            print(_timing_table(timings))


if __name__ == "__main__":
    main()
