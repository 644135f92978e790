"""Promotions as a record kind of their own: chained, never read as decisions, migrated in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config
from pydantic import ValidationError

from ledger._database import MIGRATIONS_DIR
from ledger.errors import DuplicateRecordError, LedgerError, RecordNotFoundError
from ledger.records import Override, Promotion
from ledger.store import Ledger
from ledger.tables import SCHEMA_REVISION
from policies.decision import Decision

DecisionFactory = Callable[..., Decision]
RawSql = Callable[..., None]

DIGEST = "sha256:" + "e" * 64


def _promotion(decision: Decision, **changes: Any) -> Promotion:
    fields: dict[str, Any] = {
        "model": decision.model,
        "version": decision.version,
        "target_alias": decision.target_alias,
        "previous_version": decision.version - 1 or None,
        "decision_id": decision.id,
        "overrides": [],
        "promoted_by": "alice",
        "evidence_digest": decision.evidence_digest,
    }
    fields.update(changes)
    return Promotion(**fields)


def _override(decision: Decision) -> Override:
    now = datetime.now(UTC)
    return Override(
        model=decision.model,
        version=decision.version,
        check_ids=["metrics.roc_auc.max_drop"],
        approver="bob",
        justification="Known seasonal dip",
        expires_at=now + timedelta(hours=4),
        decision_id=decision.id,
        created_at=now,
    )


def _alembic(ledger: Ledger, revision: str, *, down: bool = False) -> None:
    """Move the schema to `revision`, as ``Database.migrate`` does for the head."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with ledger.database.engine.begin() as connection:
        config.attributes["connection"] = connection
        if down:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


def _kind_checks(ledger: Ledger) -> dict[str, str]:
    with ledger.database.engine.connect() as connection:
        checks = sqlalchemy.inspect(connection).get_check_constraints("ledger_records")
    return {str(c["name"]): str(c["sqltext"]) for c in checks}


# -- the record -----------------------------------------------------------------------------------


def test_append_get_and_list(ledger: Ledger, make_decision: DecisionFactory) -> None:
    v7 = make_decision("d7")
    v8 = make_decision("d8", version=8)
    ledger.append_decision(v7)
    ledger.append_decision(v8)
    first = _promotion(v7, overrides=["ovr-1"], previous_version=None)
    second = _promotion(v8, promoted_by="carol")
    third = _promotion(v7)

    record = ledger.append_promotion(first)
    ledger.append_promotion(second)
    ledger.append_promotion(third)

    assert first.id.startswith("prm-") and len(first.id) == 36
    assert (record.seq, record.kind, record.record_id) == (3, "promotion", first.id)
    assert (record.model, record.version, record.target_alias) == ("credit-scorer", 7, "champion")
    assert (record.verdict, record.evidence_digest, record.policy_refs) == (None, DIGEST, [])
    assert ledger.get_record(first.id) == record
    assert ledger.get_promotion(first.id) == first
    assert ledger.get_promotion(second.id).promoted_by == "carol"
    assert [p.id for p in ledger.list_promotions()] == [third.id, second.id, first.id]
    assert [p.id for p in ledger.list_promotions("credit-scorer", 7)] == [third.id, first.id]
    assert [p.id for p in ledger.list_promotions(version=8)] == [second.id]
    assert [p.id for p in ledger.list_promotions(limit=1)] == [third.id]
    assert ledger.list_promotions("other-model") == []


