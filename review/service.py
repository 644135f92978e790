"""One review, as every front door runs it: gather, evaluate, decide, record, publish.

The CLI, the HTTP API, jobs and the PR bot all call `ReviewService.review`, so a decision is
recorded and published the same way whichever door asked for it. The service takes a
`ReviewConfig` and its collaborators explicitly; front doors build them from their settings.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from agents.investigation import Investigator
from ledger.records import LedgerRecord
from ledger.store import Ledger
from policies.decision import Decision
from policies.errors import PolicyDirectoryError, PolicyError
from policies.evaluator import run_significance_tests
from policies.loader import LoadedPolicy, load_policy_dir
from review._decide import ReviewOutcome, decide, error_decision, version_hint
from review._evaluate import EvaluatedEvidence, evaluate_evidence
from review._gather import gather_evidence
from review._publish import publish_decision_tags
from tools.errors import (
    AliasNotFoundError,
    InvalidVersionRefError,
    MissingStoreError,
    ModelNotFoundError,
    ToolError,
    VersionNotFoundError,
)
from tools.read_once import read_once

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["ReviewConfig", "ReviewObserver", "ReviewService"]

logger = logging.getLogger("promogate.review")

# Errors that mean no model version was ever resolved; such a review is not a ledger record.
UNRESOLVED_ERRORS = (
    ModelNotFoundError,
    VersionNotFoundError,
    AliasNotFoundError,
    InvalidVersionRefError,
    MissingStoreError,
)

ReviewObserver = Callable[[Decision, float], None]
"""Called with every decision a service records and the seconds the review took."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ReviewConfig:
    """What a review needs to know beyond its collaborators, read once at the edge.

    Args:
        tracking_uri: MLflow tracking server (None: the service must be given a client).
        registry_uri: MLflow model registry (None: the tracking server).
        policies_dir: The trusted policy directory (None: every review blocks).
        target_alias: The alias a promotion moves unless a caller names another.
        baseline_alias: The alias of the version a candidate is compared with.
        evidence_timeout_s: Bound on each evidence source.
        publish_tags: Whether decisions are written back as model-version tags.
    """

    tracking_uri: str | None = None
    registry_uri: str | None = None
    policies_dir: Path | None = None
    target_alias: str = "champion"
    baseline_alias: str = "champion"
    evidence_timeout_s: float = 30.0
    publish_tags: bool = True


