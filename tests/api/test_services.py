"""`configure_mlflow_environment`: what every front door sets up before its first MLflow call.

Runs in an interpreter of its own: what it sets up (MLflow's request-header registry, urllib3's
pool table) is process-wide.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import pytest

from benchmarks._mlflow_server import MlflowServer


@pytest.mark.skipif(not hasattr(socket, "TCP_QUICKACK"), reason="TCP_QUICKACK is Linux's")
def test_every_mlflow_call_reads_its_answer_after_asking_for_a_quick_ack(
    own_interpreter: Callable[[str], str], mlflow_server: MlflowServer, tmp_path: Path
) -> None:
    out = own_interpreter(
        f"""
        from mlflow import MlflowClient
        from api.services import configure_mlflow_environment
        from api.settings import load_settings
        from tools import quick_acks

        configure_mlflow_environment(
            load_settings(
                tracking_uri={mlflow_server.url!r},
                ledger_url={f"sqlite:///{tmp_path / 'ledger.db'}"!r},
                cache_dir={str(tmp_path / "cache")!r},
            )
        )
        asked = []
        ask = quick_acks.quick_ack
        quick_acks.quick_ack = lambda sock: (asked.append(sock.fileno()), ask(sock))
        client = MlflowClient({mlflow_server.url!r})
        for _ in range(3):
            assert client.get_registered_model("gate-model").name == "gate-model"
        print(len(asked), len(set(asked)))
        """
    )
    assert out == "3 1"


@pytest.mark.parametrize(
    ("disk_cache", "one_shot", "expected"),
    [
        (True, True, {"importances", "screenings"}),
        (True, False, {"importances"}),
        (False, True, set()),
    ],
    ids=["local-review", "long-running", "off"],
)
def test_the_disk_cache_holds_screenings_only_for_a_one_shot_process(
    tmp_path: Path, disk_cache: bool, one_shot: bool, expected: set[str]
) -> None:
    import agents.untrusted as untrusted
    import tools.model_importance as importance
    from api.services import configure_disk_cache
    from api.settings import load_settings

    settings = load_settings(disk_cache=disk_cache, cache_dir=tmp_path / "cache")
    try:
        configure_disk_cache(settings, screenings=one_shot)
        caches = {
            "importances": importance.importance_disk_cache(),
            "hashes": importance._MODEL_FILE_HASHES._disk,
            "screenings": untrusted._disk_cache,
        }
    finally:
        configure_disk_cache(load_settings(disk_cache=False))
    in_use = {name for name, cache in caches.items() if cache is not None}
    assert in_use == (expected | {"hashes"} if expected else set())
    assert caches["hashes"] is caches["importances"]
    for name in expected:
        cache = caches[name]
        assert cache is not None and cache.directory == tmp_path / "cache" / name


@pytest.mark.parametrize(
    ("reader_process", "setting", "expected"),
    [
        (True, "true", "a child while serving, then here; the child stopped"),
        (True, "false", "reading here"),
        (False, "true", "reading here"),
    ],
    ids=["server", "server-setting-off", "not-a-server"],
)
def test_a_server_reads_model_files_in_a_child_it_stops(
    own_interpreter: Callable[[str], str],
    tmp_path: Path,
    reader_process: bool,
    setting: str,
    expected: str,
) -> None:
    out = own_interpreter(
        f"""
        import os
        from fastapi.testclient import TestClient
        from api.app import create_app
        from api.settings import Settings
        from tools.model_importance import importance_process_in_use

        settings = Settings(
            tracking_uri={f"sqlite:///{tmp_path / 'mlflow.db'}"!r},
            ledger_url={f"sqlite:///{tmp_path / 'ledger.db'}"!r},
            model_file_process={setting == "true"!r},
            disk_cache=False,
        )
        with TestClient(create_app(settings, reader_process={reader_process!r})):
            process = importance_process_in_use()
            pid = process.pid if process is not None else None
        if process is None:
            print("reading here")
        else:
            try:
                os.kill(pid, 0)
                left = "left running"
            except ProcessLookupError:
                left = "stopped"
            after = "here" if importance_process_in_use() is None else "still the child"
            print(f"a child while serving, then {{after}}; the child {{left}}")
        """
    )
    assert out.splitlines()[-1] == expected
