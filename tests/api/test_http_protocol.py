"""`promogate serve`'s HTTP protocol: Nagle's algorithm off on every connection, also behind the
listening socket uvicorn makes for several workers (whose protocol number is 0, which asyncio
does not switch Nagle off for)."""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import uvicorn
from typer.testing import CliRunner

from api._http_protocol import NoDelayHttpProtocol
from api._server_commands import register_server_commands
from benchmarks._mlflow_server import free_port


async def _hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


def _as_several_workers_bind(config: uvicorn.Config) -> socket.socket:
    # What `uvicorn.run(..., workers=N)` hands its worker processes.
    return config.bind_socket()


def _as_asyncio_binds(config: uvicorn.Config) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    return sock


@contextlib.contextmanager
def _served(
    bind: Callable[[uvicorn.Config], socket.socket],
    uvicorn_thread: Callable[..., contextlib.AbstractContextManager[uvicorn.Server]],
) -> Iterator[uvicorn.Server]:
    config = uvicorn.Config(
        _hello,
        host="127.0.0.1",
        port=free_port(),
        http=NoDelayHttpProtocol,
        lifespan="off",
        log_level="warning",
    )
    with contextlib.closing(bind(config)) as sock, uvicorn_thread(config, [sock]) as server:
        yield server


@pytest.mark.parametrize(
    "bind",
    [
        pytest.param(_as_several_workers_bind, id="uvicorn-several-workers-socket"),
        pytest.param(_as_asyncio_binds, id="tcp-protocol-socket"),
    ],
)
def test_every_kept_alive_connection_has_nagle_off(
    bind: Callable[[uvicorn.Config], socket.socket],
    uvicorn_thread: Callable[..., contextlib.AbstractContextManager[uvicorn.Server]],
) -> None:
    with _served(bind, uvicorn_thread) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.config.port, timeout=10)
        try:
            for _ in range(2):
                connection.request("GET", "/")
                response = connection.getresponse()
                assert (response.status, response.read()) == (200, b"hello")
            protocols = list(server.server_state.connections)
            assert len(protocols) == 1
            served = protocols[0].transport.get_extra_info("socket")
            assert served.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        finally:
            connection.close()


@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_serve_answers_with_the_no_delay_protocol(
    workers: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HOST", "PORT", "TRACKING_URI", "LEDGER_URL", "POLICIES_DIR", "ALLOW_ANONYMOUS"):
        # `serve --workers N` hands its options to the worker processes in the environment.
        monkeypatch.delenv(f"PROMOGATE_{name}", raising=False)
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: runs.append(kwargs))
    cli = typer.Typer()
    register_server_commands(cli)
    result = CliRunner().invoke(
        cli,
        [
            "serve",
            "--workers",
            str(workers),
            "--tracking-uri",
            f"sqlite:///{tmp_path / 'mlflow.db'}",
            "--ledger-url",
            f"sqlite:///{tmp_path / 'ledger.db'}",
            "--policies",
            str(Path("policies/examples").resolve()),
        ],
    )
    assert result.exit_code == 0, result.output
    assert [run["http"] for run in runs] == [NoDelayHttpProtocol]
