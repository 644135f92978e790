"""One record verified before it is trusted, and the chain checked against external anchors.

Tampering runs on SQLite and on the real PostgreSQL (a schema per test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from ledger._chain import compute_record_hash
from ledger.anchors import FileAnchorStore, RecordAnchor, verify_anchors, write_checkpoint
from ledger.errors import LedgerError
from ledger.store import Ledger
from ledger.tables import HEAD_ROW_ID, LedgerHeadRow, LedgerRecordRow
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]
RawSql = Callable[..., None]


def _fill(ledger: Ledger, make_decision: DecisionFactory, count: int = 4) -> None:
    for i in range(1, count + 1):
        ledger.append_decision(make_decision(f"d{i}", verdict="block" if i == 3 else "approve"))


def test_an_intact_record_verifies(ledger: Ledger, make_decision: DecisionFactory) -> None:
    _fill(ledger, make_decision)
    assert [ledger.verify_record(f"d{i}") for i in range(1, 5)] == [None] * 4


@pytest.mark.parametrize(
    ("statement", "record", "kind"),
    [
        (
            "UPDATE ledger_records SET verdict = 'approve', "
            'payload = REPLACE(payload, \'"verdict":"block"\', \'"verdict":"approve"\') '
            "WHERE record_id = 'd3'",
            "d3",
            "edited",
        ),
        ("DELETE FROM ledger_records WHERE seq = 2", "d3", "gap"),
        ("DELETE FROM ledger_records WHERE seq = 4", "d3", "gap"),
        (
            "UPDATE ledger_records SET prev_hash = '" + "1" * 64 + "' WHERE seq = 4",
            "d3",
            "prev_hash",
        ),
        (
            "UPDATE ledger_head SET record_hash = '" + "2" * 64 + "'",
            "d4",
            "head_mismatch",
        ),
    ],
    ids=["block-turned-approve", "previous-deleted", "next-deleted", "next-relinked", "head-moved"],
)
def test_a_tampered_record_does_not_verify(
    ledger: Ledger,
    make_decision: DecisionFactory,
    raw_sql: RawSql,
    statement: str,
    record: str,
    kind: str,
) -> None:
    _fill(ledger, make_decision)
    raw_sql(ledger, statement)
    problem = ledger.verify_record(record)
    assert problem is not None
    assert problem.kind == kind


def _rewind(ledger: Ledger, to_seq: int) -> None:
    """Delete the tail and point the head at the new last record: the chain verifies again."""
    with ledger.database.write() as session:
        for row in session.execute(
            select(LedgerRecordRow).where(LedgerRecordRow.seq > to_seq)
        ).scalars():
            session.delete(row)
        last = session.get(LedgerRecordRow, to_seq)
        head = session.get(LedgerHeadRow, HEAD_ROW_ID)
        assert last is not None and head is not None
        head.seq = to_seq
        head.record_hash = last.record_hash


def test_a_truncation_with_a_rewound_head_is_caught_by_the_anchors(
    ledger: Ledger, make_decision: DecisionFactory, tmp_path: Path
) -> None:
    store = FileAnchorStore(tmp_path / "anchors.jsonl")
    _fill(ledger, make_decision, 2)
    write_checkpoint(ledger, [store])
    _fill_more = [make_decision(f"e{i}") for i in range(2)]
    for decision in _fill_more:
        ledger.append_decision(decision)
    write_checkpoint(ledger, [store])
    assert verify_anchors(ledger, [store]).ok

    _rewind(ledger, 2)

    assert ledger.verify().ok  # the chain alone cannot tell
    report = verify_anchors(ledger, [store])
    assert not report.ok
    assert [p.kind for p in report.problems] == ["rewound"]
    assert "head rewound" in report.problems[0].detail


def test_a_rewritten_chain_is_caught_by_the_anchors(
    ledger: Ledger, make_decision: DecisionFactory, tmp_path: Path
) -> None:
    store = FileAnchorStore(tmp_path / "anchors.jsonl")
    _fill(ledger, make_decision)
    write_checkpoint(ledger, [store])
    published = RecordAnchor(
        record_id="d3", record_hash=ledger.get_record("d3").record_hash, source="v7 tags"
    )
    # A careful forger edits d3 and recomputes every hash after it and the head.
    with ledger.database.write() as session:
        rows = {r.seq: r for r in session.execute(select(LedgerRecordRow)).scalars()}
        for seq in sorted(rows):
            row = rows[seq]
            if seq == 3:
                row.verdict = "approve"
                row.payload = row.payload.replace('"verdict":"block"', '"verdict":"approve"')
            if seq > 1:
                row.prev_hash = rows[seq - 1].record_hash
            row.record_hash = compute_record_hash(row)
        head = session.get(LedgerHeadRow, HEAD_ROW_ID)
        assert head is not None
        head.record_hash = rows[max(rows)].record_hash

    assert ledger.verify().ok
    assert ledger.verify_record("d3") is None
    report = verify_anchors(ledger, [store], [published])
    assert sorted(p.kind for p in report.problems) == ["mismatch", "mismatch"]


def test_an_unreadable_anchor_file_fails_verification(ledger: Ledger, tmp_path: Path) -> None:
    path = tmp_path / "anchors.jsonl"
    path.write_text("not a checkpoint\n")
    report = verify_anchors(ledger, [FileAnchorStore(path)])
    assert not report.ok
    assert report.problems[0].kind == "unreadable"


@pytest.mark.parametrize("version", [2_147_483_648, 9_999_999_999, -1], ids=["2^31", "10^10", "-1"])
def test_a_version_out_of_range_is_refused_on_both_backends(
    ledger: Ledger, make_decision: DecisionFactory, version: int
) -> None:
    # On PostgreSQL this used to end in "integer out of range", naming the database URL.
    with pytest.raises(LedgerError, match=r"outside 0\.\.2147483647") as caught:
        ledger.append_decision(make_decision(version=version))
    assert "postgresql" not in str(caught.value)
    assert ledger.list_decisions(version=version) == []
    assert ledger.verify().ok


@pytest.mark.parametrize("store_file", ["missing", "empty"], ids=["missing-file", "empty-file"])
def test_a_store_without_a_checkpoint_fails_verification_of_a_ledger_with_records(
    ledger: Ledger, make_decision: DecisionFactory, tmp_path: Path, store_file: str
) -> None:
    """An anchor file at a mistyped path, or emptied, anchors nothing: it must not pass."""
    path = tmp_path / "anchors.jsonl"
    if store_file == "empty":
        path.write_text("")
    store = FileAnchorStore(path)
    assert verify_anchors(ledger, [store]).ok  # an empty ledger has nothing to anchor
    _fill(ledger, make_decision, 2)
    report = verify_anchors(ledger, [store])
    assert not report.ok
    assert [(p.kind, p.source) for p in report.problems] == [("absent", store.name)]
    assert "holds no checkpoint, though the ledger holds 2 records" in report.problems[0].detail
    write_checkpoint(ledger, [store])
    assert verify_anchors(ledger, [store]).ok
