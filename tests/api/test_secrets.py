"""No credential leaves: a password planted in every configurable URL and secret is searched for in
every output channel (answers and their headers, /readyz, /metrics, log lines at DEBUG, the
ledger's rows, MLflow tags, the command line's output).

Today's defect: a tracking URI with ``user:password@`` appeared in /readyz without a token, in gate
and review answers, in log lines and in the reasons of decisions written to the ledger for good.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from benchmarks._mlflow_server import free_port

MODEL = "gate-model"
PROMOGATE = str(Path(sys.executable).with_name("promogate"))


def _planted(name: str) -> str:
    return f"PLANTED-{name}-{uuid.uuid4().hex[:8]}"


def _with_password(url: str, user: str, password: str) -> str:
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{user}:{password}@{rest}"


class Channels:
    """Everything a test saw leave the process."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text: str) -> None:
        self.texts.append((where, text))

    def response(self, where: str, response: Any) -> None:
        self.add(f"{where} body", response.text)
        self.add(f"{where} headers", repr(dict(response.headers)))

    def leaks(self, secrets: list[str]) -> list[str]:
        return [
            f"{secret!r} in {where}"
            for where, text in self.texts
            for secret in secrets
            if secret in text
        ]


def _ledger_rows(url: str) -> str:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(sqlalchemy.text("SELECT * FROM ledger_records")).fetchall()
    finally:
        engine.dispose()
    return repr(rows)


def _common_secrets() -> dict[str, str]:
    return {
        "openai_api_key": _planted("openai-key"),
        "openai_base_url": _with_password("http://127.0.0.1:9/v1", "llm", _planted("llm-pw")),
    }


