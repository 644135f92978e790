"""The artifact manifest digest changes with any file and with nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from tools.artifact_manifest import build_manifest, manifest_changes


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "MLmodel").write_text("flavors: {}\n")
    (root / "sub" / "weights.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    return root


def test_digest_is_stable_and_ignores_timestamps(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    first = build_manifest(root)
    os.utime(root / "MLmodel", (1, 1))
    assert build_manifest(root) == first
    assert [f.path for f in first.files] == ["MLmodel", "sub/weights.bin"]


def test_changes_are_listed(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    before = build_manifest(root)
    (root / "MLmodel").write_text("flavors: {x: {}}\n")
    (root / "new.txt").write_text("n")
    (root / "sub" / "weights.bin").unlink()
    after = build_manifest(root)
    assert after.digest != before.digest
    assert manifest_changes(before, after) == [
        "changed 'MLmodel'",
        "added 'new.txt'",
        "removed 'sub/weights.bin'",
    ]


def test_symlink_leaving_the_directory_is_hashed_as_a_link(tmp_path: Path) -> None:
    root = _tree(tmp_path / "a")
    (tmp_path / "outside.txt").write_text("secret")
    (root / "link").symlink_to(tmp_path / "outside.txt")
    entry = build_manifest(root).by_path()["link"]
    assert entry.sha256.startswith("link:")
