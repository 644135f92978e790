"""The manifest of a model's artifact directory: every file's path, size and SHA-256.

Its digest ties a decision to the exact bytes that were reviewed: `POST /v1/promote` and the
gate's reuse path hash the artifacts again and compare, so a file changed, added or removed after
the review makes a new review necessary instead of reusing an approval.

The digest is the SHA-256 of the manifest's canonical JSON (paths sorted, POSIX separators), so it
does not depend on the order a directory is listed in or on file timestamps.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MANIFEST_MAX_FILES",
    "ArtifactManifest",
    "ManifestEntry",
    "ManifestTooLargeError",
    "build_manifest",
    "hash_file",
    "manifest_changes",
]

#: A model directory with more files than this is refused rather than partly hashed.
MANIFEST_MAX_FILES = 20_000
_CHUNK = 1024 * 1024


class ManifestTooLargeError(ValueError):
    """The directory holds more files than the manifest accepts."""


class ManifestEntry(BaseModel):
    """One file of the artifact directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str = Field(description="POSIX path relative to the artifact root.")
    size: int
    sha256: str


class ArtifactManifest(BaseModel):
    """Per-file hashes of a model's artifacts and their digest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    files: list[ManifestEntry] = Field(default_factory=list)
    digest: str

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def by_path(self) -> dict[str, ManifestEntry]:
        return {f.path: f for f in self.files}


def hash_file(path: Path) -> str:
    """SHA-256 of a file, read in 1 MiB chunks (memory stays flat for large weights)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _files(root: Path, exclude: frozenset[str]) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            rel = path.relative_to(root).as_posix()
            if rel in exclude:
                continue
            found.append(path)
            if len(found) > MANIFEST_MAX_FILES:
                raise ManifestTooLargeError(
                    f"{root.name!r} holds more than {MANIFEST_MAX_FILES} files; "
                    "the manifest refuses to hash a part of it"
                )
    return found


def build_manifest(root: Path, *, exclude: Iterable[str] = ()) -> ArtifactManifest:
    """Hash every regular file under `root`.

    Symbolic links are recorded by the bytes they point to only when they stay inside `root`;
    a link leaving it is hashed as its target path text, so it can neither hide nor import a file.

    Args:
        root: The local copy of the artifact directory.
        exclude: Relative POSIX paths left out (e.g. the signature file, which signs the rest).

    Raises:
        ManifestTooLargeError: More than `MANIFEST_MAX_FILES` files.
    """
    root = root.resolve()
    entries: list[ManifestEntry] = []
    for path in _files(root, frozenset(exclude)):
        rel = path.relative_to(root).as_posix()
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(root) or not target.is_file():
                link = os.readlink(path).encode()
                entries.append(
                    ManifestEntry(
                        path=rel, size=len(link), sha256="link:" + hashlib.sha256(link).hexdigest()
                    )
                )
                continue
        entries.append(ManifestEntry(path=rel, size=path.stat().st_size, sha256=hash_file(path)))
    entries.sort(key=lambda e: e.path)
    payload = [[e.path, e.size, e.sha256] for e in entries]
    text = json.dumps(payload, separators=(",", ":"))
    return ArtifactManifest(files=entries, digest=hashlib.sha256(text.encode()).hexdigest())


def manifest_changes(before: ArtifactManifest, after: ArtifactManifest) -> list[str]:
    """Human-readable differences: files changed, added and removed (empty when identical)."""
    old, new = before.by_path(), after.by_path()
    changes = [f"changed {p!r}" for p in sorted(old.keys() & new.keys()) if old[p] != new[p]]
    changes += [f"added {p!r}" for p in sorted(new.keys() - old.keys())]
    changes += [f"removed {p!r}" for p in sorted(old.keys() - new.keys())]
    return changes
