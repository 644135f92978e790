"""Time from a plain-MLflow model to its first correct verdict, following the README quickstart.

Runs the "Gate your own model" section of README.md as written (its `train.py`, then each
`uv run ...` command, with this interpreter and this environment's `promogate` standing in for
`uv run`) in a fresh directory, times every step, and checks the verdict: the gate must approve
version 2 (exit 0). Then measures what discovery adds to gathering a version's evidence: the
table reader that walks the whole run against the one that looked only under `eval/`.

    python -m benchmarks.quickstart [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main", "quickstart_steps"]

_ROOT = Path(__file__).resolve().parents[1]
# The team style whose table sits at reports/scored.csv under other column names.
SYNONYMS = "synonyms"


def quickstart_steps(readme: Path) -> tuple[str, list[str]]:
    """The quickstart's `train.py` and its shell commands, as the README shows them."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("## Gate your own model", 1)[1].split("\n## ", 1)[0]
    train = re.search(r"```python\n(.*?)```", section, re.S)
    bash = re.search(r"```bash\n(.*?)```", section, re.S)
    if train is None or bash is None:
        raise SystemExit("README.md has no 'Gate your own model' section with code blocks")
    commands = [
        line.split("#", 1)[0].strip()
        for line in bash[1].splitlines()
        if line.strip().startswith("uv run ")
    ]
    return train[1], commands


def _argv(command: str) -> list[str]:
    words = command.split()[2:]  # drop "uv run"
    bin_dir = Path(sys.executable).parent
    if words[0] == "python":
        return [sys.executable, *words[1:]]
    return [str(bin_dir / words[0]), *words[1:]]


def run_quickstart(workdir: Path) -> list[tuple[str, float, int, str]]:
    """Run every step in `workdir`; (command, seconds, exit code, last output line) each."""
    train, commands = quickstart_steps(_ROOT / "README.md")
    (workdir / "train.py").write_text(train, encoding="utf-8")
    (workdir / "policies").mkdir()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    for name in ("PROMOGATE_TRACKING_URI", "PROMOGATE_POLICIES_DIR", "PROMOGATE_LEDGER_URL"):
        env.pop(name, None)
    results = []
    for command in commands:
        started = time.perf_counter()
        done = subprocess.run(
            _argv(command), cwd=workdir, env=env, capture_output=True, text=True, timeout=900
        )
        elapsed = time.perf_counter() - started
        last = (done.stdout.strip().splitlines() or [""])[-1]
        results.append((command, elapsed, done.returncode, last))
    return results


def discovery_overhead(repeat: int) -> tuple[float, float, float, float]:
    """Median seconds of the old `eval/`-only table read and of discovery, on two runs each."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow import MlflowClient

    from scenarios import build_team_registry
    from tools.discovery import find_eval_table
    from tools.eval_table import read_eval_table
    from tools.registry import resolve_version

    root = Path(tempfile.mkdtemp(prefix="promogate-discovery-"))
    try:
        registry = build_team_registry(root)
        assert SYNONYMS in registry.models
        client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
        run_id = resolve_version(client, SYNONYMS, 2).run_id
        assert run_id is not None

        def median(fn: object) -> float:
            times = []
            for _ in range(repeat):
                started = time.perf_counter()
                fn()  # type: ignore[operator]
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        old_missing = median(lambda: read_eval_table(client, run_id))
        new_found = median(lambda: find_eval_table(client, run_id))
        from tools.collector import collect_version

        full = median(lambda: collect_version(client, SYNONYMS, 2))
        return old_missing, new_found, new_found - old_missing, full
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="promogate-quickstart-") as tmp:
        steps = run_quickstart(Path(tmp))
    total = 0.0
    print("README quickstart, step by step:")
    for command, seconds, code, _ in steps:
        total += seconds
        print(f"  {seconds:7.1f} s  exit {code}  {command}")
    verdict = steps[-1]
    correct = verdict[2] == 0 and verdict[3].startswith("allow approve")
    outcome = "correct" if correct else "WRONG"
    print(f"  total {total:.1f} s to the first verdict: {verdict[3]!r} ({outcome})")
    old, new, added, full = discovery_overhead(args.repeat)
    print(f"Discovery (median of {args.repeat}):")
    print(f"  table read, eval/ only (before): {old * 1000:7.1f} ms  (finds nothing here)")
    print(f"  table read with discovery:      {new * 1000:7.1f} ms  (finds reports/scored.csv)")
    print(f"  added by discovery:             {added * 1000:7.1f} ms; ratio {new / old:.2f}x")
    print(f"  whole evidence gathering of the version: {full * 1000:7.1f} ms")
    return 0 if correct else 1


if __name__ == "__main__":
    sys.exit(main())
