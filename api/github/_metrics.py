"""Prometheus metrics of the PR bot, registered in the API's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["GitHubMetrics"]


class GitHubMetrics:
    """Deliveries by outcome, jobs by outcome, and failures to post to GitHub by operation.

    Args:
        registry: The registry `/metrics` exposes; a private one when None.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.deliveries = Counter(
            "promogate_github_deliveries",
            "GitHub webhook deliveries, by outcome (queued, duplicate, ignored, rejected).",
            ["outcome"],
            registry=self.registry,
        )
        self.jobs = Counter(
            "promogate_github_jobs",
            "PR bot jobs run, by outcome (done, failed).",
            ["outcome"],
            registry=self.registry,
        )
        self.post_failures = Counter(
            "promogate_github_post_failures",
            "Failures to post a comment, check run or status to GitHub, by operation.",
            ["operation"],
            registry=self.registry,
        )
