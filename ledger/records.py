"""What the ledger records and returns: chain metadata of a record, overrides and promotions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.result import PolicyRef, Verdict

__all__ = [
    "AliasMove",
    "AliasMoveAction",
    "AliasMoveSource",
    "AliasRevert",
    "LedgerRecord",
    "Override",
    "Promotion",
    "RecordKind",
    "WatchLevel",
    "WatchRecord",
]

RecordKind = Literal[
    "decision", "override", "promotion", "alias_move", "alias_revert", "command", "watch"
]


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


AliasMoveSource = Literal["webhook", "reconciler"]
"""What noticed the move: an MLflow webhook delivery, or the reconciler comparing the registry."""
AliasMoveAction = Literal["accepted", "reported", "reverting"]
"""What the alias guard did about it: an approved version is accepted as the alias's new holder;
an unapproved one is reported (audit mode) or reported and put back (enforce mode)."""


class AliasMove(BaseModel):
    """An alias found on a version promogate did not put there, and what the guard made of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"amv-{uuid4().hex}")
    model: str = Field(min_length=1)
    version: int = Field(ge=1, description="The version the alias was found on.")
    target_alias: str = Field(min_length=1, description="The alias that moved.")
    expected_version: int | None = Field(
        default=None,
        ge=1,
        description="The last version promogate approved for the alias (its holder by the ledger).",
    )
    approved: bool = Field(
        description="Whether the version has an allowing decision for the alias."
    )
    decision_id: str | None = Field(
        default=None, description="The decision the verdict on the move rests on, if any."
    )
    mode: Literal["audit", "enforce"]
    action: AliasMoveAction
    source: AliasMoveSource
    delivery_id: str | None = Field(
        default=None, description="The MLflow webhook delivery that reported the move."
    )
    reasons: list[str] = Field(default_factory=list, description="Why it is (not) approved.")
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("created_at")
    @classmethod
    def _move_aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)


class AliasRevert(BaseModel):
    """The alias guard put an alias back after an unapproved move (enforce mode)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"arv-{uuid4().hex}")
    model: str = Field(min_length=1)
    version: int = Field(ge=1, description="The unapproved version the alias was taken from.")
    target_alias: str = Field(min_length=1)
    restored_version: int | None = Field(
        default=None,
        ge=1,
        description="The version the alias was put back on; None when it was removed because "
        "promogate never approved a version for it.",
    )
    move_id: str = Field(min_length=1, description="The alias_move record this answers.")
    reverted_by: str = Field(min_length=1, description="The guard's principal name.")
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("created_at")
    @classmethod
    def _revert_aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)


WatchLevel = Literal["ok", "watch", "alert", "skip"]
"""How a monitored window stands against the evidence the promotion rested on (`skip`: nothing
could be judged, below every sample floor; never read as ok)."""


class WatchRecord(BaseModel):
    """One monitoring window of a champion, evaluated after its promotion.

    The evaluation itself (every check with its numbers) is kept as `report`, the analysis's own
    JSON, so the ledger needs no knowledge of the statistics. A window evaluated again (labels
    arrived late, or its data changed) is a new record that names the one it supersedes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"wch-{uuid4().hex}")
    model: str = Field(min_length=1)
    version: int = Field(ge=1, description="The monitored version (the alias's holder).")
    target_alias: str = Field(min_length=1, description="The alias the version was watched under.")
    window_id: str = Field(min_length=1, description="The MLflow run that holds the window.")
    window_start: datetime | None = None
    window_end: datetime | None = None
    window_digest: str = Field(
        min_length=1,
        description="Digest of the window's evidence (inputs, scores, labels) when evaluated; a "
        "change (late labels) makes the window due again.",
    )
    labelled: bool = Field(description="Whether realised labels were part of the evaluation.")
    level: WatchLevel
    summary: str = ""
    reasons: list[str] = Field(default_factory=list)
    supersedes: str | None = Field(
        default=None, description="The earlier watch record of the same window, if any."
    )
    reevaluation_reason: str | None = Field(
        default=None, description="Why the window was evaluated again (e.g. late labels)."
    )
    decision_id: str | None = Field(
        default=None, description="The re-review decision an alert reopened, if any."
    )
    actions: list[str] = Field(
        default_factory=list,
        description="What the watch did about it: notify, re_review:<decision>, "
        "rollback:<promotion> or rollback_refused.",
    )
    error: str | None = Field(
        default=None, description="Why the window could not be evaluated (never read as ok)."
    )
    report: dict[str, Any] = Field(
        default_factory=dict, description="The window's evaluation, as the analysis reported it."
    )
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("created_at", "window_start", "window_end")
    @classmethod
    def _watch_aware_utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)