@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"decision_id": "dec-missing"}, RecordNotFoundError, "no decision with id 'dec-missing'"),
        ({"decision_id": "override"}, RecordNotFoundError, "no decision with id 'ovr-"),
        ({"version": 8}, LedgerError, r"about \{'version': 7\}, not \{'version': 8\}"),
        ({"model": "other"}, LedgerError, "'model': 'credit-scorer'"),
        ({"target_alias": "canary"}, LedgerError, "'target_alias': 'champion'"),
        ({"evidence_digest": "sha256:" + "f" * 64}, LedgerError, "'evidence_digest'"),
    ],
    ids=[
        "unknown-decision",
        "names-an-override",
        "other-version",
        "other-model",
        "other-alias",
        "other-evidence",
    ],
)
def test_a_promotion_must_rest_on_its_own_decision(
    ledger: Ledger,
    make_decision: DecisionFactory,
    changes: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    decision = make_decision("d1")
    ledger.append_decision(decision)
    override = _override(decision)
    ledger.append_override(override)
    if changes.get("decision_id") == "override":
        changes = {"decision_id": override.id}

    with pytest.raises(error, match=match):
        ledger.append_promotion(_promotion(decision, **changes))

    assert ledger.list_promotions() == []
    assert (ledger.verify().ok, ledger.verify().records_checked) == (True, 2)


def test_a_promotion_id_is_recorded_once(ledger: Ledger, make_decision: DecisionFactory) -> None:
    decision = make_decision("d1")
    ledger.append_decision(decision)
    promotion = _promotion(decision)
    ledger.append_promotion(promotion)

    with pytest.raises(DuplicateRecordError, match=repr(promotion.id)):
        ledger.append_promotion(promotion)


def test_promotions_are_never_read_as_decisions(
    ledger: Ledger, make_decision: DecisionFactory
) -> None:
    decision = make_decision("d1")
    ledger.append_decision(decision)
    promotion = _promotion(decision)
    ledger.append_promotion(promotion)

    assert [d.id for d in ledger.list_decisions()] == ["d1"]
    assert [d.id for d in ledger.list_decisions("credit-scorer", 7)] == ["d1"]
    found = ledger.find_decision(
        "credit-scorer", 7, DIGEST, decision.policies, target_alias="champion"
    )
    assert found is not None and found.id == "d1"
    assert ledger.active_overrides("credit-scorer", 7) == []
    with pytest.raises(RecordNotFoundError, match=f"no decision with id {promotion.id!r}"):
        ledger.get_decision(promotion.id)
    with pytest.raises(RecordNotFoundError, match=f"no override with id {promotion.id!r}"):
        ledger.get_override(promotion.id)
    with pytest.raises(RecordNotFoundError, match="no promotion with id 'd1'"):
        ledger.get_promotion("d1")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"created_at": datetime(2025, 1, 1)}, "timezone-aware"),
        ({"promoted_by": "  "}, "must not be blank"),
        ({"overrides": ["ovr-1", " "]}, "override ids must not be blank"),
        ({"version": 0}, "greater than or equal to 1"),
        ({"previous_version": 0}, "greater than or equal to 1"),
        ({"evidence_digest": ""}, "at least 1 character"),
        ({"verdict": "approve"}, "Extra inputs are not permitted"),
    ],
    ids=[
        "naive-time",
        "blank-promoter",
        "blank-override-id",
        "version-zero",
        "previous-version-zero",
        "no-evidence",
        "extra-field",
    ],
)
def test_invalid_promotions_are_refused(
    make_decision: DecisionFactory, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValidationError, match=match):
        _promotion(make_decision("d1"), **changes)


def test_promotion_times_are_utc(make_decision: DecisionFactory) -> None:
    local = datetime(2025, 6, 1, 14, 0, tzinfo=UTC).astimezone(
        datetime.now(UTC).astimezone().tzinfo
    )
    promotion = _promotion(make_decision("d1"), created_at=local, promoted_by=" alice ")

    assert promotion.created_at == datetime(2025, 6, 1, 14, 0, tzinfo=UTC)
    assert promotion.created_at.tzinfo is UTC
    assert promotion.promoted_by == "alice"


# -- the hash chain -------------------------------------------------------------------------------


TAMPERING = [
    (
        'UPDATE ledger_records SET payload = REPLACE(payload, \'"promoted_by":"alice"\', '
        "'\"promoted_by\":\"mallory\"') WHERE kind = 'promotion'",
        "edited",
        2,
    ),
    ("UPDATE ledger_records SET target_alias = 'canary' WHERE seq = 2", "edited", 2),
    ("UPDATE ledger_records SET version = 8 WHERE kind = 'promotion'", "edited", 2),
    ("DELETE FROM ledger_records WHERE kind = 'promotion'", "gap", 2),
]


