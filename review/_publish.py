"""Write a decision back to MLflow as model-version tags."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from policies.decision import Decision

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["decision_tags", "publish_decision_tags"]


def decision_tags(decision: Decision, record_hash: str | None = None) -> dict[str, str]:
    """The `promogate.*` tags that record `decision` on its model version.

    `record_hash` (the decision's hash in the ledger's chain) anchors the record outside the
    ledger's database: ``promogate ledger verify --anchors`` compares it with the ledger.
    """
    tags = {
        "promogate.verdict": decision.verdict,
        "promogate.decision_id": decision.id,
        "promogate.evidence_digest": decision.evidence_digest or "",
        "promogate.policies": ",".join(f"{p.name}@{p.revision}" for p in decision.policies),
        "promogate.reviewed_at": decision.created_at.isoformat(),
        "promogate.target_alias": decision.target_alias,
    }
    if record_hash is not None:
        tags["promogate.record_hash"] = record_hash
    return tags


def publish_decision_tags(
    client: MlflowClient,
    decision: Decision,
    record_hash: str | None = None,
    *,
    concurrently: bool = False,
    read_as_model: bool = False,
) -> None:
    """Set the decision's tags on its model version (raises MLflow's errors to the caller).

    MLflow sets one tag per call. With `concurrently` (an MLflow server over HTTP) the calls
    overlap: seven round trips one after the other were a sixth of a fresh gate's wall time. A
    SQLite store written from several threads at once can refuse with "database is locked", so
    the calls stay sequential otherwise.

    MLflow's client reads the registered model before every tag it sets, to refuse tagging a
    prompt: fourteen calls for seven tags. The first tag is set through the client, with that
    check, before any other; the rest go to its registry client, which sets only the tag.

    `read_as_model` says the caller has just read this very version through the client
    (`get_model_version` or `get_model_version_by_alias`, as a review does), and those refuse a
    prompt's version: every prompt version carries the prompt tag itself. The check is then not
    repeated (its read of the registered model was a twentieth of a worker's review) and every
    tag goes to the registry client.
    """
    tags = list(decision_tags(decision, record_hash).items())
    version = str(decision.version)
    registry: Any = getattr(client, "_get_registry_client", None)
    if registry is None or not read_as_model:
        (first_key, first_value), tags = tags[0], tags[1:]
        client.set_model_version_tag(decision.model, version, first_key, first_value)
    set_tag = (
        registry().set_model_version_tag if registry is not None else client.set_model_version_tag
    )
    if not concurrently:
        for key, value in tags:
            set_tag(decision.model, version, key, value)
        return
    with ThreadPoolExecutor(max_workers=len(tags), thread_name_prefix="promogate-publish") as pool:
        futures = [pool.submit(set_tag, decision.model, version, key, value) for key, value in tags]
    for future in futures:
        future.result()
