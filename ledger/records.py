"""What the ledger records and returns: chain metadata of a record, overrides and promotions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.result import PolicyRef, Verdict

__all__ = ["LedgerRecord", "Override", "Promotion", "RecordKind"]

RecordKind = Literal["decision", "override", "promotion", "command"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LedgerRecord(BaseModel):
    """One link of the hash chain, as stored: what it is about and where it sits in the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(description="Position in the chain, contiguous from 1.")
    record_id: str = Field(description="The decision, override or promotion id.")
    kind: RecordKind
    model: str
    version: int
    verdict: Verdict | None = None
    target_alias: str | None = None
    evidence_digest: str | None = None
    policy_refs: list[PolicyRef] = Field(
        default_factory=list, description="Policies applied (name, revision, sha256; no path)."
    )
    expires_at: datetime | None = None
    created_at: datetime = Field(description="When the ledger recorded it (UTC).")
    prev_hash: str
    record_hash: str


class Override(BaseModel):
    """A human's decision to let named failing checks pass for one model version, for a time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"ovr-{uuid4().hex}")
    model: str = Field(min_length=1)
    version: int = Field(ge=1)
    target_alias: str = "champion"
    check_ids: list[str] = Field(min_length=1, description="Ids of the checks overridden.")
    approver: str = Field(min_length=1, description="Who approved: token name or user.")
    justification: str = Field(min_length=1)
    expires_at: datetime
    decision_id: str | None = Field(default=None, description="The decision being overridden.")
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("justification", "approver")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"must not be blank, got {value!r}")
        return value.strip()

    @field_validator("check_ids")
    @classmethod
    def _check_ids_not_blank(cls, value: list[str]) -> list[str]:
        blank = [c for c in value if not c.strip()]
        if blank:
            raise ValueError(f"check ids must not be blank, got {value!r}")
        return value

    @field_validator("expires_at", "created_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _expires_after_creation(self) -> Self:
        if self.expires_at <= self.created_at:
            raise ValueError(
                f"expires_at {self.expires_at.isoformat()!r} must be after "
                f"created_at {self.created_at.isoformat()!r}"
            )
        return self


class Promotion(BaseModel):
    """An alias moved to a model version on an allowing decision: who did it, on what grounds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"prm-{uuid4().hex}")
    model: str = Field(min_length=1)
    version: int = Field(ge=1)
    target_alias: str = Field(min_length=1, description="The alias that was moved.")
    previous_version: int | None = Field(
        default=None, ge=1, description="The version the alias named before; None if unset."
    )
    decision_id: str = Field(
        min_length=1, description="The allowing decision the promotion rests on."
    )
    overrides: list[str] = Field(
        default_factory=list, description="Ids of the overrides that made the decision allow."
    )
    promoted_by: str = Field(min_length=1, description="Who promoted: token name or user.")
    evidence_digest: str = Field(
        min_length=1, description="Digest of the evidence the decision was made on."
    )
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("promoted_by")
    @classmethod
    def _promoter_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(f"must not be blank, got {value!r}")
        return value.strip()

    @field_validator("overrides")
    @classmethod
    def _override_ids_not_blank(cls, value: list[str]) -> list[str]:
        blank = [o for o in value if not o.strip()]
        if blank:
            raise ValueError(f"override ids must not be blank, got {value!r}")
        return value

    @field_validator("created_at")
    @classmethod
    def _created_aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)