@pytest.mark.parametrize(
    ("statement", "reason", "first_broken_seq"),
    TAMPERING,
    ids=["edit-promoter", "edit-alias-column", "edit-version-column", "delete-promotion"],
)
def test_promotions_are_in_the_hash_chain(
    ledger: Ledger,
    make_decision: DecisionFactory,
    raw_sql: RawSql,
    statement: str,
    reason: str,
    first_broken_seq: int,
) -> None:
    decision = make_decision("d1")
    ledger.append_decision(decision)
    promotion = _promotion(decision)
    record = ledger.append_promotion(promotion)
    last = ledger.append_decision(make_decision("d2"))
    intact = ledger.verify()
    assert (intact.ok, intact.records_checked, intact.head_hash) == (True, 3, last.record_hash)
    assert last.prev_hash == record.record_hash

    raw_sql(ledger, statement)
    report = ledger.verify()

    assert (report.ok, report.reason, report.first_broken_seq) == (False, reason, first_broken_seq)


# -- migration ------------------------------------------------------------------------------------


def test_upgrading_a_v0001_ledger_keeps_every_record(
    ledger_url: str, make_decision: DecisionFactory
) -> None:
    with Ledger(ledger_url, auto_migrate=False) as ledger:
        _alembic(ledger, "0001")
        assert ledger.database.current_revision() == "0001"
        decisions = [make_decision(f"d{i}", version=i) for i in (1, 2, 3)]
        for decision in decisions:
            ledger.append_decision(decision)
        override = _override(decisions[1])
        ledger.append_override(override)
        ledger.append_decision(make_decision("d4", version=2, verdict="block"))
        ids = ["d1", "d2", "d3", override.id, "d4"]
        before = [ledger.get_record(i) for i in ids]
        report_before = ledger.verify()
        assert report_before.ok
        # Revision 0001 cannot hold a promotion: its CHECK constraint refuses the kind.
        with pytest.raises(LedgerError, match="refused the operation"):
            ledger.append_promotion(_promotion(decisions[0]))

        assert ledger.migrate() == SCHEMA_REVISION == "0003"

        assert [ledger.get_record(i) for i in ids] == before
        assert [ledger.get_decision(d.id) for d in decisions] == decisions
        assert ledger.get_override(override.id) == override
        after = ledger.verify()
        assert after.ok, after.problems
        assert (after.records_checked, after.head_hash) == (5, report_before.head_hash)
        checks = _kind_checks(ledger)
        assert list(checks) == ["ck_ledger_records_kind"]
        assert "promotion" in checks["ck_ledger_records_kind"]
        with ledger.database.engine.connect() as connection:
            inspector = sqlalchemy.inspect(connection)
            indexes = {i["name"] for i in inspector.get_indexes("ledger_records")}
            uniques = [u["name"] for u in inspector.get_unique_constraints("ledger_records")]
            primary_key = inspector.get_pk_constraint("ledger_records")
        assert indexes >= {
            "ix_ledger_records_model_version_seq",
            "ix_ledger_records_model_version_evidence_digest",
            "ix_ledger_records_kind_seq",
        }
        assert uniques == ["uq_ledger_records_record_id"]
        assert primary_key["constrained_columns"] == ["seq"]

        promotion = _promotion(decisions[0])
        record = ledger.append_promotion(promotion)
        assert (record.seq, record.prev_hash) == (6, report_before.head_hash)
        assert ledger.get_promotion(promotion.id) == promotion
        assert ledger.verify().ok


def test_downgrading_is_refused_while_promotions_are_recorded(
    ledger_url: str, make_decision: DecisionFactory
) -> None:
    with Ledger(ledger_url, auto_migrate=False) as ledger:
        ledger.migrate()
        decision = make_decision("d1")
        ledger.append_decision(decision)
        _alembic(ledger, "0001", down=True)
        assert ledger.database.current_revision() == "0001"
        assert list(_kind_checks(ledger)) == ["ck_ledger_records_ck_ledger_records_kind"]
        _alembic(ledger, "0002")
        ledger.append_promotion(_promotion(decision))

        with pytest.raises(RuntimeError, match="holds 1 promotion records"):
            _alembic(ledger, "0001", down=True)

        assert ledger.database.current_revision() == "0002"
        assert (ledger.verify().ok, ledger.verify().records_checked) == (True, 2)
