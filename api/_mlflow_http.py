"""MLflow's HTTP client's timeout, retries and connection pool, set from the settings before a
client is made, and the client a command reads MLflow through.

MLflow reads them from the environment only. Left at MLflow's defaults (seven retries, doubling
waits), a command against a server that is down waits minutes before it says so; left at its
pool of 10 connections, a gate, which reads both versions' evidence 16 reads at a time, opens a
new connection for every read past the tenth, closes it after, and logs a warning for each.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from api.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["configure_mlflow_http", "settings_client"]

#: Connections kept alive to the MLflow server (`MLFLOW_HTTP_POOL_MAXSIZE` unless it is set):
#: two gates' concurrent reads.
_POOL_CONNECTIONS = 64


def configure_mlflow_http(settings: Settings) -> None:
    """Set MLflow's HTTP timeout, retries and backoff (and telemetry off and the connection pool's
    size, unless set) for this process, from `settings`; call it before the first MLflow client
    is made."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.mlflow_http_timeout_s)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.mlflow_http_retries)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_POOL_MAXSIZE", str(_POOL_CONNECTIONS))


def settings_client(settings: Settings) -> MlflowClient:
    """An MLflow client of the settings' tracking and registry URIs, made after its HTTP timeout
    and retries are set (`configure_mlflow_http`).

    Raises:
        MissingStoreError: A ``sqlite:///`` store that does not exist.
    """
    from tools.client import make_client

    configure_mlflow_http(settings)
    return make_client(settings.tracking_uri, settings.registry_uri)
