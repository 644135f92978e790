"""A model's history as the ledger recorded it: decisions, overrides, promotions and other records.

Read straight from the ledger's records (newest first), so a record kind added later is still
listed, by its kind, rather than hidden.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from ledger.store import Ledger
from ledger.tables import LedgerRecordRow

__all__ = ["ALIAS_KINDS", "HistoryEntry", "model_history", "models_in_ledger"]

_MAX_ENTRIES = 500
# Kinds whose record moves an alias: the model page reads "since when" from the latest of them.
ALIAS_KINDS = frozenset({"promotion", "alias_move", "alias_revert"})
_LABELS = {"alias_revert": "revert", "alias_move": "alias moved"}


class HistoryEntry(BaseModel):
    """One event on a model's timeline."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    kind: str
    model: str
    version: int
    verdict: str | None = None
    target_alias: str | None = None
    created_at: datetime
    summary: str = ""
    decision_id: str | None = None
    error: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """The event's name on the timeline: a verdict, override, promotion or revert."""
        if self.kind == "decision":
            return "error" if self.error else str(self.verdict or "decision")
        return _LABELS.get(self.kind, self.kind)


def _summary(kind: str, payload: dict[str, Any]) -> str:
    if kind == "decision":
        reasons = payload.get("reasons") or []
        return str(payload.get("error") or (reasons[0] if reasons else ""))
    if kind == "override":
        checks = ", ".join(str(c) for c in payload.get("check_ids", []))
        return (
            f"{payload.get('approver', '?')} overrode {checks}: {payload.get('justification', '')}"
        )
    if kind == "promotion":
        previous = payload.get("previous_version")
        moved = f"from v{previous}" if previous else "(alias was unset)"
        return (
            f"{payload.get('promoted_by', '?')} moved @{payload.get('target_alias', '?')} "
            f"to v{payload.get('version', '?')} {moved}"
        )
    who = payload.get("actor") or payload.get("moved_by") or payload.get("by")
    what = payload.get("reason") or payload.get("summary") or payload.get("detail") or ""
    return f"{who}: {what}" if who and what else str(what or who or "")


def model_history(
    ledger: Ledger,
    model: str,
    *,
    kinds: set[str] | None = None,
    version: int | None = None,
    limit: int = 200,
) -> list[HistoryEntry]:
    """The model's ledger records, newest first.

    Args:
        ledger: The decision ledger.
        model: Registered model name.
        kinds: Only these record kinds (decision, override, promotion, ...).
        version: Only this version.
        limit: At most this many (up to 500).
    """
    query = select(LedgerRecordRow).where(LedgerRecordRow.model == model)
    if kinds:
        query = query.where(LedgerRecordRow.kind.in_(sorted(kinds)))
    if version is not None:
        query = query.where(LedgerRecordRow.version == version)
    query = query.order_by(LedgerRecordRow.seq.desc()).limit(max(1, min(limit, _MAX_ENTRIES)))
    entries: list[HistoryEntry] = []
    with ledger.database.read() as session:
        for row in session.execute(query).scalars():
            payload = json.loads(row.payload)
            if not isinstance(payload, dict):
                payload = {}
            entries.append(
                HistoryEntry(
                    record_id=row.record_id,
                    kind=row.kind,
                    model=row.model,
                    version=row.version,
                    verdict=row.verdict,
                    target_alias=row.target_alias,
                    created_at=row.created_at,
                    summary=_summary(row.kind, payload),
                    decision_id=payload.get("decision_id") or None,
                    error=payload.get("error") if row.kind == "decision" else None,
                    payload=payload,
                )
            )
    return entries


def models_in_ledger(ledger: Ledger) -> list[str]:
    """Every model the ledger has a record about, by name."""
    with ledger.database.read() as session:
        names = session.execute(select(LedgerRecordRow.model).distinct()).scalars()
        return sorted(str(n) for n in names)
