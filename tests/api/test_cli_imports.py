"""What the `promogate` commands import: heavy libraries only on the paths that use them.

Each case runs the console-script entry in a fresh interpreter and lists the top-level packages
loaded when it exits. `python -X importtime` shows where the time goes; these tests only pin that
the libraries a command does not need stay out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

POLICIES = Path(__file__).resolve().parents[2] / "policies" / "examples"

# Each costs a tenth of a second to seconds to import; none is needed to print help.
HEAVY = (
    "fastapi",
    "langchain",
    "langchain_core",
    "langchain_openai",
    "langgraph",
    "mlflow",
    "numpy",
    "openai",
    "pandas",
    "procrastinate",
    "psycopg",
    "pyarrow",
    "pydantic_settings",
    "scipy",
    "sklearn",
    "sqlalchemy",
)
# The LLM stack and the libraries no local review or policy check uses.
NEVER_OFFLINE = (
    "langchain",
    "langchain_core",
    "langchain_openai",
    "langgraph",
    "openai",
    "procrastinate",
    # The post-promotion watch (scipy's statistics, monitoring windows) is not a review's.
    "watch",
)
# A review reads feature importances from a skops model it may load (the plausibility questions),
# which needs scikit-learn; validating a policy never does.
# Policy validation parses YAML into pydantic models; numpy comes with the comparison types the
# pipeline rules are declared on.
NOT_FOR_POLICIES = (
    *NEVER_OFFLINE,
    "sklearn",
    "fastapi",
    "mlflow",
    "pandas",
    "pyarrow",
    "scipy",
    "sqlalchemy",
)
# The HTTP gate client: the standard library, and typer for the console script `api.cli`.
NOT_FOR_GATE_CLIENT = (*HEAVY, "httpx", "pydantic", "rich", "yaml")

_PROBE = """
import atexit, sys
atexit.register(lambda: print("LOADED", sorted(sys.modules), file=sys.stderr))
sys.argv = ["promogate", *sys.argv[1:]]
from api.cli import main
main()
"""


def _loaded(
    args: list[str], cwd: Path, **environment: str
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """The top-level packages a command loaded, and how it ended."""
    modules, result = _loaded_modules(args, cwd, **environment)
    return {name.split(".")[0] for name in modules}, result


def _loaded_modules(
    args: list[str], cwd: Path, **environment: str
) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    """Every module a command loaded, and how it ended."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_PUBLISH_TAGS": "false"}
    env |= {"PROMOGATE_CACHE_DIR": str(cwd / "cache"), **environment}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env=env,
        check=False,
    )
    lines = [line for line in result.stderr.splitlines() if line.startswith("LOADED ")]
    assert lines, f"the probe did not report its modules: {result.stderr[-2000:]}"
    names: list[str] = eval(lines[-1].removeprefix("LOADED "))  # a list literal the probe printed
    return set(names), result


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["review", "--help"], HEAVY),
        (["gate", "--help"], HEAVY),
        (["policy", "validate", "--help"], HEAVY),
        (["policy", "validate", str(POLICIES)], NOT_FOR_POLICIES),
        (["gate", "--server", "http://127.0.0.1:9", "credit-risk", "2"], NOT_FOR_GATE_CLIENT),
    ],
    ids=["review-help", "gate-help", "policy-validate-help", "policy-validate", "gate-server"],
)
def test_commands_import_no_library_they_do_not_use(
    args: list[str], absent: tuple[str, ...], tmp_path: Path
) -> None:
    loaded, result = _loaded(args, tmp_path)
    assert result.returncode in (0, 3), result.stderr[-2000:]
    assert sorted(loaded & set(absent)) == []
    # The probe itself works: the CLI's own packages were imported.
    assert "api" in loaded


