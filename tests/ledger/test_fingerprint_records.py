"""Fingerprint records: found by digest, and checked together with their decision in one read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ledger.fingerprints import FingerprintRecord, append_fingerprint, match_fingerprint
from ledger.store import Ledger
from tests.ledger.conftest import DecisionFactory

MODEL = "credit-scorer"


def _recorded(ledger: Ledger, make_decision: DecisionFactory, digest: str) -> FingerprintRecord:
    decision = make_decision(model=MODEL, version=7)
    ledger.append_decision(decision)
    record = FingerprintRecord(
        decision_id=decision.id,
        model=MODEL,
        version=7,
        target_alias="champion",
        evidence_digest=decision.evidence_digest or "",
        format=2,
        fingerprint=digest,
        parts={"candidate.run": "r"},
    )
    append_fingerprint(ledger, record)
    return record


def test_a_match_carries_its_decision_and_both_records_verify(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    older = _recorded(ledger, make_decision, "f" * 64)
    newer = _recorded(ledger, make_decision, "0" * 64)
    match = match_fingerprint(ledger, MODEL, 7, "champion", "f" * 64, 2)
    assert match is not None and match.record == older
    assert match.decision is not None and match.decision.id == older.decision_id
    assert match.record_problem is None and match.decision_problem is None
    # No digest: the version's newest record, whatever its digest.
    newest = match_fingerprint(ledger, MODEL, 7, "champion", None, 2)
    assert newest is not None and newest.record == newer
    assert match_fingerprint(ledger, MODEL, 7, "champion", "f" * 64, 1) is None
    assert match_fingerprint(ledger, MODEL, 7, "production", "f" * 64, 2) is None
    assert match_fingerprint(ledger, MODEL, 7, "champion", "1" * 64, 2) is None


def test_an_edited_decision_or_fingerprint_record_is_reported(
    ledger: Ledger, make_decision: DecisionFactory, raw_sql: Callable[..., Any]
) -> None:
    record = _recorded(ledger, make_decision, "f" * 64)
    _recorded(ledger, make_decision, "0" * 64)
    raw_sql(
        ledger,
        "UPDATE ledger_records SET verdict = 'block' WHERE record_id = :id",
        id=record.decision_id,
    )
    match = match_fingerprint(ledger, MODEL, 7, "champion", "f" * 64, 2)
    assert match is not None and match.record_problem is None
    assert match.decision_problem is not None and match.decision_problem.kind == "edited"
    raw_sql(
        ledger,
        "UPDATE ledger_records SET evidence_digest = 'x' WHERE record_id = :id",
        id=record.id,
    )
    match = match_fingerprint(ledger, MODEL, 7, "champion", "f" * 64, 2)
    assert match is not None and match.record_problem is not None
    assert match.record_problem.kind == "edited"
