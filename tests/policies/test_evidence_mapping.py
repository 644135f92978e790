"""The evidence mapping in policies and the one a policy directory shares."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from policies.errors import PolicyValidationError
from policies.evidence_mapping import applicable_mapping, metric_names_for
from policies.loader import load_policy_dir

POLICY = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: p, revision: 1}
    match: {model: "credit-*"}
    metrics: [{name: recall, min: 0.5}]
    evidence:
      require: [eval_table]
      table: {columns: {label: y}}
    """
)
SHARED = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: EvidenceMapping
    table: {paths: ["reports/*.csv"], columns: {label: target, score: proba}}
    segment_keys: ["{metric}_{column}_{value}"]
    metric_aliases: {roc_auc: [auc]}
    """
)


def test_policies_inherit_the_directory_mapping_and_their_own_fields_win(
    tmp_path: Path,
) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "evidence.yaml").write_text(SHARED)
    loaded = load_policy_dir(tmp_path)
    assert [lp.name for lp in loaded] == ["p"]
    evidence = loaded[0].policy.evidence
    assert evidence.require == ["eval_table"]
    assert evidence.table is not None and evidence.table.columns.label == "y"
    assert evidence.segment_keys == ["{metric}_{column}_{value}"]
    mapping = applicable_mapping(loaded, "credit-risk")
    assert mapping.metric_aliases == {"roc_auc": ["auc"]}
    assert applicable_mapping(loaded, "other").is_empty()
    assert metric_names_for(loaded, "credit-risk") == ["recall"]


def test_a_broken_directory_mapping_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(POLICY)
    (tmp_path / "evidence.yaml").write_text(SHARED.replace("segment_keys", "segment_kyes"))
    with pytest.raises(PolicyValidationError, match=r"evidence\.yaml:4:1: segment_kyes"):
        load_policy_dir(tmp_path)
