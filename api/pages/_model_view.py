"""What the model page and the landing page show: versions, aliases, and the decision timeline."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from api.pages._history import ALIAS_KINDS, HistoryEntry, model_history, models_in_ledger
from ledger.records import WatchRecord
from ledger.store import Ledger
from policies.decision import Decision
from tools.client import call_mlflow
from tools.errors import ToolError
from tools.registry import registered_aliases
from tools.search_filter import filter_literal

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "AliasRow",
    "ModelSummary",
    "ModelView",
    "TimelineFilter",
    "VersionRow",
    "build_model_view",
    "list_models",
]

logger = logging.getLogger("promogate.api")

_MAX_VERSIONS = 200
_WATCH_WINDOWS = 20


class TimelineFilter(BaseModel):
    """The timeline's filters, from the page's query string."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str | None = None
    verdict: str | None = None
    version: int | None = None

    def keep(self, entry: HistoryEntry) -> bool:
        if self.kind and entry.kind != self.kind:
            return False
        if self.verdict and entry.label != self.verdict:
            return False
        return self.version is None or entry.version == self.version


class VersionRow(BaseModel):
    """One registered version and its latest decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    created_at: datetime | None = None
    description: str | None = None
    run_id: str | None = None
    aliases: list[str] = Field(default_factory=list)
    latest: HistoryEntry | None = None


class AliasRow(BaseModel):
    """Where an alias points and since when (known when promogate moved it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alias: str
    version: int
    since: datetime | None = None
    moved_by: str | None = None


class ModelView(BaseModel):
    """Everything the model template needs."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    versions: list[VersionRow]
    aliases: list[AliasRow]
    timeline: list[HistoryEntry]
    filter: TimelineFilter
    total_events: int
    notes: list[str] = Field(default_factory=list)
    watch: list[WatchRecord] = Field(
        default_factory=list, description="The latest evaluated monitoring windows, newest first."
    )


class ModelSummary(BaseModel):
    """A model on the landing page, with its latest decision."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    latest: Decision | None = None
    decisions: int = 0


def _mover(entry: HistoryEntry) -> str:
    payload = entry.payload
    return str(payload.get("promoted_by") or payload.get("actor") or payload.get("by") or "?")


def _ms(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value) / 1000, UTC) if value else None


def _versions(client: MlflowClient, model: str) -> list[Any]:
    name = filter_literal(model)
    found: list[Any] = call_mlflow(
        lambda: client.search_model_versions(f"name = {name}", max_results=_MAX_VERSIONS),
        f"search_model_versions({model!r})",
        attempts=1,
    )
    return found


def build_model_view(
    model: str, *, ledger: Ledger, client: MlflowClient | None, filter: TimelineFilter
) -> ModelView:
    """The model page's content; MLflow failing leaves the ledger's part and a note.

    Args:
        model: Registered model name.
        ledger: The decision ledger.
        client: MLflow client; None shows the ledger only.
        filter: Which timeline events to show.
    """
    history = model_history(ledger, model, limit=500)
    notes: list[str] = []
    raw_versions: list[Any] = []
    aliases: dict[str, int] = {}
    if client is not None:
        try:
            raw_versions = _versions(client, model)
            aliases = registered_aliases(client, model) if raw_versions else {}
        except ToolError as exc:
            notes.append(f"MLflow could not be read: {exc}")
    latest_by_version: dict[int, HistoryEntry] = {}
    for entry in history:
        if entry.kind == "decision":
            latest_by_version.setdefault(entry.version, entry)
    by_version: dict[int, list[str]] = {}
    for alias, version in aliases.items():
        by_version.setdefault(version, []).append(alias)
    rows = [
        VersionRow(
            version=int(v.version),
            created_at=_ms(getattr(v, "creation_timestamp", None)),
            description=getattr(v, "description", None) or None,
            run_id=getattr(v, "run_id", None) or None,
            aliases=sorted(by_version.get(int(v.version), [])),
            latest=latest_by_version.get(int(v.version)),
        )
        for v in raw_versions
    ]
    known = {r.version for r in rows}
    rows += [
        VersionRow(version=v, latest=e) for v, e in latest_by_version.items() if v not in known
    ]
    rows.sort(key=lambda r: r.version, reverse=True)
    alias_rows: list[AliasRow] = []
    for alias, version in sorted(aliases.items()):
        moved = next(
            (
                e
                for e in history
                if e.kind in ALIAS_KINDS and e.target_alias == alias and e.version == version
            ),
            None,
        )
        alias_rows.append(
            AliasRow(
                alias=alias,
                version=version,
                since=moved.created_at if moved else None,
                moved_by=_mover(moved) if moved else None,
            )
        )
    return ModelView(
        model=model,
        versions=rows,
        aliases=alias_rows,
        timeline=[e for e in history if filter.keep(e)],
        filter=filter,
        total_events=len(history),
        notes=notes,
        watch=ledger.list_watch(model, limit=_WATCH_WINDOWS),
    )


def list_models(ledger: Ledger, client: MlflowClient | None) -> tuple[list[ModelSummary], str]:
    """Every model the ledger or the registry knows, with its latest decision; and a note."""
    names = set(models_in_ledger(ledger))
    note = ""
    if client is not None:
        try:
            registered: list[Any] = call_mlflow(
                lambda: client.search_registered_models(max_results=500),
                "search_registered_models()",
                attempts=1,
            )
            names.update(str(m.name) for m in registered)
        except ToolError as exc:
            note = f"MLflow could not be read ({exc}); models from the ledger only."
    summaries = []
    for name in sorted(names):
        latest = ledger.list_decisions(name, limit=1)
        summaries.append(
            ModelSummary(
                model=name,
                latest=latest[0] if latest else None,
                decisions=len(model_history(ledger, name, kinds={"decision"}, limit=500)),
            )
        )
    return summaries, note
