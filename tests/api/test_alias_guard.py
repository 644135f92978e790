"""The alias guard and the reconciler against the session's real `mlflow server` (no webhooks).

Each test registers a model of its own (`guard-*` or `audit-*`) whose versions reuse the session
registry's real runs and logged models: v1 and v2 are good, v3 is much worse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.services import build_review_service, configure_mlflow_environment
from benchmarks._mlflow_server import FaultProxy, MlflowServer
from ledger.records import AliasMove, AliasRevert, Promotion
from ledger.store import Ledger
from policies.loader import load_policy_dir
from review.alias_guard import AliasGuard, GuardOutcome, guard_mode_for
from review.gate import GateService
from review.service import ReviewService
from tests.api.conftest import GateRegistry, api_settings
from tests.support.postgres_schema import postgres_schema

GUARD_POLICY = """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: guard-test, revision: 1}
    match: {model: "guard-*"}
    metrics:
      - {name: roc_auc, min: 0.6, max_drop: 0.02}
    comparability: {same_eval_dataset: "off", train_eval_overlap: "off"}
    baseline: {alias: champion, on_missing: pass}
    guard: {mode: enforce}
    """
AUDIT_POLICY = (
    GUARD_POLICY.replace("guard-test", "audit-test")
    .replace('"guard-*"', '"audit-*"')
    .replace("mode: enforce", "mode: audit")
)
DEPLOYER = "deployer"


@pytest.fixture(scope="module")
def guard_policies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("guard-policies")
    (directory / "guard.yaml").write_text(textwrap.dedent(GUARD_POLICY))
    (directory / "audit.yaml").write_text(textwrap.dedent(AUDIT_POLICY))
    return directory


@dataclass
class Guarded:
    reviews: ReviewService
    gate: GateService
    guard: AliasGuard
    ledger: Ledger
    client: Any

    def promote(self, model: str, version: int) -> None:
        decision = self.reviews.review(model, version, target_alias="champion").decision
        assert decision.verdict == "approve", decision.reasons
        self.gate.promote(model, version, target_alias="champion", actor=DEPLOYER)

    def champion(self, model: str) -> int | None:
        aliases = dict(self.client.get_registered_model(model).aliases or {})
        return int(aliases["champion"]) if "champion" in aliases else None


def register_copy(client: Any, registry: GateRegistry, model: str) -> None:
    """`model` with versions 1-3 made from the session registry's versions 1-3."""
    client.create_registered_model(model)
    for number in (1, 2, 3):
        source = client.get_model_version(registry.model, str(number))
        model_id = source.source.removeprefix("models:/") if source.source else None
        client.create_model_version(model, source.source, run_id=source.run_id, model_id=model_id)


def make_guarded(
    registry: GateRegistry, tracking_uri: str, ledger_url: str, policies: Path, **extra: Any
) -> Guarded:
    import mlflow

    settings = api_settings(
        registry, tracking_uri, ledger_url, policies_dir=policies, publish_tags=False, **extra
    )
    configure_mlflow_environment(settings)
    ledger = Ledger(ledger_url)
    reviews = build_review_service(settings, ledger=ledger)
    gate = GateService(reviews)
    guard = AliasGuard(gate, lock_wait_s=30.0)
    client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    return Guarded(reviews, gate, guard, ledger, client)


@pytest.fixture
def guarded(
    gate_registry: GateRegistry, mlflow_server: MlflowServer, guard_policies: Path, tmp_path: Path
) -> Iterator[Guarded]:
    harness = make_guarded(
        gate_registry, mlflow_server.url, f"sqlite:///{tmp_path / 'ledger.db'}", guard_policies
    )
    yield harness
    harness.gate.drain()
    harness.ledger.close()


