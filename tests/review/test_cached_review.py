"""Caching parsed tables, bootstraps, importances, digests, policies and MLmodel files changes
no decision, and never serves a replaced table."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agents.offline_investigator import OfflineInvestigator
from demo.command import EXAMPLE_POLICIES
from ledger.store import Ledger
from policies.loader import PARSED_POLICIES, PARSED_POLICIES_BYTES
from review import ReviewConfig, ReviewService
from tools._logged_models import MLMODEL_CACHE
from tools._mlmodel import MLMODEL_FACTS_CACHE
from tools.discovery import TABLE_CACHE
from tools.evidence_cache import BOOTSTRAP_CACHE_BYTES, IMPORTANCE_CACHE_BYTES, TABLE_CACHE_BYTES
from tools.model_importance import IMPORTANCE_CACHE
from tools.pipeline_config import PARSED_CONFIGS, PARSED_CONFIGS_BYTES
from tools.significance import BOOTSTRAP_CACHE

FIXED = datetime(2026, 1, 1, tzinfo=UTC)
# Caches of what parsing the files just read gave, with the budget that turns each back on.
_PARSE_CACHES = (
    (PARSED_POLICIES, PARSED_POLICIES_BYTES),
    (PARSED_CONFIGS, PARSED_CONFIGS_BYTES),
    (MLMODEL_CACHE, 1024 * 1024),
    (MLMODEL_FACTS_CACHE, 1024 * 1024),
)
# The only fields that differ between two reviews of the same evidence: the id each record
# gets in the append-only ledger, and the wall time.
_VARYING = {"id", "duration_ms"}


@pytest.fixture
def service(demo_registry: Any, tmp_path: Path) -> Iterator[ReviewService]:
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    yield ReviewService(
        ReviewConfig(
            tracking_uri=demo_registry.tracking_uri,
            policies_dir=EXAMPLE_POLICIES,
            publish_tags=False,
        ),
        ledger=ledger,
        investigator=OfflineInvestigator(),
        clock=lambda: FIXED,
    )
    ledger.close()
    TABLE_CACHE.resize(TABLE_CACHE_BYTES)
    BOOTSTRAP_CACHE.resize(BOOTSTRAP_CACHE_BYTES)
    IMPORTANCE_CACHE.resize(IMPORTANCE_CACHE_BYTES)
    for cache, budget in _PARSE_CACHES:
        cache.resize(budget)


def _decision_bytes(service: ReviewService, version: int, run: str) -> bytes:
    decision = service.review("credit-risk", str(version), decision_id=f"{run}-{version}").decision
    return decision.model_dump_json(exclude=_VARYING).encode()


def test_cached_and_uncached_reviews_decide_byte_for_byte_alike(
    service: ReviewService, demo_registry: Any
) -> None:
    versions = [c.version for c in demo_registry.candidates]
    caches = (TABLE_CACHE, BOOTSTRAP_CACHE, IMPORTANCE_CACHE, *(c for c, _ in _PARSE_CACHES))
    for cache in caches:
        cache.resize(0)
    uncached = {v: _decision_bytes(service, v, "uncached") for v in versions}
    assert all(cache.stats().entries == 0 for cache in caches)

    TABLE_CACHE.resize(TABLE_CACHE_BYTES)
    BOOTSTRAP_CACHE.resize(BOOTSTRAP_CACHE_BYTES)
    IMPORTANCE_CACHE.resize(IMPORTANCE_CACHE_BYTES)
    for cache, budget in _PARSE_CACHES:
        cache.resize(budget)
    for cache in caches:
        cache.clear()
    first = {v: _decision_bytes(service, v, "first") for v in versions}
    # Every candidate after the first found the champion's table parsed and its model's
    # importances read already.
    assert TABLE_CACHE.stats().hits >= len(versions) - 1
    assert IMPORTANCE_CACHE.stats().hits >= len(versions) - 1
    # Every review after the first found the policy files, the champion's config files and its
    # MLmodel parsed.
    assert PARSED_POLICIES.stats().hits >= len(versions) - 1
    assert PARSED_CONFIGS.stats().hits >= len(versions) - 1
    assert MLMODEL_CACHE.stats().hits >= len(versions) - 1
    warm = {v: _decision_bytes(service, v, "warm") for v in versions}
    assert BOOTSTRAP_CACHE.stats().hits > 0
    assert IMPORTANCE_CACHE.stats().hits >= 3 * len(versions) - 1

    assert first == uncached
    assert warm == uncached
    assert {json.loads(b)["verdict"] for b in uncached.values()} == {"approve", "block"}


def test_a_table_replaced_in_a_finished_run_is_read_afresh(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from tools.discovery import find_eval_table
    from tools.eval_table import EVAL_TABLE_PATHS

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.create_experiment("cache", artifact_location=(tmp_path / "a").as_uri())
    run = client.create_run(experiment)
    columns = ["label", "score", "region"]
    path = EVAL_TABLE_PATHS[0]

    def log(rows: list[list[Any]]) -> None:
        client.log_dict(run.info.run_id, {"columns": columns, "data": rows}, path)

    log([[1, 0.9, "west"], [0, 0.2, "east"]])
    client.set_terminated(run.info.run_id)
    ended = client.get_run(run.info.run_id).info.end_time
    first = find_eval_table(client, run.info.run_id).table
    # Same path, same size, same finished run and end time: only the content tells them apart.
    log([[0, 0.9, "west"], [1, 0.2, "east"]])
    assert client.get_run(run.info.run_id).info.end_time == ended
    second = find_eval_table(client, run.info.run_id).table
    assert first is not None and second is not None
    assert [r[0] for r in first.rows] == [1, 0]
    assert [r[0] for r in second.rows] == [0, 1]


def test_importances_kept_on_disk_decide_byte_for_byte_alike(
    service: ReviewService, demo_registry: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Off, cold and warm disk cache: the same decisions; warm, no model file is loaded (what a
    later `promogate review` process finds)."""
    import tools.model_importance as importance
    from tools.disk_cache import DiskCache

    versions = [c.version for c in demo_registry.candidates]
    # Memory off, so every review reads the disk cache as a fresh process would.
    IMPORTANCE_CACHE.resize(0)
    importance.use_importance_disk_cache(None)
    off = {v: _decision_bytes(service, v, "off") for v in versions}
    disk = DiskCache(tmp_path / "importances")
    importance.use_importance_disk_cache(disk)
    try:
        cold = {v: _decision_bytes(service, v, "cold") for v in versions}
        assert disk.stats().writes >= 2  # the champion's file and at least one candidate's
        written = disk.stats().writes

        def no_loading(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("a model file was loaded although its importances were on disk")

        monkeypatch.setattr(importance, "_load_skops_importances", no_loading)
        warm = {v: _decision_bytes(service, v, "warm") for v in versions}
        assert disk.stats().writes == written
        assert disk.stats().hits >= 2 * len(versions)
    finally:
        importance.use_importance_disk_cache(None)
    assert cold == off
    assert warm == off
