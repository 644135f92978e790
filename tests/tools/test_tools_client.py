"""Translating MLflow's failures into typed errors, and retrying only transient ones.

The backend failures are real: a port where nothing listens, and a local HTTP server that answers
503 or a non-MLflow 404. MLflow's own HTTP retries are switched off through its environment
variables (the tools never read them) so each test takes well under a second.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import sqlalchemy.exc
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INTERNAL_ERROR,
    INVALID_PARAMETER_VALUE,
    PERMISSION_DENIED,
    REQUEST_LIMIT_EXCEEDED,
    RESOURCE_DOES_NOT_EXIST,
    TEMPORARILY_UNAVAILABLE,
)

from tools.client import (
    DEFAULT_ATTEMPTS,
    call_mlflow,
    every_page,
    make_client,
    translate_exception,
)
from tools.collector import collect_bundle, collect_version
from tools.errors import (
    BackendRequestError,
    BackendUnavailableError,
    ModelNotFoundError,
    NotFoundError,
    ToolError,
)


@pytest.fixture
def fast_http(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MLflow-level HTTP retries and a short timeout, so failures surface at once."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Answer(BaseHTTPRequestHandler):
    status = 503
    body = b"<html>Service Unavailable</html>"
    requests_seen: list[str]

    def do_GET(self) -> None:
        self.requests_seen.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""


@pytest.fixture
def http_answer(request: pytest.FixtureRequest) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that answers every GET with the parametrised status."""
    seen: list[str] = []
    handler = type("Handler", (_Answer,), {"status": request.param, "requests_seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.mark.usefixtures("fast_http")
def test_nothing_listening_raises_backend_unavailable() -> None:
    client = make_client(f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(BackendUnavailableError) as caught:
        collect_bundle(client, "credit-risk", "@champion")
    assert caught.value.transient is True
    assert "get_registered_model('credit-risk')" in caught.value.message
    assert "MLflow is unavailable" in caught.value.message
    assert caught.value.how_to_fix is not None and "reachable" in caught.value.how_to_fix


@pytest.mark.usefixtures("fast_http")
@pytest.mark.parametrize("http_answer", [503], indirect=True, ids=["503"])
def test_5xx_is_retried_a_bounded_number_of_times(http_answer: tuple[str, list[str]]) -> None:
    uri, seen = http_answer
    with pytest.raises(BackendUnavailableError):
        collect_version(make_client(uri), "credit-risk", 1)
    assert len(seen) == DEFAULT_ATTEMPTS
    assert all(path.startswith("/api/2.0/mlflow/model-versions/get") for path in seen)


@pytest.mark.usefixtures("fast_http")
@pytest.mark.parametrize("http_answer", [404], indirect=True, ids=["html-404"])
def test_non_mlflow_server_is_not_retried(http_answer: tuple[str, list[str]]) -> None:
    uri, seen = http_answer
    with pytest.raises(BackendUnavailableError) as caught:
        collect_version(make_client(uri), "credit-risk", 1)
    assert caught.value.transient is False
    assert "does not serve the MLflow REST API" in caught.value.message
    assert len(seen) == 1


def test_make_client_rejects_empty_uri() -> None:
    with pytest.raises(BackendRequestError, match="empty MLflow tracking URI"):
        make_client("  ")


def test_make_client_registry_defaults_to_tracking(mlflow_store: Any) -> None:
    client = make_client(mlflow_store.tracking_uri)
    assert client.tracking_uri == mlflow_store.tracking_uri
    # The registry is the same store: the session's model resolves through it.
    assert client.get_registered_model("credit-risk").name == "credit-risk"


def _http_error(status: int) -> requests.exceptions.HTTPError:
    response = requests.Response()
    response.status_code = status
    return requests.exceptions.HTTPError(f"{status} error", response=response)


@pytest.mark.parametrize(
    ("exc", "expected", "fragment"),
    [
        (
            MlflowException("Run with id=x not found", error_code=RESOURCE_DOES_NOT_EXIST),
            NotFoundError,
            "get_run('x'): Run with id=x not found",
        ),
        (MlflowException("boom", error_code=INTERNAL_ERROR), BackendUnavailableError, "boom"),
        (
            MlflowException("later", error_code=TEMPORARILY_UNAVAILABLE),
            BackendUnavailableError,
            "later",
        ),
        (
            MlflowException("slow down", error_code=REQUEST_LIMIT_EXCEEDED),
            BackendUnavailableError,
            "slow down",
        ),
        (
            MlflowException("bad", error_code=INVALID_PARAMETER_VALUE),
            BackendRequestError,
            "INVALID_PARAMETER_VALUE",
        ),
        (
            MlflowException("no", error_code=PERMISSION_DENIED),
            BackendRequestError,
            "PERMISSION_DENIED",
        ),
        (
            requests.exceptions.ConnectionError("refused"),
            BackendUnavailableError,
            "unreachable",
        ),
        (requests.exceptions.ReadTimeout("slow"), BackendUnavailableError, "unreachable"),
        (_http_error(404), NotFoundError, "get_run('x')"),
        (_http_error(502), BackendUnavailableError, "unavailable"),
        (_http_error(403), BackendRequestError, "HTTP 403"),
        (requests.exceptions.InvalidURL("nope"), BackendRequestError, "nope"),
        (
            sqlalchemy.exc.OperationalError("select 1", {}, Exception("database is locked")),
            BackendUnavailableError,
            "database is locked",
        ),
    ],
    ids=[
        "not-found",
        "internal",
        "unavailable",
        "rate-limited",
        "invalid-parameter",
        "permission",
        "connection",
        "timeout",
        "http-404",
        "http-502",
        "http-403",
        "invalid-url",
        "sqlite-locked",
    ],
)
def test_translate_exception(exc: BaseException, expected: type[ToolError], fragment: str) -> None:
    typed = translate_exception(exc, "get_run('x')")
    assert type(typed) is expected
    assert typed is not None and fragment in typed.message


def test_translate_exception_uses_specific_not_found() -> None:
    exc = MlflowException("missing", error_code=RESOURCE_DOES_NOT_EXIST)
    typed = translate_exception(exc, "get_registered_model('m')", lambda: ModelNotFoundError("m"))
    assert isinstance(typed, ModelNotFoundError) and typed.model == "m"


def test_translate_exception_leaves_other_errors_alone() -> None:
    assert translate_exception(ValueError("bug"), "x") is None


@pytest.mark.parametrize(
    ("code", "expected_calls", "expected_error"),
    [
        (INTERNAL_ERROR, DEFAULT_ATTEMPTS, BackendUnavailableError),
        (RESOURCE_DOES_NOT_EXIST, 1, NotFoundError),
        (INVALID_PARAMETER_VALUE, 1, BackendRequestError),
    ],
    ids=["transient-retried", "not-found-once", "refused-once"],
)
def test_call_mlflow_retries_only_transient(
    code: int, expected_calls: int, expected_error: type[ToolError]
) -> None:
    calls: list[int] = []

    def failing() -> None:
        calls.append(1)
        raise MlflowException("failure", error_code=code)

    with pytest.raises(expected_error):
        call_mlflow(failing, "test call", max_wait_s=0.01)
    assert len(calls) == expected_calls


def test_call_mlflow_recovers_after_transient_failure() -> None:
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 2:
            raise requests.exceptions.ConnectionError("reset")
        return "ok"

    assert call_mlflow(flaky, "flaky call", max_wait_s=0.01) == "ok"
    assert len(calls) == 2


@pytest.fixture(scope="module")
def many_models(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real SQLite registry holding 25 registered models: three pages of ten."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('paged') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for number in range(25):
        client.create_registered_model(f"model-{number:02d}")
    return client


@pytest.mark.parametrize(
    ("page_size", "pages"), [(10, 3), (24, 2), (25, 1)], ids=["three-pages", "one-left", "exact"]
)
def test_every_page_reads_every_item_page_after_page(
    many_models: Any, page_size: int, pages: int
) -> None:
    asked: list[str | None] = []

    def search(**arguments: Any) -> Any:
        asked.append(arguments["page_token"])
        return many_models.search_registered_models(**arguments)

    found = [m.name for m in every_page(search, "search_registered_models()", page_size=page_size)]
    assert found == [f"model-{n:02d}" for n in range(25)]
    assert len(asked) == pages and asked[0] is None


def test_a_page_that_fails_fails_the_listing(many_models: Any) -> None:
    def search(**arguments: Any) -> Any:
        if arguments["page_token"] is not None:
            raise MlflowException("denied", error_code=PERMISSION_DENIED)
        return many_models.search_registered_models(**arguments)

    seen: list[str] = []
    with pytest.raises(BackendRequestError, match="search_registered_models"):
        seen.extend(m.name for m in every_page(search, "search_registered_models()", page_size=10))
    assert len(seen) == 10
