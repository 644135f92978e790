"""Errors raised while loading, validating and testing policies.

Every error about a file names the file, and where it can, the line and column, so that
`promogate policy validate` output can be followed like a compiler's.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

__all__ = [
    "DuplicatePolicyError",
    "PolicyDirectoryError",
    "PolicyError",
    "PolicyFileError",
    "PolicyIssue",
    "PolicySyntaxError",
    "PolicyTestError",
    "PolicyValidationError",
]


class PolicyIssue(BaseModel):
    """One problem in a policy (or policy test) file, located by line and column (1-based)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    line: int | None = None
    column: int | None = None
    field: str | None = None
    message: str

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class PolicyError(Exception):
    """Base of all policy errors."""


class PolicyFileError(PolicyError):
    """A problem in one file; `issues` holds every problem found, the first one first."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        if not issues:
            raise ValueError("a PolicyFileError needs at least one issue")
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues))

    @property
    def path(self) -> str:
        return self.issues[0].path

    @property
    def line(self) -> int | None:
        return self.issues[0].line

    @property
    def column(self) -> int | None:
        return self.issues[0].column


class PolicySyntaxError(PolicyFileError):
    """The file is not well-formed YAML (or not UTF-8, or repeats a mapping key)."""


class PolicyValidationError(PolicyFileError):
    """A document does not match the policy schema (unknown field, wrong type, bad value)."""


class DuplicatePolicyError(PolicyFileError):
    """Two policy documents share a name; a decision could not say which one it applied."""


class PolicyTestError(PolicyFileError):
    """A policy test file is malformed."""


class PolicyDirectoryError(PolicyError):
    """The policy directory is missing, not a directory, or holds no policy files."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")
