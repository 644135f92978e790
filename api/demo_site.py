"""What `promogate demo DIR` leaves for `promogate serve --demo DIR`: a manifest of the demo site.

The demo writes it after reviewing its candidates; the server reads it to serve that registry,
ledger and policy directory, so a newcomer can click through the decisions the demo made.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["MANIFEST_NAME", "DemoManifest", "DemoSiteError", "read_demo_manifest"]

MANIFEST_NAME = "promogate-demo.json"


class DemoSiteError(Exception):
    """The directory holds no usable demo."""


class DemoManifest(BaseModel):
    """Where a demo's registry, ledger and policies are, and the decisions it made."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tracking_uri: str
    ledger_url: str
    policies_dir: Path
    decision_ids: list[str] = []

    def write(self, directory: Path) -> Path:
        """Write the manifest into the demo's directory; returns its path."""
        path = directory / MANIFEST_NAME
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        return path


def read_demo_manifest(directory: Path) -> DemoManifest:
    """The manifest `promogate demo` wrote into `directory`.

    Raises:
        DemoSiteError: There is none, or it cannot be read.
    """
    path = directory / MANIFEST_NAME
    try:
        return DemoManifest.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DemoSiteError(
            f"{str(directory)!r} holds no demo ({MANIFEST_NAME} is missing); "
            f"run `promogate demo {directory}` first"
        ) from None
    except (OSError, ValidationError) as exc:
        raise DemoSiteError(f"cannot read the demo manifest {str(path)!r}: {exc}") from exc
