"""Segment rules: per-segment regressions, from tables or metric keys."""

from __future__ import annotations

import math
from typing import Any

from comparison import (
    Side,
    Unavailable,
    artifact_ref,
    metric_ref,
)
from policies._rule_base import (
    _EPS,
    _HOW_TO_LOG_TABLE,
    RunBase,
    _num,
)
from policies.result import (
    CheckResult,
)
from policies.schema import SegmentRule
from tools.segments import (
    SegmentMetric,
    TablePairing,
    segment_metric_key,
    table_metric_name,
)
from tools.significance import (
    BootstrapResult,
)

__all__ = ["SegmentChecks"]


class SegmentChecks(RunBase):
    """Segment rules: per-segment regressions, from tables or metric keys."""

    # segments ----------------------------------------------------------------------------------

    def _segment_stats(
        self, which: Side, rule: SegmentRule, *, paired_rows: bool = False
    ) -> tuple[dict[str, SegmentMetric], list[str], str | None]:
        """Per-segment values for one version: from its table, else from segment metric keys.

        Both come from the review's comparison. Returns the values by segment, evidence refs, and
        (when there are none) what is missing.

        Args:
            which: The candidate or the baseline.
            rule: The segment rule.
            paired_rows: Only the table rows paired with the other version's table.
        """
        facts = self.view.facts
        version = facts.side(which)
        assert version is not None  # callers ask for the baseline only when there is one
        problems: list[str] = []
        table = version.eval_table
        table_metric = table_metric_name(rule.metric)
        if table is not None and rule.by in table.columns and table_metric is not None:
            stats = facts.table_segment_metrics(
                which, rule.by, table_metric, paired_rows=paired_rows
            )
            if isinstance(stats, Unavailable):
                problems.append(stats.reason)
            else:
                return stats, [artifact_ref(version, table.path)], None
        elif table is not None and table_metric is None:
            problems.append(f"{rule.metric!r} cannot be computed from a per-example table")
        elif table is not None:
            problems.append(f"its evaluation table has no column {rule.by!r}")
        else:
            problems.append("it has no per-example evaluation table")
        from_keys = facts.key_segment_metrics(which, rule.by, rule.metric)
        if from_keys:
            refs = [
                metric_ref(version, segment_metric_key(rule.by, s, rule.metric)) for s in from_keys
            ]
            return from_keys, refs, None
        problems.append(f"no metric keys {segment_metric_key(rule.by, '<value>', rule.metric)!r}")
        return {}, [], "; ".join(problems)

    def _segment_checks(self, rule: SegmentRule) -> list[CheckResult]:
        base_id = f"segments.{rule.by}.{rule.metric}"
        c = self.candidate
        how = (
            f"{_HOW_TO_LOG_TABLE}; or log segment metrics as "
            f"mlflow.log_metric('segment/{rule.by}:<value>/{rule.metric}', v) with row counts "
            f"under 'segment/{rule.by}:<value>/rows'"
        )
        cand_stats, cand_refs, cand_problem = self._segment_stats("candidate", rule)
        if not cand_stats:
            return [
                self.check(
                    base_id,
                    "segment",
                    "error",
                    f"{c.ref} has no {rule.metric} per {rule.by!r} segment: {cand_problem}",
                    how_to_fix=how,
                )
            ]
        b = self.baseline.version
        if b is None:
            return [self._no_baseline(base_id, "segment", f"{rule.metric} per {rule.by!r}")]
        base_stats, base_refs, base_problem = self._segment_stats("baseline", rule)
        if not base_stats:
            return [
                self.check(
                    base_id,
                    "segment",
                    self.on_missing,
                    f"the baseline {b.ref} has no {rule.metric} per {rule.by!r} segment "
                    f"({base_problem}); not checked (baseline.on_missing: "
                    f"{self.policy.baseline.on_missing})",
                    how_to_fix=how,
                )
            ]
        paired = False
        pairing = self.view.pairing()
        from_tables = all(
            s.source == "eval_table" for s in [*cand_stats.values(), *base_stats.values()]
        )
        if isinstance(pairing, TablePairing) and from_tables:
            # Compare both models on the very same rows, so that the difference is the models'.
            base_stats, _, _ = self._segment_stats("baseline", rule, paired_rows=True)
            cand_stats, _, _ = self._segment_stats("candidate", rule, paired_rows=True)
            paired = True
        out: list[CheckResult] = []
        for seg in sorted(set(cand_stats) | set(base_stats)):
            out.append(
                self._segment_check(
                    rule,
                    seg,
                    cand_stats.get(seg),
                    base_stats.get(seg),
                    paired,
                    cand_refs + base_refs,
                )
            )
        return out

    def _segment_check(
        self,
        rule: SegmentRule,
        seg: str,
        cand: SegmentMetric | None,
        base: SegmentMetric | None,
        paired: bool,
        refs: list[str],
    ) -> CheckResult:
        id = f"segments.{rule.by}.{rule.metric}.{seg}"
        label = f"{rule.metric} for {rule.by}={seg}"
        if base is None:
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: the baseline has no value for this segment (a new segment)",
                observed=cand.value if cand else None,
                evidence=refs,
            )
        if cand is None:
            return self.check(
                id,
                "segment",
                "error",
                f"{label}: the baseline has it ({_num(base.value)}) but {self.candidate.ref} has "
                "no value for this segment",
                baseline=base.value,
                evidence=refs,
                how_to_fix="evaluate the candidate on the same segments as the baseline",
            )
        known_rows = [r for r in (cand.rows, base.rows) if r is not None]
        rows = min(known_rows) if known_rows else None
        details: dict[str, Any] = {
            "column": rule.by,
            "segment": seg,
            "rows": rows,
            "rows_candidate": cand.rows,
            "rows_baseline": base.rows,
            "positives_candidate": cand.positives,
            "positives_baseline": base.positives,
            "source_candidate": cand.source,
            "source_baseline": base.source,
            "paired": paired,
        }
        if rows is None:
            details["note"] = (
                f"row count unknown; log 'segment/{rule.by}:{seg}/rows' so min_rows can apply"
            )
        if rows is not None and rows < rule.min_rows:
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: only {rows} rows, fewer than min_rows {rule.min_rows}; "
                "too small to judge",
                observed=cand.value,
                baseline=base.value,
                threshold=rule.max_drop,
                details=details,
                evidence=refs,
            )
        if math.isnan(cand.value) or math.isnan(base.value):
            return self.check(
                id,
                "segment",
                "skip",
                f"{label}: the metric is undefined in this segment (e.g. no positive labels)",
                details=details,
                evidence=refs,
            )
        delta = cand.value - base.value
        lower = rule.prefers_lower
        drop = delta if lower else -delta  # positive means worse
        details["lower_is_better"] = lower
        message = (
            f"{label}: {_num(cand.value)} vs baseline {_num(base.value)}, "
            + ("unchanged" if delta == 0 else f"{'down' if delta < 0 else 'up'} {_num(abs(delta))}")
            + (f" on {rows} rows" if rows is not None else "")
        )
        fields: dict[str, Any] = {
            "observed": cand.value,
            "baseline": base.value,
            "threshold": rule.max_drop,
            "delta": delta,
            "details": details,
            "evidence": refs,
        }
        if drop <= rule.max_drop + _EPS:
            return self.check(
                id, "segment", "pass", f"{message}, within max_drop {_num(rule.max_drop)}", **fields
            )
        message = f"{message}, beyond max_drop {_num(rule.max_drop)}"
        test: BootstrapResult | str | None = None
        if rule.significance is not None:
            table_metric = table_metric_name(rule.metric)
            if not paired or table_metric is None:
                pairing = self.view.pairing()
                test = (
                    pairing
                    if isinstance(pairing, str)
                    else "the segment values come from metric keys, not paired per-example tables"
                )
            else:
                test = self.view.bootstrap(table_metric, rule.by, seg)
        status, message, fields = self._judge_exceeded(message, rule.significance, test, fields)
        return self.check(id, "segment", status, message, **fields)
