"""One review, as every front door runs it: review, record in the ledger, publish to MLflow.

The CLI, the HTTP API and the PR bot all call `ReviewService.review`, so a decision is recorded and
published the same way whichever door asked for it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from agents.investigation import Investigator
from agents.offline_investigator import OfflineInvestigator
from agents.publisher import publish_decision_tags
from agents.reviewer import ReviewOutcome, error_decision, review_version
from api.settings import Settings
from ledger.store import Ledger
from policies.errors import PolicyDirectoryError, PolicyError
from policies.loader import LoadedPolicy, load_policy_dir

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["ReviewService", "configure_mlflow_environment", "make_investigator"]

logger = logging.getLogger("promogate.api")


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
    """Runs reviews for one configuration: MLflow, trusted policies, ledger and investigator."""

    def __init__(
        self,
        settings: Settings,
        *,
        ledger: Ledger | None = None,
        investigator: Investigator | None = None,
        policies: Sequence[LoadedPolicy] | None = None,
    ) -> None:
        configure_mlflow_environment(settings)
        self.settings = settings
        self.ledger = ledger if ledger is not None else Ledger(settings.ledger_url)
        self.investigator = (
            investigator if investigator is not None else make_investigator(settings)
        )
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

    def review(
        self,
        model: str,
        ref: str | int,
        *,
        target_alias: str | None = None,
        baseline_alias: str | None = None,
        publish: bool | None = None,
    ) -> ReviewOutcome:
        """Review, append the decision to the ledger, then publish it as model-version tags.

        The ledger is the record of truth and is written first; a failure to publish tags is
        logged and does not change the decision. Errors never raise: they become blocking
        decisions with the reason, and those are recorded too.
        """
        target = target_alias or self.settings.target_alias
        baseline = baseline_alias or self.settings.baseline_alias
        try:
            policies = self.policies()
        except PolicyError as exc:
            outcome = ReviewOutcome(
                error_decision(
                    model=model,
                    version=int(str(ref)) if str(ref).isdigit() else None,
                    target_alias=target,
                    error=f"policies could not be loaded: {exc}",
                    created_at=datetime.now(UTC),
                ),
                None,
            )
        else:
            outcome = review_version(
                self.client,
                model,
                ref,
                policies=policies,
                investigator=self.investigator,
                target_alias=target,
                baseline_alias=baseline,
                timeout_s=self.settings.evidence_timeout_s,
            )
        self.ledger.append_decision(outcome.decision)
        should_publish = self.settings.publish_tags if publish is None else publish
        if should_publish and outcome.bundle is not None:
            self._publish(outcome)
        return outcome

    def _publish(self, outcome: ReviewOutcome) -> None:
        from mlflow.exceptions import MlflowException

        try:
            publish_decision_tags(self.client, outcome.decision)
        except MlflowException as exc:
            logger.warning(
                "decision %s recorded but its tags could not be written to MLflow: %s",
                outcome.decision.id,
                exc,
            )
