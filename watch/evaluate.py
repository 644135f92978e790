"""Evaluate one monitoring window against the reference: `evaluate_window` (pure, no I/O).

The window is judged on four things, each a list of checks (see `watch.report` for their ids):
per-feature drift (and within each segment value), the share of drifted features, drift of the
model's score, data quality, and realised metrics from the labels that have arrived. Below the
policy's sample floor (or label floor) a check is `skip`, never `ok`; a check that cannot be
computed is `error` and raises the policy's error level.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from typing import Literal

import pandas as pd  # type: ignore[import-untyped]

from policies.watch_rules import (
    DriftMethod,
    PerformanceRule,
    WatchAction,
    WatchLevel,
    WatchRules,
)
from tools.discovery import BUILTIN_METRIC_ALIASES
from tools.segments import segment_metric_key
from watch._performance import compare_metric, significant_drop
from watch._quality import missing_share_finding, out_of_range_finding, unseen_finding
from watch.drift import (
    DriftOutcome,
    categorical_drift,
    categorical_drift_from_profiles,
    choose_method,
    corrected_alpha,
    finite,
    numeric_drift,
    numeric_drift_from_profiles,
)
from watch.errors import WindowDataError
from watch.profile import (
    CategoricalProfile,
    DatasetProfile,
    NumericProfile,
    category_counts,
    numeric_values,
)
from watch.report import CheckKind, DriftEvidence, WatchCheck, WindowLevel, WindowReport
from watch.window import MonitoringWindow, Reference

__all__ = ["NON_FEATURE_COLUMNS", "evaluate_window", "watched_features"]

logger = logging.getLogger("promogate.watch")

NON_FEATURE_COLUMNS: frozenset[str] = frozenset({"label", "prediction", "score", "row_id"})
"""Columns of a sample or evaluation table that are never watched as features."""

_RANK: dict[str, int] = {"ok": 0, "watch": 1, "alert": 2}
Kind = Literal["numeric", "categorical"]


def watched_features(
    reference: Reference, window: MonitoringWindow, rules: WatchRules
) -> list[str]:
    """The policy's features, or every reference column but outputs, labels and segments."""
    if rules.features is not None:
        return list(rules.features)
    excluded = NON_FEATURE_COLUMNS | set(rules.segments) | {rules.prediction_drift.column}
    return sorted(c for c in reference.profile.columns if c not in excluded)


def _has(frame: pd.DataFrame | None, column: str) -> bool:
    return frame is not None and column in frame.columns


