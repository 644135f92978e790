"""Revoking an override before it expires, as an append-only ledger record.

An override is never edited: revoking it appends a ``command`` record whose payload is an
`OverrideRevocation` naming it. `Ledger.active_overrides` leaves revoked overrides out, so the
decisions they covered block again from that moment.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ledger._chain import canonical_json
from ledger.errors import LedgerError
from ledger.store import Ledger, policy_refs_key

__all__ = ["OverrideRevocation", "revoke_override", "revoked_override_ids"]


class OverrideRevocation(BaseModel):
    """Who revoked which override, and why."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["override_revocation"] = "override_revocation"
    id: str = Field(default_factory=lambda: f"rvk-{uuid4().hex}")
    override_id: str = Field(min_length=1)
    revoked_by: str = Field(min_length=1)
    reason: str = Field(min_length=1)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    @field_validator("reason", "revoked_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"must not be blank, got {value!r}")
        return value.strip()


def revoked_override_ids(ledger: Ledger, override_ids: list[str]) -> set[str]:
    """Which of `override_ids` have been revoked."""
    if not override_ids:
        return set()
    return ledger._revoked_override_ids() & set(override_ids)


def revoke_override(
    ledger: Ledger, override_id: str, *, revoked_by: str, reason: str
) -> dict[str, Any]:
    """Revoke an override; returns the override as recorded, marked ``revoked``.

    Raises:
        RecordNotFoundError: No override with this id.
        LedgerError: It is already revoked.
    """
    override = ledger.get_override(override_id)
    if revoked_override_ids(ledger, [override_id]):
        raise LedgerError(f"override {override_id!r} is already revoked")
    revocation = OverrideRevocation(override_id=override_id, revoked_by=revoked_by, reason=reason)
    ledger._append(
        {
            "record_id": revocation.id,
            "kind": "command",
            "model": override.model,
            "version": override.version,
            "verdict": None,
            "target_alias": override.target_alias,
            "evidence_digest": None,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": canonical_json(json.loads(revocation.model_dump_json())),
        }
    )
    return {
        **override.model_dump(mode="json"),
        "revoked": True,
        "revocation": revocation.model_dump(mode="json"),
    }
