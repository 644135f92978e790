"""A benchmark's MLflow logs stay at warnings even when MLflow is first imported by the call."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import logging, sys
assert "mlflow" not in sys.modules
from benchmarks._mlflow_logging import quiet_mlflow
quiet_mlflow()
import mlflow.models.evaluation.validation
print(logging.getLogger("mlflow.models.evaluation.validation").getEffectiveLevel())
"""


def test_mlflow_s_own_logging_configuration_does_not_undo_the_level() -> None:
    # A fresh interpreter: in this one MLflow is imported and configured already.
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"MLFLOW_DISABLE_TELEMETRY": "true", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "30"
