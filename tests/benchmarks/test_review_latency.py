"""The review benchmarks on the real demo registry: what MLflow's own check catches, and latency.

The registry tests run each benchmark's core function once on the session's demo registry and
assert what the benchmarks report (verdicts, caught defects, phases), never how fast anything was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.mlflow_native import (
    ComparisonReport,
    compare_with_mlflow,
    native_thresholds,
    render_table,
)
from benchmarks.review_latency import (
    DEFAULT_POLICIES,
    PHASES,
    REGISTRY_RECORD,
    LatencyReport,
    measure_review_latency,
    prepare_registry,
)
from benchmarks.review_latency import render_table as render_latency_table
from policies.loader import LoadedPolicy, load_policy_dir
from scenarios.demo_registry import DemoRegistry


@pytest.fixture(scope="module")
def credit_policies() -> list[LoadedPolicy]:
    return [p for p in load_policy_dir(DEFAULT_POLICIES) if p.policy.name == "credit-risk"]


@pytest.fixture(scope="module")
def comparison(
    demo_registry: DemoRegistry, tmp_path_factory: pytest.TempPathFactory
) -> ComparisonReport:
    return compare_with_mlflow(demo_registry, tmp_path_factory.mktemp("mlflow-native"))


@pytest.fixture(scope="module")
def latency(demo_registry: DemoRegistry, tmp_path_factory: pytest.TempPathFactory) -> LatencyReport:
    scratch = tmp_path_factory.mktemp("review-latency")
    report = measure_review_latency(demo_registry, scratch, repeats=1, warmup=0)
    assert not (scratch / "review-latency-ledger.db").exists()
    return report


# --------------------------------------------------------------------------------------------
# Thresholds derived from the policy (no MLflow).

SEGMENT_METRICS = {
    "roc_auc": 0.80,
    "recall": 0.40,
    "segment/region:west/recall": 0.58,
    "segment/region:west/rows": 1149.0,
    "segment/region:west/roc_auc": 0.92,
    "segment/region:east/recall": 0.40,
}


@pytest.mark.parametrize(
    ("baseline", "segments", "expected"),
    [
        ({"roc_auc": 0.80}, False, {"roc_auc": 0.79}),
        ({"roc_auc": 0.755}, False, {"roc_auc": 0.75}),
        ({}, False, {"roc_auc": 0.75}),
        (SEGMENT_METRICS, False, {"roc_auc": 0.79}),
        (
            SEGMENT_METRICS,
            True,
            {
                "roc_auc": 0.79,
                "segment/region:east/recall": 0.37,
                "segment/region:west/recall": 0.55,
            },
        ),
    ],
    ids=[
        "champion-minus-max-drop",
        "min-is-stricter",
        "no-champion-value-keeps-min",
        "headline-ignores-segment-keys",
        "segments-recall-keys-only",
    ],
)
def test_native_thresholds_fold_the_tolerance_into_the_value_threshold(
    credit_policies: list[LoadedPolicy],
    baseline: dict[str, float],
    segments: bool,
    expected: dict[str, float],
) -> None:
    thresholds = native_thresholds(credit_policies, baseline, segments=segments)
    assert {t.metric: t.threshold for t in thresholds} == pytest.approx(expected)
    assert all(t.greater_is_better for t in thresholds)
    assert all(t.rule.startswith("credit-risk: ") for t in thresholds)


@pytest.mark.parametrize(
    ("repeats", "warmup", "needle"),
    [(0, 1, "repeats must be between 1 and 100"), (101, 1, "repeats"), (1, -1, "warmup")],
    ids=["no-repeats", "too-many-repeats", "negative-warmup"],
)
def test_latency_rejects_unbounded_settings(
    tmp_path: Path, repeats: int, warmup: int, needle: str
) -> None:
    registry = DemoRegistry(
        workdir=tmp_path,
        tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
        artifact_root=tmp_path.as_uri(),
        experiment_id="0",
        champion_version=1,
        champion_run_id="run",
        candidates=[],
        build_seconds=0.0,
    )
    with pytest.raises(ValueError, match=needle):
        measure_review_latency(registry, tmp_path, repeats=repeats, warmup=warmup)


# --------------------------------------------------------------------------------------------
# MLflow-native against promogate, on the demo registry.


@pytest.mark.slow
@pytest.mark.parametrize(
    ("version", "headline_passes", "segments_passes", "verdict"),
    [
        (2, True, True, "approve"),
        (3, True, False, "block"),
        (4, True, True, "block"),
        (5, True, True, "block"),
        (6, False, False, "block"),
    ],
    ids=[
        "v2-clean",
        "v3-segment-regression",
        "v4-other-eval-set",
        "v5-train-eval-overlap",
        "v6-window-cut",
    ],
)
def test_mlflow_native_against_promogate(
    comparison: ComparisonReport,
    version: int,
    headline_passes: bool,
    segments_passes: bool,
    verdict: str,
) -> None:
    row = next(r for r in comparison.rows if r.version == version)
    assert row.mlflow["headline"].passed is headline_passes, row.mlflow["headline"].failures
    assert row.mlflow["segments"].passed is segments_passes, row.mlflow["segments"].failures
    assert row.promogate_verdict == verdict == row.expected_verdict
    assert set(row.defect_checks) <= set(row.promogate_failing)
    for outcome in row.mlflow.values():
        # MLflow's exception names every metric that failed, and only those.
        assert len(outcome.failures) == len(outcome.failed_metrics)


@pytest.mark.slow
def test_mlflow_native_misses_what_metric_thresholds_cannot_see(
    comparison: ComparisonReport,
) -> None:
    rows = {r.version: r for r in comparison.rows}
    assert rows[3].mlflow["segments"].failed_metrics == ["segment/region:west/recall"]
    assert rows[6].mlflow["headline"].failed_metrics == ["roc_auc"]
    assert rows[6].mlflow["segments"].failed_metrics == ["roc_auc", "segment/region:east/recall"]
    assert (comparison.defects, comparison.caught_by_promogate) == (4, 4)
    assert comparison.caught_by_mlflow("headline") == 1
    assert comparison.caught_by_mlflow("segments") == 2
    assert comparison.false_alarms_mlflow("segments") == comparison.false_alarms_promogate == 0
    assert comparison.policies == ["credit-risk@1"]
    table = render_table(comparison)
    assert "MLflow `headline` 1/4, MLflow `+segments` 2/4, promogate 4/4" in table
    assert "| v3 | segment regression hidden by an overall gain | block | pass | fail: " in table


@pytest.mark.slow
def test_mlflow_native_thresholds_come_from_the_champion(
    comparison: ComparisonReport, demo_registry: DemoRegistry
) -> None:
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=demo_registry.tracking_uri)
    champion = client.get_run(demo_registry.champion_run_id).data.metrics
    checked = {t.metric: t.threshold for t in comparison.rows[0].mlflow["segments"].checked}
    assert checked["roc_auc"] == pytest.approx(max(0.75, champion["roc_auc"] - 0.01))
    regions = sorted(k for k in champion if k.startswith("segment/region:") and "/recall" in k)
    assert len(regions) == 4
    assert {k: checked[k] for k in regions} == pytest.approx(
        {k: champion[k] - 0.03 for k in regions}
    )


# --------------------------------------------------------------------------------------------
# Latency on the demo registry (content, not timings).


@pytest.mark.slow
def test_latency_reviews_every_candidate_in_every_phase(
    latency: LatencyReport, demo_registry: DemoRegistry
) -> None:
    assert latency.rounds == 1
    assert [v.version for v in latency.versions] == [c.version for c in demo_registry.candidates]
    for version in latency.versions:
        assert version.verdicts == [version.expected_verdict], version
        assert version.summary.reviews == 1
        assert set(version.summary.phases_median_ms) == set(PHASES)
        assert all(ms > 0 for ms in version.summary.phases_median_ms.values())
        assert version.summary.median_ms == version.summary.p90_ms
    assert latency.overall.reviews == len(demo_registry.candidates)
    table = render_latency_table(latency)
    assert table.count("\n") == len(latency.versions) + 2
    assert "| v3 | segment regression hidden by an overall gain | block | 1 |" in table


@pytest.mark.slow
def test_prepare_registry_reuses_a_recorded_build(
    demo_registry: DemoRegistry, tmp_path: Path
) -> None:
    (tmp_path / REGISTRY_RECORD).write_text(demo_registry.model_dump_json())
    assert prepare_registry(tmp_path, reuse=True) == demo_registry
    assert not (tmp_path / "mlflow.db").exists()
