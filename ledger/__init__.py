"""The append-only, hash-chained store of decisions, overrides and promotions; API tokens;
idempotency keys. Imports nothing above `policies/` (the decision types).

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ledger.chain import (
        ChainReport as ChainReport,
    )
    from ledger.errors import (
        IdempotencyConflictError as IdempotencyConflictError,
    )
    from ledger.errors import (
        IdempotencyInProgressError as IdempotencyInProgressError,
    )
    from ledger.errors import (
        LedgerError as LedgerError,
    )
    from ledger.errors import (
        LedgerUnavailableError as LedgerUnavailableError,
    )
    from ledger.errors import (
        RecordNotFoundError as RecordNotFoundError,
    )
    from ledger.errors import (
        TokenError as TokenError,
    )
    from ledger.idempotency import (
        IdempotencyStore as IdempotencyStore,
    )
    from ledger.records import (
        Override as Override,
    )
    from ledger.records import (
        Promotion as Promotion,
    )
    from ledger.store import (
        Ledger as Ledger,
    )
    from ledger.store import (
        policy_refs_key as policy_refs_key,
    )
    from ledger.tokens import (
        ROLES as ROLES,
    )
    from ledger.tokens import (
        Role as Role,
    )
    from ledger.tokens import (
        TokenStore as TokenStore,
    )

_EXPORTS: dict[str, str] = {
    "ChainReport": "ledger.chain",
    "IdempotencyConflictError": "ledger.errors",
    "IdempotencyInProgressError": "ledger.errors",
    "IdempotencyStore": "ledger.idempotency",
    "Ledger": "ledger.store",
    "LedgerError": "ledger.errors",
    "LedgerUnavailableError": "ledger.errors",
    "Override": "ledger.records",
    "policy_refs_key": "ledger.store",
    "Promotion": "ledger.records",
    "RecordNotFoundError": "ledger.errors",
    "Role": "ledger.tokens",
    "ROLES": "ledger.tokens",
    "TokenError": "ledger.errors",
    "TokenStore": "ledger.tokens",
}

__all__ = [
    "ROLES",
    "ChainReport",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "IdempotencyStore",
    "Ledger",
    "LedgerError",
    "LedgerUnavailableError",
    "Override",
    "Promotion",
    "RecordNotFoundError",
    "Role",
    "TokenError",
    "TokenStore",
    "policy_refs_key",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
