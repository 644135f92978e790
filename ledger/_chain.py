"""The hash chain: how a record's hash is computed, and how the whole chain is verified.

Each record stores ``prev_hash`` (the previous record's hash, or ``GENESIS_HASH`` for the first)
and ``record_hash = sha256(prev_hash + canonical JSON of the record's fields)``. The fields include
every stored column (the decision or override JSON among them), so an edit to any of them changes
the hash. Sequence numbers are contiguous from 1, so a deleted record leaves a gap; the head row
names the last record, so a deleted tail is detected too.

What this does not protect against: someone with write access who rewrites every hash from the
edited record onwards and the head row. Publishing the head hash elsewhere (a ticket, a tag, a log)
makes that detectable as well; ``ChainReport.head_hash`` is the value to publish.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ledger.errors import ChainBrokenError
from ledger.tables import GENESIS_HASH, LedgerHeadRow, LedgerRecordRow

__all__ = [
    "ChainProblem",
    "ChainProblemKind",
    "ChainReport",
    "canonical_json",
    "compute_record_hash",
    "hashed_fields",
    "verify_chain",
    "verify_record_link",
]

ChainProblemKind = Literal[
    "gap",
    "prev_hash",
    "edited",
    "truncated",
    "head_mismatch",
    "head_missing",
]

_MAX_PROBLEMS = 100


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no whitespace, no NaN: the same value always gives the same text."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def hashed_fields(row: LedgerRecordRow) -> dict[str, Any]:
    """Every column of a record except ``prev_hash`` (it prefixes the hash input) and the hash."""
    return {
        "seq": row.seq,
        "record_id": row.record_id,
        "kind": row.kind,
        "model": row.model,
        "version": row.version,
        "verdict": row.verdict,
        "target_alias": row.target_alias,
        "evidence_digest": row.evidence_digest,
        "policy_refs": row.policy_refs,
        "expires_at": _iso(row.expires_at),
        "created_at": _iso(row.created_at),
        "payload": row.payload,
    }


def compute_record_hash(row: LedgerRecordRow) -> str:
    """``sha256(prev_hash + canonical JSON of the record's fields)`` as 64 hex digits."""
    data = row.prev_hash + canonical_json(hashed_fields(row))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class ChainProblem(BaseModel):
    """One place where the chain does not verify."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int | None = Field(
        description="The first sequence number affected; None for the head row."
    )
    kind: ChainProblemKind
    detail: str


class ChainReport(BaseModel):
    """The result of verifying the chain: ok, or the first broken sequence number and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    records_checked: int
    head_seq: int | None = Field(description="The sequence number the head row names.")
    head_hash: str | None = Field(description="The hash the head row names; publish it to anchor.")
    first_broken_seq: int | None = None
    reason: ChainProblemKind | None = None
    detail: str | None = None
    problems: list[ChainProblem] = Field(
        default_factory=list, description=f"Every problem found, at most {_MAX_PROBLEMS}."
    )

    def raise_if_broken(self) -> None:
        """Raise ``ChainBrokenError`` naming the first broken record unless the chain verifies."""
        if not self.ok:
            raise ChainBrokenError(self)


def verify_chain(head: LedgerHeadRow | None, rows: Iterable[LedgerRecordRow]) -> ChainReport:
    """Walk the records in sequence order and check every link, then the head row.

    Args:
        head: The head row, or None when it is missing.
        rows: Every record, in ascending ``seq`` order.
    """
    problems: list[ChainProblem] = []

    def report(seq: int | None, kind: ChainProblemKind, detail: str) -> None:
        if len(problems) < _MAX_PROBLEMS:
            problems.append(ChainProblem(seq=seq, kind=kind, detail=detail))

    expected_seq = 1
    prev_hash = GENESIS_HASH
    checked = 0
    for row in rows:
        checked += 1
        if row.seq != expected_seq:
            missing = (
                f"record {expected_seq}"
                if row.seq == expected_seq + 1
                else f"records {expected_seq}..{row.seq - 1}"
            )
            report(
                expected_seq,
                "gap",
                f"{missing} deleted: record {row.seq} follows {expected_seq - 1}",
            )
        elif row.prev_hash != prev_hash:
            report(
                row.seq,
                "prev_hash",
                f"record {row.seq} ({row.record_id!r}) names prev_hash {row.prev_hash[:12]}..., "
                f"but record {row.seq - 1} hashes to {prev_hash[:12]}...",
            )
        recomputed = compute_record_hash(row)
        if recomputed != row.record_hash:
            report(
                row.seq,
                "edited",
                f"record {row.seq} ({row.record_id!r}) was edited: its content hashes to "
                f"{recomputed[:12]}..., the stored hash is {row.record_hash[:12]}...",
            )
        prev_hash = row.record_hash
        expected_seq = row.seq + 1
    last_seq = expected_seq - 1

    if head is None:
        report(
            None, "head_missing", "the head row is missing, so a deleted tail cannot be ruled out"
        )
    elif head.seq > last_seq:
        missing = (
            f"record {head.seq}"
            if head.seq == last_seq + 1
            else f"records {last_seq + 1}..{head.seq}"
        )
        report(last_seq + 1, "truncated", f"{missing} deleted: the head names record {head.seq}")
    elif head.seq < last_seq:
        report(
            head.seq + 1,
            "head_mismatch",
            f"records {head.seq + 1}..{last_seq} lie beyond the head, which names {head.seq}",
        )
    elif head.record_hash != prev_hash:
        report(
            head.seq,
            "head_mismatch",
            f"the head names hash {head.record_hash[:12]}... for record {head.seq}, "
            f"which hashes to {prev_hash[:12]}...",
        )

    first = min(problems, key=lambda p: (p.seq is None, p.seq or 0)) if problems else None
    return ChainReport(
        ok=not problems,
        records_checked=checked,
        head_seq=head.seq if head is not None else None,
        head_hash=head.record_hash if head is not None else None,
        first_broken_seq=first.seq if first else None,
        reason=first.kind if first else None,
        detail=first.detail if first else None,
        problems=problems,
    )


def verify_record_link(
    row: LedgerRecordRow,
    previous: LedgerRecordRow | None,
    following: LedgerRecordRow | None,
    head: LedgerHeadRow | None,
) -> ChainProblem | None:
    """Check one record before acting on it: its own hash, and its links both ways.

    The gate and promotion run this on the record they are about to trust, so an ``UPDATE`` of
    that record (or of its neighbours' links) is refused at once, without walking the chain.

    Args:
        row: The record.
        previous: The record at ``row.seq - 1`` (None for the first, or when it is missing).
        following: The record at ``row.seq + 1`` (None when ``row`` is the last, or it is missing).
        head: The head row.
    """
    recomputed = compute_record_hash(row)
    if recomputed != row.record_hash:
        return ChainProblem(
            seq=row.seq,
            kind="edited",
            detail=f"record {row.seq} ({row.record_id!r}) was edited: its content hashes to "
            f"{recomputed[:12]}..., the stored hash is {row.record_hash[:12]}...",
        )
    if row.seq == 1:
        expected_prev = GENESIS_HASH
    elif previous is None:
        return ChainProblem(
            seq=row.seq - 1, kind="gap", detail=f"record {row.seq - 1} before it was deleted"
        )
    else:
        expected_prev = previous.record_hash
    if row.prev_hash != expected_prev:
        return ChainProblem(
            seq=row.seq,
            kind="prev_hash",
            detail=f"record {row.seq} ({row.record_id!r}) names prev_hash {row.prev_hash[:12]}..., "
            f"but record {row.seq - 1} hashes to {expected_prev[:12]}...",
        )
    if head is None:
        return ChainProblem(seq=None, kind="head_missing", detail="the head row is missing")
    if following is not None:
        if following.prev_hash != row.record_hash:
            return ChainProblem(
                seq=following.seq,
                kind="prev_hash",
                detail=f"record {following.seq} does not link to record {row.seq} "
                f"({row.record_id!r}), whose hash is {row.record_hash[:12]}...",
            )
        return None
    if head.seq > row.seq:
        return ChainProblem(
            seq=row.seq + 1, kind="gap", detail=f"record {row.seq + 1} after it was deleted"
        )
    if head.seq != row.seq or head.record_hash != row.record_hash:
        return ChainProblem(
            seq=head.seq,
            kind="head_mismatch",
            detail=f"the head names record {head.seq} ({head.record_hash[:12]}...), not the last "
            f"record {row.seq} ({row.record_hash[:12]}...)",
        )
    return None
