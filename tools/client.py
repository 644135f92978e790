"""The MLflow client the tools use, and the translation of MLflow's failures into typed errors.

Every MLflow call in `tools/` goes through `call_mlflow` (or `translate_mlflow_errors`), so callers
see only `tools.errors` types: a missing thing is a `NotFoundError` naming it, an unreachable or
failing backend is a `BackendUnavailableError`. Transient backend failures are retried a bounded
number of times; nothing else is retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
)

from tools.errors import (
    BackendRequestError,
    BackendUnavailableError,
    MissingStoreError,
    NotFoundError,
    ToolError,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_ATTEMPTS",
    "call_mlflow",
    "every_page",
    "make_client",
    "missing_sqlite_file",
    "translate_exception",
    "translate_mlflow_errors",
]

logger = logging.getLogger("promogate.tools")

T = TypeVar("T")

DEFAULT_ATTEMPTS = 3
_MAX_DETAIL_CHARS = 500

_NOT_FOUND_CODES = frozenset({"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"})
_AUTH_CODES = frozenset({"UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED", "PERMISSION_DENIED"})


def make_client(tracking_uri: str, registry_uri: str | None = None) -> MlflowClient:
    """An MLflow client bound to explicit URIs, whose reads and searches of a SQL store skip
    MLflow's ORM (`tools._sql_reads`).

    The registry URI defaults to the tracking URI here, rather than inside MLflow, because MLflow's
    own default consults environment variables and process-global state.

    Args:
        tracking_uri: MLflow tracking URI, e.g. ``sqlite:///mlflow.db`` or ``http://mlflow:5000``.
        registry_uri: Model registry URI; the tracking URI when None.
    """
    if not tracking_uri.strip():
        raise BackendRequestError(
            f"empty MLflow tracking URI {tracking_uri!r}",
            "pass a tracking URI such as 'sqlite:///mlflow.db' or 'http://localhost:5000'",
        )
    for uri in dict.fromkeys([tracking_uri, registry_uri or tracking_uri]):
        missing = missing_sqlite_file(uri)
        if missing is not None:
            raise MissingStoreError(uri, missing)
    from tools._sql_reads import SqlReadClient

    return SqlReadClient(tracking_uri, registry_uri or tracking_uri)


def missing_sqlite_file(uri: str) -> str | None:
    """The database file a ``sqlite:///`` URI names when that file does not exist, else None.

    Args:
        uri: A tracking or registry URI; other schemes and in-memory databases give None.
    """
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:" or Path(path).exists():
        return None
    return str(Path(path).resolve())


def _detail(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    if len(text) > _MAX_DETAIL_CHARS:
        text = text[:_MAX_DETAIL_CHARS] + "..."
    return text


def translate_exception(
    exc: BaseException,
    what: str,
    not_found: Callable[[], NotFoundError] | None = None,
) -> ToolError | None:
    """The typed error for a failure raised by MLflow, or None when it is not MLflow's.

    Args:
        exc: The exception MLflow (or its HTTP or database layer) raised.
        what: A short description of the call, e.g. ``"get_run('abc')"``, used in messages.
        not_found: Builds the specific not-found error for this call; a generic
            `NotFoundError` is raised when None.
    """
    import requests
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    if isinstance(exc, ToolError):
        return exc
    if isinstance(exc, MlflowException):
        code = str(exc.error_code)
        untyped: Any = exc
        status = int(untyped.get_http_status_code())
        detail = _detail(exc)
        if code in _NOT_FOUND_CODES:
            return not_found() if not_found is not None else NotFoundError(f"{what}: {detail}")
        if code == "ENDPOINT_NOT_FOUND":
            return BackendUnavailableError(
                f"{what} failed: the tracking URI does not serve the MLflow REST API ({detail})",
                "check the tracking URI: it must be the base URL of an MLflow tracking server",
                transient=False,
            )
        if status >= 500 or status == 429:
            return BackendUnavailableError(f"{what} failed: MLflow is unavailable ({detail})")
        if code in _AUTH_CODES:
            return BackendRequestError(
                f"{what} was refused by MLflow ({code}): {detail}",
                "check the credentials the service uses for MLflow and their permissions",
            )
        return BackendRequestError(f"{what} was refused by MLflow ({code}): {detail}")
    if isinstance(exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout):
        return BackendUnavailableError(f"{what} failed: MLflow is unreachable ({_detail(exc)})")
    if isinstance(exc, requests.exceptions.HTTPError):
        # Artifact proxies and cloud stores answer with bare HTTP errors, not MlflowException.
        response = exc.response
        code_http = response.status_code if response is not None else 0
        if code_http == 404:
            return not_found() if not_found is not None else NotFoundError(f"{what}: {exc}")
        if code_http >= 500 or code_http == 429:
            return BackendUnavailableError(f"{what} failed: MLflow is unavailable ({_detail(exc)})")
        return BackendRequestError(f"{what} was refused (HTTP {code_http}): {_detail(exc)}")
    if isinstance(exc, requests.exceptions.RequestException):
        return BackendRequestError(f"{what} failed: {_detail(exc)}")
    if isinstance(exc, sqlalchemy.exc.OperationalError):
        return BackendUnavailableError(
            f"{what} failed: the MLflow database is unavailable ({_detail(exc)})",
            "check that the MLflow backend database is reachable and not locked, then retry",
        )
    return None


@contextmanager
def translate_mlflow_errors(
    what: str, not_found: Callable[[], NotFoundError] | None = None
) -> Iterator[None]:
    """Re-raise MLflow, HTTP and database failures inside the block as `tools.errors` types.

    Args:
        what: A short description of the call, used in messages.
        not_found: Builds the specific not-found error for the block.
    """
    import requests
    import sqlalchemy.exc
    from mlflow.exceptions import MlflowException

    try:
        yield
    except ToolError:
        raise
    except (
        MlflowException,
        requests.exceptions.RequestException,
        sqlalchemy.exc.OperationalError,
    ) as exc:
        typed = translate_exception(exc, what, not_found)
        if typed is None:  # pragma: no cover - every caught type translates
            raise
        raise typed from exc


def _is_transient(exc: BaseException) -> bool:
    return isinstance(exc, BackendUnavailableError) and exc.transient


def call_mlflow(
    fn: Callable[[], T],
    what: str,
    *,
    not_found: Callable[[], NotFoundError] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
    max_wait_s: float = 1.0,
) -> T:
    """Call MLflow, translating failures to typed errors and retrying transient ones.

    Only `BackendUnavailableError` with ``transient=True`` is retried (connection refused, timeout,
    5xx, 429); not-found and refused requests fail at once.

    Args:
        fn: The call, with its arguments bound (e.g. ``lambda: client.get_run(run_id)``).
        what: A short description of the call, used in messages and logs.
        not_found: Builds the specific not-found error for this call.
        attempts: Total attempts for transient failures (at least 1).
        max_wait_s: Upper bound of the exponential wait between attempts.
    """
    # The first attempt runs without tenacity, whose retry loop cost about 11 us a call (13 us
    # against 2): a review makes dozens of reads, and nearly all succeed at once.
    try:
        with translate_mlflow_errors(what, not_found):
            return fn()
    except BackendUnavailableError as exc:
        if attempts <= 1 or not exc.transient:
            raise
        failed_first: list[BaseException] = [exc]

    def again() -> T:
        # The retry loop's first attempt is the one already made: it re-raises that failure,
        # so the waits, the warnings logged and the number of calls are the loop's own.
        if failed_first:
            raise failed_first.pop()
        return fn()

    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_exponential(multiplier=0.1, max=max_wait_s),
        retry=retry_if_exception(_is_transient),
        before_sleep=before_sleep_log(logger, logging.WARNING),
        reraise=True,
    )
    for attempt in retrying:
        with attempt, translate_mlflow_errors(what, not_found):
            return again()
    raise AssertionError("unreachable: tenacity either returns or re-raises")  # pragma: no cover


def every_page(
    search: Callable[..., Any], what: str, *, page_size: int | None = 1000, **arguments: Any
) -> Iterator[Any]:
    """Every item a paged MLflow search answers, page after page, each page read through
    `call_mlflow`; a page that fails raises, so nobody mistakes part of a listing for all of it.

    Args:
        search: The client's search or list method (``client.search_registered_models``, ...).
        what: A short description of the search, used in messages and logs.
        page_size: ``max_results`` of each page; None leaves the method's own.
        **arguments: The search's other arguments (filter, experiments, order).
    """
    sized: dict[str, Any] = {} if page_size is None else {"max_results": page_size}
    token: str | None = None
    while True:
        page = call_mlflow(partial(search, **arguments, **sized, page_token=token), what)
        yield from page
        token = page.token
        if not token:
            return
