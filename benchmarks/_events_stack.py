"""A real MLflow server delivering webhooks to a real `promogate serve`, for tests and benchmarks.

`EventsStack` starts, on loopback:

- ``mlflow server --workers 1`` on a SQLite store, with the settings MLflow 3 needs to deliver
  webhooks to a loopback receiver (a secret encryption key, ``http`` allowed, private addresses
  allowed, a one-second webhook cache so a new webhook is used at once);
- a `NotificationSink`: an HTTP server that keeps every notification posted to it;
- ``promogate serve`` with the webhook secret, the sink as its notification URL, and a trusted
  policy directory the caller writes.

`register_version` registers a version whose source run carries the given metrics (no model
files: the guard and the metric rules need none), through the server, so MLflow fires its webhook.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from benchmarks._api_server import ApiServer, create_token
from benchmarks._mlflow_server import MlflowServer, free_port

__all__ = ["EventsStack", "NotificationSink", "register_version", "webhook_server_env"]


def webhook_server_env(base: Mapping[str, str]) -> dict[str, str]:
    """An `mlflow server` environment that lets MLflow deliver webhooks to a loopback receiver."""
    return {
        **base,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": base64.urlsafe_b64encode(
            secrets.token_bytes(32)
        ).decode(),
        "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
        "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
        "MLFLOW_WEBHOOK_CACHE_TTL": "1",
    }


class NotificationSink:
    """An HTTP server on loopback that records every POST; it can answer 503 or stop listening.

    Args:
        port: Port to listen on; a free one when None.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port if port is not None else free_port()
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.mode: Literal["ok", "http_503"] = "ok"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/notify"

    def start(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if sink.mode == "http_503":
                    self.send_response(503)
                    self.end_headers()
                    return
                with sink._lock:
                    sink.received.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="notification-sink", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def payloads(self) -> list[dict[str, Any]]:
        """Every JSON body received so far."""
        with self._lock:
            return [json.loads(body) for _, body in self.received]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def register_version(client: Any, experiment_id: str, model: str, metrics: dict[str, float]) -> int:
    """Register a new version of `model` whose source run logged `metrics`; returns its number."""
    run = client.create_run(experiment_id)
    for key, value in metrics.items():
        client.log_metric(run.info.run_id, key, value)
    client.set_terminated(run.info.run_id)
    mv = client.create_model_version(
        model, f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    return int(mv.version)


class EventsStack:
    """MLflow (webhooks on) → promogate serve → notification sink, all on loopback.

    Args:
        workdir: Directory for the stores, logs and ledger.
        policies_dir: Trusted policy directory for promogate.
        env: Base environment of the server processes.
        extra_settings: More ``PROMOGATE_*`` variables for promogate serve.
    """

    def __init__(
        self,
        workdir: Path,
        policies_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        extra_settings: Mapping[str, str] | None = None,
    ) -> None:
        base = dict(env if env is not None else os.environ)
        self.workdir = workdir
        self.secret = secrets.token_urlsafe(24)
        self.sink = NotificationSink()
        self.ledger_url = f"sqlite:///{workdir / 'ledger.db'}"
        self.tracking_store = f"sqlite:///{workdir / 'mlflow.db'}"
        self.mlflow = MlflowServer(
            self.tracking_store,
            workdir / "artifacts",
            env=webhook_server_env(base),
            log_path=workdir / "mlflow-server.log",
        )
        self.api = ApiServer(
            tracking_uri=self.mlflow.url,
            ledger_url=self.ledger_url,
            policies_dir=policies_dir,
            env={
                **base,
                "PROMOGATE_MLFLOW_WEBHOOK_SECRET": self.secret,
                "PROMOGATE_NOTIFY_URL": self.sink.url,
                "PROMOGATE_NOTIFY_FORMAT": "generic",
                "PROMOGATE_NOTIFY_SECRET": self.secret,
                "PROMOGATE_PUBLISH_TAGS": "true",
                **(extra_settings or {}),
            },
            log_path=workdir / "promogate-serve.log",
        )
        self.base_env = base
        self.token = ""

    @property
    def webhook_url(self) -> str:
        return f"{self.api.url}/v1/mlflow/webhook"

    def start(self) -> None:
        """Start everything and install the webhook with promogate's own command."""
        import subprocess
        import sys

        self.sink.start()
        self.mlflow.launch()
        self.mlflow.wait_ready()
        self.token = create_token(self.ledger_url, "deployer", "admin", env=self.base_env)
        self.api.start()
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "api.cli",
                "mlflow",
                "install-webhook",
                "--url",
                self.webhook_url,
                "--tracking-uri",
                self.mlflow.url,
                "--json",
            ],
            capture_output=True,
            text=True,
            env={**self.base_env, "PROMOGATE_MLFLOW_WEBHOOK_SECRET": self.secret},
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"install-webhook failed: {result.stderr.strip()}")

    def stop(self) -> None:
        self.api.stop()
        self.mlflow.stop()
        self.sink.stop()

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
