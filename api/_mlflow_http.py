"""MLflow's HTTP client's timeout and retries, set from the settings before a client is made,
and the client a command reads MLflow through.

MLflow reads them from the environment only. Left at MLflow's defaults (seven retries, doubling
waits), a command against a server that is down waits minutes before it says so.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["configure_mlflow_http", "settings_client"]


def configure_mlflow_http(settings: Settings) -> None:
    """Set MLflow's HTTP timeout, retries and backoff (and telemetry off unless set) for this
    process, from `settings`; call it before the first MLflow client is made."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.mlflow_http_timeout_s)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.mlflow_http_retries)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def settings_client(settings: Settings) -> MlflowClient:
    """An MLflow client of the settings' tracking and registry URIs, made after its HTTP timeout
    and retries are set (`configure_mlflow_http`).

    Raises:
        MissingStoreError: A ``sqlite:///`` store that does not exist.
    """
    from tools.client import make_client

    configure_mlflow_http(settings)
    return make_client(settings.tracking_uri, settings.registry_uri)