def _demo_review(command: str, registry: Any, tmp_path: Path, *options: str) -> list[str]:
    """Arguments of a local review of the demo's version 2 with the example policies."""
    return [
        command,
        "credit-risk",
        "2",
        *options,
        "--policies",
        str(POLICIES),
        "--tracking-uri",
        registry.tracking_uri,
        "--ledger-url",
        f"sqlite:///{tmp_path / 'ledger.db'}",
    ]


@pytest.mark.parametrize(
    "command",
    ["review", "gate"],
    ids=["review", "gate"],
)
def test_a_local_offline_review_imports_no_llm_stack(
    command: str, demo_registry: Any, tmp_path: Path
) -> None:
    loaded, result = _loaded(_demo_review(command, demo_registry, tmp_path), tmp_path)
    # Version 2 is the demo's clean improvement: the review really ran and approved.
    assert result.returncode == 0, result.stderr[-2000:]
    assert "mlflow" in loaded
    assert sorted(loaded & set(NEVER_OFFLINE)) == []


# What a review does not use: the gate's rules and the alias guard (with the ledger's decision
# fingerprints they check) serve `gate` and the API, never a review; and on a SQLite MLflow store
# of MLflow's own schema, MLflow's SQL stores (and their ORM models) are never built.
NOT_FOR_REVIEW = (
    "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.store.tracking.dbmodels.models",
    "mlflow.store.tracking.sqlalchemy_store",
    "ledger.fingerprints",
    "review._alias_lease",
    "review._fingerprint",
    "review.alias_guard",
    "review.gate",
)


def test_a_local_review_imports_no_gate_module(demo_registry: Any, tmp_path: Path) -> None:
    loaded, result = _loaded_modules(_demo_review("review", demo_registry, tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "review.service" in loaded
    assert sorted(loaded & set(NOT_FOR_REVIEW)) == []


# What a review loads only to read a model file's importances (scipy comes with MLflow).
MODEL_LOADING = ("sklearn", "skops")
# What differs between two reviews of the same evidence from the command line.
_VARYING = ("id", "created_at", "duration_ms")


@pytest.mark.parametrize(
    ("disk_cache", "second_run_loads_models"),
    [("true", False), ("false", True)],
    ids=["disk-cache-on", "disk-cache-off"],
)
def test_a_repeated_local_review_loads_no_model_when_its_importances_are_on_disk(
    disk_cache: str, second_run_loads_models: bool, demo_registry: Any, tmp_path: Path
) -> None:
    args = _demo_review("review", demo_registry, tmp_path, "--json")
    runs = [_loaded(args, tmp_path, PROMOGATE_DISK_CACHE=disk_cache) for _ in range(2)]
    decisions = []
    for _, result in runs:
        assert result.returncode == 0, result.stderr[-2000:]
        decision = json.loads(result.stdout)
        decisions.append({k: v for k, v in decision.items() if k not in _VARYING})
    (first, _), (second, _) = runs
    # The first review made the ledger; the second reads its schema revision without Alembic.
    assert "alembic" in first
    assert "alembic" not in second
    # The first review loads both versions' model files (nothing is cached yet).
    assert set(MODEL_LOADING) <= first
    assert (set(MODEL_LOADING) <= second) is second_run_loads_models
    if not second_run_loads_models:
        assert sorted(second & set(MODEL_LOADING)) == []
    assert decisions[0] == decisions[1]
    # Both versions' importances, and the model files' hashes when the files had settled
    # (`tools.file_hashes.RACY_NS`) by the time the first review read them.
    payloads = [
        entry.read_bytes().split(b"\n", 3)[3]
        for entry in (tmp_path / "cache" / "importances").glob("*.entry")
    ]
    importances = [p for p in payloads if p.startswith(b"{")]
    hashes = [p for p in payloads if not p.startswith(b"{")]
    assert len(importances) == (2 if disk_cache == "true" else 0)
    assert len(hashes) <= len(importances)
    assert all(len(p) == 64 and set(p) <= set(b"0123456789abcdef") for p in hashes)
