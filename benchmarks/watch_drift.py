"""Post-promotion drift checks: `watch.evaluate_window` side by side with a plain PSI threshold.

    uv run python -m benchmarks.watch_drift [--stable 200] [--references 20] [--seeds 0,1,2]

Prints, in one run, for the watch (default `watch:` policy, segments judged by `segment`) and for
a plain check that alarms when any feature's PSI (10 reference-quantile bins) reaches 0.1 or 0.2:

- the false-alarm rate over many stable windows (goal: at most 5%), spread over independent
  references (each window is compared with one reference, as in production): reference and
  windows of 1000 rows (KS / chi-squared), and a reference of 5000 rows with windows of 2000
  (normalised Wasserstein / Jensen-Shannon on the whole window, KS / chi-squared within
  segments of about 500 rows);
- windows until the drifted column is named, for drift that grows window after window: a mean
  shift of one numeric feature, a moved category share, a shift confined to one segment (a
  quarter of the traffic), and a rising variance (median over repeats; `>N` when not detected
  within N windows);
- the cost of one window of 50 features and 100k rows (the watch's evaluation, the plain PSI
  check, and profiling the window as `log_monitoring_window` does).

The data has 40 numeric features (normal, log-normal, exponential) and 10 categorical ones.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from policies.watch_rules import WatchRules
from watch.drift import categorical_drift, numeric_drift
from watch.evaluate import evaluate_window
from watch.profile import category_counts, profile_frame
from watch.window import MonitoringWindow, Reference

__all__ = [
    "SCENARIOS",
    "FalseAlarms",
    "cluster_upper",
    "main",
    "make_frame",
    "psi_alarm",
    "watch_alarm",
    "watch_names",
]

N_NUMERIC = 40
N_CATEGORICAL = 10
SEGMENTS = ["s0", "s1", "s2", "s3"]
_CAT_PROBS = [np.array(p) / sum(p) for p in ([5, 3, 2], [4, 4, 1, 1], [6, 2, 1, 1], [3, 3, 3, 1])]
RULES = WatchRules.model_validate({"segments": ["segment"], "prediction_drift": {"enabled": False}})
T0 = datetime(2026, 1, 1, tzinfo=UTC)

Drift = Callable[[pd.DataFrame, int, np.random.Generator], pd.DataFrame]


def make_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """`n` rows of the stable world: 40 numeric features, 10 categorical, a segment column."""
    columns: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        kind = i % 3
        if kind == 0:
            columns[f"f{i}"] = rng.normal(10.0 + i, 1.0 + i % 5, n)
        elif kind == 1:
            columns[f"f{i}"] = rng.lognormal(1.0, 0.5, n)
        else:
            columns[f"f{i}"] = rng.exponential(2.0, n)
    for j in range(N_CATEGORICAL):
        probs = _CAT_PROBS[j % len(_CAT_PROBS)]
        columns[f"c{j}"] = rng.choice([f"v{k}" for k in range(len(probs))], size=n, p=probs)
    columns["segment"] = rng.choice(SEGMENTS, size=n)
    return pd.DataFrame(columns)


def _numeric_shift(frame: pd.DataFrame, step: int, rng: np.random.Generator) -> pd.DataFrame:
    frame["f0"] = frame["f0"] + 0.04 * step * frame["f0"].std()
    return frame


def _category_share(frame: pd.DataFrame, step: int, rng: np.random.Generator) -> pd.DataFrame:
    move = rng.random(len(frame)) < 0.015 * step
    frame.loc[move, "c0"] = "v2"
    return frame


def _segment_shift(frame: pd.DataFrame, step: int, rng: np.random.Generator) -> pd.DataFrame:
    inside = frame["segment"] == "s0"
    frame.loc[inside, "f3"] = frame.loc[inside, "f3"] + 0.1 * step * frame["f3"].std()
    return frame


def _variance(frame: pd.DataFrame, step: int, rng: np.random.Generator) -> pd.DataFrame:
    mean = frame["f6"].mean()
    frame["f6"] = mean + (frame["f6"] - mean) * (1.0 + 0.06 * step)
    return frame


SCENARIOS: dict[str, tuple[Drift, str]] = {
    "numeric mean shift (+0.04 sd per window)": (_numeric_shift, "f0"),
    "category share (+1.5% per window)": (_category_share, "c0"),
    "shift in one segment (+0.1 sd per window)": (_segment_shift, "f3"),
    "variance (+6% per window)": (_variance, "f6"),
}
"""Each scenario and the column it moves: detection means naming that column."""


def _window(frame: pd.DataFrame, index: int) -> MonitoringWindow:
    start = T0 + timedelta(days=index)
    return MonitoringWindow(
        model="bench",
        version="1",
        window_start=start,
        window_end=start + timedelta(days=1),
        profile=profile_frame(frame),
        sample=frame,
    )


def _reference(frame: pd.DataFrame) -> Reference:
    return Reference(model="bench", version="1", profile=profile_frame(frame), sample=frame)


def watch_alarm(reference: Reference, frame: pd.DataFrame, index: int = 0) -> tuple[bool, bool]:
    """(any level above ok, alert) for one window judged by `evaluate_window`."""
    report = evaluate_window(reference, _window(frame, index), RULES, {})
    return report.level in ("watch", "alert"), report.level == "alert"


def watch_names(reference: Reference, frame: pd.DataFrame, index: int, column: str) -> bool:
    """Whether the watch calls drift in `column`, over the whole window or within a segment."""
    report = evaluate_window(reference, _window(frame, index), RULES, {})
    within = any(column in features for features in report.drifted_segments.values())
    return column in report.drifted_features or within


def _psi_values(reference: pd.DataFrame, frame: pd.DataFrame) -> dict[str, float]:
    rules = RULES.drift
    out: dict[str, float] = {}
    for column in reference.columns:
        if column == "segment":
            continue
        if column.startswith("f"):
            outcome = numeric_drift(
                reference[column].to_numpy(float), frame[column].to_numpy(float), "psi", rules, 0.05
            )
        else:
            ref = category_counts(reference[column])
            cur = category_counts(frame[column])
            outcome = categorical_drift(ref, cur, "psi", rules, 0.05)
        out[column] = outcome.statistic
    return out


def psi_alarm(reference: pd.DataFrame, frame: pd.DataFrame, threshold: float) -> bool:
    """The plain check: any feature's PSI at or above `threshold`."""
    return max(_psi_values(reference, frame).values()) >= threshold


