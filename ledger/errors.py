"""Typed errors raised by the decision ledger, its token store and its idempotency store.

Messages name the offending value with ``!r``; database URLs in messages never carry a password::

    LedgerError                               what the ledger cannot do (schema missing, bad URL)
    ├── LedgerUnavailableError(url)           database unreachable, closed, locked or read-only
    ├── LedgerNotFoundError(url)              a command that only reads found no ledger there
    ├── RecordNotFoundError(record_id)        no decision, override or promotion with that id
    ├── DuplicateRecordError(record_id)       a record with that id is already in the chain
    ├── ChainBrokenError(report)              verify() found an edited, deleted or re-linked record
    ├── IdempotencyConflictError(key)         same Idempotency-Key, different request (HTTP 422)
    │   └── IdempotencyInProgressError(key)   same key, first request still running (HTTP 409)
    └── TokenError                            bad token name or role, unknown or duplicate token

The API maps ``LedgerUnavailableError`` to 503 (which a deploy pipeline treats as deny).
"""

from __future__ import annotations

from typing import Protocol

from tools.redaction import redact

__all__ = [
    "BrokenChainReport",
    "ChainBrokenError",
    "DuplicateRecordError",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "LedgerError",
    "LedgerNotFoundError",
    "LedgerUnavailableError",
    "RecordNotFoundError",
    "TokenError",
]


class LedgerError(Exception):
    """Base class of every error the ledger package raises (its text never holds a secret)."""

    def __init__(self, *args: object) -> None:
        # Driver errors quote connection strings; redact where the text is made.
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class LedgerUnavailableError(LedgerError):
    """The ledger database cannot be reached or written: refused, closed, locked, read-only."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        hint = (
            "check that its directory exists and is writable"
            if url.startswith("sqlite")
            else "check that the server is running and reachable and the database exists"
        )
        super().__init__(f"ledger database {url!r} is unavailable: {reason}; {hint}")


class LedgerNotFoundError(LedgerError):
    """A command that only reads the ledger (verify, list, show) found none at its URL.

    Such a command never makes one: an empty ledger made at a mistyped path verifies, and lists
    nothing, as if every decision were accounted for.
    """

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"there is no ledger at {url!r} ({reason}); pass the ledger that holds the "
            "decisions with --ledger-url or PROMOGATE_LEDGER_URL (`promogate ledger migrate` "
            "makes a new one)"
        )


class RecordNotFoundError(LedgerError):
    """No record with the given id (decision, override or promotion) is in the ledger."""

    def __init__(self, record_id: str, kind: str = "record") -> None:
        self.record_id = record_id
        self.kind = kind
        super().__init__(f"no {kind} with id {record_id!r} in the ledger")


class DuplicateRecordError(LedgerError):
    """A record with the given id is already in the chain; records are never replaced."""

    def __init__(self, record_id: str) -> None:
        self.record_id = record_id
        super().__init__(
            f"a record with id {record_id!r} is already in the ledger; records are append-only, "
            "give the new record a new id"
        )


class BrokenChainReport(Protocol):
    """What `ChainBrokenError` needs of a verification report (`ledger._chain.ChainReport`).

    A protocol, so this module imports nothing from the ledger and the chain imports it freely.
    """

    @property
    def first_broken_seq(self) -> int | None: ...

    @property
    def reason(self) -> str | None: ...

    @property
    def detail(self) -> str | None: ...


class ChainBrokenError(LedgerError):
    """The hash chain does not verify: a record was edited, deleted or re-linked."""

    def __init__(self, report: BrokenChainReport) -> None:
        self.report = report
        super().__init__(
            f"ledger hash chain is broken at sequence {report.first_broken_seq!r}: "
            f"{report.reason!r} ({report.detail})"
        )


class IdempotencyConflictError(LedgerError):
    """The Idempotency-Key was already used for a different request."""

    def __init__(
        self, key: str, detail: str, hint: str = "use a new key for a new request"
    ) -> None:
        self.key = key
        self.detail = detail
        super().__init__(f"Idempotency-Key {key!r} {detail}; {hint}")


class IdempotencyInProgressError(IdempotencyConflictError):
    """The first request with this Idempotency-Key has not finished yet; retry later."""

    def __init__(self, key: str, waited_seconds: float) -> None:
        self.waited_seconds = waited_seconds
        super().__init__(
            key,
            f"is held by a request that is still running (waited {waited_seconds:.1f} s)",
            hint="retry the same request later to receive its response",
        )


class TokenError(LedgerError):
    """A token operation was refused: invalid name or role, unknown or duplicate token."""
