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
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select

from ledger._chain import canonical_json
from ledger.records import LedgerRecord
from ledger.store import Ledger, policy_refs_key
from ledger.tables import LedgerRecordRow

__all__ = ["FingerprintRecord", "append_fingerprint", "find_fingerprint"]

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
    query = (
        select(LedgerRecordRow.payload)
        .where(
            LedgerRecordRow.kind == "command",
            LedgerRecordRow.model == model,
            LedgerRecordRow.version == version,
            LedgerRecordRow.target_alias == target_alias,
        )
        .order_by(LedgerRecordRow.seq.desc())
        .limit(_LOOKUP_WINDOW)
    )
    with ledger.database.read() as session:
        for payload in session.execute(query).scalars():
            found = _parsed(payload)
            if found is not None and found.fingerprint == fingerprint and found.format == format:
                return found
    return None
