"""The evidence bundle's digest: the SHA-256 of its whole canonical JSON, however it is computed."""

from __future__ import annotations

import pytest

from tools.evidence import (
    _TABLE_SLOT,
    EvalTable,
    EvidenceBundle,
    VersionEvidence,
    canonical_digest,
)


def _table(labels: list[int], *, segment: str = "north") -> EvalTable:
    return EvalTable(
        path="eval/predictions.json",
        columns=["row_id", "label", "score", "region"],
        rows=[[f"r{i}", label, 0.25 + i / 100, segment] for i, label in enumerate(labels)],
    )


def _version(version: int, table: EvalTable | None, **fields: object) -> VersionEvidence:
    return VersionEvidence(model="credit-risk", version=version, eval_table=table, **fields)


SHARED = _table([1, 0, 1, 1])

BUNDLES = {
    "both tables": EvidenceBundle(
        candidate=_version(2, _table([0, 0, 1])), baseline=_version(1, SHARED)
    ),
    "one shared table on both sides": EvidenceBundle(
        candidate=_version(2, SHARED), baseline=_version(1, SHARED)
    ),
    "candidate table only": EvidenceBundle(candidate=_version(2, _table([1]))),
    "baseline table only": EvidenceBundle(
        candidate=_version(2, None), baseline=_version(1, SHARED)
    ),
    "no table": EvidenceBundle(candidate=_version(2, None), baseline=_version(1, None)),
    "evidence quoting the placeholder": EvidenceBundle(
        candidate=_version(
            2,
            _table([1, 0]),
            description=f'"{_TABLE_SLOT}-candidate"',
            tags={"note": f"{_TABLE_SLOT}-baseline"},
        ),
        baseline=_version(1, _table([0], segment=f'"{_TABLE_SLOT}-candidate"')),
    ),
    "text needing escapes": EvidenceBundle(
        candidate=_version(2, _table([1], segment='quote " backslash \\ é \u2028 \x00'))
    ),
}


@pytest.mark.parametrize("bundle", list(BUNDLES.values()), ids=list(BUNDLES))
def test_the_digest_is_that_of_the_whole_canonical_dump(bundle: EvidenceBundle) -> None:
    assert bundle.digest == canonical_digest(bundle.model_dump(mode="json"))


def test_a_copy_with_another_table_has_another_digest() -> None:
    bundle = BUNDLES["both tables"]
    assert bundle.baseline is not None
    other = bundle.model_copy(
        update={"baseline": bundle.baseline.model_copy(update={"eval_table": _table([0, 0, 0, 0])})}
    )
    assert other.digest != bundle.digest
    assert other.digest == canonical_digest(other.model_dump(mode="json"))


def test_bundles_sharing_a_table_digest_their_own_evidence() -> None:
    first = EvidenceBundle(candidate=_version(2, _table([1, 1])), baseline=_version(1, SHARED))
    second = EvidenceBundle(candidate=_version(3, _table([1, 1])), baseline=_version(1, SHARED))
    assert first.digest != second.digest
    for bundle in (first, second):
        assert bundle.digest == canonical_digest(bundle.model_dump(mode="json"))
