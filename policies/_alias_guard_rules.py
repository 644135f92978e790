"""A policy's `guard` section: what the alias guard does when an alias moves without approval."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["AliasGuardRules", "GuardMode"]

GuardMode = Literal["off", "audit", "enforce"]


class AliasGuardRules(BaseModel):
    """How the alias guard treats the aliases a policy governs.

    ``audit`` records and reports an alias moved to a version without an allowing decision;
    ``enforce`` also puts it back on the last version promogate approved for it (or removes it
    when there was none); ``off`` leaves the policy's aliases alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: GuardMode | None = Field(
        default=None,
        description="off | audit | enforce; unset follows the policy's own `mode`.",
    )
    aliases: list[str] = Field(
        default_factory=list,
        description="Globs of the aliases guarded; empty means the policy's `match.target_alias`, "
        "or the service's target alias (champion) when the policy names none.",
    )
