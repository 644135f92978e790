"""Anchoring the ledger outside its database: where checkpoints go, how often, and reading the
record hashes published as model-version tags back for ``promogate ledger verify --anchors``.

Configured by ``PROMOGATE_ANCHOR_FILE`` (an append-only JSON-lines file) and/or
``PROMOGATE_ANCHOR_RUN_ID`` (an MLflow run that receives one ``promogate.anchor.<seq>`` tag per
checkpoint), every ``PROMOGATE_ANCHOR_INTERVAL_S`` seconds while the API serves, whenever the head
moved. ``promogate ledger anchor`` writes one now (for cron).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Final

from ledger.anchors import AnchorStore, Checkpoint, FileAnchorStore, RecordAnchor, write_checkpoint
from ledger.errors import LedgerError
from ledger.store import Ledger

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from api.settings import Settings

__all__ = [
    "ANCHOR_TAG_PREFIX",
    "RECORD_HASH_TAG",
    "AnchorScheduler",
    "MlflowRunAnchorStore",
    "anchor_stores",
    "published_record_anchors",
]

logger = logging.getLogger("promogate.api")

ANCHOR_TAG_PREFIX: Final = "promogate.anchor."
RECORD_HASH_TAG: Final = "promogate.record_hash"
DECISION_ID_TAG: Final = "promogate.decision_id"
_VERSIONS_PAGE: Final = 1000


class MlflowRunAnchorStore:
    """Checkpoints as tags of one MLflow run: ``promogate.anchor.<seq, 12 digits>`` =
    ``<record hash> <written at>``. The tracking server is another system than the ledger's
    database, with its own credentials.

    Args:
        client: An MLflow client.
        run_id: The run that keeps the anchors.
    """

    def __init__(self, client: MlflowClient, run_id: str) -> None:
        self.client = client
        self.run_id = run_id

    @property
    def name(self) -> str:
        return f"MLflow run {self.run_id!r}"

    def write(self, checkpoint: Checkpoint) -> None:
        from mlflow.exceptions import MlflowException

        value = f"{checkpoint.record_hash} {checkpoint.written_at.isoformat()}"
        try:
            self.client.set_tag(self.run_id, f"{ANCHOR_TAG_PREFIX}{checkpoint.seq:012d}", value)
        except MlflowException as exc:
            raise LedgerError(f"cannot write the anchor to {self.name}: {exc}") from exc

    def read(self) -> list[Checkpoint]:
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_run(self.run_id).data.tags
        except MlflowException as exc:
            raise LedgerError(f"cannot read the anchors of {self.name}: {exc}") from exc
        checkpoints: list[Checkpoint] = []
        for key, value in sorted(tags.items()):
            if not key.startswith(ANCHOR_TAG_PREFIX):
                continue
            record_hash, _, written = value.partition(" ")
            try:
                checkpoints.append(
                    Checkpoint(
                        seq=int(key.removeprefix(ANCHOR_TAG_PREFIX)),
                        record_hash=record_hash,
                        written_at=datetime.fromisoformat(written),
                    )
                )
            except ValueError as exc:
                raise LedgerError(f"tag {key!r} of {self.name} is not a checkpoint: {exc}") from exc
        return checkpoints


def anchor_stores(settings: Settings, client: Callable[[], MlflowClient]) -> list[AnchorStore]:
    """The checkpoint stores the settings configure (none when neither is set).

    Args:
        settings: The configuration.
        client: Returns the MLflow client (called only when a run is configured).
    """
    stores: list[AnchorStore] = []
    if settings.anchor_file is not None:
        stores.append(FileAnchorStore(settings.anchor_file))
    if settings.anchor_run_id:
        stores.append(MlflowRunAnchorStore(client(), settings.anchor_run_id))
    return stores


def published_record_anchors(client: MlflowClient) -> Iterator[RecordAnchor]:
    """Every decision record hash published as model-version tags in the registry, read page by
    page over every version of every model.

    Args:
        client: An MLflow client of the registry.

    Raises:
        ToolError: MLflow is unavailable or refused a read (a check that read only part of the
            registry would pass records it never saw).
    """
    from tools.client import every_page

    for version in every_page(
        client.search_model_versions, "search_model_versions()", page_size=_VERSIONS_PAGE
    ):
        tags = version.tags or {}
        record_id = tags.get(DECISION_ID_TAG)
        record_hash = tags.get(RECORD_HASH_TAG)
        if record_id and record_hash:
            yield RecordAnchor(
                record_id=record_id,
                record_hash=record_hash,
                source=f"{version.name!r} v{version.version} tags",
            )


class AnchorScheduler:
    """Writes a checkpoint every `interval_s` seconds while the head moves (a daemon thread).

    Args:
        ledger: The ledger.
        stores: Where checkpoints go.
        interval_s: Seconds between checks.
    """

    def __init__(self, ledger: Ledger, stores: list[AnchorStore], interval_s: float) -> None:
        self.ledger = ledger
        self.stores = stores
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last: tuple[int, str] | None = None

    def tick(self) -> Checkpoint | None:
        """Write a checkpoint now if the head moved since the last one; errors are logged."""
        try:
            head = self.ledger.head()
            if head == self._last:
                return None
            checkpoint = write_checkpoint(self.ledger, self.stores)
        except LedgerError as exc:
            logger.warning("ledger checkpoint not written: %s", exc)
            return None
        self._last = (checkpoint.seq, checkpoint.record_hash)
        return checkpoint

    def start(self) -> None:
        if not self.stores or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="promogate-anchor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        # A last checkpoint on the way out, so a restart does not leave the newest decisions bare.
        if self.stores:
            self.tick()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.interval_s)
