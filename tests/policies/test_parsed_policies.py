"""Parsed policies are kept under their bytes and path: every change of a file's content, even
one of the same size written within the clock's granularity, is parsed afresh, and a directory
read with the cache gives what it gives without."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from policies.errors import PolicyValidationError
from policies.loader import PARSED_POLICIES, PARSED_POLICIES_BYTES, LoadedPolicy, load_policy_dir

POLICY = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: p, revision: 1}
    match: {model: "credit-*"}
    metrics: [{name: recall, min: 0.50}]
    """
)
SHARED = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: EvidenceMapping
    metric_aliases: {roc_auc: [auc]}
    """
)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    PARSED_POLICIES.clear()
    yield
    PARSED_POLICIES.resize(PARSED_POLICIES_BYTES)
    PARSED_POLICIES.clear()


def _same_size_same_mtime(path: Path, text: str) -> None:
    """Rewrite `path` with `text` (same length) and its old timestamps, as a fast editor might."""
    stat = path.stat()
    assert len(text.encode()) == stat.st_size
    path.write_text(text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


def _recall_min(loaded: list[LoadedPolicy]) -> float | None:
    return loaded[0].policy.metrics[0].min


def _aliases(loaded: list[LoadedPolicy]) -> dict[str, list[str]]:
    return loaded[0].policy.evidence.metric_aliases


CHANGES: list[tuple[str, str, str, Callable[[list[LoadedPolicy]], object], object]] = [
    ("policy threshold", "p.yaml", POLICY.replace("0.50", "0.60"), _recall_min, 0.6),
    (
        "policy revision",
        "p.yaml",
        POLICY.replace("revision: 1", "revision: 2"),
        lambda loaded: loaded[0].ref.revision,
        2,
    ),
    (
        "shared mapping",
        "evidence.yaml",
        SHARED.replace("[auc]", "[AUC]"),
        _aliases,
        {"roc_auc": ["AUC"]},
    ),
]


@pytest.mark.parametrize(
    ("file", "changed", "read", "expected"),
    [pytest.param(f, c, r, e, id=i) for i, f, c, r, e in CHANGES],
)
def test_a_changed_file_is_parsed_afresh(
    tmp_path: Path,
    file: str,
    changed: str,
    read: Callable[[list[LoadedPolicy]], object],
    expected: object,
) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "evidence.yaml").write_text(SHARED)
    first = load_policy_dir(tmp_path)
    again = load_policy_dir(tmp_path)
    assert again == first
    assert PARSED_POLICIES.stats().hits == 2  # the policy file and the shared mapping
    _same_size_same_mtime(tmp_path / file, changed)
    assert read(load_policy_dir(tmp_path)) == expected
    assert read(load_policy_dir(tmp_path)) != read(first)


def test_the_same_text_at_another_path_records_its_own_path(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "p.yaml").write_text(POLICY)
    (tmp_path / "b" / "p.yaml").write_text(POLICY)
    first = load_policy_dir(tmp_path / "a")
    second = load_policy_dir(tmp_path / "b")
    assert first[0].sha256 == second[0].sha256
    assert (first[0].path, second[0].path) == (
        str(tmp_path / "a" / "p.yaml"),
        str(tmp_path / "b" / "p.yaml"),
    )


def test_an_invalid_file_is_never_kept_and_fails_every_time(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY.replace("recall", "recall, mni: 1"))
    for _ in range(2):
        with pytest.raises(PolicyValidationError):
            load_policy_dir(tmp_path)
    assert PARSED_POLICIES.stats().entries == 0


def test_with_and_without_the_cache_the_examples_load_alike() -> None:
    import policies

    examples = Path(policies.__file__).parent / "examples"
    cached = [load_policy_dir(examples) for _ in range(2)]
    PARSED_POLICIES.resize(0)
    uncached = load_policy_dir(examples)
    assert cached[0] == cached[1] == uncached
    assert [lp.model_dump_json() for lp in cached[1]] == [lp.model_dump_json() for lp in uncached]
