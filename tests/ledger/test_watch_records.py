"""Watch records: one evaluated monitoring window each, chained like every other record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ledger.errors import RecordNotFoundError
from ledger.records import WatchRecord
from ledger.store import Ledger
from ledger.tables import LedgerRecordRow

from .conftest import POLICY, DecisionFactory

START = datetime(2026, 11, 2, tzinfo=UTC)


def _window(
    window_id: str, *, level: str = "ok", version: int = 7, day: int = 0, **extra: object
) -> WatchRecord:
    return WatchRecord.model_validate(
        {
            "model": "credit-scorer",
            "version": version,
            "target_alias": "champion",
            "window_id": window_id,
            "window_start": START + timedelta(days=day),
            "window_end": START + timedelta(days=day + 1),
            "window_digest": f"sha256:{window_id}",
            "labelled": False,
            "level": level,
            "summary": f"{level}: window {window_id}",
            "report": {"level": level, "checks": [{"id": "drift.feature.income"}]},
            **extra,
        }
    )


def test_watch_records_chain_and_read_back_newest_first(ledger: Ledger) -> None:
    first = _window("run-1")
    second = _window("run-2", level="alert", day=1)
    records = [ledger.append_watch(first, [POLICY]), ledger.append_watch(second, [POLICY])]

    assert [r.kind for r in records] == ["watch", "watch"]
    assert records[1].prev_hash == records[0].record_hash
    assert records[1].evidence_digest == "sha256:run-2"
    assert [w.window_id for w in ledger.list_watch("credit-scorer")] == ["run-2", "run-1"]
    assert ledger.get_watch(second.id) == second
    assert ledger.list_decisions("credit-scorer") == []
    assert ledger.verify().ok


def test_a_window_evaluated_again_names_the_record_it_supersedes(ledger: Ledger) -> None:
    before = _window("run-1")
    ledger.append_watch(before)
    again = _window(
        "run-1",
        level="alert",
        labelled=True,
        supersedes=before.id,
        reevaluation_reason="labels arrived late (run-9)",
    )
    ledger.append_watch(again)

    latest = ledger.list_watch("credit-scorer", target_alias="champion", version=7)
    assert [(w.id, w.supersedes) for w in latest] == [(again.id, before.id), (before.id, None)]
    assert latest[0].reevaluation_reason == "labels arrived late (run-9)"


@pytest.mark.parametrize(
    ("model", "alias", "version", "expected"),
    [
        ("credit-scorer", None, None, ["run-3", "run-2", "run-1"]),
        ("credit-scorer", "champion", 7, ["run-2", "run-1"]),
        ("credit-scorer", "canary", None, ["run-3"]),
        ("credit-scorer", None, 2**40, []),
        ("other", None, None, []),
    ],
    ids=["all", "alias-and-version", "other-alias", "version-out-of-range", "other-model"],
)
def test_list_watch_filters(
    ledger: Ledger, model: str, alias: str | None, version: int | None, expected: list[str]
) -> None:
    ledger.append_watch(_window("run-1"))
    ledger.append_watch(_window("run-2", day=1))
    ledger.append_watch(_window("run-3", version=8).model_copy(update={"target_alias": "canary"}))

    found = ledger.list_watch(model, target_alias=alias, version=version)

    assert [w.window_id for w in found] == expected


def test_a_watch_record_naming_a_decision_needs_it_in_the_ledger(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    with pytest.raises(RecordNotFoundError, match="dec-missing"):
        ledger.append_watch(_window("run-1", decision_id="dec-missing"))
    decision = make_decision(verdict="block")
    ledger.append_decision(decision)

    ledger.append_watch(_window("run-1", level="alert", decision_id=decision.id))

    assert ledger.list_watch("credit-scorer")[0].decision_id == decision.id


def test_an_edited_watch_record_breaks_the_chain(ledger: Ledger) -> None:
    record = _window("run-1", level="alert")
    ledger.append_watch(record)
    ledger.append_watch(_window("run-2", day=1))
    with ledger.database.write() as session:
        row = session.query(LedgerRecordRow).filter_by(record_id=record.id).one()
        row.payload = row.payload.replace('"level":"alert"', '"level":"ok"')

    report = ledger.verify()

    assert not report.ok
    assert report.first_broken_seq == 1


@pytest.mark.parametrize(
    "field",
    ["created_at", "window_start"],
    ids=["created", "window-start"],
)
def test_watch_times_must_be_timezone_aware(field: str) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _window("run-1", **{field: datetime(2026, 11, 2)})