def test_a_password_in_the_tracking_uri_never_leaves(
    make_api: Any, mlflow_server: Any, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    reachable_pw, registry_pw, dead_pw = _planted("mlflow"), _planted("registry"), _planted("dead")
    extra = _common_secrets()
    secrets = [reachable_pw, registry_pw, dead_pw, *extra.values()]
    channels = Channels()

    # MLflow reachable: reviews, gate answers, a promotion, tags written back.
    tracking = _with_password(mlflow_server.url, "promo", reachable_pw)
    api = make_api(
        tracking_uri=tracking,
        registry_uri=_with_password(mlflow_server.url, "promo", registry_pw),
        openai_api_key=extra["openai_api_key"],
        openai_base_url=extra["openai_base_url"],
    )
    secrets += list(api.tokens.values())
    deploy = api.headers("deployer")
    for version in (2, 3, 9):
        channels.response(
            f"gate v{version}",
            api.client.post("/v1/gate", json={"model": MODEL, "version": version}, headers=deploy),
        )
    channels.response(
        "promote",
        api.client.post(
            "/v1/promote",
            json={"model": MODEL, "version": 2, "target_alias": "secrets-test"},
            headers=deploy,
        ),
    )
    channels.response("reviews", api.client.get("/v1/reviews", headers=api.headers("viewer")))
    import mlflow

    client = mlflow.MlflowClient(mlflow_server.url)
    channels.add("tags v2", repr(client.get_model_version(MODEL, "2").tags))

    # MLflow unreachable with a password: every failure path names the URL.
    dead = make_api(
        tracking_uri=_with_password(f"http://127.0.0.1:{free_port()}", "promo", dead_pw),
        mlflow_http_timeout_s=1.0,
        evidence_timeout_s=3.0,
    )
    secrets += list(dead.tokens.values())
    channels.response(
        "dead gate",
        dead.client.post(
            "/v1/gate", json={"model": MODEL, "version": 2}, headers=dead.headers("deployer")
        ),
    )
    channels.response(
        "dead review",
        dead.client.post(
            "/v1/reviews", json={"model": MODEL, "version": 3}, headers=dead.headers("reviewer")
        ),
    )
    channels.response(
        "dead promote",
        dead.client.post(
            "/v1/promote", json={"model": MODEL, "version": 2}, headers=dead.headers("deployer")
        ),
    )
    anonymous_ready = dead.client.get("/readyz")
    assert anonymous_ready.json() == {"ready": False, "checks": None}
    channels.response("readyz", anonymous_ready)
    detailed = dead.client.get("/readyz", headers=dead.headers("viewer"))
    assert detailed.json()["checks"]["mlflow"]["ok"] is False
    assert "***" in detailed.json()["checks"]["mlflow"]["detail"]
    channels.response("readyz with token", detailed)
    channels.response("metrics", dead.client.get("/metrics"))

    for harness, name in ((api, "ledger"), (dead, "dead ledger")):
        channels.add(name, _ledger_rows(harness.settings.ledger_url))
    errors = [d.error for d in dead.ledger.list_decisions(MODEL) if d.error]
    assert errors, "the unreachable MLflow must have been recorded as a failed review"

    # The command line: a review against the unreachable, password-bearing MLflow.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMOGATE_")}
    cli = subprocess.run(
        [
            PROMOGATE,
            "review",
            MODEL,
            "2",
            "--tracking-uri",
            _with_password(f"http://127.0.0.1:{free_port()}", "promo", dead_pw),
            "--ledger-url",
            f"sqlite:///{tmp_path / 'cli-ledger.db'}",
            "--policies",
            str(api.settings.policies_dir),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**env, "PROMOGATE_MLFLOW_HTTP_TIMEOUT_S": "1", "PROMOGATE_MLFLOW_HTTP_RETRIES": "0"},
    )
    assert cli.returncode == 3, cli.stdout + cli.stderr
    channels.add("cli review", cli.stdout + cli.stderr)
    client_run = subprocess.run(
        [
            PROMOGATE,
            "gate",
            "--server",
            _with_password("http://127.0.0.1:9", "ci", dead_pw),
            MODEL,
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert client_run.returncode == 3
    channels.add("lean client", client_run.stdout + client_run.stderr)

    channels.add("logs", caplog.text)
    assert "***" in caplog.text, "the URLs were logged, redacted"
    assert channels.leaks(secrets) == []


def test_a_password_in_the_ledger_url_never_leaves(
    make_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = _planted("pg")
    url = f"postgresql+psycopg://promo:{password}@127.0.0.1:{free_port()}/ledger"
    api = make_api(ledger_url=url, with_tokens=False, allow_anonymous=True)
    channels = Channels()
    channels.response("gate", api.client.post("/v1/gate", json={"model": MODEL, "version": 2}))
    channels.response("reviews", api.client.get("/v1/reviews"))
    ready = api.client.get("/readyz")
    # The unauthenticated probe no longer names the ledger's user, host and database.
    assert ready.json() == {"ready": False, "checks": None}
    assert "promo" not in ready.text
    channels.response("readyz", ready)
    channels.add("logs", caplog.text)
    assert channels.leaks([password]) == []


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("postgresql+psycopg://u:hunter2x@db/ledger", "hunter2x"),
        ("http://promo:s3cr3t-pw@mlflow:5000/api/2.0/mlflow", "s3cr3t-pw"),
        ("https://proxy/v1/chat?api_key=abc123def&x=1", "abc123def"),
        ("host=db password=hunter2x dbname=ledger", "hunter2x"),
        ("Authorization: Bearer pgt_Zk3l0e9_abcdefghij", "pgt_Zk3l0e9_abcdefghij"),
        ('{"token": "t0k3n-value"}', "t0k3n-value"),
        ("https://bucket/x?X-Amz-Signature=deadbeef99", "deadbeef99"),
        ("https://abcdefghijklmnopqrstuvwx@host/", "abcdefghijklmnopqrstuvwx"),
    ],
    ids=["userinfo", "http-userinfo", "query", "conninfo", "bearer", "json", "presigned", "token"],
)
def test_redaction_removes_every_credential_shape(text: str, secret: str) -> None:
    from tools.redaction import redact

    redacted = redact(text)
    assert secret not in redacted
    assert "***" in redacted
    assert redact(redacted) == redacted


@pytest.mark.parametrize(
    "text",
    [
        "missing bearer token: send 'Authorization: Bearer <token>'",
        "token 'deployer' has role 'viewer', which may not gate",
        "metric roc_auc dropped by 0.05 (key: roc_auc)",
        "registered model 'credit-risk' not found",
    ],
    ids=["auth-hint", "token-name", "metric-key", "not-found"],
)
def test_redaction_leaves_ordinary_text_alone(text: str) -> None:
    from tools.redaction import redact

    assert redact(text) == text
