"""Write a decision back to MLflow as model-version tags."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from concurrent.futures import wait
from typing import TYPE_CHECKING, Any

from policies.decision import Decision
from tools.shared_pool import shared_pool

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["decision_tags", "publish_decision_tags", "set_version_tags"]

# Only a registry read directly from a database is this store; when building the registry's store
# did not import its module, the registry is not one, and checking does not import it.
_SQL_REGISTRY_MODULE = "mlflow.store.model_registry.sqlalchemy_store"
# Tag writes at once, over every decision this process publishes (a decision has seven tags).
_TAG_WRITES = 16


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

    See `set_version_tags` for `concurrently` and `read_as_model`.
    """
    set_version_tags(
        client,
        decision.model,
        str(decision.version),
        decision_tags(decision, record_hash),
        concurrently=concurrently,
        read_as_model=read_as_model,
    )


def set_version_tags(
    client: MlflowClient,
    model: str,
    version: str,
    tags: Mapping[str, str],
    *,
    concurrently: bool = False,
    read_as_model: bool = False,
) -> None:
    """Set `tags` on one model version (raises MLflow's errors to the caller).

    MLflow sets one tag per call, and each call is a transaction of its own. Where the registry
    is MLflow's SQL store read directly (a worker beside a SQLite or PostgreSQL store), the tags
    are written in one transaction instead, as MLflow's store writes each: every tag is checked
    first, then all are set or none is. Seven transactions cost a worker 6-10% of its CPU a
    review. Through an MLflow server, with `concurrently`, the calls overlap: seven round trips
    one after the other were a sixth of a fresh gate's wall time. A SQLite store written from
    several threads at once can refuse with "database is locked", so the calls stay sequential
    otherwise.

    MLflow's client reads the registered model before every tag it sets, to refuse tagging a
    prompt: fourteen calls for seven tags. That check is made once, before any tag is set; the
    tags then go to its registry client, which sets only the tag. `read_as_model` says the caller
    has just read this very version through the client (`get_model_version` or
    `get_model_version_by_alias`, as a review does), and those refuse a prompt's version: every
    prompt version carries the prompt tag itself. The check is then not repeated (its read of the
    registered model was a twentieth of a worker's review).

    On a SQLite store the client reads without MLflow's store (`tools._sqlite_store`), with
    `read_as_model`, the tags are written there in the same one transaction, so that a local
    review never builds MLflow's store only to tag its version.
    """
    items = list(tags.items())
    if not items:
        return
    sqlite_store: Any = getattr(client, "sqlite_store", None)
    sqlite = sqlite_store("registry") if sqlite_store is not None else None
    # Without MLflow's store: its import and build would be most of a local review's time.
    if sqlite is not None and read_as_model and sqlite.set_version_tags(model, version, items):
        return
    registry_client: Any = getattr(client, "_get_registry_client", None)
    if registry_client is None:
        for key, value in items:
            client.set_model_version_tag(model, version, key, value)
        return
    registry = registry_client()
    store = _sql_store(registry)
    if store is not None:
        if not read_as_model:
            # The check MLflow's client makes before each tag it sets, made once.
            client._raise_if_prompt(model)
        _set_in_one_transaction(store, model, version, items)
        return
    if not read_as_model:
        (first_key, first_value), items = items[0], items[1:]
        client.set_model_version_tag(model, version, first_key, first_value)
    set_tag = registry.set_model_version_tag
    if not concurrently or len(items) < 2:
        for key, value in items:
            set_tag(model, version, key, value)
        return
    pool = shared_pool("tags", _TAG_WRITES)
    futures = [pool.submit(set_tag, model, version, key, value) for key, value in items]
    # Every write ends before the first failure is raised, as when each decision had a pool.
    wait(futures)
    for future in futures:
        future.result()


def _sql_store(registry: Any) -> Any | None:
    """The registry client's store when it is MLflow's SQL store, else None."""
    # Built first: building a SQL store is what imports its module.
    store = registry.store
    module = sys.modules.get(_SQL_REGISTRY_MODULE)
    if module is None:
        return None
    return store if isinstance(store, module.SqlAlchemyStore) else None


def _set_in_one_transaction(
    store: Any, model: str, version: str, items: list[tuple[str, str]]
) -> None:
    """Set every tag in one session of MLflow's SQL store, as its `set_model_version_tag` sets
    one: the same checks, the version looked up the same way (workspaces included)."""
    from mlflow.store.model_registry.dbmodels.models import SqlModelVersionTag
    from mlflow.utils.validation import _validate_model_version_tag

    for key, value in items:
        _validate_model_version_tag(key, value)  # type: ignore[no-untyped-call]
    with store.ManagedSessionMaker(read_only=False) as session:
        found = store._get_sql_model_version(session, model, version)
        for key, value in items:
            session.merge(
                SqlModelVersionTag(
                    workspace=found.workspace,
                    name=model,
                    version=found.version,
                    key=key,
                    value=value,
                )
            )
