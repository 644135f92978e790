"""One review, as every front door runs it: review, record in the ledger, publish to MLflow.

The CLI, the HTTP API and the PR bot all call `ReviewService.review`, so a decision is recorded and
published the same way whichever door asked for it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agents.decision import Decision
from agents.investigation import Investigator
from agents.offline_investigator import OfflineInvestigator
from agents.publisher import publish_decision_tags
from agents.reviewer import (
    EvaluatedEvidence,
    ReviewOutcome,
    decide,
    error_decision,
    gather_evidence,
    version_hint,
)
from api.settings import Settings
from ledger.records import LedgerRecord
from ledger.store import Ledger
from policies.errors import PolicyDirectoryError, PolicyError
from policies.loader import LoadedPolicy, load_policy_dir
from tools.errors import ToolError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["ReviewObserver", "ReviewService", "configure_mlflow_environment", "make_investigator"]

logger = logging.getLogger("promogate.api")

ReviewObserver = Callable[[Decision, float], None]
"""Called with every decision a service records and the seconds the review took."""


def _now() -> datetime:
    return datetime.now(UTC)


def configure_mlflow_environment(settings: Settings) -> None:
    """MLflow's HTTP client reads its timeouts and telemetry switch from the environment only."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(max(1, settings.mlflow_http_timeout_s)))
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = str(settings.mlflow_http_retries)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")


def make_investigator(settings: Settings) -> Investigator:
    """The investigator the settings ask for: the offline one unless an LLM is configured."""
    if settings.llm == "offline":
        return OfflineInvestigator()
    from agents.llm_investigator import make_llm_investigator

    return make_llm_investigator(
        settings.llm,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        tracking_uri=settings.tracking_uri,
    )


class ReviewService:
    """Runs reviews for one configuration: MLflow, trusted policies, ledger and investigator.

    Args:
        settings: The configuration, read once at the edge.
        ledger: The decision ledger; the one `settings.ledger_url` names if None.
        investigator: The investigator; the one `settings.llm` names if None.
        policies: A fixed policy set; otherwise read from `settings.policies_dir` per review.
        observer: Called after every recorded decision with the seconds the review took.
        clock: Source of the decision time.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: Ledger | None = None,
        investigator: Investigator | None = None,
        policies: Sequence[LoadedPolicy] | None = None,
        observer: ReviewObserver | None = None,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        configure_mlflow_environment(settings)
        self.settings = settings
        self.ledger = ledger if ledger is not None else Ledger(settings.ledger_url)
        self.investigator = (
            investigator if investigator is not None else make_investigator(settings)
        )
        self.observer = observer
        self.clock = clock
        self._policies = list(policies) if policies is not None else None
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from tools.client import make_client

            self._client = make_client(self.settings.tracking_uri, self.settings.registry_uri)
        return self._client

    def policies(self) -> list[LoadedPolicy]:
        """The trusted policy set, read from the configured directory on every call unless given."""
        if self._policies is not None:
            return self._policies
        if self.settings.policies_dir is None:
            raise PolicyDirectoryError(
                "<unset>",
                "no policy directory is configured; pass --policies DIR or set "
                "PROMOGATE_POLICIES_DIR (every review blocks without policies)",
            )
        return load_policy_dir(self.settings.policies_dir)

    def gather(
        self,
        model: str,
        ref: str | int,
        *,
        target_alias: str | None = None,
        baseline_alias: str | None = None,
    ) -> EvaluatedEvidence:
        """The version's current evidence and the policies' verdict on it.

        Raises:
            PolicyError: The policies cannot be loaded.
            ToolError: The version cannot be resolved, or MLflow failed while reading evidence.
        """
        return gather_evidence(
            self.client,
            model,
            ref,
            policies=self.policies(),
            target_alias=target_alias or self.settings.target_alias,
            baseline_alias=baseline_alias or self.settings.baseline_alias,
            timeout_s=self.settings.evidence_timeout_s,
        )

    def review(
        self,
        model: str,
        ref: str | int,
        *,
        target_alias: str | None = None,
        baseline_alias: str | None = None,
        publish: bool | None = None,
        decision_id: str | None = None,
        evidence: EvaluatedEvidence | None = None,
    ) -> ReviewOutcome:
        """Review, append the decision to the ledger, then publish it as model-version tags.

        The ledger is the record of truth and is written first; a failure to publish tags is
        logged and does not change the decision. Errors never raise: they become blocking
        decisions with the reason, and those are recorded too. `evidence` already gathered
        (by the gate, to look for a reusable decision) is decided on as it is.
        """
        started = time.perf_counter()
        created_at = self.clock()
        target = target_alias or self.settings.target_alias
        if evidence is None:
            try:
                evidence = self.gather(
                    model, ref, target_alias=target, baseline_alias=baseline_alias
                )
            except (PolicyError, ToolError) as exc:
                decision = self.record_failure(
                    model,
                    ref,
                    target,
                    exc,
                    created_at=created_at,
                    started=started,
                    decision_id=decision_id,
                )
                return ReviewOutcome(decision, None)
        decision = decide(
            evidence,
            investigator=self.investigator,
            target_alias=target,
            created_at=created_at,
            started=started,
            decision_id=decision_id,
        )
        record = self.record(decision, started)
        should_publish = self.settings.publish_tags if publish is None else publish
        if should_publish:
            self._publish(decision, record.record_hash)
        return ReviewOutcome(decision, evidence.bundle)

    def record_failure(
        self,
        model: str,
        ref: str | int,
        target_alias: str,
        exc: PolicyError | ToolError,
        *,
        created_at: datetime,
        started: float,
        decision_id: str | None = None,
    ) -> Decision:
        """Record a review that could not complete as a block with its reason, and return it."""
        message = (
            f"policies could not be loaded: {exc}" if isinstance(exc, PolicyError) else str(exc)
        )
        logger.warning("review of %s@%s blocked: %s", model, ref, message)
        decision = error_decision(
            model=model,
            version=version_hint(ref),
            target_alias=target_alias,
            error=message,
            created_at=created_at,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            decision_id=decision_id,
        )
        self.record(decision, started)
        return decision

    def record(self, decision: Decision, started: float) -> LedgerRecord:
        """Append `decision` to the ledger and tell the observer (`started`: perf_counter)."""
        record = self.ledger.append_decision(decision)
        if self.observer is not None:
            self.observer(decision, time.perf_counter() - started)
        return record

    def _publish(self, decision: Decision, record_hash: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            publish_decision_tags(self.client, decision, record_hash)
        except MlflowException as exc:
            logger.warning(
                "decision %s recorded but its tags could not be written to MLflow: %s",
                decision.id,
                exc,
            )