class FalseAlarms:
    """Alarms on stable windows, per reference: the windows of one reference share it, so they
    are not independent draws, and the interval treats references as the unit."""

    def __init__(self, per_reference: list[dict[str, int]], windows: list[int]) -> None:
        self.per_reference = per_reference
        self.windows = windows

    def rate(self, detector: str) -> float:
        return sum(r[detector] for r in self.per_reference) / sum(self.windows)

    def upper(self, detector: str, resamples: int = 4000, seed: int = 0) -> float:
        """The upper end of a 95% cluster-bootstrap interval (references resampled)."""
        return cluster_upper(
            [r[detector] for r in self.per_reference], self.windows, resamples, seed
        )


def cluster_upper(
    alarms: Sequence[int], windows: Sequence[int], resamples: int, seed: int
) -> float:
    """97.5th percentile of the alarm rate over references drawn with replacement."""
    rng = np.random.default_rng(seed)
    hits, sizes = np.asarray(alarms, dtype=float), np.asarray(windows, dtype=float)
    picks = rng.integers(0, len(hits), size=(resamples, len(hits)))
    rates = hits[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    return float(np.quantile(rates, 0.975))


def _false_alarms(
    ref_rows: int, window_rows: int, stable: int, seed: int, references: int = 1
) -> FalseAlarms:
    """Alarms of each detector on stable windows, the windows spread over `references`.

    Every window is compared with the same reference in production, so one reference gives the
    rate for that one draw of it; spreading the windows over several independent references
    estimates the rate the tests' level speaks of (over references and windows alike).
    """
    rng = np.random.default_rng(seed)
    detectors = ("watch: watch or alert", "watch: alert", "PSI >= 0.1", "PSI >= 0.2")
    per_reference = max(1, -(-stable // max(1, references)))
    counts: list[dict[str, int]] = []
    windows: list[int] = []
    for i in range(stable):
        if i % per_reference == 0:
            ref_frame = make_frame(ref_rows, rng)
            reference = _reference(ref_frame)
            counts.append(dict.fromkeys(detectors, 0))
            windows.append(0)
        frame = make_frame(window_rows, rng)
        any_level, alert = watch_alarm(reference, frame, i)
        psi = max(_psi_values(ref_frame, frame).values())
        for name, hit in zip(detectors, (any_level, alert, psi >= 0.1, psi >= 0.2), strict=True):
            counts[-1][name] += int(hit)
        windows[-1] += 1
    return FalseAlarms(counts, windows)


def _detection(
    drift: Drift,
    column: str,
    ref_rows: int,
    window_rows: int,
    repeats: int,
    horizon: int,
    seed: int,
) -> dict[str, list[int]]:
    """Windows until a detector first names `column`, one entry per repeat (horizon+1: missed).

    Counting the drifted column only keeps false alarms on other columns from passing for a
    detection.
    """
    found: dict[str, list[int]] = {"watch": [], "PSI >= 0.1": [], "PSI >= 0.2": []}
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        ref_frame = make_frame(ref_rows, rng)
        reference = _reference(ref_frame)
        first = dict.fromkeys(found, horizon + 1)
        for step in range(1, horizon + 1):
            frame = drift(make_frame(window_rows, rng), step, rng)
            if first["watch"] > horizon and watch_names(reference, frame, step, column):
                first["watch"] = step
            psi = _psi_values(ref_frame, frame)[column]
            for name, threshold in (("PSI >= 0.1", 0.1), ("PSI >= 0.2", 0.2)):
                if first[name] > horizon and psi >= threshold:
                    first[name] = step
            if all(v <= horizon for v in first.values()):
                break
        for name, value in first.items():
            found[name].append(value)
    return found


def _cost(rows: int, seed: int, repeats: int = 3) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    ref_frame = make_frame(rows, rng)
    frame = make_frame(rows, rng)
    reference = _reference(ref_frame)
    timings: dict[str, list[float]] = {"watch": [], "plain PSI": [], "profile": []}
    for i in range(repeats):
        t = time.perf_counter()
        profile_frame(frame)
        timings["profile"].append(time.perf_counter() - t)
        window = _window(frame, i)
        t = time.perf_counter()
        evaluate_window(reference, window, RULES, {})
        timings["watch"].append(time.perf_counter() - t)
        t = time.perf_counter()
        _psi_values(ref_frame, frame)
        timings["plain PSI"].append(time.perf_counter() - t)
    return {k: min(v) for k, v in timings.items()}


def _median(values: Sequence[int], horizon: int) -> str:
    middle = statistics.median(values)
    return f">{horizon}" if middle > horizon else f"{middle:g}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stable", type=int, default=200, help="stable windows per seed")
    parser.add_argument("--repeats", type=int, default=10, help="repeats per drift scenario")
    parser.add_argument(
        "--references",
        type=int,
        default=20,
        help="independent references the stable windows of one seed use",
    )
    parser.add_argument("--horizon", type=int, default=20, help="windows watched per repeat")
    parser.add_argument("--window-rows", type=int, default=1000)
    parser.add_argument("--cost-rows", type=int, default=100_000)
    parser.add_argument("--cost-repeats", type=int, default=3, help="best of this many")
    parser.add_argument("--seed", type=int, default=0, help="seed of detection and cost")
    parser.add_argument(
        "--seeds", default="0,1,2", help="comma-separated seeds of the false-alarm runs (pooled)"
    )
    args = parser.parse_args(argv)

    print(
        f"## False alarms over {args.stable} stable windows ({args.references} references, "
        f"seeds {args.seeds}; in brackets the upper end of the watch's 95% interval, references "
        "resampled)"
    )
    print(
        "\n| reference / window rows | watch: watch or alert | watch: alert | PSI >= 0.1 "
        "| PSI >= 0.2 |"
    )
    print("|---|---:|---:|---:|---:|")
    seeds = [int(s) for s in args.seeds.split(",")]
    for ref_rows, window_rows in ((1000, args.window_rows), (5000, 2000)):
        runs = [
            _false_alarms(ref_rows, window_rows, args.stable, seed, args.references)
            for seed in seeds
        ]
        alarms = FalseAlarms(
            [r for run in runs for r in run.per_reference], [w for run in runs for w in run.windows]
        )
        cells = [f"{alarms.rate(name):.1%}" for name in alarms.per_reference[0]]
        cells[0] += f" (<= {alarms.upper('watch: watch or alert'):.1%})"
        by_seed = ", ".join(f"{run.rate('watch: watch or alert'):.1%}" for run in runs)
        print(f"| {ref_rows} / {window_rows} | " + " | ".join(cells) + f" | by seed: {by_seed}")

    print(f"\n## Windows until detection (median of {args.repeats}; reference 1000 rows)")
    print("\n| drift | watch | PSI >= 0.1 | PSI >= 0.2 |")
    print("|---|---:|---:|---:|")
    for name, (drift, column) in SCENARIOS.items():
        found = _detection(
            drift, column, 1000, args.window_rows, args.repeats, args.horizon, args.seed
        )
        medians = [_median(found[k], args.horizon) for k in ("watch", "PSI >= 0.1", "PSI >= 0.2")]
        print(f"| {name} | " + " | ".join(medians) + " |")

    cost = _cost(args.cost_rows, args.seed, args.cost_repeats)
    print(f"\n## Cost of one window: {N_NUMERIC + N_CATEGORICAL} features, {args.cost_rows} rows")
    print("\n| step | seconds | ratio to plain PSI |")
    print("|---|---:|---:|")
    for name, seconds in cost.items():
        print(f"| {name} | {seconds:.2f} | {seconds / cost['plain PSI']:.1f}x |")


if __name__ == "__main__":
    main()
