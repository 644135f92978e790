"""The lease one process holds on a model's alias while it judges or watches what the alias holds.

The alias guard and the watch both act on ``model@alias`` from several processes (webhook
deliveries, the reconciler, periodic jobs); each takes a lease in the ledger's idempotency table
so that only one of them reads, decides and moves the alias at a time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ledger.errors import IdempotencyInProgressError
from ledger.idempotency import IdempotencyStore

__all__ = ["ALIAS_GUARD_LEASE", "WATCH_LEASE", "LeaseKind", "alias_lease"]


@dataclass(frozen=True)
class LeaseKind:
    """Who takes a lease: its key prefix and how the claim is recorded."""

    prefix: str
    caller: str
    method: str
    path: str


ALIAS_GUARD_LEASE = LeaseKind("alias-", "promogate.alias-guard", "GUARD", "/alias-guard")
WATCH_LEASE = LeaseKind("watch-", "promogate.watch", "WATCH", "/watch")


@contextmanager
def alias_lease(
    locks: IdempotencyStore,
    kind: LeaseKind,
    model: str,
    alias: str,
    wait_seconds: float,
) -> Iterator[bool]:
    """Hold the lease on ``model@alias`` for the block; yields False when another process held it
    for longer than ``wait_seconds`` (the block then must not act)."""
    scope = f"{model}\0{alias}"
    try:
        claim = locks.claim(
            kind.prefix + hashlib.sha256(scope.encode()).hexdigest()[:48],
            caller=kind.caller,
            method=kind.method,
            path=kind.path,
            body=scope,
            wait_seconds=wait_seconds,
        )
    except IdempotencyInProgressError:
        yield False
        return
    try:
        yield True
    finally:
        locks.release(claim)
