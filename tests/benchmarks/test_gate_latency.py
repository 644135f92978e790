"""The gate benchmark's policy revision: what the re-reviews change in the policies, never how
fast they are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.gate_latency import revise_policies
from policies.loader import load_policy_dir

EXAMPLES = Path(__file__).resolve().parents[2] / "policies" / "examples"


@pytest.mark.parametrize("ends_with_break", [True, False], ids=["line-break", "no-line-break"])
def test_a_revision_changes_every_policy_s_bytes_and_none_of_its_rules(
    tmp_path: Path, ends_with_break: bool
) -> None:
    shutil.copytree(EXAMPLES, tmp_path, dirs_exist_ok=True)
    if not ends_with_break:
        for path in tmp_path.glob("*.yaml"):
            path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    before = load_policy_dir(tmp_path)
    for mark in ("round 0, v2", "round 0, v3"):
        revise_policies(tmp_path, mark)
        after = load_policy_dir(tmp_path)
        assert [p.policy for p in after] == [p.policy for p in before]
        assert not {p.ref.sha256 for p in after} & {p.ref.sha256 for p in before}
        before = after
