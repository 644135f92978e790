"""The append-only, hash-chained store of decisions, overrides and promotions; API tokens;
idempotency keys. Imports nothing above `policies/` (the decision types).

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from ledger._chain import (
        ChainReport as ChainReport,
    )
    from ledger.anchors import AnchorStore as AnchorStore
    from ledger.anchors import Checkpoint as Checkpoint
    from ledger.anchors import FileAnchorStore as FileAnchorStore
    from ledger.anchors import RecordAnchor as RecordAnchor
    from ledger.anchors import verify_anchors as verify_anchors
    from ledger.anchors import write_checkpoint as write_checkpoint
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
        LedgerNotFoundError as LedgerNotFoundError,
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
    from ledger.fingerprints import FingerprintMatch as FingerprintMatch
    from ledger.fingerprints import FingerprintRecord as FingerprintRecord
    from ledger.fingerprints import append_fingerprint as append_fingerprint
    from ledger.fingerprints import find_fingerprint as find_fingerprint
    from ledger.fingerprints import match_fingerprint as match_fingerprint
    from ledger.idempotency import (
        IdempotencyStore as IdempotencyStore,
    )
    from ledger.override_revocations import (
        revoke_override as revoke_override,
    )
    from ledger.records import AliasMove as AliasMove
    from ledger.records import AliasMoveSource as AliasMoveSource
    from ledger.records import AliasRevert as AliasRevert
    from ledger.records import LedgerRecord as LedgerRecord
    from ledger.records import (
        Override as Override,
    )
    from ledger.records import (
        Promotion as Promotion,
    )
    from ledger.records import WatchLevel as WatchLevel
    from ledger.records import WatchRecord as WatchRecord
    from ledger.store import (
        Ledger as Ledger,
    )
    from ledger.store import (
        policy_refs_key as policy_refs_key,
    )
    from ledger.tables import LedgerRecordRow as LedgerRecordRow
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
    "write_checkpoint": "ledger.anchors",
    "verify_anchors": "ledger.anchors",
    "RecordAnchor": "ledger.anchors",
    "LedgerRecordRow": "ledger.tables",
    "LedgerRecord": "ledger.records",
    "FileAnchorStore": "ledger.anchors",
    "Checkpoint": "ledger.anchors",
    "AnchorStore": "ledger.anchors",
    "AliasRevert": "ledger.records",
    "AliasMoveSource": "ledger.records",
    "AliasMove": "ledger.records",
    "revoke_override": "ledger.override_revocations",
    "ChainReport": "ledger._chain",
    "IdempotencyConflictError": "ledger.errors",
    "IdempotencyInProgressError": "ledger.errors",
    "IdempotencyStore": "ledger.idempotency",
    "Ledger": "ledger.store",
    "LedgerError": "ledger.errors",
    "LedgerNotFoundError": "ledger.errors",
    "LedgerUnavailableError": "ledger.errors",
    "Override": "ledger.records",
    "policy_refs_key": "ledger.store",
    "Promotion": "ledger.records",
    "RecordNotFoundError": "ledger.errors",
    "Role": "ledger.tokens",
    "ROLES": "ledger.tokens",
    "TokenError": "ledger.errors",
    "TokenStore": "ledger.tokens",
    "CommandOutcome": "ledger.commands",
    "CommandRecord": "ledger.commands",
    "FingerprintMatch": "ledger.fingerprints",
    "FingerprintRecord": "ledger.fingerprints",
    "append_fingerprint": "ledger.fingerprints",
    "find_fingerprint": "ledger.fingerprints",
    "match_fingerprint": "ledger.fingerprints",
    "WatchLevel": "ledger.records",
    "WatchRecord": "ledger.records",
}

__all__ = [
    "ROLES",
    "AliasMove",
    "AliasMoveSource",
    "AliasRevert",
    "AnchorStore",
    "ChainReport",
    "Checkpoint",
    "CommandOutcome",
    "CommandRecord",
    "FileAnchorStore",
    "FingerprintMatch",
    "FingerprintRecord",
    "IdempotencyConflictError",
    "IdempotencyInProgressError",
    "IdempotencyStore",
    "Ledger",
    "LedgerError",
    "LedgerNotFoundError",
    "LedgerRecord",
    "LedgerRecordRow",
    "LedgerUnavailableError",
    "Override",
    "Promotion",
    "RecordAnchor",
    "RecordNotFoundError",
    "Role",
    "TokenError",
    "TokenStore",
    "WatchLevel",
    "WatchRecord",
    "append_fingerprint",
    "find_fingerprint",
    "match_fingerprint",
    "policy_refs_key",
    "revoke_override",
    "verify_anchors",
    "write_checkpoint",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
