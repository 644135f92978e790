"""Where a page links to: promogate's own pages, and the MLflow UI for versions, runs and artifacts.

Evidence references (``run:<id>/metrics/roc_auc``, ``version:credit-risk/3/datasets``,
``artifact:credit-risk/3/eval/table.json``) are turned into links only when their shape is known;
anything else is shown as text. Every part taken from a reference is URL-quoted, so a hostile run id
or model name cannot leave the link it sits in.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

__all__ = ["Link", "LinkKind", "MlflowLinks", "check_anchor", "decision_path", "model_path"]

LinkKind = Literal["decision", "check", "model", "version", "run", "artifact", "evidence"]

_RUN_REF = re.compile(r"^run:([0-9A-Za-z_-]{1,64})(?:/(.*))?$")
_VERSION_REF = re.compile(r"^(?:version|artifact|safety):([^/]+)/v?(\d{1,10})(?:/(.*))?$")
_VERSION_TEXT = re.compile(r"^([^/\s]+)/v?(\d{1,10})$")


class Link(BaseModel):
    """A citation or reference, ready to render: its label, where it goes (None: text only)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LinkKind
    label: str
    href: str | None = None


def decision_path(decision_id: str) -> str:
    """The path of a decision's page."""
    return f"/decisions/{quote(decision_id, safe='')}"


def model_path(model: str) -> str:
    """The path of a model's page."""
    return f"/models/{quote(model, safe='')}"


def check_anchor(check_id: str) -> str:
    """The fragment id of a check's row on a decision page."""
    return "check-" + re.sub(r"[^A-Za-z0-9_.-]", "_", check_id)


class MlflowLinks:
    """Links into one MLflow UI, or none when its address is unknown.

    Args:
        base_url: The MLflow UI's base URL (``http://mlflow.internal:5000``), or None.
    """

    def __init__(self, base_url: str | None) -> None:
        base = (base_url or "").strip().rstrip("/")
        self.base_url = base if base.startswith(("http://", "https://")) else None

    @classmethod
    def for_tracking(cls, ui_url: str | None, tracking_uri: str) -> MlflowLinks:
        """The configured UI, or the tracking server itself when it is served over HTTP."""
        return cls(ui_url if ui_url else tracking_uri)

    def _url(self, fragment: str) -> str | None:
        return f"{self.base_url}/#/{fragment}" if self.base_url else None

    def version(self, model: str, version: int) -> str | None:
        """The model version's page in the MLflow UI."""
        return self._url(f"models/{quote(model, safe='')}/versions/{int(version)}")

    def registered_model(self, model: str) -> str | None:
        """The registered model's page in the MLflow UI."""
        return self._url(f"models/{quote(model, safe='')}")

    def run(self, run_id: str, artifact_path: str | None = None) -> str | None:
        """A run's page in the MLflow UI, opened on an artifact when one is named."""
        fragment = f"runs/{quote(run_id, safe='')}"
        if artifact_path:
            fragment += "/artifacts/" + quote(artifact_path, safe="/")
        return self._url(fragment)

    def evidence(self, ref: str) -> Link:
        """A link for one evidence reference: its run or version in MLflow where that is known."""
        run = _RUN_REF.match(ref)
        if run is not None:
            run_id, rest = run.group(1), run.group(2) or ""
            if rest.startswith("artifacts/"):
                return Link(
                    kind="artifact",
                    label=ref,
                    href=self.run(run_id, rest.removeprefix("artifacts/")),
                )
            return Link(kind="run", label=ref, href=self.run(run_id))
        version = _VERSION_REF.match(ref)
        if version is not None:
            return Link(
                kind="version",
                label=ref,
                href=self.version(version.group(1), int(version.group(2))),
            )
        return Link(kind="evidence", label=ref)

    def version_text(self, ref: str) -> tuple[str, int] | None:
        """``model/3`` or ``model/v3`` as (model, version), else None."""
        found = _VERSION_TEXT.match(ref)
        return (found.group(1), int(found.group(2))) if found else None
