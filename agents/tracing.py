"""MLflow tracing of agent reviews: one trace per review, a span per model call and tool call.

Spans are explicit (MLflow's imperative client API), not LangChain autologging: autologging
patches LangChain process-wide, while explicit spans trace exactly the review and carry the
numbers the decision records (tokens, tool calls, fallback reason). The trace id goes into
`LlmUsage.trace_id`, so a decision links to the trace of the review that made it.

MLflow exports traces to the process's tracking URI; `MlflowReviewTracer` sets it to the one it
is given on first use (one service, one tracking server). A tracing failure never fails a review:
it is logged and the decision simply has no trace id.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_TRACE_EXPERIMENT",
    "MlflowReviewTracer",
    "NullTracer",
    "ReviewTrace",
    "ReviewTracer",
    "SpanKind",
]

logger = logging.getLogger("promogate.agents")

DEFAULT_TRACE_EXPERIMENT = "promogate-reviews"
SpanKind = Literal["CHAT_MODEL", "TOOL", "AGENT", "CHAIN"]
_MAX_PAYLOAD_CHARS = 4000
_URI_LOCK = threading.Lock()


def _compact(value: Any) -> Any:
    """A JSON-friendly payload of bounded size for a span's inputs or outputs."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    if len(text) <= _MAX_PAYLOAD_CHARS:
        return value if not isinstance(value, str) else text
    return text[:_MAX_PAYLOAD_CHARS] + "…[truncated]"


class ReviewTrace(Protocol):
    """One review's trace."""

    @property
    def trace_id(self) -> str | None: ...

    def start_span(self, name: str, kind: SpanKind, inputs: Mapping[str, Any]) -> str | None:
        """Start a child span of the review; returns its id (None when not traced)."""
        ...

    def end_span(
        self,
        span_id: str | None,
        outputs: Mapping[str, Any] | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """End a child span."""
        ...

    def end(
        self,
        outputs: Mapping[str, Any],
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        """End the review's root span and export the trace."""
        ...


class ReviewTracer(Protocol):
    """Starts one trace per review."""

    def start_review(
        self, name: str, inputs: Mapping[str, Any], tags: Mapping[str, str]
    ) -> ReviewTrace:
        """Start the trace of a review."""
        ...


class _NullTrace:
    trace_id: str | None = None

    def start_span(self, name: str, kind: SpanKind, inputs: Mapping[str, Any]) -> str | None:
        del name, kind, inputs
        return None

    def end_span(
        self,
        span_id: str | None,
        outputs: Mapping[str, Any] | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        del span_id, outputs, attributes, error

    def end(
        self,
        outputs: Mapping[str, Any],
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        del outputs, attributes, error


class NullTracer:
    """Traces nothing (no tracking server configured)."""

    def start_review(
        self, name: str, inputs: Mapping[str, Any], tags: Mapping[str, str]
    ) -> ReviewTrace:
        del name, inputs, tags
        return _NullTrace()


class _MlflowTrace:
    def __init__(self, client: MlflowClient, trace_id: str, root_span_id: str) -> None:
        self._client = client
        self._trace_id = trace_id
        self._root = root_span_id
        self._failed = False

    @property
    def trace_id(self) -> str | None:
        return None if self._failed else self._trace_id

    def _guard(self, what: str, exc: Exception) -> None:
        logger.warning("tracing %s of trace %s failed: %s", what, self._trace_id, exc)

    def start_span(self, name: str, kind: SpanKind, inputs: Mapping[str, Any]) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            span = self._client.start_span(
                name,
                trace_id=self._trace_id,
                parent_id=self._root,
                span_type=kind,
                inputs={k: _compact(v) for k, v in inputs.items()},
            )
        except MlflowException as exc:
            self._guard(f"span {name!r}", exc)
            return None
        return str(span.span_id)

    def end_span(
        self,
        span_id: str | None,
        outputs: Mapping[str, Any] | None = None,
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        if span_id is None:
            return
        from mlflow.exceptions import MlflowException

        try:
            self._client.end_span(
                trace_id=self._trace_id,
                span_id=span_id,
                outputs={k: _compact(v) for k, v in (outputs or {}).items()},
                attributes=dict(attributes or {}) | ({"error": error} if error else {}),
                status="ERROR" if error else "OK",
            )
        except MlflowException as exc:
            self._guard("a span end", exc)

    def end(
        self,
        outputs: Mapping[str, Any],
        *,
        attributes: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._client.end_trace(
                self._trace_id,
                outputs={k: _compact(v) for k, v in outputs.items()},
                attributes=dict(attributes or {}) | ({"error": error} if error else {}),
                status="ERROR" if error else "OK",
            )
        except MlflowException as exc:
            self._failed = True
            self._guard("the trace end", exc)


class MlflowReviewTracer:
    """Traces each review into an MLflow experiment of the given tracking server.

    Args:
        tracking_uri: The MLflow tracking URI the traces go to.
        experiment_name: The experiment holding review traces (created when missing).
    """

    def __init__(self, tracking_uri: str, *, experiment_name: str = DEFAULT_TRACE_EXPERIMENT):
        self.tracking_uri = tracking_uri
        self.experiment_name = experiment_name
        self._experiment_id: str | None = None
        self._client: MlflowClient | None = None

    def _ready(self) -> tuple[MlflowClient, str]:
        import mlflow

        with _URI_LOCK:
            if self._client is None:
                self._client = mlflow.MlflowClient(tracking_uri=self.tracking_uri)
            if mlflow.get_tracking_uri() != self.tracking_uri:
                # MLflow's exporter follows the process tracking URI; see the module docstring.
                mlflow.set_tracking_uri(self.tracking_uri)
            if self._experiment_id is None:
                found = self._client.get_experiment_by_name(self.experiment_name)
                self._experiment_id = (
                    str(found.experiment_id)
                    if found is not None
                    else str(self._client.create_experiment(self.experiment_name))
                )
            return self._client, self._experiment_id

    def start_review(
        self, name: str, inputs: Mapping[str, Any], tags: Mapping[str, str]
    ) -> ReviewTrace:
        from mlflow.exceptions import MlflowException

        try:
            client, experiment_id = self._ready()
            root = client.start_trace(
                name,
                span_type="AGENT",
                inputs={k: _compact(v) for k, v in inputs.items()},
                tags=dict(tags),
                experiment_id=experiment_id,
            )
        except MlflowException as exc:
            logger.warning("could not start a trace in %s: %s", self.experiment_name, exc)
            return _NullTrace()
        return _MlflowTrace(client, str(root.trace_id), str(root.span_id))
