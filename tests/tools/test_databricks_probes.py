"""MLflow's per-call Databricks probes answered at once where the modules are not installed.

Each case runs in its own interpreter: marking a module absent is process-wide.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return result.stdout.strip()


def test_absent_probes_fail_at_once_with_the_same_error() -> None:
    out = _run(
        """
        import importlib.util
        from tools.databricks_probes import DATABRICKS_PROBES, skip_absent_databricks_probes
        absent = [n for n in DATABRICKS_PROBES if importlib.util.find_spec(n) is None]
        marked = skip_absent_databricks_probes()
        assert marked == absent, (marked, absent)
        for name in marked:
            try:
                __import__(name)
            except ModuleNotFoundError:
                pass
            else:
                raise AssertionError(name)
            assert importlib.util.find_spec(name) is None
        print(len(marked))
        """
    )
    assert out.isdigit()


def test_an_installed_module_is_never_marked() -> None:
    out = _run(
        """
        import sys
        import tools.databricks_probes as probes
        probes.DATABRICKS_PROBES = ("json", "no_such_module_for_this_test")
        marked = probes.skip_absent_databricks_probes()
        import json
        print(marked, sys.modules["json"] is json)
        """
    )
    assert out == "['no_such_module_for_this_test'] True"


def test_an_mlflow_call_no_longer_searches_for_them(tmp_path: Path) -> None:
    out = _run(
        f"""
        import sys
        from mlflow import MlflowClient
        from tools.databricks_probes import skip_absent_databricks_probes
        client = MlflowClient(tracking_uri="sqlite:///{tmp_path / "mlflow.db"}")
        client.search_experiments()
        skip_absent_databricks_probes()
        searched = []
        class Finder:
            def find_spec(self, name, path=None, target=None):
                searched.append(name)
        sys.meta_path.insert(0, Finder())
        from mlflow.tracking.request_header.registry import resolve_request_headers
        resolve_request_headers()
        print(sorted(set(searched) & {{"dbruntime", "IPython", "pyspark"}}))
        """
    )
    assert out == "[]"