@pytest.fixture
def pg_ledger_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL ledger URL in a fresh schema of its own (dropped afterwards)."""
    with postgres_schema(postgres_url, "guard_test") as url:
        yield url


def _model(request: pytest.FixtureRequest, prefix: str = "guard") -> str:
    name = request.node.name
    for char in "_[]":
        name = name.replace(char, "-")
    return f"{prefix}-{name.strip('-')[:80]}"


def test_guard_modes_follow_the_strictest_policy(guard_policies: Path) -> None:
    policies = load_policy_dir(guard_policies)
    cases = {
        ("guard-a", "champion"): "enforce",
        ("audit-a", "champion"): "audit",
        ("guard-a", "canary"): "off",
        ("other", "champion"): "off",
    }
    for (model, alias), mode in cases.items():
        assert guard_mode_for(policies, model, alias, "champion").mode == mode, (model, alias)


def test_promogate_s_own_promotion_is_never_reverted(
    guarded: Guarded, gate_registry: GateRegistry, request: pytest.FixtureRequest
) -> None:
    model = _model(request)
    register_copy(guarded.client, gate_registry, model)
    guarded.promote(model, 1)

    outcome = guarded.guard.check_alias(model, "champion", source="reconciler")

    assert (outcome.action, outcome.version) == ("none", 1)
    assert guarded.champion(model) == 1
    assert [type(r) for r in guarded.ledger.alias_history(model, "champion")] == [Promotion]


def test_reconciler_alone_puts_back_an_unapproved_move(
    guarded: Guarded, gate_registry: GateRegistry, request: pytest.FixtureRequest
) -> None:
    model = _model(request)
    register_copy(guarded.client, gate_registry, model)
    guarded.promote(model, 1)
    guarded.reviews.review(model, 3, target_alias="champion")
    guarded.client.set_registered_model_alias(model, "champion", "3")

    report = guarded.guard.reconcile(model)

    assert [(o.model, o.action) for o in report.outcomes] == [(model, "reverted")]
    assert guarded.champion(model) == 1
    revert, move, promotion = guarded.ledger.alias_history(model, "champion")
    assert isinstance(revert, AliasRevert) and isinstance(move, AliasMove)
    assert isinstance(promotion, Promotion)
    assert (move.version, move.approved, move.source, move.action) == (
        3,
        False,
        "reconciler",
        "reverting",
    )
    assert "is block" in move.reasons[0]
    assert (revert.restored_version, revert.move_id) == (1, move.id)
    # Idempotent: a second pass finds the alias where promogate put it.
    assert [o.action for o in guarded.guard.reconcile(model).outcomes] == ["none"]


def test_an_alias_promogate_never_approved_is_removed(
    guarded: Guarded, gate_registry: GateRegistry, request: pytest.FixtureRequest
) -> None:
    model = _model(request)
    register_copy(guarded.client, gate_registry, model)
    guarded.client.set_registered_model_alias(model, "champion", "2")

    outcome = guarded.guard.check_alias(model, "champion", source="reconciler")

    assert (outcome.action, outcome.version, outcome.expected_version) == ("removed", 2, None)
    assert "no decision about v2" in outcome.reasons[0]
    assert guarded.champion(model) is None


def test_a_hand_move_to_an_approved_version_is_accepted(
    guarded: Guarded, gate_registry: GateRegistry, request: pytest.FixtureRequest
) -> None:
    model = _model(request)
    register_copy(guarded.client, gate_registry, model)
    guarded.promote(model, 1)
    approved = guarded.reviews.review(model, 2, target_alias="champion").decision
    assert approved.verdict == "approve", approved.reasons
    guarded.client.set_registered_model_alias(model, "champion", "2")

    outcome = guarded.guard.check_alias(model, "champion", source="reconciler")

    assert (outcome.action, outcome.version) == ("accepted", 2), outcome.reasons
    assert guarded.champion(model) == 2
    move = guarded.ledger.alias_history(model, "champion")[0]
    assert isinstance(move, AliasMove) and move.decision_id == approved.id
    # The accepted version is now the alias's holder: a later bad move goes back to v2.
    guarded.client.set_registered_model_alias(model, "champion", "3")
    again = guarded.guard.check_alias(model, "champion", source="reconciler")
    assert (again.action, again.expected_version) == ("reverted", 2)
    assert guarded.champion(model) == 2


def test_audit_mode_records_but_leaves_the_alias(
    guarded: Guarded, gate_registry: GateRegistry, request: pytest.FixtureRequest
) -> None:
    model = _model(request, "audit")
    register_copy(guarded.client, gate_registry, model)
    seen: list[GuardOutcome] = []
    guarded.guard.notify = seen.append
    guarded.client.set_registered_model_alias(model, "champion", "3")

    outcome = guarded.guard.check_alias(model, "champion", source="reconciler")

    assert (outcome.action, outcome.mode) == ("reported", "audit")
    assert guarded.champion(model) == 3
    assert [o.action for o in seen] == ["reported"]
    (move,) = guarded.ledger.alias_history(model, "champion")
    assert isinstance(move, AliasMove) and move.action == "reported"


def _reconcile_process(
    registry: GateRegistry, tracking_uri: str, ledger_url: str, policies: Path, model: str
) -> subprocess.Popen[str]:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PROMOGATE_LOG_LEVEL": "WARNING"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "api.cli",
            "reconcile",
            "--model",
            model,
            "--tracking-uri",
            tracking_uri,
            "--ledger-url",
            ledger_url,
            "--policies",
            str(policies),
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_reconcilers_at_once_revert_once(
    backend: str,
    gate_registry: GateRegistry,
    mlflow_server: MlflowServer,
    guard_policies: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    if backend == "postgresql":
        ledger_url = request.getfixturevalue("pg_ledger_url")
    else:
        ledger_url = f"sqlite:///{tmp_path / 'ledger.db'}"
    harness = make_guarded(gate_registry, mlflow_server.url, ledger_url, guard_policies)
    model = _model(request)
    try:
        register_copy(harness.client, gate_registry, model)
        harness.promote(model, 1)
        harness.client.set_registered_model_alias(model, "champion", "3")

        processes = [
            _reconcile_process(gate_registry, mlflow_server.url, ledger_url, guard_policies, model)
            for _ in range(2)
        ]
        results = [p.communicate(timeout=240) for p in processes]

        codes = sorted(p.returncode for p in processes)
        assert codes == [0, 1], results
        actions = sorted(o["action"] for out, _ in results for o in json.loads(out)["outcomes"])
        assert actions == ["none", "reverted"], results
        history = harness.ledger.alias_history(model, "champion")
        assert [type(r).__name__ for r in history] == ["AliasRevert", "AliasMove", "Promotion"]
        assert harness.champion(model) == 1
    finally:
        harness.ledger.close()


def test_mlflow_down_checks_nothing_and_the_reconciler_catches_up(
    gate_registry: GateRegistry,
    mlflow_server: MlflowServer,
    mlflow_proxy: FaultProxy,
    guard_policies: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    harness = make_guarded(
        gate_registry, mlflow_proxy.url, f"sqlite:///{tmp_path / 'ledger.db'}", guard_policies
    )
    model = _model(request)
    try:
        register_copy(harness.client, gate_registry, model)
        harness.promote(model, 1)
        harness.client.set_registered_model_alias(model, "champion", "3")
        mlflow_proxy.set("refuse")

        down = harness.guard.check_alias(model, "champion", source="webhook")

        assert down.action == "failed" and "MLflow" in down.reasons[0]
        assert [type(r) for r in harness.ledger.alias_history(model, "champion")] == [Promotion]
        mlflow_proxy.set("pass")
        assert [o.action for o in harness.guard.reconcile(model).outcomes] == ["reverted"]
        assert harness.champion(model) == 1
    finally:
        harness.ledger.close()
