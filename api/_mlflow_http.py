"""MLflow's HTTP client's timeout and retries, set from the settings before a client is made.

MLflow reads them from the environment only. Left at MLflow's defaults (seven retries, doubling
waits), a command against a server that is down waits minutes before it says so.
"""

from __future__ import annotations

import os

from api.settings import Settings

__all__ = ["configure_mlflow_http"]


def configure_mlflow_http(settings: Settings) -> None:
    """Set MLflow's HTTP timeout, retries and backoff (and telemetry off unless set) for this
    process, from `settings`; call it before the first MLflow client is made."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.mlflow_http_timeout_s)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.mlflow_http_retries)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
