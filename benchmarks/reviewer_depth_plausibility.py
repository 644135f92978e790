"""Reviewer depth: plausibility questions on good news, beside MLflow's native threshold check.

On the good-news registry (`scenarios.plausibility_registry`: a leaked outcome column, a large
honest gain from more data, retrains with new seeds, a pickled model), in the same run::

    uv run python -m benchmarks.reviewer_depth_plausibility [--workdir DIR] [--repeats N]

1. **MLflow-native**: `mlflow.validate_evaluation_results` with the thresholds of the policy's
   `metrics` rules (ROC AUC at least 0.70, at most 0.02 below the champion), as
   `benchmarks.mlflow_native.validate_natively` derives them.
2. **promogate, questions off**: the review (gather, evaluate, offline investigation, decide) with
   `plausibility: {enabled: false}`.
3. **promogate, questions on**: the same review with the default plausibility settings (plus the
   one skops type gradient boosting needs, so importances can be read).

Latency is the median of `--repeats` reviews of each candidate, with and without the questions;
the difference is what reading the version history and both models' importances, and asking the
questions, adds to a review.

Like `api/`, this module sits on top of the packages it measures and nothing imports it.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from benchmarks.mlflow_native import validate_natively
from policies.decision import Decision
from policies.loader import LoadedPolicy, load_policy_text
from scenarios import PLAUSIBILITY_SCENARIOS, PlausibilityScenario, build_plausibility_registry

__all__ = ["ScenarioRow", "main", "policies_for", "run"]

_POLICY = """\
apiVersion: promogate/v1
kind: PromotionPolicy
metadata: {{name: fraud-scoring, revision: 1}}
match: {{model: "fraud-*"}}
metrics: [{{name: roc_auc, min: 0.7, max_drop: 0.02}}]
plausibility: {plausibility}
"""


def policies_for(questions: bool) -> list[LoadedPolicy]:
    """The benchmark's policy, with the plausibility questions on or off."""
    setting = (
        "{skops_trusted_types: [sklearn.tree._tree.Tree]}" if questions else "{enabled: false}"
    )
    return load_policy_text(textwrap.dedent(_POLICY.format(plausibility=setting)), "fraud.yaml")


class ScenarioRow(BaseModel):
    """One candidate: what MLflow's check and both reviews concluded, and how long they took."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: str
    ref: str
    expected: str
    mlflow_passed: bool
    mlflow_failures: list[str]
    verdict_off: str
    verdict_on: str
    reasons_on: list[str]
    seconds_off: float
    seconds_on: float
    mlflow_seconds: float


def _review(uri: str, scenario: PlausibilityScenario, policies: list[LoadedPolicy]) -> Decision:
    from mlflow import MlflowClient

    from agents.offline_investigator import OfflineInvestigator
    from review import decide, evaluate_evidence, gather_evidence

    client = MlflowClient(uri, uri)
    started = time.perf_counter()
    bundle = gather_evidence(client, scenario.model, scenario.version, policies=policies)
    return decide(
        evaluate_evidence(bundle, policies),
        investigator=OfflineInvestigator(),
        target_alias="champion",
        created_at=datetime.now(UTC),
        started=started,
    )


def _timed(
    uri: str, scenario: PlausibilityScenario, policies: list[LoadedPolicy], repeats: int
) -> tuple[Decision, float]:
    seconds: list[float] = []
    decision: Decision | None = None
    for _ in range(repeats):
        started = time.perf_counter()
        decision = _review(uri, scenario, policies)
        seconds.append(time.perf_counter() - started)
    assert decision is not None
    return decision, statistics.median(seconds)


def _short(reason: str) -> str:
    _, _, rest = reason.partition(": ")
    return rest if len(rest) <= 160 else rest[:157] + "..."


def run(workdir: Path, repeats: int) -> list[ScenarioRow]:
    """Build the registry under `workdir` and compare every scenario."""
    from mlflow import MlflowClient

    registry = build_plausibility_registry(workdir)
    client = MlflowClient(registry.tracking_uri, registry.tracking_uri)
    off, on = policies_for(False), policies_for(True)
    # One unmeasured review loads the libraries, so the first scenario is not charged for them.
    _review(registry.tracking_uri, PLAUSIBILITY_SCENARIOS[0], on)
    rows: list[ScenarioRow] = []
    for scenario in PLAUSIBILITY_SCENARIOS:
        native = validate_natively(
            client, scenario.model, scenario.version, off, thresholds="headline"
        )
        without, seconds_off = _timed(registry.tracking_uri, scenario, off, repeats)
        with_q, seconds_on = _timed(registry.tracking_uri, scenario, on, repeats)
        rows.append(
            ScenarioRow(
                title=scenario.title,
                ref=f"{scenario.model}/{scenario.version}",
                expected=scenario.expected_verdict,
                mlflow_passed=native.passed,
                mlflow_failures=native.failures,
                verdict_off=without.verdict,
                verdict_on=with_q.verdict,
                reasons_on=[_short(r) for r in with_q.reasons if r != "every applied check passed"],
                seconds_off=seconds_off,
                seconds_on=seconds_on,
                mlflow_seconds=native.seconds,
            )
        )
    return rows


def render(rows: Sequence[ScenarioRow], repeats: int) -> str:
    """A Markdown table of the rows, then the latency summary."""
    lines = [
        "| Scenario | Candidate | Expected | MLflow native | promogate, questions off "
        "| promogate, questions on | Reasons (questions on) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        native = "pass" if r.mlflow_passed else "fail: " + "; ".join(r.mlflow_failures)
        reasons = "<br>".join(r.reasons_on) or "every applied check passed"
        lines.append(
            f"| {r.title} | {r.ref} | {r.expected} | {native} | {r.verdict_off} "
            f"| **{r.verdict_on}** | {reasons} |"
        )
    lines += [
        "",
        "| Candidate | review, questions off (s) | questions on (s) | added (s) | ratio "
        "| MLflow native (s) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.ref} | {r.seconds_off:.2f} | {r.seconds_on:.2f} "
            f"| {r.seconds_on - r.seconds_off:+.2f} | {r.seconds_on / r.seconds_off:.2f}x "
            f"| {r.mlflow_seconds:.2f} |"
        )
    off = statistics.median(r.seconds_off for r in rows)
    on = statistics.median(r.seconds_on for r in rows)
    correct = sum(r.verdict_on == r.expected for r in rows)
    lines += [
        "",
        f"Median review: {off:.2f} s without the questions, {on:.2f} s with them "
        f"({on / off:.2f}x; median of {repeats} reviews per candidate). Verdicts as expected with "
        f"the questions: {correct}/{len(rows)}; MLflow-native caught "
        f"{sum(not r.mlflow_passed for r in rows if r.expected != 'approve')} of "
        f"{sum(r.expected != 'approve' for r in rows)} suspicious candidates.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the comparison and print the Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
        rows = run(args.workdir, max(1, args.repeats))
    else:
        with tempfile.TemporaryDirectory(prefix="promogate-plausibility-") as tmp:
            rows = run(Path(tmp), max(1, args.repeats))
    print(render(rows, max(1, args.repeats)))


if __name__ == "__main__":
    main()
