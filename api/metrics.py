"""Prometheus metrics of one API app: requests, reviews by verdict, gate answers, errors by kind.

Each app owns its registry, so several apps in one process (tests, benchmarks) never share or clash.
Reviews run by `promogate worker` processes are counted by the workers, not here.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from policies.decision import Decision

__all__ = ["CONTENT_TYPE_LATEST", "ApiMetrics", "ErrorKind"]

ErrorKind = Literal[
    "mlflow_unavailable",
    "evidence_error",
    "ledger_unavailable",
    "ledger_error",
    "jobs_unavailable",
    "job_failed",
    "deadline_exceeded",
    "idempotency_conflict",
    "idempotency_in_progress",
    "unauthenticated",
    "forbidden",
    "not_found",
    "invalid_request",
    "promotion_refused",
    "override_refused",
    "refused",
    "unavailable",
    "internal",
]

_LATENCY_BUCKETS: Final = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)


class ApiMetrics:
    """The app's collectors, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "promogate_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_latency = Histogram(
            "promogate_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.reviews = Counter(
            "promogate_reviews",
            "Reviews completed by this process, by verdict ('error' when the review failed).",
            ["verdict"],
            registry=self.registry,
        )
        self.review_latency = Histogram(
            "promogate_review_duration_seconds",
            "Time to complete a review (evidence, policies, investigation, ledger).",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.gate_answers = Counter(
            "promogate_gate_answers",
            "Gate answers, by outcome and whether a recorded decision was reused.",
            ["outcome", "reused"],
            registry=self.registry,
        )
        self.gate_latency = Histogram(
            "promogate_gate_duration_seconds",
            "Time to answer a gate call.",
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "promogate_errors",
            "Failures, by kind; every one of them denied or was refused.",
            ["kind"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "promogate_review_jobs",
            "Review jobs submitted, by queue backend.",
            ["backend"],
            registry=self.registry,
        )
        self.llm_calls = Counter(
            "promogate_llm_calls",
            "LLM calls made by agent reviews, by model.",
            ["model"],
            registry=self.registry,
        )
        self.llm_tool_calls = Counter(
            "promogate_llm_tool_calls",
            "Tool calls made by agent reviews, by model.",
            ["model"],
            registry=self.registry,
        )
        self.llm_tokens = Counter(
            "promogate_llm_tokens",
            "Tokens used by agent reviews, by model and kind (prompt or completion).",
            ["model", "kind"],
            registry=self.registry,
        )
        self.llm_cost = Counter(
            "promogate_llm_cost_usd",
            "Estimated cost of agent reviews in US dollars, by model.",
            ["model"],
            registry=self.registry,
        )
        self.llm_fallbacks = Counter(
            "promogate_llm_fallbacks",
            "Agent reviews finished by the offline investigator, by model and reason.",
            ["model", "reason"],
            registry=self.registry,
        )
        for kind in get_args(ErrorKind):
            self.errors.labels(kind=kind)

    def record_review(self, decision: Decision, seconds: float) -> None:
        """Count one completed review, its duration and, for agent reviews, the LLM's usage."""
        self.reviews.labels(
            verdict="error" if decision.error is not None else decision.verdict
        ).inc()
        self.review_latency.observe(seconds)
        usage = decision.usage
        if usage.llm_calls == 0 and usage.fallback_reason is None:
            return
        model = usage.model
        self.llm_calls.labels(model=model).inc(usage.llm_calls)
        self.llm_tool_calls.labels(model=model).inc(usage.tool_calls)
        self.llm_tokens.labels(model=model, kind="prompt").inc(usage.prompt_tokens)
        self.llm_tokens.labels(model=model, kind="completion").inc(usage.completion_tokens)
        self.llm_cost.labels(model=model).inc(usage.estimated_cost_usd)
        if usage.fallback_reason is not None:
            # The reason's kind ("budget_exhausted", "llm_unavailable", ...) keeps labels bounded.
            reason = usage.fallback_reason.split(":", 1)[0]
            self.llm_fallbacks.labels(model=model, reason=reason).inc()

    def record_gate(self, allowed: bool, reused: bool, seconds: float) -> None:
        """Count one gate answer and its duration."""
        outcome = "allow" if allowed else "deny"
        self.gate_answers.labels(outcome=outcome, reused=str(reused).lower()).inc()
        self.gate_latency.observe(seconds)

    def record_error(self, kind: ErrorKind) -> None:
        """Count one failure of the given kind."""
        self.errors.labels(kind=kind).inc()

    def exposition(self) -> bytes:
        """The registry in the Prometheus text format."""
        return bytes(generate_latest(self.registry))
