"""Targets: the models and endpoints a suite attacks.

Three kinds, all behind one `Target` protocol:

- an MLflow pyfunc model from the registry (`models:/name/version`, `models:/name@alias`), loaded
  once and called in a worker thread with a DataFrame of `prompt` and `context` columns (plus
  `system_prompt` when the suite gives one);
- an OpenAI-compatible chat endpoint (`openai:<model>@<base_url>`), `POST .../chat/completions`;
- an MLflow serving endpoint (`http(s)://host:port/invocations`), `dataframe_records` payload.

Targets only translate a case into one request and a response into text. Retries, the overall
timeout, caching and scoring belong to the runner; targets classify failures so the runner knows
which ones are worth retrying (`TargetRequestError.retryable`) and which mean nothing will answer
(`TargetUnreachableError`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import httpx

from evals.errors import TargetError
from evals.suite import Case

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__all__ = [
    "SUPPORTED_TARGET_FORMS",
    "InvocationsTarget",
    "OpenAIChatTarget",
    "PyfuncTarget",
    "Target",
    "TargetRequestError",
    "TargetTimeoutError",
    "TargetUnreachableError",
    "load_model_version",
    "parse_target",
    "resolve_model_version",
    "response_text",
]

logger = logging.getLogger("promogate.evals")

SUPPORTED_TARGET_FORMS: tuple[str, ...] = (
    "models:/<name>/<version>",
    "models:/<name>@<alias>",
    "openai:<model>@<base_url>",
    "http(s)://<host>:<port>/invocations",
)

# Keys under which a pyfunc or a serving endpoint commonly returns its text, most specific first.
_TEXT_KEYS = ("response", "answer", "output", "content", "text", "prediction", "predictions")
_EXCERPT = 200


class TargetRequestError(TargetError):
    """One request failed; `retryable` says whether sending it again may succeed."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        status_code: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.status_code = status_code
        self.retry_after_s = retry_after_s


