"""External anchors: the chain head, written where the ledger's own database cannot rewrite it.

The hash chain shows an edited or deleted record, but someone with write access to the database
can delete the tail and rewind the head row, or rewrite every hash after an edit; the chain then
verifies again. Anchors make that visible. Two kinds are checked by `verify_anchors`:

- **checkpoints**: the head (sequence number and hash) written periodically to a place outside
  the ledger's database: an append-only JSON-lines file (`FileAnchorStore`), or an MLflow run
  (``api._anchoring.MlflowRunAnchorStore``);
- **record anchors**: a decision's record hash, published with it as the model version's
  ``promogate.record_hash`` tag next to ``promogate.decision_id``.

The ledger must still hold every anchored record with the anchored hash, and its head must not lie
before the newest checkpoint. A truncation with a rewound head, or a rewritten record, fails.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.errors import LedgerError
from ledger.store import Ledger

__all__ = [
    "AnchorProblem",
    "AnchorReport",
    "AnchorStore",
    "Checkpoint",
    "FileAnchorStore",
    "RecordAnchor",
    "verify_anchors",
    "write_checkpoint",
]

logger = logging.getLogger("promogate.ledger")


class Checkpoint(BaseModel):
    """The chain head at one moment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int = Field(ge=0, description="The head's sequence number.")
    record_hash: str = Field(min_length=64, max_length=64)
    written_at: datetime


class RecordAnchor(BaseModel):
    """A record hash published outside the ledger (a model version's tags)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    record_id: str
    record_hash: str
    source: str = Field(description="Where it was read, e.g. 'credit-risk v3 tags'.")


class AnchorStore(Protocol):
    """A place outside the ledger's database that keeps checkpoints."""

    @property
    def name(self) -> str: ...

    def write(self, checkpoint: Checkpoint) -> None: ...

    def read(self) -> list[Checkpoint]: ...


class FileAnchorStore:
    """Checkpoints appended as JSON lines to a file (put it on storage the database host cannot
    write: another machine's mount, a WORM bucket synced from it, a log shipper's input).

    Args:
        path: The file; created on the first write.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def name(self) -> str:
        return f"file {str(self.path)!r}"

    def write(self, checkpoint: Checkpoint) -> None:
        line = checkpoint.model_dump_json() + "\n"
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise LedgerError(f"cannot write the anchor {self.name}: {exc}") from exc

    def read(self) -> list[Checkpoint]:
        if not self.path.exists():
            return []
        checkpoints: list[Checkpoint] = []
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise LedgerError(f"cannot read the anchor {self.name}: {exc}") from exc
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                checkpoints.append(Checkpoint.model_validate_json(line))
            except ValidationError as exc:
                raise LedgerError(
                    f"line {number} of the anchor {self.name} is not a checkpoint: "
                    f"{exc.errors()[0]['msg']}"
                ) from exc
        return checkpoints


def write_checkpoint(ledger: Ledger, stores: Sequence[AnchorStore]) -> Checkpoint:
    """Write the current chain head to every store.

    Args:
        ledger: The ledger.
        stores: Where to write it.

    Raises:
        LedgerError: A store refused the write (the others were still written).
    """
    seq, record_hash = ledger.head()
    checkpoint = Checkpoint(seq=seq, record_hash=record_hash, written_at=datetime.now(UTC))
    failures: list[str] = []
    for store in stores:
        try:
            store.write(checkpoint)
        except LedgerError as exc:
            failures.append(str(exc))
    if failures:
        raise LedgerError("; ".join(failures))
    logger.info("ledger: head %d (%s...) anchored", seq, record_hash[:12])
    return checkpoint


AnchorProblemKind = Literal["absent", "missing", "mismatch", "rewound", "unreadable"]


class AnchorProblem(BaseModel):
    """One anchor the ledger no longer agrees with."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: AnchorProblemKind
    source: str
    detail: str


class AnchorReport(BaseModel):
    """The ledger checked against its external anchors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    checkpoints_checked: int
    records_checked: int
    head_seq: int | None
    newest_checkpoint_seq: int | None
    problems: list[AnchorProblem] = Field(default_factory=list)


def verify_anchors(
    ledger: Ledger,
    stores: Sequence[AnchorStore],
    record_anchors: Iterable[RecordAnchor] = (),
) -> AnchorReport:
    """Check the ledger against the checkpoints in `stores` and the published record hashes.

    Args:
        ledger: The ledger.
        stores: Checkpoint stores.
        record_anchors: Record hashes published elsewhere (model-version tags).
    """
    problems: list[AnchorProblem] = []
    head_seq, _ = ledger.head()
    newest: int | None = None
    checked = 0
    for store in stores:
        try:
            checkpoints = store.read()
        except LedgerError as exc:
            problems.append(AnchorProblem(kind="unreadable", source=store.name, detail=str(exc)))
            continue
        if not checkpoints and head_seq > 0:
            # A store at a mistyped path, or emptied, would otherwise anchor nothing and pass.
            problems.append(
                AnchorProblem(
                    kind="absent",
                    source=store.name,
                    detail=f"it holds no checkpoint, though the ledger holds {head_seq} records: "
                    "none of them is anchored there; check where it points, or write the first "
                    "checkpoint with `promogate ledger anchor`",
                )
            )
        for checkpoint in checkpoints:
            checked += 1
            newest = checkpoint.seq if newest is None else max(newest, checkpoint.seq)
            if checkpoint.seq == 0:
                continue
            if checkpoint.seq > head_seq:
                problems.append(
                    AnchorProblem(
                        kind="rewound",
                        source=store.name,
                        detail=f"the checkpoint of {checkpoint.written_at.isoformat()} names "
                        f"record {checkpoint.seq}, but the ledger's head is record {head_seq}: "
                        "records were deleted and the head rewound",
                    )
                )
                continue
            stored = ledger.record_hash_at(checkpoint.seq)
            if stored is None:
                problems.append(
                    AnchorProblem(
                        kind="missing",
                        source=store.name,
                        detail=f"record {checkpoint.seq}, anchored on "
                        f"{checkpoint.written_at.isoformat()}, is not in the ledger",
                    )
                )
            elif stored != checkpoint.record_hash:
                problems.append(
                    AnchorProblem(
                        kind="mismatch",
                        source=store.name,
                        detail=f"record {checkpoint.seq} hashes to {stored[:12]}... in the "
                        f"ledger, but was anchored as {checkpoint.record_hash[:12]}...: the chain "
                        "was rewritten from there on",
                    )
                )
    records = 0
    for anchor in record_anchors:
        records += 1
        try:
            stored_record = ledger.get_record(anchor.record_id)
        except LedgerError:
            problems.append(
                AnchorProblem(
                    kind="missing",
                    source=anchor.source,
                    detail=f"record {anchor.record_id!r} is published but not in the ledger",
                )
            )
            continue
        if stored_record.record_hash != anchor.record_hash:
            problems.append(
                AnchorProblem(
                    kind="mismatch",
                    source=anchor.source,
                    detail=f"record {anchor.record_id!r} hashes to "
                    f"{stored_record.record_hash[:12]}... in the ledger, but was published as "
                    f"{anchor.record_hash[:12]}...",
                )
            )
    return AnchorReport(
        ok=not problems,
        checkpoints_checked=checked,
        records_checked=records,
        head_seq=head_seq,
        newest_checkpoint_seq=newest,
        problems=problems,
    )
