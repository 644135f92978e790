"""The segment and significance tools, on the comparison's paired tables."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from comparison import (
    BOOTSTRAP_SEED,
    Unavailable,
    all_metrics,
    metric_ref,
)
from comparison import artifact_ref as run_artifact_ref
from tools.evidence import EvidenceBundle
from tools.segments import (
    parse_segment_metric_key,
    segment_metric_key,
    table_metric_name,
)

if TYPE_CHECKING:
    from langchain.tools import ToolRuntime

    pass

from agents._tool_base import (
    _MAX_RESAMPLES,
    ReviewContext,
    _checks_about,
    _error,
    _limit,
    _respond,
    _round,
)

__all__ = ["get_segment_metrics", "test_significance"]

# --------------------------------------------------------------------------------------------
# Segments and significance


def get_segment_metrics(
    column: str, metric: str, runtime: ToolRuntime[ReviewContext], limit: int = 20
) -> str:
    """Compare a metric per segment (e.g. per region) between candidate and baseline.

    Computed from the per-example evaluation tables when both exist, else read from segment metric
    keys "segment/<column>=<value>/<metric>". Segments are sorted worst change first.

    Args:
        column: The segment column, e.g. "region".
        metric: The metric, e.g. "recall", "precision", "accuracy", "f1" or "roc_auc".
        limit: At most this many segments (1-100).
    """
    ctx = runtime.context
    bundle = ctx.bundle
    table_metric = table_metric_name(metric)
    rows: list[dict[str, Any]] = []
    source = "metric_keys"
    evidence: list[str] = []
    paired = ctx.pairing()
    if table_metric is not None and not isinstance(paired, str):
        base_table, cand_table, _ = paired
        cand_found = ctx.facts.table_segment_metrics(
            "candidate", column, table_metric, paired_rows=True
        )
        base_found = ctx.facts.table_segment_metrics(
            "baseline", column, table_metric, paired_rows=True
        )
        for found in (cand_found, base_found):
            if isinstance(found, Unavailable):
                return _error(ctx, "get_segment_metrics", found.reason)
        assert not isinstance(cand_found, Unavailable) and not isinstance(base_found, Unavailable)
        cand, base = cand_found, base_found
        source = "eval_table"
        baseline = bundle.baseline
        assert baseline is not None  # pairing succeeded
        evidence = [
            run_artifact_ref(bundle.candidate, cand_table.path),
            run_artifact_ref(baseline, base_table.path),
        ]
        for seg in sorted(set(cand) | set(base)):
            c, b = cand.get(seg), base.get(seg)
            rows.append(
                {
                    "segment": seg,
                    "candidate": _round(c.value) if c else None,
                    "baseline": _round(b.value) if b else None,
                    "rows": c.rows if c else None,
                    "positives": c.positives if c else None,
                }
            )
    else:
        cand_keys = ctx.facts.key_segment_metrics("candidate", column, metric)
        base_keys = ctx.facts.key_segment_metrics("baseline", column, metric)
        if not cand_keys and not base_keys:
            return _error(
                ctx,
                "get_segment_metrics",
                f"no per-example tables to compute {metric!r} by {column!r} "
                f"({paired if isinstance(paired, str) else 'metric not computable from a table'}) "
                f"and no metric keys segment/{column}=<value>/{metric}",
                segment_columns=_segment_columns(bundle),
            )
        for seg in sorted(set(cand_keys) | set(base_keys)):
            c_key, b_key = cand_keys.get(seg), base_keys.get(seg)
            rows.append(
                {
                    "segment": seg,
                    "candidate": _round(c_key.value) if c_key else None,
                    "baseline": _round(b_key.value) if b_key else None,
                    "rows": c_key.rows if c_key else None,
                }
            )
            if c_key is not None:
                evidence.append(
                    metric_ref(bundle.candidate, segment_metric_key(column, seg, metric))
                )
    for row in rows:
        c_val, b_val = row["candidate"], row["baseline"]
        row["delta"] = _round(c_val - b_val) if c_val is not None and b_val is not None else None
    rows.sort(key=lambda r: (r["delta"] is None, r["delta"] if r["delta"] is not None else 0.0))
    shown = rows[: _limit(limit)]
    return _respond(
        ctx,
        "get_segment_metrics",
        {
            "column": column,
            "metric": metric,
            "source": source,
            "segments_total": len(rows),
            "segments": shown,
            "checks": _checks_about(
                ctx.verdict,
                lambda c: c.kind == "segment" and c.details.get("column", column) == column,
            )[:20],
            "evidence": evidence[:20],
        },
    )


def _segment_columns(bundle: EvidenceBundle) -> list[str]:
    columns: set[str] = set()
    table = bundle.candidate.eval_table
    if table is not None:
        columns.update(
            c for c in table.columns if c not in ("label", "prediction", "score", "row_id")
        )
    for key in all_metrics(bundle.candidate):
        parsed = parse_segment_metric_key(key)
        if parsed is not None:
            columns.add(parsed.column)
    return sorted(columns)


def test_significance(
    metric: str,
    runtime: ToolRuntime[ReviewContext],
    segment_column: str | None = None,
    segment_value: str | None = None,
    resamples: int = 2000,
) -> str:
    """Test whether the candidate is really worse than the baseline on a metric: paired bootstrap.

    Both versions must have per-example evaluation tables of the same examples. Optionally
    restricted to one segment. Returns the change, its 95% interval and the one-sided p-value
    for "the candidate is worse".

    Args:
        metric: "accuracy", "recall", "precision", "f1" or "roc_auc" (prefixes like "val_" are ok).
        segment_column: Restrict to one segment: its column, e.g. "region".
        segment_value: Restrict to one segment: its value, e.g. "west".
        resamples: Bootstrap resamples (100-5000).
    """
    ctx = runtime.context
    name = table_metric_name(metric)
    if name is None:
        return _error(
            ctx,
            "test_significance",
            f"{metric!r} cannot be recomputed from per-example results; supported: accuracy, "
            "recall, precision, f1, roc_auc",
        )
    if (segment_column is None) != (segment_value is None):
        return _error(ctx, "test_significance", "give both segment_column and segment_value")
    paired = ctx.pairing()
    if isinstance(paired, str):
        return _error(ctx, "test_significance", f"not testable: {paired}")
    base_table, cand_table, pairing = paired
    if segment_column is not None and (
        segment_column not in base_table.columns or segment_column not in cand_table.columns
    ):
        return _error(
            ctx, "test_significance", f"the tables have no segment column {segment_column!r}"
        )
    result = ctx.facts.bootstrap(
        name,
        segment=(segment_column, segment_value)
        if segment_column is not None and segment_value is not None
        else None,
        n_resamples=max(100, min(_MAX_RESAMPLES, resamples)),
        seed=BOOTSTRAP_SEED,
    )
    if isinstance(result, Unavailable):
        return _error(ctx, "test_significance", f"not testable: {result.reason}")
    baseline = ctx.bundle.baseline
    assert baseline is not None  # pairing succeeded
    return _respond(
        ctx,
        "test_significance",
        {
            "metric": name,
            "segment": f"{segment_column}={segment_value}" if segment_column else None,
            "paired_rows": result.n,
            "paired_on": pairing.method,
            "baseline_value": _round(result.value_a),
            "candidate_value": _round(result.value_b),
            "delta": _round(result.delta),
            "ci95": [_round(result.ci_low), _round(result.ci_high)],
            "p_value_candidate_worse": _round(result.p_value),
            "significant_at_0.05": result.p_value < 0.05,
            "evidence": [
                run_artifact_ref(ctx.bundle.candidate, cand_table.path),
                run_artifact_ref(baseline, base_table.path),
            ],
        },
    )
