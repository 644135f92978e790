"""What the first gate after a start would wait for is done when the app starts, and a warm-up
that fails only logs: the requests that need the failed part report it themselves."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from typing import Any

import pytest

from benchmarks._mlflow_server import free_port

MODEL = "gate-model"


def _warm_up_finished() -> None:
    for thread in threading.enumerate():
        if thread.name == "promogate-warm-up":
            thread.join(timeout=60)
            assert not thread.is_alive()


def test_the_mlflow_client_is_built_before_the_first_request(
    make_api: Any,
) -> None:
    api = make_api()
    _warm_up_finished()
    state = api.client.app.state.promogate
    assert state.reviews._client is not None  # built by the warm-up, not by a request
    response = api.client.post(
        "/v1/gate", json={"model": MODEL, "version": 2}, headers=api.headers("deployer")
    )
    assert response.status_code == 200, response.text


def test_a_ledger_down_at_start_is_logged_and_the_gate_still_refuses(
    make_api: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="promogate.api")
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/test"
    api = make_api(ledger_url=url, with_tokens=False, allow_anonymous=True)
    _warm_up_finished()
    assert any("warming up the ledger failed" in r.getMessage() for r in caplog.records)
    response = api.client.post("/v1/gate", json={"model": MODEL, "version": 2})
    assert response.status_code == 503
    assert response.json()["kind"] == "ledger_unavailable"


@pytest.mark.parametrize(
    ("with_reader_process", "imported"),
    [(False, True), (True, False)],
    ids=["reads-here", "reader-process"],
)
def test_the_warm_up_imports_the_model_file_readers_and_compiles_the_screening(
    with_reader_process: bool, imported: bool
) -> None:
    """In a process of its own, so that nothing imported them before: without the warm-up, the
    first review that reads a model file imports skops and scikit-learn inside a request. A
    process whose model files are read by a reader process never parses one: it leaves the
    import to the child."""
    script = f"""
import sys
from types import SimpleNamespace
from api._warm_up import warm_up
from tools.importance_process import ImportanceProcess
from tools.model_importance import use_importance_process
readers = ("skops.io", "skops.io._audit", "sklearn")
assert not any(name in sys.modules for name in readers), sorted(sys.modules)
if {with_reader_process!r}:
    use_importance_process(ImportanceProcess())  # never started: no read is asked of it
warm_up(SimpleNamespace(ledger=SimpleNamespace(head=lambda: None), client=None))
found = [name in sys.modules for name in readers]
assert found == [{imported!r}] * len(readers), found
from agents._untrusted_detectors import _intents, _pressure
assert _intents.cache_info().currsize == _pressure.cache_info().currsize == 1
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
