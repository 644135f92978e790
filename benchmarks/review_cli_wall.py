"""Wall time of a local `promogate review` on the demo, beside `python -c "import mlflow"`.

Runs, alternately and in the same loop, `python -c "import mlflow"` and `promogate review
credit-risk 2` (offline, no tag publishing, a throwaway SQLite ledger) on the demo registry, from
this checkout and from any `--checkout DIR` given (e.g. the main branch, same interpreter), after
one untimed run of each so bytecode is cached::

    uv run python -m benchmarks.review_cli_wall --workdir /tmp/bench --reuse --runs 7

`--cache warm` (the default) lets every timed review find what the untimed one kept in the
on-disk cache (a repeated review of the same versions: the model files' hashes and importances,
the screening of the evidence's text); `--cache cold` gives each review an empty cache directory,
so it loads both versions' model files and screens the evidence as a first review does. The
cache lives in a temporary directory, never the user's. `--publish-tags` has every review write
its decision's tags on the version, as a review from the command line does by default.

The goal is review <= import mlflow + 0.6 s: what promogate adds on top of MLflow's own import
(its imports, the MLflow store, the review and the ledger) within 0.6 s. A third command times
what MLflow alone needs to read the same store: an `MlflowClient` on the demo's SQLite store
reading the registered model once (SQLAlchemy, MLflow's store models and its schema check, which
`import mlflow` does not load).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.review_latency import policies_of, prepare_registry

__all__ = ["main"]

_REVIEW = "import sys; sys.argv = ['promogate', *sys.argv[1:]]; from api.cli import main; main()"
_CLIENT_READ = (
    "import sys; from mlflow import MlflowClient; "
    "MlflowClient(sys.argv[1], sys.argv[1]).get_registered_model(sys.argv[2])"
)


def _cache_env(mode: str, warm_dir: Path) -> dict[str, str]:
    """Where the next review keeps its on-disk cache: the shared primed one, or a new empty one."""
    directory = (
        warm_dir if mode == "warm" else Path(tempfile.mkdtemp(prefix="cold-", dir=warm_dir.parent))
    )
    return {"PROMOGATE_CACHE_DIR": str(directory), "PROMOGATE_DISK_CACHE": "true"}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _time(cmd: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run; CPU is less sensitive to other load."""
    started, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise RuntimeError(f"{cmd[:3]} exited {result.returncode}: {result.stderr[-1000:]}")
    return elapsed, _children_cpu() - cpu


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/promogate-bench"))
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--checkout", type=Path, action="append", default=[])
    parser.add_argument("--cache", choices=("warm", "cold"), default="warm")
    parser.add_argument("--publish-tags", action="store_true")
    args = parser.parse_args(argv)
    registry = prepare_registry(args.workdir, reuse=args.reuse)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    publish = "true" if args.publish_tags else "false"
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_PUBLISH_TAGS": publish}
    ledger_dir = Path(tempfile.mkdtemp(prefix="promogate-cli-"))
    warm_dir = ledger_dir / "cache"
    review_args = [
        "review",
        "credit-risk",
        "2",
        "--tracking-uri",
        registry.tracking_uri,
        "--llm",
        "offline",
    ]
    commands: dict[str, tuple[list[str], Path]] = {
        'python -c "import mlflow"': ([sys.executable, "-c", "import mlflow"], Path.cwd()),
        "MLflow client, one read of the store": (
            [sys.executable, "-c", _CLIENT_READ, registry.tracking_uri, registry.model_name],
            Path.cwd(),
        ),
    }
    for checkout in [Path.cwd(), *args.checkout]:
        name = "this checkout" if checkout == Path.cwd() else checkout.name
        ledger = f"sqlite:///{ledger_dir / (name.replace(' ', '-') + '.db')}"
        commands[f"promogate review ({name})"] = (
            [
                sys.executable,
                "-c",
                _REVIEW,
                *review_args,
                "--ledger-url",
                ledger,
                "--policies",
                str(policies_of(checkout)),
            ],
            checkout,
        )
    times: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    loads: list[float] = []
    for cmd, cwd in commands.values():
        _time(cmd, cwd, env | _cache_env("warm", warm_dir))  # bytecode, page cache, warm cache
    for _ in range(args.runs):
        for label, (cmd, cwd) in commands.items():
            wall, used = _time(cmd, cwd, env | _cache_env(args.cache, warm_dir))
            times[label].append(wall)
            cpu[label].append(used)
            print(f"{label}: {wall:.2f} s ({used:.2f} s CPU)", flush=True)
        loads.append(os.getloadavg()[0])
    base = statistics.median(times['python -c "import mlflow"'])
    base_cpu = statistics.median(cpu['python -c "import mlflow"'])
    print(
        "| command | runs | median (s) | min (s) | minus import mlflow (s) "
        "| CPU median (s) | CPU minus import mlflow (s) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, values in times.items():
        median = statistics.median(values)
        used = statistics.median(cpu[label])
        print(
            f"| `{label}` | {len(values)} | {median:.2f} | {min(values):.2f} | "
            f"{median - base:+.2f} | {used:.2f} | {used - base_cpu:+.2f} |"
        )
    print(
        f"load average during the runs: {min(loads):.1f}-{max(loads):.1f}; cache {args.cache}; "
        f"tags {'published' if args.publish_tags else 'not published'}"
    )


if __name__ == "__main__":
    main()
