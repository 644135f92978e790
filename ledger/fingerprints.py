"""Evidence fingerprints: which decision was made on evidence whose sources looked like this.

A fingerprint record ties a decision to the fingerprint of the MLflow state it was made on (see
`review._fingerprint`). It is a record of its own in the hash chain (a ``command`` record whose
payload has ``type: evidence_fingerprint``, as override revocations do), never part of the
decision: a decision's content and its record hash are the same with or without one, and a
decision can gain a fingerprint later (the gate records one when it reuses a decision it found
by reading the evidence in full). Being chained, it is verified like a decision before the gate
acts on it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ledger._chain import ChainProblem, canonical_json, verify_record_link
from ledger.records import LedgerRecord
from ledger.store import Ledger, policy_refs_key
from ledger.tables import HEAD_ROW_ID, LedgerHeadRow, LedgerRecordRow
from policies.decision import Decision

__all__ = [
    "FingerprintMatch",
    "FingerprintRecord",
    "append_fingerprint",
    "find_fingerprint",
    "match_fingerprint",
]

logger = logging.getLogger("promogate.ledger")

# Fingerprint records are looked up among a version's newest command records only: the gate
# wants the latest state, and a version gated thousands of times must not scan its whole past.
_LOOKUP_WINDOW = 200


class FingerprintRecord(BaseModel):
    """A decision and the fingerprint of the evidence sources it was made on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["evidence_fingerprint"] = "evidence_fingerprint"
    id: str = Field(default_factory=lambda: f"fpr-{uuid4().hex}")
    decision_id: str = Field(min_length=1)
    model: str = Field(min_length=1)
    version: int = Field(ge=1)
    target_alias: str = Field(min_length=1)
    evidence_digest: str = Field(min_length=1)
    format: int = Field(ge=1, description="The fingerprint format; others never match.")
    fingerprint: str = Field(min_length=1, description="The fingerprint's digest.")
    parts: dict[str, str] = Field(default_factory=dict, description="Digest per part.")
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def append_fingerprint(ledger: Ledger, record: FingerprintRecord) -> LedgerRecord:
    """Chain `record`; the decision it names must be in the ledger.

    Args:
        ledger: The ledger.
        record: The fingerprint and the decision it belongs to.
    """
    return ledger._append(
        {
            "record_id": record.id,
            "kind": "command",
            "model": record.model,
            "version": record.version,
            "verdict": None,
            "target_alias": record.target_alias,
            "evidence_digest": record.evidence_digest,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": canonical_json(json.loads(record.model_dump_json())),
        },
        requires_decision=record.decision_id,
    )


def _parsed(payload: str) -> FingerprintRecord | None:
    try:
        data: Any = json.loads(payload)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or data.get("type") != "evidence_fingerprint":
        return None
    try:
        return FingerprintRecord.model_validate(data)
    except ValidationError:
        # An unreadable record proves nothing: the gate reads the evidence in full.
        return None


def _find(
    session: Session,
    model: str,
    version: int,
    target_alias: str,
    fingerprint: str | None,
    format: int,
) -> tuple[int, FingerprintRecord] | None:
    query = select(LedgerRecordRow.seq, LedgerRecordRow.payload).where(
        LedgerRecordRow.kind == "command",
        LedgerRecordRow.model == model,
        LedgerRecordRow.version == version,
        LedgerRecordRow.target_alias == target_alias,
    )
    if fingerprint is not None:
        # Payloads are canonical JSON, so the digest appears as exactly this text in a matching
        # record; the text match only narrows the rows parsed, the parsed record decides.
        needle = canonical_json({"fingerprint": fingerprint})[1:-1]
        query = query.where(LedgerRecordRow.payload.contains(needle, autoescape=True))
    query = query.order_by(LedgerRecordRow.seq.desc()).limit(_LOOKUP_WINDOW)
    for seq, payload in session.execute(query):
        found = _parsed(payload)
        if (
            found is not None
            and found.format == format
            and (fingerprint is None or found.fingerprint == fingerprint)
        ):
            return int(seq), found
    return None


def find_fingerprint(
    ledger: Ledger, model: str, version: int, target_alias: str, fingerprint: str, format: int
) -> FingerprintRecord | None:
    """The newest fingerprint record of this version and alias with this digest, if any.

    Args:
        ledger: The ledger.
        model: Registered model name.
        version: Version number.
        target_alias: The alias being moved.
        fingerprint: The fingerprint's digest now.
        format: The fingerprint format now (records of another format never match).
    """
    with ledger.database.read() as session:
        found = _find(session, model, version, target_alias, fingerprint, format)
    return found[1] if found is not None else None


@dataclass(frozen=True)
class FingerprintMatch:
    """A fingerprint record with the digest asked for, the decision it names, and what is wrong
    with either's ledger record (None: it verifies)."""

    record: FingerprintRecord
    record_problem: ChainProblem | None
    decision: Decision | None
    """None when the decision is not in the ledger, or its record does not read as one."""
    decision_problem: ChainProblem | None


def _checked(
    row: LedgerRecordRow, rows: dict[int, LedgerRecordRow], head: LedgerHeadRow | None
) -> ChainProblem | None:
    problem = verify_record_link(row, rows.get(row.seq - 1), rows.get(row.seq + 1), head)
    if problem is not None:
        logger.warning(
            "ledger: record %s (%s) does not verify: %s",
            row.record_id,
            problem.kind,
            problem.detail,
        )
    return problem


def match_fingerprint(
    ledger: Ledger,
    model: str,
    version: int,
    target_alias: str,
    fingerprint: str | None,
    format: int,
) -> FingerprintMatch | None:
    """The newest fingerprint record with this digest, its decision, and both records checked.

    Each record is checked as `Ledger.verify_record` checks one (its hash recomputed, its links
    to both neighbours and the head), but both records, their neighbours and the decision are
    read in one query, inside one read transaction with the lookup. Arguments as for
    `find_fingerprint`; a `fingerprint` of None matches the version's newest record of this
    format whatever its digest (the gate reads it while the fingerprint is still being taken).
    """
    with ledger.database.read() as session:
        found = _find(session, model, version, target_alias, fingerprint, format)
        if found is None:
            return None
        seq, record = found
        decision_seq = (
            select(LedgerRecordRow.seq)
            .where(LedgerRecordRow.record_id == record.decision_id)
            .scalar_subquery()
        )
        around = select(LedgerRecordRow).where(
            or_(
                LedgerRecordRow.seq.between(seq - 1, seq + 1),
                LedgerRecordRow.seq.between(decision_seq - 1, decision_seq + 1),
            )
        )
        rows = {row.seq: row for row in session.execute(around).scalars()}
        head = session.get(LedgerHeadRow, HEAD_ROW_ID)
        own = rows.get(seq)
        # What is acted on is what was verified: the row as read with its neighbours, which
        # must still be the record the lookup found.
        if own is None or own.record_id != record.id or _parsed(own.payload) != record:
            return None
        record_problem = _checked(own, rows, head)
        decision_row = next((r for r in rows.values() if r.record_id == record.decision_id), None)
        decision: Decision | None = None
        decision_problem: ChainProblem | None = None
        if decision_row is not None and decision_row.kind == "decision":
            decision_problem = _checked(decision_row, rows, head)
            try:
                decision = Decision.model_validate_json(decision_row.payload)
            except ValidationError as exc:
                # Nothing to reuse; reading the evidence in full is always safe.
                logger.warning(
                    "ledger: decision %s (record %s) cannot be read back: %s",
                    record.decision_id,
                    decision_row.seq,
                    exc,
                )
    return FingerprintMatch(record, record_problem, decision, decision_problem)
