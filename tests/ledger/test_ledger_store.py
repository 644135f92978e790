"""Appending and reading decisions and overrides, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from ledger._chain import canonical_json
from ledger.errors import DuplicateRecordError, RecordNotFoundError
from ledger.records import Override
from ledger.store import Ledger, policy_refs_key
from ledger.tables import GENESIS_HASH
from policies.decision import Decision
from policies.result import PolicyRef

DecisionFactory = Callable[..., Decision]
POLICY_A = PolicyRef(name="credit-risk-prod", revision=3, sha256="a" * 64, path="policies/a.yaml")
POLICY_B = PolicyRef(name="baseline-guard", revision=1, sha256="b" * 64)


def _override(**changes: Any) -> Override:
    values: dict[str, Any] = {
        "model": "credit-scorer",
        "version": 7,
        "check_ids": ["metrics.roc_auc.max_drop"],
        "approver": "risk-lead",
        "justification": "Drop is within the noise of the new eval set; ticket RISK-42.",
        "expires_at": datetime.now(UTC) + timedelta(hours=24),
    }
    values.update(changes)
    return Override(**values)


def test_append_returns_chain_metadata(ledger: Ledger, make_decision: DecisionFactory) -> None:
    first = ledger.append_decision(make_decision("dec-1", verdict="block"))
    second = ledger.append_decision(make_decision("dec-2"))

    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS_HASH
    assert second.prev_hash == first.record_hash
    assert first.kind == "decision" and first.verdict == "block"
    assert first.policy_refs == [POLICY_A.model_copy(update={"path": None})]
    assert first.created_at.tzinfo is not None
    assert ledger.get_record("dec-2") == second


def test_record_hash_is_sha256_of_prev_hash_and_canonical_record(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    first = ledger.append_decision(make_decision("dec-0"))
    record = ledger.append_decision(make_decision("dec-1"))
    stored = ledger.get_decision("dec-1")
    fields = {
        "seq": 2,
        "record_id": "dec-1",
        "kind": "decision",
        "model": stored.model,
        "version": stored.version,
        "verdict": stored.verdict,
        "target_alias": stored.target_alias,
        "evidence_digest": stored.evidence_digest,
        "policy_refs": policy_refs_key(stored.policies),
        "expires_at": None,
        "created_at": record.created_at.isoformat(timespec="microseconds"),
        "payload": canonical_json(stored.model_dump(mode="json")),
    }

    expected = hashlib.sha256((first.record_hash + canonical_json(fields)).encode()).hexdigest()

    assert record.record_hash == expected


def test_get_decision_round_trips(ledger: Ledger, make_decision: DecisionFactory) -> None:
    decision = make_decision("dec-1", verdict="escalate")
    ledger.append_decision(decision)

    assert ledger.get_decision("dec-1") == decision


def test_nan_in_a_check_is_stored_as_null(ledger: Ledger, make_decision: DecisionFactory) -> None:
    decision = make_decision("dec-nan")
    check = decision.checks[0].model_copy(update={"observed": float("nan")})
    ledger.append_decision(decision.model_copy(update={"checks": [check]}))

    assert ledger.get_decision("dec-nan").checks[0].observed is None
    assert ledger.verify().ok


@pytest.mark.parametrize(
    ("getter", "record_id", "message"),
    [
        ("get_decision", "dec-missing", "no decision with id 'dec-missing'"),
        ("get_record", "dec-missing", "no record with id 'dec-missing'"),
        ("get_override", "dec-1", "no override with id 'dec-1'"),
    ],
    ids=["unknown-decision", "unknown-record", "decision-is-not-an-override"],
)
def test_unknown_ids_raise_record_not_found(
    ledger: Ledger, make_decision: DecisionFactory, getter: str, record_id: str, message: str
) -> None:
    ledger.append_decision(make_decision("dec-1"))

    with pytest.raises(RecordNotFoundError, match=message):
        getattr(ledger, getter)(record_id)


def test_duplicate_id_is_refused_and_nothing_is_written(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    ledger.append_decision(make_decision("dec-1"))

    with pytest.raises(DuplicateRecordError, match="'dec-1'"):
        ledger.append_decision(make_decision("dec-1", verdict="block"))

    assert ledger.get_decision("dec-1").verdict == "approve"
    report = ledger.verify()
    assert (report.ok, report.records_checked, report.head_seq) == (True, 1, 1)


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, ["d5", "d4", "d3", "d2", "d1"]),
        ({"model": "fraud"}, ["d5", "d3"]),
        ({"model": "credit", "version": 2}, ["d4"]),
        ({"version": 1}, ["d3", "d1"]),
        ({"limit": 2}, ["d5", "d4"]),
        ({"before_seq": 3}, ["d2", "d1"]),
        ({"model": "nobody"}, []),
    ],
    ids=[
        "all-newest-first",
        "by-model",
        "by-model-and-version",
        "by-version",
        "limit",
        "paging",
        "none",
    ],
)
def test_list_decisions(
    ledger: Ledger, make_decision: DecisionFactory, filters: dict[str, Any], expected: list[str]
) -> None:
    for decision_id, model, version in [
        ("d1", "credit", 1),
        ("d2", "credit", 3),
        ("d3", "fraud", 1),
        ("d4", "credit", 2),
        ("d5", "fraud", 2),
    ]:
        ledger.append_decision(make_decision(decision_id, model=model, version=version))
    # Overrides share the chain but are not decisions.
    ledger.append_override(_override(model="credit", version=2))

    assert [d.id for d in ledger.list_decisions(**filters)] == expected


DIGEST = "sha256:" + "1" * 64
OTHER_DIGEST = "sha256:" + "2" * 64


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, "d-latest"),
        ({"policy_refs": [POLICY_B, POLICY_A]}, "d-latest"),
        ({"evidence_digest": OTHER_DIGEST}, None),
        ({"policy_refs": [POLICY_A]}, None),
        ({"policy_refs": [POLICY_A.model_copy(update={"revision": 4}), POLICY_B]}, None),
        ({"policy_refs": [POLICY_A.model_copy(update={"sha256": "c" * 64}), POLICY_B]}, None),
        ({"target_alias": "staging"}, "d-staging"),
        ({"version": 8}, None),
        ({"model": "fraud"}, None),
    ],
    ids=[
        "same-evidence-and-policies",
        "policy-order-and-path-do-not-matter",
        "other-evidence",
        "fewer-policies",
        "new-policy-revision",
        "edited-policy-content",
        "other-target-alias",
        "other-version",
        "other-model",
    ],
)
def test_find_decision(
    ledger: Ledger, make_decision: DecisionFactory, query: dict[str, Any], expected: str | None
) -> None:
    policies = [POLICY_A, POLICY_B]
    ledger.append_decision(make_decision("d-old", evidence_digest=DIGEST, policies=policies))
    ledger.append_decision(
        make_decision("d-latest", verdict="block", evidence_digest=DIGEST, policies=policies)
    )
    ledger.append_decision(
        make_decision(
            "d-staging", evidence_digest=DIGEST, policies=policies, target_alias="staging"
        )
    )
    # A later review that failed is never reused, even on the same evidence.
    ledger.append_decision(
        make_decision(
            "d-error", verdict="block", evidence_digest=DIGEST, policies=policies, error="timeout"
        )
    )
    arguments: dict[str, Any] = {
        "model": "credit-scorer",
        "version": 7,
        "evidence_digest": DIGEST,
        "policy_refs": policies,
        "target_alias": "champion",
    }
    arguments.update(query)

    found = ledger.find_decision(**arguments)

    assert (found.id if found else None) == expected


def test_overrides_are_chained_and_expire(ledger: Ledger, make_decision: DecisionFactory) -> None:
    ledger.append_decision(make_decision("dec-1", verdict="block"))
    now = datetime.now(UTC)
    live = _override(id="ovr-live", decision_id="dec-1", expires_at=now + timedelta(hours=2))
    short = _override(id="ovr-short", expires_at=now + timedelta(minutes=30))
    staging = _override(id="ovr-staging", target_alias="staging")
    other = _override(id="ovr-other-version", version=8)

    records = [ledger.append_override(o) for o in (live, short, staging, other)]

    assert [r.seq for r in records] == [2, 3, 4, 5]
    assert records[0].kind == "override" and records[0].expires_at == live.expires_at
    assert ledger.get_override("ovr-live") == live
    assert [o.id for o in ledger.active_overrides("credit-scorer", 7)] == [
        "ovr-live",
        "ovr-short",
        "ovr-staging",
    ]
    assert [o.id for o in ledger.active_overrides("credit-scorer", 7, target_alias="champion")] == [
        "ovr-live",
        "ovr-short",
    ]
    in_an_hour = now + timedelta(hours=1)
    assert [o.id for o in ledger.active_overrides("credit-scorer", 7, at=in_an_hour)] == [
        "ovr-live",
        "ovr-staging",
    ]
    assert ledger.active_overrides("credit-scorer", 7, at=now + timedelta(days=2)) == []
    assert ledger.verify().ok


def test_override_of_an_unknown_decision_is_refused(ledger: Ledger) -> None:
    with pytest.raises(RecordNotFoundError, match="no decision with id 'dec-nowhere'"):
        ledger.append_override(_override(decision_id="dec-nowhere"))

    assert ledger.verify().records_checked == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"justification": "   "}, "must not be blank"),
        ({"check_ids": []}, "at least 1 item"),
        ({"check_ids": [""]}, "check ids must not be blank"),
        ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "must be after created_at"),
        ({"expires_at": datetime(2099, 1, 1)}, "must be timezone-aware"),
        ({"version": 0}, "greater than or equal to 1"),
    ],
    ids=[
        "blank-justification",
        "no-checks",
        "blank-check",
        "already-expired",
        "naive",
        "version-0",
    ],
)
def test_invalid_overrides_are_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _override(**changes)


def test_active_overrides_needs_an_aware_time(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.active_overrides("credit-scorer", 7, at=datetime(2030, 1, 1))
