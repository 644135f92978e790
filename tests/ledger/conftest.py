"""Fixtures for the ledger tests: a fresh ledger on SQLite and on PostgreSQL, and Decision builders.

Each PostgreSQL test gets its own schema (chosen through the connection's ``search_path``), created
before and dropped after the test, so tests and concurrent test runs on one database never meet.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from ledger.store import Ledger
from policies.decision import Decision, Finding, QuestionAnswer
from policies.result import CheckResult, PolicyRef, Verdict
from tests.support.postgres_schema import postgres_schema

POLICY = PolicyRef(
    name="credit-risk-prod", revision=3, sha256="a" * 64, path="policies/credit.yaml"
)

DecisionFactory = Callable[..., Decision]


def build_decision(
    decision_id: str | None = None,
    *,
    model: str = "credit-scorer",
    version: int = 7,
    verdict: Verdict = "approve",
    evidence_digest: str | None = "sha256:" + "e" * 64,
    policies: list[PolicyRef] | None = None,
    target_alias: str = "champion",
    error: str | None = None,
) -> Decision:
    """A realistic Decision: checks with numbers, a finding, a question/answer, policy refs."""
    return Decision(
        id=decision_id or f"dec-{uuid.uuid4().hex}",
        model=model,
        version=version,
        baseline_version=version - 1,
        target_alias=target_alias,
        verdict=verdict,
        policy_verdict=verdict,
        reasons=[f"{verdict} by policy"],
        checks=[
            CheckResult(
                id="metrics.roc_auc.max_drop",
                policy=POLICY.name,
                kind="metric",
                status="pass" if verdict == "approve" else "fail",
                message="roc_auc 0.871 vs baseline 0.868",
                observed=0.871,
                threshold=0.01,
                baseline=0.868,
                delta=0.003,
                p_value=0.41,
                details={"segments": {"north": 0.8, "south": 0.79}, "rows": 2400},
                evidence=["run:abc/metrics/roc_auc"],
            )
        ],
        findings=[Finding(title="Stable", detail="No segment regressed", severity="info")],
        questions=[
            QuestionAnswer(
                question="Is the drop significant?",
                answer="No: paired bootstrap p=0.41",
                check_id="metrics.roc_auc.max_drop",
                tools=["paired_bootstrap"],
                data={"p_value": 0.41, "resamples": 1000},
            )
        ],
        evidence_digest=evidence_digest,
        policies=policies if policies is not None else [POLICY],
        error=error,
        versions={"promogate": "0.1.0", "mlflow": "3.17.0"},
        created_at=datetime.now(UTC),
        duration_ms=12.5,
    )


AtOnce = Callable[[Sequence[Callable[[], object]]], list[BaseException]]


@pytest.fixture
def at_once() -> AtOnce:
    """Run callables in threads of their own, released together by a barrier; returns what they
    raised (empty when none did)."""

    def run(work: Sequence[Callable[[], object]]) -> list[BaseException]:
        barrier = threading.Barrier(len(work))
        raised: list[BaseException] = []

        def one(call: Callable[[], object]) -> None:
            try:
                barrier.wait(timeout=30)
                call()
            except Exception as exc:  # noqa: BLE001 - returned to the test, which asserts on it
                raised.append(exc)

        threads = [threading.Thread(target=one, args=(call,)) for call in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        return raised

    return run


@pytest.fixture
def make_decision() -> DecisionFactory:
    return build_decision


@pytest.fixture(scope="session")
def postgres_admin(postgres_url: str) -> Iterator[sqlalchemy.Engine]:
    engine = sqlalchemy.create_engine(postgres_url, poolclass=sqlalchemy.NullPool)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_schema_url(postgres_url: str) -> Iterator[str]:
    """A PostgreSQL URL whose connections work in a fresh schema of their own."""
    with postgres_schema(postgres_url, "ledger_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database, once per backend (PostgreSQL skips when not configured)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("postgres_schema_url")
    return url


@pytest.fixture
def ledger(ledger_url: str) -> Iterator[Ledger]:
    """A migrated ledger on each backend."""
    store = Ledger(ledger_url)
    store.migrate()
    yield store
    store.close()


def execute_sql(store: Ledger, statement: str, **params: Any) -> None:
    """Run raw SQL against the ledger's database, as someone tampering with it would."""
    with store.database.engine.begin() as connection:
        connection.execute(sqlalchemy.text(statement), params)


@pytest.fixture
def raw_sql() -> Callable[..., None]:
    return execute_sql
