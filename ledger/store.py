"""The decision ledger: an append-only, hash-chained store of decisions, overrides, promotions.

Every append is one transaction that locks the chain head, links the new record to the previous
one by hash, and moves the head; nothing is half-written. Reads return the Decision, Override or
Promotion as it was recorded; each kind is read only by its own methods. ``verify`` walks the
chain and reports the first edited, deleted or re-linked record (see ``ledger._chain``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self, TypeVar, cast

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger._chain import (
    ChainProblem,
    ChainReport,
    canonical_json,
    compute_record_hash,
    verify_chain,
    verify_record_link,
)
from ledger._database import Database
from ledger.commands import CommandRecord
from ledger.errors import DuplicateRecordError, LedgerError, RecordNotFoundError
from ledger.idempotency import IdempotencyStore
from ledger.records import (
    AliasMove,
    AliasRevert,
    LedgerRecord,
    Override,
    Promotion,
    RecordKind,
    WatchRecord,
)
from ledger.tables import HEAD_ROW_ID, LedgerHeadRow, LedgerRecordRow
from ledger.tokens import TokenStore
from policies.decision import Decision
from policies.result import PolicyRef, Verdict
from tools.redaction import redact

__all__ = ["Ledger", "policy_refs_key"]

logger = logging.getLogger("promogate.ledger")

_MAX_LIST_LIMIT = 1000
MAX_VERSION = 2_147_483_647
"""Version numbers are 32-bit integers in MLflow and in the ledger's PostgreSQL columns."""
_VERIFY_BATCH = 1000


def policy_refs_key(refs: Sequence[PolicyRef]) -> str:
    """The applied policies as canonical JSON, independent of order and of where they were loaded.

    Two decisions were made under the same policies when their keys are equal: same names,
    revisions and content hashes.

    Args:
        refs: The policies a decision applied.
    """
    ordered = sorted(refs, key=lambda r: (r.name, r.revision, r.sha256))
    return canonical_json(
        [{"name": r.name, "revision": r.revision, "sha256": r.sha256} for r in ordered]
    )


def _json_payload(
    model: Decision | Override | Promotion | AliasMove | AliasRevert | CommandRecord | WatchRecord,
) -> str:
    # Through JSON text rather than model_dump(mode="json"): pydantic writes NaN and infinity as
    # null there, and canonical JSON refuses them. A record can never be edited once chained, so
    # no credential that slipped into a text (an error quoting a URL) is ever written.
    return canonical_json(json.loads(redact(model.model_dump_json())))


def _to_record(row: LedgerRecordRow) -> LedgerRecord:
    refs = [PolicyRef(**item) for item in json.loads(row.policy_refs)]
    return LedgerRecord(
        seq=row.seq,
        record_id=row.record_id,
        kind=cast(RecordKind, row.kind),
        model=row.model,
        version=row.version,
        verdict=cast(Verdict | None, row.verdict),
        target_alias=row.target_alias,
        evidence_digest=row.evidence_digest,
        policy_refs=refs,
        expires_at=row.expires_at,
        created_at=row.created_at,
        prev_hash=row.prev_hash,
        record_hash=row.record_hash,
    )


_Payload = TypeVar(
    "_Payload", Decision, Override, Promotion, AliasMove, AliasRevert, CommandRecord, WatchRecord
)


def _load(model: type[_Payload], row: LedgerRecordRow) -> _Payload:
    """The record's payload as `model`; a payload that no longer validates was edited."""
    try:
        return model.model_validate_json(row.payload)
    except ValidationError as exc:
        raise LedgerError(
            f"{row.kind} {row.record_id!r} (record {row.seq}) cannot be read back: {exc}; "
            "run `promogate ledger verify` to check whether it was edited"
        ) from exc


def _streamed(session: Session, rows: Iterable[LedgerRecordRow]) -> Iterator[LedgerRecordRow]:
    # Drop each row from the session once checked: a long chain verifies in constant memory.
    for row in rows:
        yield row
        session.expunge(row)