class _Judge:
    """The state of one evaluation: the inputs, the policy and the checks made so far."""

    def __init__(
        self,
        reference: Reference,
        window: MonitoringWindow,
        rules: WatchRules,
        promotion_metrics: Mapping[str, float],
    ) -> None:
        self.reference = reference
        self.window = window
        self.rules = rules
        self.promotion_metrics = promotion_metrics
        self.checks: list[WatchCheck] = []

    def add(
        self,
        id: str,
        kind: CheckKind,
        status: Literal["ok", "watch", "alert", "skip", "error"],
        message: str,
        **evidence: object,
    ) -> None:
        level: WatchLevel | None
        if status == "skip":
            level = None
        elif status == "error":
            level = self.rules.levels.error
        else:
            level = status
        self.checks.append(
            WatchCheck(id=id, kind=kind, status=status, level=level, message=message, **evidence)
        )

    def kind_of(self, feature: str, profile: NumericProfile | CategoricalProfile) -> Kind:
        if feature in self.rules.categorical:
            return "categorical"
        return profile.kind

    def drift_test(
        self,
        feature: str,
        kind: Kind,
        ref: pd.Series | NumericProfile | CategoricalProfile,
        cur: pd.Series | NumericProfile | CategoricalProfile,
        requested: DriftMethod,
        alpha: float,
    ) -> tuple[DriftOutcome, int, int, bool]:
        """Run one test: on raw series when both sides are series, else on profiles."""
        rules = self.rules.drift
        if isinstance(ref, pd.Series) and isinstance(cur, pd.Series):
            if kind == "numeric":
                r, c = numeric_values(ref), numeric_values(cur)
                method = choose_method(kind, min(r.size, c.size), rules, requested)
                return numeric_drift(r, c, method, rules, alpha), r.size, c.size, False
            ref_counts, cur_counts = category_counts(ref), category_counts(cur)
            n_r, n_c = sum(ref_counts.values()), sum(cur_counts.values())
            method = choose_method(kind, min(n_r, n_c), rules, requested)
            return categorical_drift(ref_counts, cur_counts, method, rules, alpha), n_r, n_c, False
        if isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
            if kind != "numeric":
                raise WindowDataError(
                    f"{feature!r} is categorical by the policy but only numeric profiles exist; "
                    "log a sample of the inputs to test it as categories"
                )
            method = choose_method(kind, min(ref.rows, cur.rows), rules, requested)
            outcome = numeric_drift_from_profiles(ref, cur, method, rules, alpha)
            return outcome, ref.rows, cur.rows, True
        if isinstance(ref, CategoricalProfile) and isinstance(cur, CategoricalProfile):
            method = choose_method(kind, min(ref.rows, cur.rows), rules, requested)
            outcome = categorical_drift_from_profiles(ref, cur, method, rules, alpha)
            return outcome, ref.rows, cur.rows, True
        raise WindowDataError(
            f"{feature!r} is profiled as {getattr(ref, 'kind', '?')} in the reference and as "
            f"{getattr(cur, 'kind', '?')} in the window"
        )

    def sides(
        self, column: str
    ) -> tuple[
        pd.Series | NumericProfile | CategoricalProfile,
        pd.Series | NumericProfile | CategoricalProfile,
    ]:
        """The raw columns when both sides logged a sample holding it, else the profiles."""
        ref_sample, cur_sample = self.reference.sample, self.window.sample
        if _has(ref_sample, column) and _has(cur_sample, column):
            assert ref_sample is not None and cur_sample is not None
            return ref_sample[column], cur_sample[column]
        return self.reference.profile.columns[column], self.window.profile.columns[column]

    def drift_check(
        self,
        check_id: str,
        kind_name: CheckKind,
        feature: str,
        kind: Kind,
        ref: pd.Series | NumericProfile | CategoricalProfile,
        cur: pd.Series | NumericProfile | CategoricalProfile,
        requested: DriftMethod,
        alpha: float,
        level_if_drifted: WatchLevel,
        segment: str | None = None,
    ) -> bool | None:
        """Add one drift check; whether it drifted (None when it could not be computed)."""
        try:
            outcome, n_r, n_c, approx = self.drift_test(feature, kind, ref, cur, requested, alpha)
        except WindowDataError as exc:
            self.add(check_id, kind_name, "error", f"{feature!r}: {exc}")
            return None
        evidence = DriftEvidence(
            feature=feature,
            column_kind=kind,
            method=outcome.method,
            statistic=finite(outcome.statistic),
            p_value=outcome.p_value,
            threshold=outcome.threshold,
            drifted=outcome.drifted,
            reference_rows=n_r,
            window_rows=n_c,
            segment=segment,
            approximate=approx,
        )
        where = f" in {segment}" if segment else ""
        if outcome.method in ("ks", "chi2"):
            figure = f"p={outcome.p_value:.3g} < {outcome.threshold:.3g}"
        else:
            figure = f"{outcome.method}={outcome.statistic:.3f} >= {outcome.threshold:.3g}"
            if outcome.p_value is not None:
                figure += f", p={outcome.p_value:.3g} against {alpha:.3g}"
        if outcome.drifted:
            level: WatchLevel = "alert" if outcome.severe else level_if_drifted
            self.add(
                check_id, kind_name, level, f"{feature!r} drifted{where} ({figure})", drift=evidence
            )
        else:
            self.add(check_id, kind_name, "ok", f"{feature!r} stable{where}", drift=evidence)
        return outcome.drifted

    # -- the checks ------------------------------------------------------------------------

    def drift_alpha(self, features: list[str], segment_tests: int) -> float:
        """One p-value threshold for every drift test of the window (features, score and
        features within segments): with Bonferroni, the window's family-wise error rate."""
        rules = self.rules
        ref_cols, cur_cols = self.reference.profile.columns, self.window.profile.columns
        testable = [f for f in features if f in ref_cols and f in cur_cols]
        score = rules.prediction_drift.column
        with_score = rules.prediction_drift.enabled and score in ref_cols and score in cur_cols
        tests = len(testable) + int(with_score) + segment_tests
        return corrected_alpha(rules.drift.p_value, tests, rules.drift.correction)

    def feature_drift(
        self, features: list[str], below_floor: bool, alpha: float
    ) -> tuple[list[str], int]:
        rules = self.rules
        ref_cols, cur_cols = self.reference.profile.columns, self.window.profile.columns
        drifted: list[str] = []
        tested = 0
        for feature in features:
            check_id = f"drift.feature.{feature}"
            if feature not in ref_cols:
                self.add(check_id, "feature_drift", "error", f"{feature!r} is not in the reference")
                continue
            if feature not in cur_cols:
                self.add(
                    check_id,
                    "feature_drift",
                    "error",
                    f"{feature!r} is missing from the window's inputs",
                )
                continue
            if below_floor:
                self.add(check_id, "feature_drift", "skip", self.floor_message())
                continue
            if cur_cols[feature].rows == 0:
                self.add(check_id, "feature_drift", "skip", f"{feature!r} has no present value")
                continue
            ref, cur = self.sides(feature)
            result = self.drift_check(
                check_id,
                "feature_drift",
                feature,
                self.kind_of(feature, ref_cols[feature]),
                ref,
                cur,
                rules.drift.methods.get(feature, rules.drift.method),
                alpha,
                rules.levels.feature_drift,
            )
            if result is not None:
                tested += 1
                if result:
                    drifted.append(feature)
        self.prediction_drift(below_floor, alpha)
        return drifted, tested

    def prediction_drift(self, below_floor: bool, alpha: float) -> None:
        rules = self.rules.prediction_drift
        if not rules.enabled:
            return
        column = rules.column
        ref_cols, cur_cols = self.reference.profile.columns, self.window.profile.columns
        if column not in ref_cols:
            self.add(
                "drift.prediction",
                "prediction_drift",
                "skip",
                f"the reference has no {column!r} column; log it with the reference to watch "
                "prediction drift",
            )
            return
        if column not in cur_cols:
            self.add(
                "drift.prediction",
                "prediction_drift",
                "error",
                f"the window has no {column!r} column: monitoring windows must carry the "
                "model's outputs",
            )
            return
        if below_floor:
            self.add("drift.prediction", "prediction_drift", "skip", self.floor_message())
            return
        ref, cur = self.sides(column)
        self.drift_check(
            "drift.prediction",
            "prediction_drift",
            column,
            self.kind_of(column, ref_cols[column]),
            ref,
            cur,
            rules.method,
            alpha,
            self.rules.levels.prediction_drift,
        )

    def dataset_drift(self, drifted: list[str], tested: int, below_floor: bool) -> float | None:
        if below_floor:
            self.add("drift.dataset", "dataset_drift", "skip", self.floor_message())
            return None
        if tested == 0:
            self.add("drift.dataset", "dataset_drift", "skip", "no feature could be tested")
            return None
        share = len(drifted) / tested
        threshold = self.rules.drift.dataset_share
        evidence = DriftEvidence(
            feature="*",
            column_kind="dataset",
            method="share",
            statistic=share,
            threshold=threshold,
            drifted=share >= threshold,
            reference_rows=self.reference.profile.rows,
            window_rows=self.window.profile.rows,
        )
        message = (
            f"{len(drifted)} of {tested} features drifted ({share:.0%}; limit {threshold:.0%})"
        )
        status = self.rules.levels.dataset_drift if evidence.drifted else "ok"
        self.add("drift.dataset", "dataset_drift", status, message, drift=evidence)
        return share

    def segment_plans(
        self, features: list[str], below_floor: bool
    ) -> tuple[list[tuple[str, str, pd.DataFrame, pd.DataFrame]], list[str]]:
        """The segment values large enough to test on both sides, and the features to test."""
        rules = self.rules
        ref_sample, cur_sample = self.reference.sample, self.window.sample
        plans: list[tuple[str, str, pd.DataFrame, pd.DataFrame]] = []
        for column in rules.segments:
            check_id = f"drift.segment.{column}"
            if below_floor:
                self.add(check_id, "segment_drift", "skip", self.floor_message())
                continue
            if ref_sample is None or column not in ref_sample.columns:
                self.add(
                    check_id,
                    "segment_drift",
                    "error",
                    f"segment drift by {column!r} needs a reference sample with that column",
                )
                continue
            if cur_sample is None or column not in cur_sample.columns:
                self.add(
                    check_id,
                    "segment_drift",
                    "error",
                    f"segment drift by {column!r} needs a window sample with that column",
                )
                continue
            ref_keys = ref_sample[column].map(str)
            cur_keys = cur_sample[column].map(str)
            for value in sorted(set(cur_keys.dropna())):
                ref_part = ref_sample[ref_keys == value]
                cur_part = cur_sample[cur_keys == value]
                if min(len(ref_part), len(cur_part)) < rules.min_segment_rows:
                    self.add(
                        f"drift.segment.{column}={value}",
                        "segment_drift",
                        "skip",
                        f"{column}={value}: {len(cur_part)} window and {len(ref_part)} "
                        f"reference rows; {rules.min_segment_rows} needed on each side",
                    )
                    continue
                plans.append((column, value, ref_part, cur_part))
        cols = [f for f in features if _has(ref_sample, f) and _has(cur_sample, f)]
        return plans, cols

    def segment_drift(
        self,
        plans: list[tuple[str, str, pd.DataFrame, pd.DataFrame]],
        cols: list[str],
        alpha: float,
    ) -> dict[str, list[str]]:
        rules = self.rules
        out: dict[str, list[str]] = {}
        ref_profiles = self.reference.profile.columns
        for column, value, ref_part, cur_part in plans:
            segment = f"{column}={value}"
            for feature in cols:
                if cur_part[feature].notna().sum() == 0:
                    continue
                drifted = self.drift_check(
                    f"drift.segment.{segment}.{feature}",
                    "segment_drift",
                    feature,
                    self.kind_of(feature, ref_profiles[feature]),
                    ref_part[feature],
                    cur_part[feature],
                    rules.drift.methods.get(feature, rules.drift.method),
                    alpha,
                    rules.levels.segment_drift,
                    segment=segment,
                )
                if drifted:
                    out.setdefault(segment, []).append(feature)
        return out

    def quality(self, features: list[str], below_floor: bool) -> None:
        rules = self.rules.quality
        level = self.rules.levels.quality
        ref_cols, cur_cols = self.reference.profile.columns, self.window.profile.columns
        cur_sample = self.window.sample
        for feature in features:
            if feature not in ref_cols or feature not in cur_cols:
                continue  # the drift check already reports the absent column as an error
            if below_floor:
                self.add(f"quality.missing.{feature}", "quality", "skip", self.floor_message())
                continue
            ref, cur = ref_cols[feature], cur_cols[feature]
            found = missing_share_finding(feature, ref, cur, rules)
            ev = found.evidence
            self.add(
                f"quality.missing.{feature}",
                "quality",
                level if found.exceeded else "ok",
                f"{feature!r} missing share {ev.window_value:.1%} (reference "
                f"{ev.reference_value:.1%})",
                quality=ev,
            )
            sample = (
                cur_sample[feature] if cur_sample is not None and feature in cur_sample else None
            )
            kind = self.kind_of(feature, ref)
            if kind == "categorical" and isinstance(ref, CategoricalProfile):
                if not isinstance(cur, CategoricalProfile) and sample is None:
                    continue
                cur_cat = (
                    cur
                    if isinstance(cur, CategoricalProfile)
                    else CategoricalProfile(rows=0, missing=0)
                )
                unseen = unseen_finding(feature, ref, cur_cat, sample, rules)
                if unseen is None:
                    self.add(
                        f"quality.unseen.{feature}",
                        "quality",
                        "skip",
                        f"the reference profile of {feature!r} folds rare categories together",
                    )
                    continue
                ev = unseen.evidence
                self.add(
                    f"quality.unseen.{feature}",
                    "quality",
                    level if unseen.exceeded else "ok",
                    f"{ev.window_value:.1%} of {feature!r} in categories the reference never "
                    f"had{': ' + ', '.join(map(repr, ev.examples)) if ev.examples else ''}",
                    quality=ev,
                )
            elif isinstance(ref, NumericProfile) and isinstance(cur, NumericProfile):
                found_range = out_of_range_finding(feature, ref, cur, sample, rules)
                if found_range is None:
                    continue
                ev = found_range.evidence
                self.add(
                    f"quality.range.{feature}",
                    "quality",
                    level if found_range.exceeded else "ok",
                    f"{ev.window_value:.1%} of {feature!r} outside the reference's range "
                    f"[{ref.quantiles[0]:.4g}, {ref.quantiles[-1]:.4g}]",
                    quality=ev,
                )

    def performance(self) -> int:
        rules = self.rules
        labelled = self.window.labelled
        if labelled is not None and "label" in labelled.columns:
            labelled = labelled[labelled["label"].notna()]
        n = 0 if labelled is None else len(labelled)
        for rule in rules.performance:
            check_id = f"performance.{rule.metric}"
            if labelled is None or n < rules.label_floor:
                self.add(
                    check_id,
                    "performance",
                    "skip",
                    f"{n} labelled rows so far; {rules.label_floor} needed for realised metrics",
                )
                continue
            self.metric_check(
                check_id,
                rule,
                labelled,
                self.reference.labelled,
                self.promoted(rule.metric),
            )
            for column in rule.segments:
                self.segment_metrics(rule.metric, column, labelled)
        return n

    def promoted(self, metric: str, key: Callable[[str], str] = str) -> float | None:
        """The promotion-time value of `metric` under its name or another spelling of it
        (`mlflow.models.evaluate` logs rmse as `root_mean_squared_error`, r2 as `r2_score`).

        Args:
            metric: The rule's metric.
            key: The metric key a name is logged under (a segment's key, say).
        """
        spellings = [g for g in BUILTIN_METRIC_ALIASES if metric in g]
        for name in dict.fromkeys([metric, *(n for g in spellings for n in g)]):
            value = self.promotion_metrics.get(key(name))
            if value is not None:
                return value
        return None

    def segment_metrics(self, metric: str, column: str, labelled: pd.DataFrame) -> None:
        rule = next(r for r in self.rules.performance if r.metric == metric)
        if column not in labelled.columns:
            self.add(
                f"performance.{metric}.{column}",
                "performance",
                "error",
                f"the window's labelled rows have no segment column {column!r}",
            )
            return
        ref_table = self.reference.labelled
        keys = labelled[column].map(str)
        ref_keys = (
            ref_table[column].map(str) if ref_table is not None and column in ref_table else None
        )
        plans: list[tuple[str, pd.DataFrame, pd.DataFrame | None, float | None, str]] = []
        for value in sorted(set(keys.dropna())):
            segment = f"{column}={value}"
            check_id = f"performance.{metric}.{segment}"
            part = labelled[keys == value]
            if len(part) < rule.min_segment_rows:
                self.add(
                    check_id,
                    "performance",
                    "skip",
                    f"{segment}: {len(part)} labelled rows; {rule.min_segment_rows} needed",
                )
                continue
            ref_part = None
            if ref_table is not None and ref_keys is not None:
                candidate = ref_table[ref_keys == value]
                if len(candidate) >= rule.min_segment_rows:
                    ref_part = candidate
            promoted = self.promoted(metric, functools.partial(segment_metric_key, column, value))
            if ref_part is None and promoted is None:
                self.add(
                    check_id,
                    "performance",
                    "skip",
                    f"{segment} has no promotion-time value of {metric!r} (too few reference "
                    "rows, or a segment new in production)",
                )
                continue
            plans.append((check_id, part, ref_part, promoted, segment))
        if rule.correction == "bonferroni" and len(plans) > 1:
            # Every segment value is one more chance of a chance drop, in every window.
            rule = rule.model_copy(update={"significance": rule.significance / len(plans)})
        for check_id, part, ref_part, promoted, segment in plans:
            self.metric_check(check_id, rule, part, ref_part, promoted, segment)

    def metric_check(
        self,
        check_id: str,
        rule: PerformanceRule,
        window: pd.DataFrame,
        reference: pd.DataFrame | None,
        promoted: float | None,
        segment: str | None = None,
    ) -> None:
        try:
            result = compare_metric(
                rule,
                window,
                reference,
                promoted,
                n_resamples=self.rules.n_resamples,
                seed=self.rules.seed,
                segment=segment,
            )
        except WindowDataError as exc:
            self.add(check_id, "performance", "error", str(exc))
            return
        if isinstance(result, str):
            self.add(check_id, "performance", "skip", result)
            return
        where = f" in {result.segment}" if result.segment else ""
        summary = (
            f"{result.metric}{where} {result.realised_value:.3f} vs {result.promotion_value:.3f} "
            f"at promotion (delta {result.delta:+.3f}, tolerance {result.max_drop:.3f}, "
            f"{result.method})"
        )
        # A drop within tolerance is never a finding; beyond it, only a drop significant at the
        # rule's level (Bonferroni-corrected over the segment values compared in this window)
        # raises the performance level: per-segment realised metrics on a few hundred labelled
        # rows would otherwise flag stable windows by chance.
        beyond = result.worsening > result.max_drop
        drop = "rise" if result.lower_is_better else "drop"
        if beyond and significant_drop(result):
            status: WatchLevel = self.rules.levels.performance
            summary += f": significant {drop} (at {result.significance:.3g})"
        elif beyond:
            status = self.rules.levels.performance_unconfirmed
            summary += f": {drop} not significant at {result.significance:.3g}"
        else:
            status = "ok"
        self.add(check_id, "performance", status, summary, metric=result)

    def floor_message(self) -> str:
        return (
            f"{self.window.profile.rows} rows in the window; the sample floor is "
            f"{self.rules.sample_floor}"
        )