class TargetTimeoutError(TargetRequestError):
    """The target did not answer within the per-request timeout."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


class TargetUnreachableError(TargetRequestError):
    """Nothing answers at the target (connection refused, unknown host, model cannot be loaded).

    Retried like any transient failure; when retries are exhausted the runner stops the run.
    """

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message, retryable=retryable)


@runtime_checkable
class Target(Protocol):
    """Something that answers a case with text."""

    @property
    def name(self) -> str:
        """A stable identifier of what is being evaluated (part of the response-cache key)."""
        ...

    @property
    def parameters(self) -> Mapping[str, Any]:
        """Generation parameters that change the response (part of the response-cache key)."""
        ...

    async def open(self) -> None:
        """Prepare before the first request (e.g. load a model); idempotent.

        Raises:
            TargetUnreachableError: The target cannot be prepared; nothing will answer.
        """
        ...

    async def respond(self, case: Case, *, system_prompt: str | None, timeout_s: float) -> str:
        """Send one case and return the target's text response.

        Raises:
            TargetRequestError: The request failed (`retryable` says whether to try again).
            TargetUnreachableError: Nothing answers at the target.
        """
        ...

    async def close(self) -> None:
        """Release connections, threads and models."""
        ...


def _excerpt(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _EXCERPT else text[:_EXCERPT] + "..."


def response_text(value: object) -> str:
    """The text of the first prediction in a pyfunc or serving response.

    Accepts what pyfunc models and `/invocations` commonly return: a string, a list or array of
    strings or records, a pandas Series or DataFrame, or a mapping holding one of those under
    `predictions`, `response`, `answer`, `output`, `content` or `text`.

    Args:
        value: The raw prediction.

    Raises:
        TargetRequestError: No text can be found in the value (not retryable).
    """
    seen = 0
    current: Any = value
    # Unwrap containers until text appears; bounded so a self-referencing value cannot loop.
    while seen < 8:
        seen += 1
        if isinstance(current, str):
            return current
        if hasattr(current, "to_dict") and hasattr(current, "columns"):  # pandas DataFrame
            if len(current) == 0:
                break
            columns = list(current.columns)
            column = next((c for c in _TEXT_KEYS if c in columns), columns[0] if columns else None)
            if column is None:
                break
            current = current[column].iloc[0]
            continue
        if hasattr(current, "tolist"):  # numpy array, pandas Series
            current = current.tolist()
            continue
        if isinstance(current, Mapping):
            key = next((k for k in _TEXT_KEYS if k in current), None)
            if key is None and len(current) == 1:
                key = next(iter(current))
            if key is None:
                break
            current = current[key]
            continue
        if isinstance(current, list | tuple):
            if not current:
                break
            current = current[0]
            continue
        break
    raise TargetRequestError(f"no text response found in {_excerpt(value)}", retryable=False)


def _retry_after_seconds(response: httpx.Response) -> float | None:
    header = response.headers.get("retry-after")
    if header is None:
        return None
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


async def _post_json(
    client: httpx.AsyncClient, url: str, payload: Mapping[str, Any], *, timeout_s: float
) -> Any:
    """POST JSON and return the decoded body, translating failures into target errors."""
    try:
        response = await client.post(url, json=payload, timeout=httpx.Timeout(timeout_s))
    except httpx.TimeoutException as exc:
        raise TargetTimeoutError(f"{url!r} did not answer within {timeout_s:g} s") from exc
    except httpx.ConnectError as exc:
        raise TargetUnreachableError(f"cannot connect to {url!r}: {exc}") from exc
    except httpx.TransportError as exc:
        raise TargetRequestError(
            f"transport error talking to {url!r}: {type(exc).__name__}: {exc}", retryable=True
        ) from exc
    if response.status_code == 429 or response.status_code >= 500:
        raise TargetRequestError(
            f"{url!r} answered HTTP {response.status_code}: {response.text[:_EXCERPT]!r}",
            retryable=True,
            status_code=response.status_code,
            retry_after_s=_retry_after_seconds(response),
        )
    if response.status_code == 404:
        # A wrong path or model name will not fix itself: nothing to evaluate here.
        raise TargetUnreachableError(
            f"{url!r} answered HTTP 404: {response.text[:_EXCERPT]!r}", retryable=False
        )
    if response.status_code >= 400:
        raise TargetRequestError(
            f"{url!r} answered HTTP {response.status_code}: {response.text[:_EXCERPT]!r}",
            retryable=False,
            status_code=response.status_code,
        )
    try:
        return response.json()
    except ValueError as exc:
        raise TargetRequestError(
            f"{url!r} answered with a body that is not JSON: {response.text[:_EXCERPT]!r}",
            retryable=False,
        ) from exc


class _HttpTarget:
    """Shared plumbing of the HTTP targets: pooled async clients, created on first use.

    Requests are spread round-robin over a few clients rather than one: httpcore's pool walks
    every connection for every request it assigns, so one pool of 32 connections costs about
    twice the CPU per request of four pools of 8 (measured with
    `benchmarks.runner_throughput` at concurrency 32).
    """

    _SHARDS = 4

    def __init__(
        self,
        *,
        headers: Mapping[str, str] | None,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self._headers = dict(headers or {})
        self._transport = transport
        self._clients: list[httpx.AsyncClient] = []
        self._next = 0

    def _http(self) -> httpx.AsyncClient:
        if not self._clients or any(c.is_closed for c in self._clients):
            self._clients = [
                httpx.AsyncClient(
                    headers=self._headers,
                    transport=self._transport,
                    limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
                )
                for _ in range(self._SHARDS)
            ]
        self._next = (self._next + 1) % len(self._clients)
        return self._clients[self._next]

    async def open(self) -> None:
        # Reachability shows on the first request; a separate probe would cost a request.
        self._http()

    async def close(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()


def _user_message(case: Case) -> str:
    if case.context is None:
        return case.prompt
    # Retrieved content goes in a delimited block, as a retrieval-augmented application would
    # place it; indirect injections hide inside it.
    return f"Context:\n<<<\n{case.context}\n>>>\n\nQuestion: {case.prompt}"


class OpenAIChatTarget(_HttpTarget):
    """An OpenAI-compatible chat-completions endpoint.

    Args:
        model: The model name sent in the request body.
        base_url: The API root, e.g. `http://127.0.0.1:8000/v1`; `/chat/completions` is appended.
        api_key: Sent as a bearer token when given.
        temperature: Sampling temperature (0 keeps responses as repeatable as the server allows).
        max_tokens: Upper bound on the response length, when given.
        headers: Extra request headers.
        transport: An httpx transport (for tests or custom networking).
    """

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        api_key: str | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not model:
            raise TargetError("an OpenAI-compatible target needs a model name")
        if not re.match(r"^https?://", base_url):
            raise TargetError(f"base URL {base_url!r} must start with http:// or https://")
        all_headers = dict(headers or {})
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"
        super().__init__(headers=all_headers, transport=transport)
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.url = f"{self.base_url}/chat/completions"
        self._parameters: dict[str, Any] = {"temperature": temperature}
        if max_tokens is not None:
            self._parameters["max_tokens"] = max_tokens

    @property
    def name(self) -> str:
        return f"openai:{self.model}@{self.base_url}"

    @property
    def parameters(self) -> Mapping[str, Any]:
        return dict(self._parameters)

    async def respond(self, case: Case, *, system_prompt: str | None, timeout_s: float) -> str:
        messages: list[dict[str, str]] = []
        if system_prompt is not None:
            messages.append({"role": "system", "content": system_prompt})
        messages.append({"role": "user", "content": _user_message(case)})
        body = await _post_json(
            self._http(),
            self.url,
            {"model": self.model, "messages": messages, **self._parameters},
            timeout_s=timeout_s,
        )
        try:
            content = body["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise TargetRequestError(
                f"{self.url!r} answered without choices[0].message.content: {_excerpt(body)}",
                retryable=False,
            ) from exc
        # A null content (e.g. a tool call or a content filter) is an empty answer, not an error.
        return content if isinstance(content, str) else ""


class InvocationsTarget(_HttpTarget):
    """An MLflow model-serving endpoint (`mlflow models serve`, `/invocations`).

    Args:
        url: The full `/invocations` URL.
        headers: Extra request headers (e.g. an authorization header for a gateway).
        transport: An httpx transport (for tests or custom networking).
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not re.match(r"^https?://", url):
            raise TargetError(f"invocations URL {url!r} must start with http:// or https://")
        super().__init__(headers=headers, transport=transport)
        self.url = url

    @property
    def name(self) -> str:
        return self.url

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {}

    async def respond(self, case: Case, *, system_prompt: str | None, timeout_s: float) -> str:
        record: dict[str, Any] = {"prompt": case.prompt, "context": case.context}
        if system_prompt is not None:
            record["system_prompt"] = system_prompt
        body = await _post_json(
            self._http(), self.url, {"dataframe_records": [record]}, timeout_s=timeout_s
        )
        return response_text(body)