def _check_same_subject(record_id: str, fields: dict[str, Any], decision: LedgerRecordRow) -> None:
    # A promotion must rest on a decision about what it promoted, made on the same evidence.
    subject = ("model", "version", "target_alias", "evidence_digest")
    mismatched = [name for name in subject if getattr(decision, name) != fields[name]]
    if mismatched:
        recorded = {name: getattr(decision, name) for name in mismatched}
        given = {name: fields[name] for name in mismatched}
        raise LedgerError(
            f"{fields['kind']} {record_id!r} names decision {decision.record_id!r}, which is "
            f"about {recorded!r}, not {given!r}"
        )


class Ledger:
    """The decision ledger on SQLite or PostgreSQL, with its token and idempotency stores.

    Args:
        url: ``sqlite:///path/to/ledger.db`` or ``postgresql+psycopg://user@host/db``.
        auto_migrate: Apply pending schema migrations on first use (default). Call ``migrate()``
            explicitly to fail early at start-up instead.
        must_exist: Raise `LedgerNotFoundError` on first use rather than make a ledger where
            there is none (a missing SQLite file, a database without the ledger's tables): for
            commands that only read it, where an empty ledger made at a mistyped URL would
            verify and list nothing as if all were well.
        busy_timeout_seconds: How long a SQLite writer waits for another writer.
        connect_timeout_seconds: How long a PostgreSQL connection attempt may take.
    """

    def __init__(
        self,
        url: str,
        *,
        auto_migrate: bool = True,
        must_exist: bool = False,
        busy_timeout_seconds: float = 15.0,
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        self.database = Database(
            url,
            auto_migrate=auto_migrate,
            must_exist=must_exist,
            busy_timeout_seconds=busy_timeout_seconds,
            connect_timeout_seconds=connect_timeout_seconds,
        )
        self.tokens = TokenStore(self.database)
        self.idempotency = IdempotencyStore(self.database)

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self.database.url

    def migrate(self) -> str:
        """Apply pending migrations (a no-op when current) and return the schema revision."""
        return self.database.migrate()

    def ping(self) -> None:
        """Raise ``LedgerUnavailableError`` unless the database answers now (readiness probes)."""
        self.database.ping()

    def close(self) -> None:
        """Close pooled connections; the ledger reconnects if used again."""
        self.database.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- appends ----------------------------------------------------------------------------------

    def append_decision(self, decision: Decision) -> LedgerRecord:
        """Record a decision at the end of the chain.

        Args:
            decision: The review's outcome; its ``id`` must not be in the ledger yet.
        """
        fields: dict[str, Any] = {
            "record_id": decision.id,
            "kind": "decision",
            "model": decision.model,
            "version": decision.version,
            "verdict": decision.verdict,
            "target_alias": decision.target_alias,
            "evidence_digest": decision.evidence_digest,
            "policy_refs": policy_refs_key(decision.policies),
            "expires_at": None,
            "payload": _json_payload(decision),
        }
        return self._append(fields)

    def append_override(self, override: Override) -> LedgerRecord:
        """Record an override at the end of the chain.

        Args:
            override: Who lets which checks pass for which version, why, and until when. When it
                names a ``decision_id``, that decision must be in the ledger.
        """
        fields: dict[str, Any] = {
            "record_id": override.id,
            "kind": "override",
            "model": override.model,
            "version": override.version,
            "verdict": None,
            "target_alias": override.target_alias,
            "evidence_digest": None,
            "policy_refs": policy_refs_key([]),
            "expires_at": override.expires_at,
            "payload": _json_payload(override),
        }
        return self._append(fields, requires_decision=override.decision_id)

    def append_promotion(self, promotion: Promotion) -> LedgerRecord:
        """Record a promotion at the end of the chain.

        Args:
            promotion: Which alias was moved to which version, by whom, on which decision. That
                decision must be in the ledger, about the same model, version and alias, and made
                on the same evidence digest.
        """
        fields: dict[str, Any] = {
            "record_id": promotion.id,
            "kind": "promotion",
            "model": promotion.model,
            "version": promotion.version,
            "verdict": None,
            "target_alias": promotion.target_alias,
            "evidence_digest": promotion.evidence_digest,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": _json_payload(promotion),
        }
        return self._append(fields, requires_decision=promotion.decision_id, same_subject=True)

    def append_alias_move(self, move: AliasMove) -> LedgerRecord:
        """Record what the alias guard found on an alias and what it did about it.

        Args:
            move: The alias, the version found on it, whether that is approved, and the action.
        """
        fields: dict[str, Any] = {
            "record_id": move.id,
            "kind": "alias_move",
            "model": move.model,
            "version": move.version,
            "verdict": None,
            "target_alias": move.target_alias,
            "evidence_digest": None,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": _json_payload(move),
        }
        return self._append(fields)

    def append_alias_revert(self, revert: AliasRevert) -> LedgerRecord:
        """Record that the alias guard put an alias back (or removed it) after an unapproved move.

        Args:
            revert: Which alias went back to which version, answering which move record.
        """
        fields: dict[str, Any] = {
            "record_id": revert.id,
            "kind": "alias_revert",
            "model": revert.model,
            "version": revert.version,
            "verdict": None,
            "target_alias": revert.target_alias,
            "evidence_digest": None,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": _json_payload(revert),
        }
        return self._append(fields)

    def _append(
        self,
        fields: dict[str, Any],
        *,
        requires_decision: str | None = None,
        same_subject: bool = False,
    ) -> LedgerRecord:
        record_id = str(fields["record_id"])
        version = fields["version"]
        if not 0 <= version <= MAX_VERSION:
            # Refused here on both backends alike (PostgreSQL would fail with "out of range").
            raise LedgerError(
                f"{fields['kind']} {record_id!r} names version {version!r}, "
                f"outside 0..{MAX_VERSION}"
            )
        with self.database.write() as session:
            # The head row lock serialises appenders on PostgreSQL; on SQLite the transaction
            # already holds the database's write lock (BEGIN IMMEDIATE).
            head = session.execute(
                select(LedgerHeadRow).where(LedgerHeadRow.id == HEAD_ROW_ID).with_for_update()
            ).scalar_one_or_none()
            if head is None:
                raise LedgerError(
                    f"the ledger in {self.url!r} has no head row, so nothing can be appended; "
                    "run `promogate ledger verify` and restore the database from a backup"
                )
            if self._find_row(session, record_id) is not None:
                raise DuplicateRecordError(record_id)
            if requires_decision is not None:
                target = self._find_row(session, requires_decision)
                if target is None or target.kind != "decision":
                    raise RecordNotFoundError(requires_decision, "decision")
                if same_subject:
                    _check_same_subject(record_id, fields, target)
            row = LedgerRecordRow(
                seq=head.seq + 1,
                prev_hash=head.record_hash,
                created_at=datetime.now(UTC),
                record_hash="",
                **fields,
            )
            row.record_hash = compute_record_hash(row)
            session.add(row)
            head.seq = row.seq
            head.record_hash = row.record_hash
            head.updated_at = row.created_at
            session.flush()
            record = _to_record(row)
        logger.info(
            "ledger: recorded %s %s as record %d (%s v%d)",
            record.kind,
            record.record_id,
            record.seq,
            record.model,
            record.version,
        )
        return record

    @staticmethod
    def _find_row(session: Session, record_id: str) -> LedgerRecordRow | None:
        return session.execute(
            select(LedgerRecordRow).where(LedgerRecordRow.record_id == record_id)
        ).scalar_one_or_none()

    # -- reads ------------------------------------------------------------------------------------

    def _get(self, record_id: str, kind: RecordKind, model: type[_Payload], what: str) -> _Payload:
        """The record with this id as `model`; `what` names it in the error when missing."""
        with self.database.read() as session:
            row = self._find_row(session, record_id)
            if row is None or row.kind != kind:
                raise RecordNotFoundError(record_id, what)
            return _load(model, row)

    def get_record(self, record_id: str) -> LedgerRecord:
        """The chain metadata (sequence number, hashes) of a decision, override or promotion.

        Args:
            record_id: A decision, override or promotion id.
        """
        with self.database.read() as session:
            row = self._find_row(session, record_id)
            if row is None:
                raise RecordNotFoundError(record_id)
            return _to_record(row)

    def get_decision(self, decision_id: str) -> Decision:
        """The decision with this id, as recorded.

        Args:
            decision_id: The decision's id.
        """
        return self._get(decision_id, "decision", Decision, "decision")

    def list_decisions(
        self,
        model: str | None = None,
        version: int | None = None,
        limit: int = 50,
        *,
        before_seq: int | None = None,
    ) -> list[Decision]:
        """Recorded decisions, newest first.

        Args:
            model: Only decisions about this registered model.
            version: Only decisions about this version number.
            limit: At most this many (1 to 1000).
            before_seq: Only records older than this sequence number (for paging).
        """
        limit = max(1, min(limit, _MAX_LIST_LIMIT))
        if version is not None and not 0 <= version <= MAX_VERSION:
            return []
        query = select(LedgerRecordRow).where(LedgerRecordRow.kind == "decision")
        if model is not None:
            query = query.where(LedgerRecordRow.model == model)
        if version is not None:
            query = query.where(LedgerRecordRow.version == version)
        if before_seq is not None:
            query = query.where(LedgerRecordRow.seq < before_seq)
        query = query.order_by(LedgerRecordRow.seq.desc()).limit(limit)
        with self.database.read() as session:
            return [_load(Decision, row) for row in session.execute(query).scalars()]

    def find_decision(
        self,
        model: str,
        version: int,
        evidence_digest: str,
        policy_refs: Sequence[PolicyRef],
        target_alias: str,
    ) -> Decision | None:
        """The latest decision made on the same evidence under the same policies, if any.

        The gate reuses it instead of reviewing again. Decisions whose review failed (``error`` set)
        are never reused: the failure may have been transient.

        Args:
            model: Registered model name.
            version: Version number.
            evidence_digest: Digest of the evidence bundle the new request would be decided on.
            policy_refs: The policies that apply now (name, revision and content hash must match).
            target_alias: The alias being moved.
        """
        query = (
            select(LedgerRecordRow)
            .where(
                LedgerRecordRow.kind == "decision",
                LedgerRecordRow.model == model,
                LedgerRecordRow.version == version,
                LedgerRecordRow.evidence_digest == evidence_digest,
                LedgerRecordRow.target_alias == target_alias,
                LedgerRecordRow.policy_refs == policy_refs_key(policy_refs),
            )
            .order_by(LedgerRecordRow.seq.desc())
        )
        with self.database.read() as session:
            for row in session.execute(query).scalars():
                decision = _load(Decision, row)
                if decision.error is None:
                    return decision
        return None

    def get_override(self, override_id: str) -> Override:
        """The override with this id, as recorded.

        Args:
            override_id: The override's id.
        """
        return self._get(override_id, "override", Override, "override")

    def active_overrides(
        self,
        model: str,
        version: int,
        *,
        target_alias: str | None = None,
        at: datetime | None = None,
    ) -> list[Override]:
        """Overrides for this version that have not expired nor been revoked, oldest first.

        Args:
            model: Registered model name.
            version: Version number.
            target_alias: Only overrides for moving this alias.
            at: The moment to judge expiry at (timezone-aware); now by default.
        """
        moment = at if at is not None else datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError(f"'at' must be timezone-aware, got {moment!r}")
        query = select(LedgerRecordRow).where(
            LedgerRecordRow.kind == "override",
            LedgerRecordRow.model == model,
            LedgerRecordRow.version == version,
            LedgerRecordRow.expires_at > moment,
        )
        if target_alias is not None:
            query = query.where(LedgerRecordRow.target_alias == target_alias)
        query = query.order_by(LedgerRecordRow.seq)
        with self.database.read() as session:
            found = [_load(Override, row) for row in session.execute(query).scalars()]
        if not found:
            return []
        revoked = self._revoked_override_ids()
        return [o for o in found if o.id not in revoked]

    def _revoked_override_ids(self) -> set[str]:
        """Ids named by override revocations (``command`` records, see
        `ledger.override_revocations`)."""
        # The text match only skips the other commands (evidence fingerprints above all, one
        # per gated version) before each payload is parsed and checked; it is loose on purpose,
        # so that no spelling of a revocation's JSON escapes it.
        query = select(LedgerRecordRow.payload).where(
            LedgerRecordRow.kind == "command",
            LedgerRecordRow.payload.contains("override_revocation", autoescape=True),
        )
        revoked: set[str] = set()
        with self.database.read() as session:
            for payload in session.execute(query).scalars():
                data: Any = json.loads(payload)
                if isinstance(data, dict) and data.get("type") == "override_revocation":
                    revoked.add(str(data.get("override_id")))
        return revoked

    def get_promotion(self, promotion_id: str) -> Promotion:
        """The promotion with this id, as recorded.

        Args:
            promotion_id: The promotion's id.
        """
        return self._get(promotion_id, "promotion", Promotion, "promotion")

    def list_promotions(
        self, model: str | None = None, version: int | None = None, limit: int = 50
    ) -> list[Promotion]:
        """Recorded promotions, newest first.

        Args:
            model: Only promotions of this registered model.
            version: Only promotions of this version number.
            limit: At most this many (1 to 1000).
        """
        limit = max(1, min(limit, _MAX_LIST_LIMIT))
        query = select(LedgerRecordRow).where(LedgerRecordRow.kind == "promotion")
        if model is not None:
            query = query.where(LedgerRecordRow.model == model)
        if version is not None:
            query = query.where(LedgerRecordRow.version == version)
        query = query.order_by(LedgerRecordRow.seq.desc()).limit(limit)
        with self.database.read() as session:
            return [_load(Promotion, row) for row in session.execute(query).scalars()]

    def alias_history(
        self, model: str, target_alias: str, limit: int = 50
    ) -> list[Promotion | AliasMove | AliasRevert]:
        """Promotions, alias moves and reverts of one alias, newest first.

        Args:
            model: Registered model name.
            target_alias: The alias.
            limit: At most this many (1 to 1000).
        """
        limit = max(1, min(limit, _MAX_LIST_LIMIT))
        query = (
            select(LedgerRecordRow)
            .where(
                LedgerRecordRow.kind.in_(("promotion", "alias_move", "alias_revert")),
                LedgerRecordRow.model == model,
                LedgerRecordRow.target_alias == target_alias,
            )
            .order_by(LedgerRecordRow.seq.desc())
            .limit(limit)
        )
        records: list[Promotion | AliasMove | AliasRevert] = []
        with self.database.read() as session:
            for row in session.execute(query).scalars():
                if row.kind == "promotion":
                    records.append(_load(Promotion, row))
                elif row.kind == "alias_move":
                    records.append(_load(AliasMove, row))
                else:
                    records.append(_load(AliasRevert, row))
        return records

    # -- commands given through the PR bot --------------------------------------------------------

    def append_command(self, command: CommandRecord) -> LedgerRecord:
        """Record a `/promogate` pull-request command and its outcome at the end of the chain.

        Args:
            command: Who asked for what in which pull request, and what became of it. A command
                about no model version is filed under ``github:<repository>#<number>``, version 0.
        """
        fields: dict[str, Any] = {
            "record_id": command.id,
            "kind": "command",
            "model": command.model or f"github:{command.repository}#{command.pull_request}",
            "version": command.version or 0,
            "verdict": None,
            "target_alias": command.target_alias,
            "evidence_digest": None,
            "policy_refs": policy_refs_key([]),
            "expires_at": None,
            "payload": _json_payload(command),
        }
        return self._append(fields)

    def list_commands(self, repository: str | None = None, limit: int = 50) -> list[CommandRecord]:
        """Recorded pull-request commands, newest first.

        Args:
            repository: Only commands given in this repository (``owner/name``).
            limit: At most this many (1 to 1000).
        """
        limit = max(1, min(limit, _MAX_LIST_LIMIT))
        query = select(LedgerRecordRow).where(LedgerRecordRow.kind == "command")
        query = query.order_by(LedgerRecordRow.seq.desc())
        with self.database.read() as session:
            # Override revocations share the kind (a ``type`` in their payload); they are not
            # pull-request commands.
            found = [
                _load(CommandRecord, row)
                for row in session.execute(query).scalars()
                if "type" not in json.loads(row.payload)
            ]
        if repository is not None:
            found = [c for c in found if c.repository.lower() == repository.lower()]
        return found[:limit]

    # -- post-promotion watch ---------------------------------------------------------------------

    def append_watch(
        self, record: WatchRecord, policy_refs: Sequence[PolicyRef] = ()
    ) -> LedgerRecord:
        """Record one evaluated monitoring window of a champion at the end of the chain.

        Args:
            record: The window, its level and the evaluation; when it names a ``decision_id`` (the
                re-review an alert reopened), that decision must be in the ledger.
            policy_refs: The policies whose ``watch`` section the window was evaluated under.
        """
        fields: dict[str, Any] = {
            "record_id": record.id,
            "kind": "watch",
            "model": record.model,
            "version": record.version,
            "verdict": None,
            "target_alias": record.target_alias,
            "evidence_digest": record.window_digest,
            "policy_refs": policy_refs_key(policy_refs),
            "expires_at": None,
            "payload": _json_payload(record),
        }
        return self._append(fields, requires_decision=record.decision_id)

    def get_watch(self, record_id: str) -> WatchRecord:
        """The watch record with this id, as recorded.

        Args:
            record_id: The watch record's id.
        """
        return self._get(record_id, "watch", WatchRecord, "watch record")

    def list_watch(
        self,
        model: str,
        *,
        target_alias: str | None = None,
        version: int | None = None,
        limit: int = 200,
    ) -> list[WatchRecord]:
        """Evaluated monitoring windows of a model, newest record first.

        Args:
            model: Registered model name.
            target_alias: Only windows watched under this alias.
            version: Only windows of this version.
            limit: At most this many (1 to 1000).
        """
        limit = max(1, min(limit, _MAX_LIST_LIMIT))
        query = select(LedgerRecordRow).where(
            LedgerRecordRow.kind == "watch", LedgerRecordRow.model == model
        )
        if target_alias is not None:
            query = query.where(LedgerRecordRow.target_alias == target_alias)
        if version is not None:
            if not 0 <= version <= MAX_VERSION:
                return []
            query = query.where(LedgerRecordRow.version == version)
        query = query.order_by(LedgerRecordRow.seq.desc()).limit(limit)
        with self.database.read() as session:
            return [_load(WatchRecord, row) for row in session.execute(query).scalars()]

    # -- verification -----------------------------------------------------------------------------

    def verify_record(self, record_id: str) -> ChainProblem | None:
        """Recompute one record's hash and check its links to its neighbours and the head.

        None when the record verifies; otherwise what is wrong. The gate calls this before it
        reuses a decision or promotes on it.

        Args:
            record_id: A decision, override or promotion id.

        Raises:
            RecordNotFoundError: No such record.
        """
        with self.database.read() as session:
            row = self._find_row(session, record_id)
            if row is None:
                raise RecordNotFoundError(record_id)
            previous = session.get(LedgerRecordRow, row.seq - 1) if row.seq > 1 else None
            following = session.get(LedgerRecordRow, row.seq + 1)
            head = session.get(LedgerHeadRow, HEAD_ROW_ID)
            problem = verify_record_link(row, previous, following, head)
        if problem is not None:
            logger.warning(
                "ledger: record %s (%s) does not verify: %s",
                record_id,
                problem.kind,
                problem.detail,
            )
        return problem

    def head(self) -> tuple[int, str]:
        """The chain head: the last record's sequence number and hash (0 and genesis if empty)."""
        with self.database.read() as session:
            head = session.get(LedgerHeadRow, HEAD_ROW_ID)
            if head is None:
                raise LedgerError(
                    f"the ledger in {self.url!r} has no head row; run `promogate ledger verify`"
                )
            return head.seq, head.record_hash

    def record_hash_at(self, seq: int) -> str | None:
        """The stored hash of the record at `seq`, or None when there is none.

        Args:
            seq: A sequence number.
        """
        with self.database.read() as session:
            row = session.get(LedgerRecordRow, seq)
            return row.record_hash if row is not None else None

    def verify(self) -> ChainReport:
        """Walk the whole chain and report whether it is intact, or where and how it is broken."""
        with self.database.read() as session:
            head = session.get(LedgerHeadRow, HEAD_ROW_ID)
            rows = session.execute(
                select(LedgerRecordRow)
                .order_by(LedgerRecordRow.seq)
                .execution_options(yield_per=_VERIFY_BATCH)
            ).scalars()
            report = verify_chain(head, _streamed(session, rows))
        if report.ok:
            logger.info("ledger: chain of %d records verified", report.records_checked)
        else:
            logger.warning(
                "ledger: chain broken at record %s: %s", report.first_broken_seq, report.detail
            )
        return report
