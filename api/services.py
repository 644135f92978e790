"""The review pipeline as the front doors build it from their settings (the edge of the program).

Settings are read once, here; `review.ReviewService` and everything below it take explicit
arguments. MLflow's HTTP client reads its timeouts only from the environment, so the front doors
call `configure_mlflow_environment` once at start-up, before making a client; it also chooses
the on-disk cache of model-file importances and, for a one-shot local review, of screenings
(`configure_disk_cache`). Long-running servers also start the process that reads model files
(`start_importance_process`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from agents.investigation import Investigator
from agents.offline_investigator import OfflineInvestigator
from api._mlflow_http import configure_mlflow_http
from api.settings import Settings
from ledger.store import Ledger
from review.service import ReviewConfig, ReviewObserver, ReviewService

if TYPE_CHECKING:
    from policies.loader import LoadedPolicy
    from tools.importance_process import ImportanceProcess

__all__ = [
    "build_review_service",
    "configure_disk_cache",
    "configure_mlflow_environment",
    "make_investigator",
    "review_config",
    "start_importance_process",
    "stop_importance_process",
]


def configure_mlflow_environment(settings: Settings, *, one_shot: bool = False) -> None:
    """MLflow's HTTP client reads its timeouts and telemetry switch from the environment only.

    Every front door calls this once at start-up (`one_shot` when the process reviews once and
    exits: a local review, gate, promotion or override, a pull request's review), so it also
    sets up the process's on-disk cache (`configure_disk_cache`), spares MLflow's client its
    per-call probes for Databricks outside Databricks (`tools.databricks_probes`), and has its
    HTTP connections acknowledge each answer at once, which a multi-worker `mlflow server`
    otherwise holds for 40 ms (`tools.quick_acks`).
    """
    configure_mlflow_http(settings)
    from tools import acknowledge_responses_at_once, skip_databricks_header_probes

    skip_databricks_header_probes()
    acknowledge_responses_at_once()
    configure_disk_cache(settings, screenings=one_shot)


def configure_disk_cache(settings: Settings, *, screenings: bool = False) -> None:
    """Keep model-file importances (and the files' hashes) under `settings.cache_dir` (or the
    user's cache directory), or in memory only when `settings.disk_cache` is off.

    With `screenings`, the screenings of the evidence's untrusted text are kept there too: a
    one-shot process would otherwise screen the same evidence again on every run, while a
    long-running one keeps them in memory and would only pay for the writes.
    """
    from agents.untrusted import use_screening_disk_cache
    from tools.disk_cache import DiskCache, default_cache_dir
    from tools.model_importance import use_importance_disk_cache

    if not settings.disk_cache:
        use_importance_disk_cache(None)
        use_screening_disk_cache(None)
        return
    directory = settings.cache_dir or default_cache_dir()
    bound = settings.cache_max_bytes
    use_importance_disk_cache(DiskCache(directory / "importances", max_bytes=bound))
    use_screening_disk_cache(
        DiskCache(directory / "screenings", max_bytes=bound) if screenings else None
    )


def start_importance_process(settings: Settings) -> ImportanceProcess | None:
    """Start the model-file reader process the settings ask for (`tools.importance_process`)
    and read model files in it from now on; None when they ask for none.

    For a long-running process only: the child imports skops and scikit-learn as it starts,
    about 3 s of the other core, which a one-shot review would wait for.
    """
    if not settings.model_file_process:
        return None
    from tools.importance_process import ImportanceProcess
    from tools.model_importance import use_importance_process

    process = ImportanceProcess(
        memory_bytes=settings.model_file_process_memory_mb * 1024 * 1024,
        timeout_s=settings.model_file_process_timeout_s,
    )
    process.start()
    use_importance_process(process)
    return process


def stop_importance_process(process: ImportanceProcess | None) -> None:
    """Read model files in this process again, and stop `process` (if any)."""
    if process is None:
        return
    from tools.model_importance import importance_process_in_use, use_importance_process

    if importance_process_in_use() is process:
        use_importance_process(None)
    process.close()


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


def review_config(settings: Settings) -> ReviewConfig:
    """The part of the settings a review reads."""
    return ReviewConfig(
        tracking_uri=settings.tracking_uri,
        registry_uri=settings.registry_uri,
        policies_dir=settings.policies_dir,
        target_alias=settings.target_alias,
        baseline_alias=settings.baseline_alias,
        evidence_timeout_s=settings.evidence_timeout_s,
        publish_tags=settings.publish_tags,
    )


def build_review_service(
    settings: Settings,
    *,
    ledger: Ledger | None = None,
    investigator: Investigator | None = None,
    policies: Sequence[LoadedPolicy] | None = None,
    observer: ReviewObserver | None = None,
) -> ReviewService:
    """The review service `settings` describe; given collaborators replace the configured ones.

    Call `configure_mlflow_environment(settings)` first, once per process.

    Args:
        settings: The configuration, read once at the edge.
        ledger: The decision ledger; the one `settings.ledger_url` names if None.
        investigator: The investigator; the one `settings.llm` names if None.
        policies: A fixed policy set; otherwise read from `settings.policies_dir` per review.
        observer: Called after every recorded decision with the seconds the review took.
    """
    return ReviewService(
        review_config(settings),
        ledger=ledger if ledger is not None else Ledger(settings.ledger_url),
        investigator=investigator if investigator is not None else make_investigator(settings),
        policies=policies,
        observer=observer,
    )