class ReviewService:
    """Runs reviews for one configuration: MLflow, trusted policies, ledger and investigator.

    Args:
        config: The configuration, read once at the edge.
        ledger: The decision ledger.
        investigator: The offline or LLM investigator.
        policies: A fixed policy set; otherwise read from `config.policies_dir` per review.
        observer: Called after every recorded decision with the seconds the review took.
        clock: Source of the decision time.
        client: The MLflow client; one for `config`'s URIs is made on first use if None.
    """

    def __init__(
        self,
        config: ReviewConfig,
        *,
        ledger: Ledger,
        investigator: Investigator,
        policies: Sequence[LoadedPolicy] | None = None,
        observer: ReviewObserver | None = None,
        clock: Callable[[], datetime] = _now,
        client: MlflowClient | None = None,
    ) -> None:
        self.config = config
        self.ledger = ledger
        self.investigator = investigator
        self.observer = observer
        self.clock = clock
        self._policies = list(policies) if policies is not None else None
        self._client = client

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from tools.client import make_client

            if self.config.tracking_uri is None:
                raise ValueError(
                    "the review service has neither an MLflow client nor a tracking URI; "
                    "pass client=... or ReviewConfig(tracking_uri=...)"
                )
            self._client = make_client(self.config.tracking_uri, self.config.registry_uri)
        return self._client

    @property
    def policy_directory(self) -> Path | None:
        """The directory `policies` reads on every call; None when the policy set is fixed."""
        return self.config.policies_dir if self._policies is None else None

    def policies(self) -> list[LoadedPolicy]:
        """The trusted policy set, read from the configured directory on every call unless given."""
        if self._policies is not None:
            return self._policies
        if self.config.policies_dir is None:
            raise PolicyDirectoryError(
                "<unset>",
                "no policy directory is configured; pass --policies DIR or set "
                "PROMOGATE_POLICIES_DIR (every review blocks without policies)",
            )
        return load_policy_dir(self.config.policies_dir)

    def gather(
        self,
        model: str,
        ref: str | int,
        *,
        target_alias: str | None = None,
        baseline_alias: str | None = None,
        reads: MlflowClient | None = None,
        read_ahead: bool = True,
        significance_ahead: bool = False,
    ) -> EvaluatedEvidence:
        """The version's current evidence (resolve, gather) and the policies' verdict on it.

        `reads` is a `tools.read_once` client that already holds reads of this gathering (the
        gate's fingerprint, taken just before); a new one when None. `read_ahead` false: the
        caller started the model files' reads already (`start_importance_reads`).
        `significance_ahead`: while the reader process still parses the model files, run the
        paired bootstraps the policies will ask for (`run_significance_tests`), for a caller
        that waits for the answer (the gate); the verdict is the same either way.

        Raises:
            PolicyError: The policies cannot be loaded.
            ToolError: The version cannot be resolved, or MLflow failed while reading evidence.
        """
        policies = self.policies()
        # The tools read the same runs and versions several times; one gathering reads each once.
        bundle = gather_evidence(
            reads if reads is not None else read_once(self.client),
            model,
            ref,
            policies=policies,
            target_alias=target_alias or self.config.target_alias,
            baseline_alias=baseline_alias or self.config.baseline_alias,
            timeout_s=self.config.evidence_timeout_s,
            read_ahead=read_ahead,
            while_parsing=(
                partial(run_significance_tests, policies) if significance_ahead else None
            ),
        )
        return evaluate_evidence(bundle, policies)

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
        requested_by: str | None = None,
    ) -> ReviewOutcome:
        """Review, append the decision to the ledger, then publish it as model-version tags.

        The ledger is the record of truth and is written first; a failure to publish tags is
        logged and does not change the decision. Errors never raise: they become blocking
        decisions with the reason, and those are recorded too. `evidence` already gathered
        (by the gate, to look for a reusable decision) is decided on as it is.
        """
        started = time.perf_counter()
        created_at = self.clock()
        target = target_alias or self.config.target_alias
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
                    requested_by=requested_by,
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
        if requested_by is not None:
            decision = decision.model_copy(update={"requested_by": requested_by})
        record = self.record(decision, started)
        should_publish = self.config.publish_tags if publish is None else publish
        if should_publish:
            self.publish(decision, record.record_hash, read_as_model=True)
        return ReviewOutcome(decision, evidence.bundle, record.record_hash)

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
        requested_by: str | None = None,
    ) -> Decision:
        """Record a review that could not complete as a block with its reason, and return it."""
        message = (
            f"policies could not be loaded: {exc}" if isinstance(exc, PolicyError) else str(exc)
        )
        logger.warning("review of %s@%s blocked: %s", model, ref, message)
        unresolved = isinstance(exc, UNRESOLVED_ERRORS)
        decision = error_decision(
            model=model,
            version=version_hint(ref),
            target_alias=target_alias,
            error=message,
            created_at=created_at,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            decision_id=decision_id,
        )
        if requested_by is not None:
            decision = decision.model_copy(update={"requested_by": requested_by})
        if unresolved:
            # No version was ever resolved: a typo in a model name or version is not a decision
            # about any model version, so it is counted (observer) but not appended.
            logger.warning("review of %s@%s not recorded: no version was resolved", model, ref)
            if self.observer is not None:
                self.observer(decision, time.perf_counter() - started)
            return decision
        self.record(decision, started)
        return decision

    def record(self, decision: Decision, started: float) -> LedgerRecord:
        """Append `decision` to the ledger and tell the observer (`started`: perf_counter)."""
        record = self.ledger.append_decision(decision)
        if self.observer is not None:
            self.observer(decision, time.perf_counter() - started)
        return record

    @property
    def remote_registry(self) -> bool:
        """Whether the registry is an MLflow server over HTTP (its writes can overlap)."""
        registry = self.config.registry_uri or self.config.tracking_uri or ""
        return registry.startswith(("http://", "https://"))

    def publish(self, decision: Decision, record_hash: str, *, read_as_model: bool = False) -> None:
        """Write `decision` to MLflow as tags on its version; a refusal is logged, not raised
        (the decision stands in the ledger). `read_as_model`: the decision was made on evidence
        gathered just now, which read the version through MLflow's client (see
        `publish_decision_tags`)."""
        from mlflow.exceptions import MlflowException

        try:
            publish_decision_tags(
                self.client,
                decision,
                record_hash,
                concurrently=self.remote_registry,
                read_as_model=read_as_model,
            )
        except MlflowException as exc:
            logger.warning(
                "decision %s recorded but its tags could not be written to MLflow: %s",
                decision.id,
                exc,
            )
