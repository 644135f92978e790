"""MLflow's per-call Databricks probes asked once outside Databricks.

Each case runs in its own interpreter: MLflow's request-header registry is process-wide.
"""

from __future__ import annotations

from collections.abc import Callable


def test_an_mlflow_call_no_longer_searches_for_them_and_sys_modules_is_untouched(
    own_interpreter: Callable[[str], str],
) -> None:
    out = own_interpreter(
        """
        import sys
        from mlflow.tracking.request_header.registry import resolve_request_headers
        from tools.databricks_probes import skip_databricks_header_probes
        before = resolve_request_headers()
        print(skip_databricks_header_probes())
        searched = []
        class Finder:
            def find_spec(self, name, path=None, target=None):
                searched.append(name)
        sys.meta_path.insert(0, Finder())
        assert resolve_request_headers() == before, "the same headers"
        print(sorted(set(searched) & {"dbruntime", "IPython", "pyspark"}))
        print(sorted(n for n in ("dbruntime", "IPython", "pyspark") if n in sys.modules))
        """
    )
    assert out.splitlines() == ["1", "[]", "[]"]


def test_a_provider_in_context_is_kept(own_interpreter: Callable[[str], str]) -> None:
    out = own_interpreter(
        """
        from mlflow.tracking.request_header.databricks_request_header_provider import (
            DatabricksRequestHeaderProvider,
        )
        from mlflow.tracking.request_header.registry import _request_header_provider_registry
        from tools.databricks_probes import skip_databricks_header_probes

        class OnDatabricks(DatabricksRequestHeaderProvider):
            def in_context(self):
                return True

        _request_header_provider_registry._registry.insert(0, OnDatabricks())
        print(skip_databricks_header_probes())
        print([type(p).__name__ for p in _request_header_provider_registry])
        """
    )
    assert out.splitlines() == ["1", "['OnDatabricks', 'DefaultRequestHeaderProvider']"]
