"""Prometheus metrics: reviews by verdict and, for agent reviews, the LLM's usage."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.metrics import ApiMetrics
from policies.decision import Decision, LlmUsage


def _decision(usage: LlmUsage, *, error: str | None = None) -> Decision:
    return Decision(
        id="d1",
        model="credit-risk",
        version=3,
        verdict="block",
        policy_verdict="block",
        usage=usage,
        error=error,
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def _samples(metrics: ApiMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


@pytest.mark.parametrize(
    ("usage", "error", "expected"),
    [
        (
            LlmUsage(
                model="gpt-x",
                llm_calls=2,
                tool_calls=5,
                prompt_tokens=900,
                completion_tokens=120,
                estimated_cost_usd=0.25,
            ),
            None,
            {
                ("promogate_reviews_total", (("verdict", "block"),)): 1.0,
                ("promogate_llm_calls_total", (("model", "gpt-x"),)): 2.0,
                ("promogate_llm_tool_calls_total", (("model", "gpt-x"),)): 5.0,
                ("promogate_llm_tokens_total", (("kind", "prompt"), ("model", "gpt-x"))): 900.0,
                ("promogate_llm_tokens_total", (("kind", "completion"), ("model", "gpt-x"))): 120.0,
                ("promogate_llm_cost_usd_total", (("model", "gpt-x"),)): 0.25,
            },
        ),
        (
            LlmUsage(model="gpt-x", llm_calls=1, fallback_reason="budget_exhausted: 2 calls"),
            None,
            {
                (
                    "promogate_llm_fallbacks_total",
                    (("model", "gpt-x"), ("reason", "budget_exhausted")),
                ): 1.0,
            },
        ),
        (
            LlmUsage(),
            "MLflow is unreachable",
            {("promogate_reviews_total", (("verdict", "error"),)): 1.0},
        ),
    ],
    ids=["agent-review", "fallback", "offline-error"],
)
def test_reviews_and_llm_usage_are_exported(
    usage: LlmUsage,
    error: str | None,
    expected: dict[tuple[str, tuple[tuple[str, str], ...]], float],
) -> None:
    metrics = ApiMetrics()
    metrics.record_review(_decision(usage, error=error), 0.5)
    samples = _samples(metrics)
    for key, value in expected.items():
        assert samples[key] == value, key
    if usage.llm_calls == 0:
        assert not any(name.startswith("promogate_llm_") for name, _ in samples)
