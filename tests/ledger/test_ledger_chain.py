"""Verifying the hash chain: intact chains pass; edits, deletions and re-linking are caught."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from ledger._chain import compute_record_hash
from ledger.errors import ChainBrokenError
from ledger.store import Ledger
from ledger.tables import LedgerRecordRow
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]
RawSql = Callable[..., None]


def _fill(ledger: Ledger, make_decision: DecisionFactory, count: int = 5) -> None:
    for i in range(1, count + 1):
        ledger.append_decision(make_decision(f"d{i}", verdict="block" if i == 3 else "approve"))


def _rehash(ledger: Ledger, seqs: list[int], *, edit_seq: int | None = None) -> None:
    """What a careful forger does: edit a record, then recompute hashes so they look consistent."""
    with ledger.database.write() as session:
        rows = {
            row.seq: row
            for row in session.execute(
                select(LedgerRecordRow).where(LedgerRecordRow.seq.in_(seqs))
            ).scalars()
        }
        for seq in sorted(rows):
            row = rows[seq]
            if seq == edit_seq:
                row.verdict = "approve"
                row.payload = row.payload.replace('"verdict":"block"', '"verdict":"approve"')
            if seq - 1 in rows:
                row.prev_hash = rows[seq - 1].record_hash
            row.record_hash = compute_record_hash(row)


def test_empty_chain_verifies(ledger: Ledger) -> None:
    report = ledger.verify()

    assert report.ok
    assert (report.records_checked, report.head_seq, report.first_broken_seq) == (0, 0, None)
    assert report.head_hash == "0" * 64


def test_intact_chain_verifies(ledger: Ledger, make_decision: DecisionFactory) -> None:
    _fill(ledger, make_decision)

    report = ledger.verify()

    assert report.ok, report.problems
    assert (report.records_checked, report.head_seq) == (5, 5)
    assert report.head_hash == ledger.get_record("d5").record_hash
    report.raise_if_broken()


TAMPERING: list[tuple[str | dict[str, str], dict[str, object], str, int | None, str]] = [
    (
        'UPDATE ledger_records SET payload = REPLACE(payload, \'"verdict":"block"\', '
        '\'"verdict":"approve"\') WHERE seq = 3',
        {},
        "edited",
        3,
        "record 3 ('d3') was edited",
    ),
    ("UPDATE ledger_records SET verdict = 'approve' WHERE seq = 3", {}, "edited", 3, "edited"),
    (
        {
            "postgresql": "UPDATE ledger_records SET created_at = created_at - INTERVAL '1 day' "
            "WHERE seq = 2",
            "sqlite": "UPDATE ledger_records SET created_at = datetime(created_at, '-1 day') "
            "WHERE seq = 2",
        },
        {},
        "edited",
        2,
        "edited",
    ),
    ("DELETE FROM ledger_records WHERE seq = 3", {}, "gap", 3, "record 3 deleted"),
    ("DELETE FROM ledger_records WHERE seq = 1", {}, "gap", 1, "record 1 deleted"),
    ("DELETE FROM ledger_records WHERE seq IN (2, 3)", {}, "gap", 2, "records 2..3 deleted"),
    ("DELETE FROM ledger_records WHERE seq = 5", {}, "truncated", 5, "record 5 deleted"),
    ("DELETE FROM ledger_records WHERE seq >= 4", {}, "truncated", 4, "records 4..5 deleted"),
    ("DELETE FROM ledger_records", {}, "truncated", 1, "records 1..5 deleted"),
    (
        "UPDATE ledger_records SET prev_hash = CASE seq "
        "WHEN 2 THEN (SELECT prev_hash FROM ledger_records WHERE seq = 4) "
        "ELSE (SELECT prev_hash FROM ledger_records WHERE seq = 2) END WHERE seq IN (2, 4)",
        {},
        "prev_hash",
        2,
        "names prev_hash",
    ),
    (
        "UPDATE ledger_records SET record_hash = :fake WHERE seq = 4",
        {"fake": "f" * 64},
        "edited",
        4,
        "stored hash is ffffffffffff",
    ),
    ("DELETE FROM ledger_head", {}, "head_missing", None, "head row is missing"),
    ("UPDATE ledger_head SET seq = 4", {}, "head_mismatch", 5, "beyond the head"),
]


@pytest.mark.parametrize(
    ("statement", "params", "reason", "first_broken_seq", "detail"),
    TAMPERING,
    ids=[
        "edit-decision-json",
        "edit-verdict-column",
        "backdate-record",
        "delete-middle-record",
        "delete-first-record",
        "delete-two-records",
        "delete-last-record",
        "delete-last-two-records",
        "delete-every-record",
        "swap-prev-hashes",
        "overwrite-record-hash",
        "delete-head-row",
        "roll-back-head",
    ],
)
def test_tampering_is_detected(
    ledger: Ledger,
    make_decision: DecisionFactory,
    raw_sql: RawSql,
    statement: str | dict[str, str],
    params: dict[str, object],
    reason: str,
    first_broken_seq: int | None,
    detail: str,
) -> None:
    if isinstance(statement, dict):
        statement = statement[ledger.database.backend]
    _fill(ledger, make_decision)
    assert ledger.verify().ok

    raw_sql(ledger, statement, **params)
    report = ledger.verify()

    assert not report.ok
    assert (report.reason, report.first_broken_seq) == (reason, first_broken_seq)
    assert report.detail is not None and detail in report.detail
    with pytest.raises(ChainBrokenError, match=f"{reason!r}"):
        report.raise_if_broken()


@pytest.mark.parametrize(
    ("rehashed", "reason", "first_broken_seq"),
    [([3], "prev_hash", 4), ([3, 4, 5], "head_mismatch", 5)],
    ids=["rehash-edited-record", "rehash-edited-tail"],
)
def test_forged_hashes_are_detected(
    ledger: Ledger,
    make_decision: DecisionFactory,
    rehashed: list[int],
    reason: str,
    first_broken_seq: int,
) -> None:
    _fill(ledger, make_decision)

    _rehash(ledger, rehashed, edit_seq=3)
    report = ledger.verify()

    assert ledger.get_decision("d3").verdict == "approve"
    assert (report.ok, report.reason, report.first_broken_seq) == (False, reason, first_broken_seq)


def test_every_problem_is_listed_and_appends_continue(
    ledger: Ledger, make_decision: DecisionFactory, raw_sql: RawSql
) -> None:
    _fill(ledger, make_decision)
    raw_sql(ledger, "DELETE FROM ledger_records WHERE seq = 2")
    raw_sql(ledger, "UPDATE ledger_records SET model = 'other' WHERE seq = 4")

    # The ledger keeps recording after a break; the break stays on record.
    appended = ledger.append_decision(make_decision("d6"))
    report = ledger.verify()

    assert appended.seq == 6
    assert [(p.kind, p.seq) for p in report.problems] == [("gap", 2), ("edited", 4)]
    assert (report.records_checked, report.head_seq) == (5, 6)
