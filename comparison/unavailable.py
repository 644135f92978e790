"""A fact that cannot be established, and why: the typed alternative of every comparison result."""

from __future__ import annotations

from typing import TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict

__all__ = ["Fact", "Unavailable"]

T = TypeVar("T")


class Unavailable(BaseModel):
    """Why a fact could not be established (missing evidence, nothing to compare, bad data).

    Never a pass: a policy that needs the fact turns it into an error or a skip by its own rules.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str

    def __str__(self) -> str:
        return self.reason


Fact: TypeAlias = T | Unavailable
"""A typed result, or `Unavailable` with the reason: ``Fact[BootstrapResult]``."""
