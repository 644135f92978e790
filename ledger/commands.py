"""Commands given through the PR bot, as ledger records of their own kind (``command``).

Every `/promogate` command in a pull request comment is recorded, whether it was carried out,
refused (no write permission, not an approver) or could not be parsed, so the chain shows who
asked the bot for what.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["CommandOutcome", "CommandRecord"]

CommandOutcome = Literal["done", "refused", "invalid", "failed"]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CommandRecord(BaseModel):
    """One command from a pull request comment and what became of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(default_factory=lambda: f"cmd-{uuid4().hex}")
    repository: str = Field(min_length=1, description="owner/name")
    pull_request: int = Field(ge=1)
    comment_id: int | None = None
    command: str = Field(description="review, ask, override, help or the unknown verb.")
    text: str = Field(description="The command line as written (clipped).")
    actor: str = Field(min_length=1, description="GitHub login of the commenter.")
    actor_id: int | None = None
    permission: str | None = Field(
        default=None, description="The commenter's repository permission, asked live."
    )
    approver: str | None = Field(default=None, description="Policy approver name acted as.")
    outcome: CommandOutcome
    detail: str = ""
    model: str | None = None
    version: int | None = None
    target_alias: str | None = None
    record_ids: list[str] = Field(
        default_factory=list, description="Decisions or overrides the command produced."
    )
    created_at: datetime = Field(default_factory=_utc_now)

    @field_validator("created_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"must be timezone-aware, got {value!r}")
        return value.astimezone(UTC)
