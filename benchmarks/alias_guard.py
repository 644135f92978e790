"""Alias guard: time from an unapproved alias move to its revert, and the reconciler's cost.

On loopback, one real `mlflow server --workers 1` (SQLite, webhooks on) and real `promogate serve`
processes (`EventsStack`):

- **through the webhook**: `@champion` of `guarded-bench` is moved by hand to a blocked version;
  MLflow delivers `model_version_alias.created` to promogate, whose alias guard puts it back. The
  time is from the moment MLflow acknowledged the move to the moment MLflow reports the alias back
  on the approved version (polled every 10 ms).
- **through the reconciler alone**: the webhook is disabled and a second `promogate serve` runs the
  periodic reconciler every `--interval` seconds; same measurement.
- **reconciler cost per guarded alias**: `promogate reconcile --json` over a model with 1,000
  versions and `--aliases` guarded aliases, all on approved versions (the steady state), divided by
  the number of aliases; beside one `get_registered_model` call (the MLflow read the check cannot
  avoid) as the floor.

    uv run python -m benchmarks.alias_guard [--rounds 15] [--interval 5] [--aliases 20]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import BaseModel

from benchmarks._api_server import ApiServer
from benchmarks._events_stack import EventsStack, register_version
from benchmarks._mlflow_logging import quiet_mlflow

__all__ = ["GuardFigures", "main", "measure"]

_POLICY: Final = """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: guarded, revision: 1}
    match: {model: "guarded-*"}
    metrics:
      - {name: roc_auc, min: 0.7}
    comparability: {same_eval_dataset: "off", train_eval_overlap: "off"}
    guard: {mode: enforce, aliases: ["champion", "slot-*"]}
    """
_TIMEOUT_S: Final = 180.0


class GuardFigures(BaseModel):
    """What the benchmark measured (seconds unless named otherwise)."""

    webhook_revert_s: list[float]
    reconciler_revert_s: list[float]
    reconcile_interval_s: float
    versions: int
    aliases: int
    reconcile_pass_s: list[float]
    get_registered_model_ms: float

    @property
    def per_alias_ms(self) -> float:
        return statistics.median(self.reconcile_pass_s) * 1000.0 / self.aliases


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _wait(what: str, probe: Any, timeout: float = _TIMEOUT_S, pause: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(pause)


def _champion(client: Any, model: str) -> int | None:
    aliases = dict(client.get_registered_model(model).aliases or {})
    return int(aliases["champion"]) if "champion" in aliases else None


def _time_reverts(client: Any, model: str, good: int, bad: int, rounds: int) -> list[float]:
    timings: list[float] = []
    for _ in range(rounds):
        client.set_registered_model_alias(model, "champion", str(bad))
        moved = time.perf_counter()
        _wait("the revert", lambda: _champion(client, model) == good)
        timings.append(time.perf_counter() - moved)
        # Let the guard release the alias's lease before the next move.
        time.sleep(0.5)
    return timings


def _decided(ledger_url: str, model: str, version: int) -> bool:
    from ledger.store import Ledger

    with Ledger(ledger_url) as ledger:
        return bool(ledger.list_decisions(model, version))


def measure(
    workdir: Path,
    *,
    rounds: int,
    interval_s: float,
    aliases: int,
    versions: int,
    env: Mapping[str, str],
) -> GuardFigures:
    """Run the three measurements on one stack; see the module docstring."""
    import mlflow

    policies = workdir / "policies"
    policies.mkdir(parents=True, exist_ok=True)
    (policies / "guarded.yaml").write_text(textwrap.dedent(_POLICY))
    with EventsStack(workdir, policies, env=env) as stack:
        client = mlflow.MlflowClient(tracking_uri=stack.mlflow.url, registry_uri=stack.mlflow.url)
        experiment = str(client.create_experiment("guard-bench"))
        model = "guarded-bench"
        client.create_registered_model(model)
        good = register_version(client, experiment, model, {"roc_auc": 0.9})
        bad = register_version(client, experiment, model, {"roc_auc": 0.5})
        _wait("the reviews", lambda: _decided(stack.ledger_url, model, bad), pause=0.2)
        _wait("the reviews", lambda: _decided(stack.ledger_url, model, good), pause=0.2)
        promoted = httpx.post(
            f"{stack.api.url}/v1/promote",
            json={"model": model, "version": good},
            headers={"Authorization": f"Bearer {stack.token}"},
            timeout=120.0,
        )
        promoted.raise_for_status()
        webhook = _time_reverts(client, model, good, bad, rounds)

        for hook in client.list_webhooks():
            client.update_webhook(hook.webhook_id, status="DISABLED")
        time.sleep(2.0)  # MLflow caches the webhook list for MLFLOW_WEBHOOK_CACHE_TTL (1 s here)
        reconciler = ApiServer(
            tracking_uri=stack.mlflow.url,
            ledger_url=stack.ledger_url,
            policies_dir=policies,
            env={**env, "PROMOGATE_RECONCILE_INTERVAL_S": str(interval_s)},
            log_path=workdir / "promogate-reconciler.log",
        )
        with reconciler:
            reconciled = _time_reverts(client, model, good, bad, max(3, rounds // 2))

        big = "guarded-registry"
        client.create_registered_model(big)
        run = client.create_run(experiment)
        source = f"runs:/{run.info.run_id}/model"
        for _ in range(versions):
            client.create_model_version(big, source, run_id=run.info.run_id)
        for slot in range(aliases - 1):
            client.set_registered_model_alias(big, f"slot-{slot:02d}", str(versions - slot))
        client.set_registered_model_alias(big, "champion", str(versions))
        command = [
            sys.executable,
            "-m",
            "api.cli",
            "reconcile",
            "--model",
            big,
            "--tracking-uri",
            stack.mlflow.url,
            "--ledger-url",
            stack.ledger_url,
            "--policies",
            str(policies),
            "--json",
        ]
        subprocess.run([*command, "--adopt"], env=dict(env), capture_output=True, check=False)
        passes: list[float] = []
        for _ in range(5):
            result = subprocess.run(command, env=dict(env), capture_output=True, text=True)
            report = json.loads(result.stdout)
            checked = [o for o in report["outcomes"] if o["action"] == "none"]
            if len(checked) != aliases:
                raise RuntimeError(f"expected {aliases} approved aliases: {result.stdout}")
            passes.append(float(report["seconds"]))
        reads: list[float] = []
        for _ in range(20):
            started = time.perf_counter()
            client.get_registered_model(big)
            reads.append(time.perf_counter() - started)
    return GuardFigures(
        webhook_revert_s=webhook,
        reconciler_revert_s=reconciled,
        reconcile_interval_s=interval_s,
        versions=versions,
        aliases=aliases,
        reconcile_pass_s=passes,
        get_registered_model_ms=statistics.median(reads) * 1000.0,
    )


def _table(f: GuardFigures) -> str:
    lines = [
        "| Path | Moves | Median (s) | p95 (s) |",
        "|---|---:|---:|---:|",
        f"| webhook → alias guard | {len(f.webhook_revert_s)} | "
        f"{statistics.median(f.webhook_revert_s):.2f} | {_p95(f.webhook_revert_s):.2f} |",
        f"| reconciler alone (every {f.reconcile_interval_s:g} s) | "
        f"{len(f.reconciler_revert_s)} | {statistics.median(f.reconciler_revert_s):.2f} | "
        f"{_p95(f.reconciler_revert_s):.2f} |",
        "",
        "| Reconciler over a registry of | Guarded aliases | Pass (median s) | Per alias (ms) | "
        "One get_registered_model (ms) | Ratio |",
        "|---|---:|---:|---:|---:|---:|",
        f"| {f.versions} versions | {f.aliases} | {statistics.median(f.reconcile_pass_s):.2f} | "
        f"{f.per_alias_ms:.1f} | {f.get_registered_model_ms:.1f} | "
        f"{f.per_alias_ms / f.get_registered_model_ms:.1f}x |",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--aliases", type=int, default=20)
    parser.add_argument("--versions", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 100:
        parser.error(f"--rounds must be between 1 and 100, got {args.rounds}")
    if not 1 <= args.aliases <= min(99, args.versions):
        parser.error(f"--aliases must be between 1 and 99 (and <= --versions), got {args.aliases}")
    quiet_mlflow()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    with tempfile.TemporaryDirectory(prefix="promogate-alias-guard-") as scratch:
        workdir = args.workdir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        figures = measure(
            workdir,
            rounds=args.rounds,
            interval_s=args.interval,
            aliases=args.aliases,
            versions=args.versions,
            env=env,
        )
    print(figures.model_dump_json(indent=2) if args.json else _table(figures))


if __name__ == "__main__":
    main()
