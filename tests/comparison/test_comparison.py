"""The comparison of one review: each fact computed once, typed, or unavailable with the reason."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import comparison.comparison as comparison_module
from comparison import Comparison, PairedTables, Unavailable, dataset_overlaps, pair_eval_tables
from comparison._definitions import label_agreement
from policies.evaluator import evaluate_policies
from policies.loader import load_policy_text
from tools.evidence import DatasetInput, EvalTable, EvidenceBundle, RunEvidence, VersionEvidence


def _table(seed: int, n: int = 400) -> EvalTable:
    labels = np.random.default_rng(0).integers(0, 2, n)  # the same examples in every table
    rng = np.random.default_rng(seed)
    scores = np.clip(labels * 0.3 + rng.random(n) * 0.7, 0, 1)
    rows = [
        [f"r{i}", int(labels[i]), int(scores[i] > 0.5), float(scores[i]), ("a", "b")[i % 2]]
        for i in range(n)
    ]
    return EvalTable(
        path="eval/predictions.json",
        columns=["row_id", "label", "prediction", "score", "region"],
        rows=rows,
    )


def _version(
    version: int, *, table: EvalTable | None = None, datasets: list[DatasetInput] | None = None
) -> VersionEvidence:
    run_id = f"run{version}"
    return VersionEvidence(
        model="m",
        version=version,
        source=f"models:/m-{version}",
        run_id=run_id,
        run=RunEvidence(run_id=run_id, experiment_id="1", status="FINISHED", metrics={"auc": 0.8}),
        datasets=datasets or [],
        eval_table=table,
    )


def _bundle(candidate: VersionEvidence, baseline: VersionEvidence | None) -> EvidenceBundle:
    return EvidenceBundle(
        candidate=candidate, baseline=baseline, baseline_alias="champion", target_alias="champion"
    )


def test_each_fact_is_computed_once_per_comparison() -> None:
    facts = Comparison(_bundle(_version(2, table=_table(1)), _version(1, table=_table(2))))
    paired = facts.paired_tables()
    assert isinstance(paired, PairedTables)
    assert facts.paired_tables() is paired
    overall = facts.bootstrap("roc_auc", n_resamples=200)
    assert facts.bootstrap("roc_auc", n_resamples=200) is overall
    west = facts.bootstrap("roc_auc", segment=("region", "a"), n_resamples=200)
    assert not isinstance(west, Unavailable) and not isinstance(overall, Unavailable)
    assert west.n < overall.n
    assert facts.pipeline("candidate") is facts.pipeline("candidate")
    # A new comparison (a new review) gets the same answer; the bootstrap itself may come from the
    # process's bounded cache, which is keyed by the paired values, never by the review.
    again = Comparison(facts.bundle).bootstrap("roc_auc", n_resamples=200)
    assert again == overall


def _relabelled(table: EvalTable) -> EvalTable:
    return table.model_copy(update={"rows": [[r[0], 1 - r[1], *r[2:]] for r in table.rows]})


def _unordered(table: EvalTable) -> EvalTable:
    return EvalTable(path=table.path, columns=table.columns[1:], rows=[r[1:] for r in table.rows])


@pytest.mark.parametrize(
    ("candidate", "baseline"),
    [
        (_table(1), _table(2)),
        (_relabelled(_table(1)), _table(2)),
        (_table(1), _table(2).model_copy(update={"rows": _table(2).rows[::-1][:300]})),
        (_unordered(_table(1)), _unordered(_table(2))),
        (_unordered(_table(1)), _table(2)),
    ],
    ids=["same-examples", "labels-redefined", "baseline-subset", "row-order", "one-row-id"],
)
def test_rows_are_paired_once_for_the_bootstrap_and_the_label_agreement(
    candidate: EvalTable, baseline: EvalTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = _bundle(_version(2, table=candidate), _version(1, table=baseline))
    expected = (pair_eval_tables(bundle), label_agreement(bundle.baseline, bundle.candidate))
    calls: list[object] = []
    pair_rows = comparison_module.pair_rows

    def counted(a: EvalTable, b: EvalTable) -> object:
        calls.append((a.path, b.path))
        return pair_rows(a, b)

    monkeypatch.setattr(comparison_module, "pair_rows", counted)
    facts = Comparison(bundle)
    assert (facts.paired_tables(), facts.label_agreement()) == expected
    assert len(calls) == 1


@pytest.mark.parametrize(
    ("candidate", "baseline", "reason"),
    [
        (_version(2), _version(1, table=_table(2)), "m/2 has no per-example evaluation table"),
        (_version(2, table=_table(1)), None, "there is no baseline version"),
        (
            _version(2, table=_table(1)),
            _version(1),
            "the baseline m/1 has no per-example evaluation table",
        ),
    ],
    ids=["no-candidate-table", "no-baseline", "no-baseline-table"],
)
def test_unavailable_facts_say_why(
    candidate: VersionEvidence, baseline: VersionEvidence | None, reason: str
) -> None:
    facts = Comparison(_bundle(candidate, baseline))
    assert facts.paired_tables() == Unavailable(reason=reason)
    assert facts.bootstrap("roc_auc") == Unavailable(reason=reason)


def _inputs(source_type: str | None, *, same_digest: bool = False) -> list[DatasetInput]:
    return [
        DatasetInput(
            name="train",
            digest="d1",
            context="training",
            source="s3://bucket/loans.parquet",
            source_type=source_type,
        ),
        DatasetInput(
            name="eval",
            digest="d1" if same_digest else "d2",
            context="evaluation",
            source="s3://bucket/loans.parquet",
            source_type=source_type,
        ),
    ]


@pytest.mark.parametrize(
    ("datasets", "overlap"),
    [
        (_inputs("s3"), True),
        (_inputs(None), True),
        (_inputs("code"), False),
        (_inputs("CODE"), False),
        (_inputs("code", same_digest=True), True),
    ],
    ids=[
        "same-s3-source",
        "source-of-unknown-type",
        "code-source",
        "code-source-any-case",
        "digest",
    ],
)
def test_policies_judge_train_eval_overlap_one_way(
    datasets: list[DatasetInput], overlap: bool
) -> None:
    """The comparability check and the pipeline rule once disagreed: the check ignored a shared
    source of unknown type (failing open), the pipeline rule flagged a code source spelled
    "CODE". Both now read the comparison's one fact."""
    doc = {
        "apiVersion": "promogate/v1",
        "kind": "PromotionPolicy",
        "metadata": {"name": "overlap", "revision": 1},
        "match": {"model": "*"},
        "comparability": {"same_eval_dataset": "off", "train_eval_overlap": "forbid"},
        "pipeline": {"train_eval_overlap": "forbid"},
    }
    (policy,) = load_policy_text(yaml.safe_dump(doc), "overlap.yaml")
    bundle = _bundle(_version(2, datasets=datasets), _version(1, datasets=datasets))
    verdict = evaluate_policies([policy], bundle)
    statuses = {
        c.id: c.status
        for c in verdict.checks
        if c.id in ("comparability.train_eval_overlap", "pipeline.train_eval_overlap")
    }
    expected = "fail" if overlap else "pass"
    assert statuses == {
        "comparability.train_eval_overlap": expected,
        "pipeline.train_eval_overlap": expected,
    }
    assert bool(dataset_overlaps(datasets[:1], datasets[1:])) is overlap
