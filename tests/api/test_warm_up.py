"""What the first gate after a start would wait for is done when the app starts, and a warm-up
that fails only logs: the requests that need the failed part report it themselves."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from benchmarks._mlflow_server import free_port
from tools.importance_process import ImportanceProcess
from tools.model_importance import use_importance_process

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
    import to the child, and its warm-up ends when the child is ready (a stand-in child here,
    which says so after half a second)."""
    child = (
        "import json, sys, time; time.sleep(0.5); "
        "print(json.dumps({'ready': True}), flush=True); sys.stdin.read()"
    )
    script = f"""
import sys, time
from types import SimpleNamespace
from api._warm_up import warm_up
from tools.importance_process import ImportanceProcess
from tools.model_importance import use_importance_process
readers = ("skops.io", "skops.io._audit", "sklearn")
assert not any(name in sys.modules for name in readers), sorted(sys.modules)
process = ImportanceProcess(command=[sys.executable, "-c", {child!r}])
if {with_reader_process!r}:
    use_importance_process(process)
started = time.monotonic()
warm_up(SimpleNamespace(ledger=SimpleNamespace(head=lambda: None), client=None))
found = [name in sys.modules for name in readers]
assert found == [{imported!r}] * len(readers), found
# The child was started and waited for, or, with no reader process, left alone.
assert (process.pid is not None) == {with_reader_process!r}, process.pid
assert (time.monotonic() - started >= 0.5) or not {with_reader_process!r}
process.close()
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


def test_readiness_waits_for_the_reader_process_to_come_up(make_api: Any, tmp_path: Path) -> None:
    """A server whose model files are read in a child process is not ready until the child has
    imported its readers: a first gate sent before would wait for the import (about 3 s on 2
    cores). The stand-in child says it is ready once the test lets it."""
    go = tmp_path / "go"
    script = tmp_path / "child.py"
    script.write_text(
        "import json, os, sys, time\n"
        f"while not os.path.exists({str(go)!r}):\n"
        "    time.sleep(0.02)\n"
        "print(json.dumps({'ready': True}), flush=True)\n"
        "sys.stdin.read()\n"
    )
    process = ImportanceProcess(command=[sys.executable, str(script)])
    api = make_api()
    state = api.client.app.state.promogate  # type: ignore[attr-defined]
    use_importance_process(process)
    try:
        state.warm_up()
        assert not state.wait_until_warm(0.5)
        waiting = api.client.get("/readyz", headers=api.headers("viewer"))
        assert waiting.status_code == 503
        assert waiting.json()["checks"]["warm_up"]["ok"] is False
        assert "warming up" in waiting.json()["checks"]["warm_up"]["detail"]
        assert api.client.get("/readyz").json() == {"ready": False, "checks": None}
        assert process.pid is not None
        go.touch()
        assert state.wait_until_warm(30.0)
        ready = api.client.get("/readyz", headers=api.headers("viewer"))
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["warm_up"] == {"ok": True, "detail": "warmed up"}
    finally:
        use_importance_process(None)
        process.close()