def _frame_digest(frame: pd.DataFrame | None) -> str:
    if frame is None:
        return "-"
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes() + ",".join(map(str, frame.columns)).encode()).hexdigest()


def _profile_digest(profile: DatasetProfile) -> str:
    return hashlib.sha256(profile.model_dump_json().encode()).hexdigest()


def _digest(
    reference: Reference,
    window: MonitoringWindow,
    rules: WatchRules,
    promotion_metrics: Mapping[str, float],
) -> str:
    parts = {
        "reference": reference.digest
        or _profile_digest(reference.profile)
        + _frame_digest(reference.sample)
        + _frame_digest(reference.labelled),
        "window": window.digest
        or _profile_digest(window.profile)
        + _frame_digest(window.sample)
        + _frame_digest(window.labelled),
        "policy": rules.model_dump(mode="json"),
        "promotion": dict(sorted(promotion_metrics.items())),
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _level(checks: list[WatchCheck]) -> WindowLevel:
    levels = [c.level for c in checks if c.level is not None]
    if not levels:
        return "skip"
    return max(levels, key=lambda level: _RANK[level])


def evaluate_window(
    reference: Reference,
    window: MonitoringWindow,
    watch_policy: WatchRules,
    promotion_metrics: Mapping[str, float],
) -> WindowReport:
    """Judge one window: drift, data quality and realised metrics, each ok / watch / alert / skip.

    Args:
        reference: What the promotion decision rested on (profile, sample, evaluation table).
        window: The window's inputs and the labels that have arrived for it.
        watch_policy: The `watch:` section of the policy that applies to the model.
        promotion_metrics: Metric values at promotion (`recall`, and per segment
            `segment/<column>:<value>/<metric>`); used where the reference has no labelled rows.

    Returns:
        The report: every check with its evidence, the window's level (the highest level of its
        checks; `skip` when every check was skipped) and the actions the policy asks for.
    """
    rules = watch_policy
    judge = _Judge(reference, window, rules, promotion_metrics)
    features = watched_features(reference, window, rules)
    below_floor = window.profile.rows < rules.sample_floor
    plans, segment_features = judge.segment_plans(features, below_floor)
    alpha = judge.drift_alpha(features, len(plans) * len(segment_features))
    drifted, tested = judge.feature_drift(features, below_floor, alpha)
    share = judge.dataset_drift(drifted, tested, below_floor)
    segments = judge.segment_drift(plans, segment_features, alpha)
    judge.quality(features, below_floor)
    labelled_rows = judge.performance()
    level = _level(judge.checks)
    actions: list[WatchAction] = []
    if level == "alert":
        actions = list(rules.on_alert)
    elif level == "watch":
        actions = list(rules.on_watch)
    logger.info(
        "watch %s/%s window %s..%s: %s (%d checks, %d drifted features)",
        window.model,
        window.version,
        window.window_start.isoformat(),
        window.window_end.isoformat(),
        level,
        len(judge.checks),
        len(drifted),
    )
    return WindowReport(
        model=window.model,
        version=window.version,
        window_start=window.window_start,
        window_end=window.window_end,
        run_id=window.run_id,
        label_run_ids=list(window.label_run_ids),
        level=level,
        actions=actions,
        rollback=rules.rollback,
        rows=window.profile.rows,
        labelled_rows=labelled_rows,
        drifted_features=drifted,
        drift_share=share,
        drifted_segments=segments,
        checks=judge.checks,
        reference_source=reference.source,
        evidence_digest=_digest(reference, window, rules, promotion_metrics),
    )