_MODEL_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[^/@]+))")


def resolve_model_version(
    model_uri: str, *, tracking_uri: str, registry_uri: str | None = None
) -> tuple[str, int]:
    """The registered model name and version number a `models:/` URI points to now.

    Args:
        model_uri: `models:/<name>/<version>` or `models:/<name>@<alias>`.
        tracking_uri: The MLflow tracking URI holding the registry.
        registry_uri: The registry URI when it differs from the tracking URI.

    Raises:
        TargetError: The URI is malformed.
        TargetUnreachableError: The version or alias does not exist, or the registry cannot be read.
    """
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    match = _MODEL_URI.fullmatch(model_uri)
    if match is None:
        raise TargetError(
            f"model URI {model_uri!r} is not models:/<name>/<version> or models:/<name>@<alias>"
        )
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    try:
        if match["version"] is not None:
            mv = client.get_model_version(match["name"], match["version"])
        else:
            mv = client.get_model_version_by_alias(match["name"], match["alias"])
    except MlflowException as exc:
        raise TargetUnreachableError(
            f"cannot resolve {model_uri!r} in the registry at {tracking_uri!r}: {exc.message}",
            retryable=False,
        ) from exc
    return str(match["name"]), int(mv.version)


def load_model_version(
    name: str, version: int, *, tracking_uri: str, registry_uri: str | None = None
) -> Any:
    """Load a registered model version as an MLflow pyfunc, without touching MLflow's globals.

    Args:
        name: Registered model name.
        version: Version number.
        tracking_uri: The MLflow tracking URI holding the registry.
        registry_uri: The registry URI when it differs from the tracking URI.

    Raises:
        TargetUnreachableError: The model cannot be downloaded or loaded.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    ref = f"models:/{name}/{version}"
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    try:
        uri = client.get_model_version_download_uri(name, str(version))
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, tracking_uri=tracking_uri)
        model = mlflow.pyfunc.load_model(local)
    except MlflowException as exc:
        raise TargetUnreachableError(
            f"cannot load {ref!r}: {exc.message}", retryable=False
        ) from exc
    except Exception as exc:
        # Unpickling a model can fail in many ways (missing module, bad environment); any of
        # them means there is nothing to evaluate.
        raise TargetUnreachableError(
            f"cannot load {ref!r}: {type(exc).__name__}: {exc}", retryable=False
        ) from exc
    logger.info("loaded %s for evaluation", ref)
    return model


class PyfuncTarget:
    """A model version from the MLflow registry, loaded once as a pyfunc.

    The version is resolved when the target is created (an alias is pinned to the version it
    points to then), so the target's name and cache key name a fixed version. The model is loaded
    by `open()` (or the first request) and called in worker threads.

    Args:
        model_uri: `models:/<name>/<version>` or `models:/<name>@<alias>`.
        tracking_uri: The MLflow tracking URI holding the registry.
        registry_uri: The registry URI when it differs from the tracking URI.
        max_workers: Threads calling the model's `predict` at the same time.

    Raises:
        TargetError: The URI is malformed.
        TargetUnreachableError: The version or alias does not exist in the registry.
    """

    def __init__(
        self,
        model_uri: str,
        *,
        tracking_uri: str,
        registry_uri: str | None = None,
        max_workers: int = 4,
    ) -> None:
        self.spec = model_uri
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri
        self.max_workers = max_workers
        self.model_name, self.version = resolve_model_version(
            model_uri, tracking_uri=tracking_uri, registry_uri=registry_uri
        )
        self._executor: ThreadPoolExecutor | None = None
        self._model: Any = None
        self._load_lock: asyncio.Lock | None = None

    @property
    def name(self) -> str:
        return f"models:/{self.model_name}/{self.version}"

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {}

    def _load(self) -> Any:
        return load_model_version(
            self.model_name,
            self.version,
            tracking_uri=self.tracking_uri,
            registry_uri=self.registry_uri,
        )

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.max_workers, thread_name_prefix="pyfunc-target"
            )
        return self._executor

    async def open(self) -> None:
        if self._load_lock is None:
            self._load_lock = asyncio.Lock()
        async with self._load_lock:
            if self._model is None:
                loop = asyncio.get_running_loop()
                self._model = await loop.run_in_executor(self._pool(), self._load)

    def _predict(self, model: Any, frame: pd.DataFrame) -> str:
        from mlflow.exceptions import MlflowException

        try:
            prediction = model.predict(frame)
        except MlflowException as exc:
            # Schema enforcement rejected the input: sending it again cannot help.
            raise TargetRequestError(
                f"{self.name!r} rejected the input: {exc.message}", retryable=False
            ) from exc
        return response_text(prediction)

    async def respond(self, case: Case, *, system_prompt: str | None, timeout_s: float) -> str:
        import pandas as pd

        await self.open()
        row: dict[str, Any] = {"prompt": case.prompt, "context": case.context}
        if system_prompt is not None:
            row["system_prompt"] = system_prompt
        frame = pd.DataFrame([row])
        loop = asyncio.get_running_loop()
        call = loop.run_in_executor(self._pool(), self._predict, self._model, frame)
        try:
            return await asyncio.wait_for(call, timeout_s)
        except TimeoutError as exc:
            # The worker thread runs on to completion; its result is discarded.
            raise TargetTimeoutError(
                f"{self.name!r} did not answer within {timeout_s:g} s"
            ) from exc

    async def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        self._model = None


def parse_target(
    spec: str,
    *,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
    api_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    temperature: float = 0.0,
    max_tokens: int | None = None,
) -> Target:
    """Build a target from its text form.

    Args:
        spec: One of `models:/<name>/<version>`, `models:/<name>@<alias>`,
            `openai:<model>@<base_url>` or `http(s)://<host>:<port>/invocations`.
        tracking_uri: The MLflow tracking URI (needed for `models:/` targets).
        registry_uri: The MLflow registry URI when it differs from the tracking URI.
        api_key: Bearer token for an OpenAI-compatible endpoint.
        headers: Extra HTTP headers for the HTTP targets.
        temperature: Sampling temperature for an OpenAI-compatible endpoint.
        max_tokens: Response length bound for an OpenAI-compatible endpoint.

    Raises:
        TargetError: The spec matches none of the supported forms, or a `models:/` target has no
            tracking URI or cannot be resolved.
    """
    text = spec.strip()
    if text.startswith("models:/"):
        if tracking_uri is None:
            raise TargetError(f"target {spec!r} needs an MLflow tracking URI")
        return PyfuncTarget(text, tracking_uri=tracking_uri, registry_uri=registry_uri)
    if text.startswith("openai:"):
        match = re.fullmatch(r"openai:(?P<model>[^@\s]+)@(?P<base>https?://\S+)", text)
        if match is None:
            raise TargetError(
                f"target {spec!r} is not openai:<model>@<base_url> "
                "(e.g. openai:gpt-4o-mini@http://127.0.0.1:8000/v1)"
            )
        return OpenAIChatTarget(
            match["model"],
            match["base"],
            api_key=api_key,
            temperature=temperature,
            max_tokens=max_tokens,
            headers=headers,
        )
    if re.match(r"^https?://", text):
        if not httpx.URL(text).path.rstrip("/").endswith("/invocations"):
            raise TargetError(
                f"target {spec!r} is an HTTP URL but not an MLflow /invocations endpoint; "
                "for an OpenAI-compatible server use openai:<model>@<base_url>"
            )
        return InvocationsTarget(text, headers=headers)
    raise TargetError(
        f"unsupported target {spec!r}; supported forms: {', '.join(SUPPORTED_TARGET_FORMS)}"
    )
