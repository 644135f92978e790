"""MLflow's client asks, on every REST call, whether it runs on Databricks: its request-header
provider for Databricks imports ``dbruntime``, ``IPython`` and ``pyspark`` (eleven imports per
call). Where they are not installed, each attempt searches every `sys.path` entry again, since
Python does not remember a failed import: 0.62 ms of CPU per MLflow call, against 0.001 ms
without them (2,000 calls of MLflow's `resolve_request_headers`); a fresh gate on the demo
makes 37 calls (`benchmarks.mlflow_calls`).

Whether a process runs on Databricks does not change while it runs, so
`skip_databricks_header_probes` asks once and, outside Databricks, takes that provider out of
MLflow's request-header registry; every other provider, and `sys.modules`, are left as they
are (libraries read ``"pyspark" in sys.modules`` as "pyspark is in use").
"""

from __future__ import annotations

from typing import Any

__all__ = ["skip_databricks_header_probes"]


def skip_databricks_header_probes() -> int:
    """Take MLflow's Databricks request-header providers that are not in context out of its
    registry; how many were taken out (none on Databricks)."""
    from mlflow.tracking.request_header.databricks_request_header_provider import (
        DatabricksRequestHeaderProvider,
    )
    from mlflow.tracking.request_header.registry import _request_header_provider_registry

    registry: Any = _request_header_provider_registry
    providers = list(getattr(registry, "_registry", None) or [])
    # MLflow's providers are untyped; `in_context` is their documented question.
    idle = [
        p
        for p in providers
        if isinstance(p, DatabricksRequestHeaderProvider) and not bool(p.in_context())  # type: ignore[no-untyped-call]
    ]
    if idle:
        registry._registry = [p for p in providers if p not in idle]
    return len(idle)
