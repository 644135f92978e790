"""Lean HTTP calls to a running promogate API, for the `--server` forms of the CLI verbs.

Like `promogate gate --server`, these import neither mlflow nor langchain: standard library HTTP
with the gate client's body decoding and error wording. Every failure to get a clear answer is a
`ServerCallError` whose message names the server and the HTTP status; the CLI exits 3 on it::

    ServerCallError        no answer, a non-JSON answer, or an HTTP error status
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

from api.gate_client import _MAX_BODY_BYTES, _decode, _error_reason

__all__ = ["ServerCallError", "call_server"]

DEFAULT_TIMEOUT_S = 120.0


class ServerCallError(Exception):
    """The API gave no usable answer; the message says why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


def call_server(
    server: str,
    method: str,
    path: str,
    *,
    token: str | None,
    body: Mapping[str, Any] | None = None,
    query: Mapping[str, Any] | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> Any:
    """Call the API and return its decoded JSON answer.

    Args:
        server: Base URL, e.g. ``http://promogate:8080``.
        method: ``GET``, ``POST`` or ``DELETE``.
        path: Route path, e.g. ``/v1/promote``.
        token: Bearer token (``PROMOGATE_TOKEN``), or None.
        body: JSON body of a POST.
        query: Query parameters (None values are left out).
        timeout_s: Bound on the whole request.

    Raises:
        ServerCallError: No answer, an HTTP error status, or an answer that is not JSON.
    """
    if not server.startswith(("http://", "https://")):
        raise ServerCallError(f"--server must be an http(s) URL, got {server!r}")
    url = server.rstrip("/") + path
    if query:
        params = {k: str(v) for k, v in query.items() if v is not None}
        if params:
            url += "?" + urllib.parse.urlencode(params)
    headers = {"Accept": "application/json", "User-Agent": "promogate-cli"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = f"cli-{uuid.uuid4().hex}"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read(_MAX_BODY_BYTES)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raw = exc.read(_MAX_BODY_BYTES) if exc.fp is not None else b""
        reason = _error_reason(exc.code, _decode(raw), raw.decode("utf-8", errors="replace"))
        raise ServerCallError(f"{method} {url}: {reason}", exc.code) from None
    except TimeoutError:
        raise ServerCallError(f"no answer from {server!r} within {timeout_s:g} s") from None
    except urllib.error.URLError as exc:
        raise ServerCallError(f"cannot reach {server!r}: {exc.reason}") from None
    except OSError as exc:
        raise ServerCallError(f"connection to {server!r} failed: {exc}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ServerCallError(
            f"{method} {url}: the answer (HTTP {status}) is not JSON", status
        ) from None
