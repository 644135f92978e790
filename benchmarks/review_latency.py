"""Review latency on the demo registry: median and p90 of repeated reviews, split into phases.

Builds the demo registry (`scenarios.demo_registry`), or reuses one a previous run built,
reviews every candidate once to warm up (imports, database connections), then reviews each
candidate `repeats` more times and prints the median and p90 per version and overall::

    uv run python -m benchmarks.review_latency [--workdir DIR] [--reuse] [--repeats N]

Every review is timed twice, one after the other:

- end to end, through `review.ReviewService.review` itself with tag publishing off: load the
  policy directory, gather, evaluate, investigate, decide, append the decision to the ledger;
- in phases, calling the same steps `ReviewService.review` runs, in the same order: policies (load
  the directory), evidence (`gather_evidence`: both versions' evidence, then the version history
  and importances the plausibility questions read), evaluation (`evaluate_policies`),
  investigation (the offline investigator), decision (`compose_decision`) and ledger
  (`Ledger.append_decision`).

Both paths must reach the verdict the demo expects; a mismatch is reported, not hidden. Every
review builds its own `comparison.Comparison`, so each one is timed as the first review of its
version (the comparison still serves the second asker within a review). Decisions go to a
throwaway SQLite ledger; nothing is written back to MLflow.

Bounded in count (`repeats` rounds of 5 candidates) and in time (`--max-seconds`: no new round
starts after it, and at least one timed round always runs).

This module sits on top of the packages it measures: it imports `review`, `agents`, `policies`,
`ledger`, `tools` and `demo`, and nothing imports it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, Literal, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import policies as policies_package
from agents.offline_investigator import OfflineInvestigator
from benchmarks._mlflow_logging import quiet_mlflow
from comparison import Comparison
from evals.errors import EvalError
from ledger.store import Ledger
from policies.decision import Decision
from policies.evaluator import evaluate_policies
from policies.loader import load_policy_dir
from review import ReviewConfig, ReviewService, compose_decision, gather_evidence
from scenarios.demo_registry import CHAMPION_ALIAS, DemoRegistry, build_demo_registry
from tools.errors import ToolError

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = [
    "DEFAULT_POLICIES",
    "PHASES",
    "REGISTRY_RECORD",
    "LatencyReport",
    "LatencySummary",
    "PhaseName",
    "PhasedReview",
    "ReviewRunner",
    "VersionLatency",
    "main",
    "measure_review_latency",
    "policies_of",
    "prepare_registry",
    "render_table",
]

logger = logging.getLogger("promogate.evals")

PhaseName = Literal["policies", "evidence", "evaluation", "investigation", "decision", "ledger"]
PHASES: Final[tuple[PhaseName, ...]] = (
    "policies",
    "evidence",
    "evaluation",
    "investigation",
    "decision",
    "ledger",
)
DEFAULT_POLICIES: Final = Path(policies_package.__file__).resolve().parent / "examples"
REGISTRY_RECORD: Final = "review-benchmark-registry.json"


def policies_of(checkout: Path | None) -> Path:
    """The example policies of `checkout` (this one's when None): a checkout measured beside
    this one reviews with its own, whose schema may differ."""
    own = checkout.resolve() / "policies" / "examples" if checkout is not None else None
    return own if own is not None and own.is_dir() else DEFAULT_POLICIES


_MAX_REPEATS: Final = 100


def prepare_registry(
    workdir: Path,
    *,
    reuse: bool = False,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> DemoRegistry:
    """The demo registry in `workdir`: reused when asked and intact, else built from nothing.

    A build writes what it built to `workdir/review-benchmark-registry.json`, which a later run
    with `reuse` reads back (the candidates' defects are not stored in MLflow).

    Args:
        workdir: Directory of the demo build.
        reuse: Reuse a previous build in `workdir` when its record and store are there.
        seed: Seed of a new build.
        progress: Called with a short message before each build step.
    """
    record = workdir / REGISTRY_RECORD
    if reuse and record.is_file():
        try:
            registry = DemoRegistry.model_validate_json(record.read_text())
        except ValidationError as exc:
            logger.warning("ignoring the unreadable registry record %s: %s", record, exc)
        else:
            if (registry.workdir / "mlflow.db").is_file():
                logger.info("reusing the demo registry %s", registry.tracking_uri)
                return registry
            logger.warning("the registry record %s names a missing store; rebuilding", record)
    registry = build_demo_registry(workdir, seed=seed, progress=progress)
    record.write_text(registry.model_dump_json(indent=2) + "\n")
    return registry


class PhasedReview(BaseModel):
    """One review timed phase by phase (milliseconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verdict: str
    phases_ms: dict[PhaseName, float]

    @property
    def total_ms(self) -> float:
        return sum(self.phases_ms.values())


class ReviewRunner:
    """Reviews versions as `ReviewService.review` does, without publishing tags.

    Args:
        tracking_uri: The MLflow store holding the model.
        policies_dir: The trusted policy directory, read again for every review.
        ledger_path: SQLite file of the (throwaway) ledger the decisions are appended to.
        timeout_s: Bound on each evidence source.
    """

    def __init__(
        self,
        tracking_uri: str,
        policies_dir: Path,
        ledger_path: Path,
        *,
        timeout_s: float = 30.0,
    ) -> None:
        from tools.client import make_client

        self.client: MlflowClient = make_client(tracking_uri, None)
        self.policies_dir = policies_dir
        self.ledger = Ledger(f"sqlite:///{ledger_path}")
        self.investigator = OfflineInvestigator()
        self.timeout_s = timeout_s
        self.service = ReviewService(
            ReviewConfig(
                tracking_uri=tracking_uri,
                policies_dir=policies_dir,
                target_alias=CHAMPION_ALIAS,
                baseline_alias=CHAMPION_ALIAS,
                evidence_timeout_s=timeout_s,
                publish_tags=False,
            ),
            ledger=self.ledger,
            investigator=self.investigator,
            client=self.client,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.ledger.close()

    def review(self, model: str, version: int) -> tuple[Decision, float, float]:
        """Review end to end; returns the decision, the wall time and this process's CPU time.

        Both times are in milliseconds. CPU time counts every thread of the process (the evidence
        is read on worker threads); on a shared machine it varies less than wall time.
        """
        cpu_started = time.process_time()
        started = time.perf_counter()
        outcome = self.service.review(model, str(version))
        wall_ms = (time.perf_counter() - started) * 1000.0
        return outcome.decision, wall_ms, (time.process_time() - cpu_started) * 1000.0

    def review_in_phases(self, model: str, version: int) -> PhasedReview:
        """Review by calling `ReviewService.review`'s steps one by one, timing each.

        Raises:
            EvalError: MLflow failed while the evidence was read (the end-to-end review would
                block with that reason instead).
        """
        marks = [time.perf_counter()]
        created_at = datetime.now(UTC)
        policies = load_policy_dir(self.policies_dir)
        marks.append(time.perf_counter())
        # The evidence phase reads what the review reads: the versions' evidence and what the
        # policies add to it (the plausibility questions' history and importances).
        try:
            bundle = gather_evidence(
                self.client,
                model,
                str(version),
                policies=policies,
                target_alias=CHAMPION_ALIAS,
                baseline_alias=CHAMPION_ALIAS,
                timeout_s=self.timeout_s,
            )
        except ToolError as exc:
            raise EvalError(
                f"MLflow failed while reviewing {model!r} version {version!r}: {exc}"
            ) from exc
        marks.append(time.perf_counter())
        facts = Comparison(bundle)
        verdict = evaluate_policies(policies, facts)
        marks.append(time.perf_counter())
        investigation = self.investigator.investigate(bundle, verdict, comparison=facts)
        marks.append(time.perf_counter())
        decision = compose_decision(
            bundle=bundle,
            verdict=verdict,
            investigation=investigation,
            target_alias=CHAMPION_ALIAS,
            created_at=created_at,
            duration_ms=(time.perf_counter() - marks[1]) * 1000.0,
        )
        marks.append(time.perf_counter())
        self.ledger.append_decision(decision)
        marks.append(time.perf_counter())
        spans = [(end - start) * 1000.0 for start, end in itertools.pairwise(marks)]
        return PhasedReview(
            verdict=decision.verdict, phases_ms=dict(zip(PHASES, spans, strict=True))
        )


class LatencySummary(BaseModel):
    """Median and p90 of a set of reviews, and the median of each phase (milliseconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviews: int
    median_ms: float
    p90_ms: float
    cpu_median_ms: float = Field(description="Median CPU time of the process per review.")
    phases_median_ms: dict[PhaseName, float]
    phased_total_median_ms: float


class VersionLatency(BaseModel):
    """One candidate's reviews."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: int
    title: str
    expected_verdict: str
    verdicts: list[str] = Field(description="Distinct verdicts of the timed reviews, both paths.")
    summary: LatencySummary

    @property
    def as_expected(self) -> bool:
        return self.verdicts == [self.expected_verdict]


class LatencyReport(BaseModel):
    """Review latency on the demo registry."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    tracking_uri: str
    rounds: int = Field(description="Timed rounds completed (each reviews every candidate).")
    warmup_rounds: int
    versions: list[VersionLatency]
    overall: LatencySummary
    seconds: float


def _summary(
    end_to_end: Sequence[float], cpu: Sequence[float], phased: Sequence[PhasedReview]
) -> LatencySummary:
    return LatencySummary(
        reviews=len(end_to_end),
        median_ms=statistics.median(end_to_end),
        # Linear interpolation between the closest ranks (NumPy's default).
        p90_ms=float(np.percentile(end_to_end, 90)),
        cpu_median_ms=statistics.median(cpu),
        phases_median_ms={
            phase: statistics.median(p.phases_ms[phase] for p in phased) for phase in PHASES
        },
        phased_total_median_ms=statistics.median(p.total_ms for p in phased),
    )


def measure_review_latency(
    registry: DemoRegistry,
    scratch_dir: Path,
    *,
    repeats: int = 5,
    warmup: int = 1,
    policies_dir: Path = DEFAULT_POLICIES,
    max_seconds: float = 300.0,
    progress: Callable[[str], None] | None = None,
) -> LatencyReport:
    """Time repeated reviews of every candidate of the demo registry.

    Args:
        registry: The demo registry (from `prepare_registry` or `build_demo_registry`).
        scratch_dir: Directory for the throwaway ledger (`review-latency-ledger.db`, replaced).
        repeats: Timed rounds; each reviews every candidate end to end and in phases.
        warmup: Untimed rounds before them.
        policies_dir: The trusted policy directory.
        max_seconds: No new timed round starts after this many seconds (one always runs).
        progress: Called with a short message before each round.

    Raises:
        ValueError: `repeats` is not between 1 and 100, or `warmup` is negative.
        EvalError: MLflow failed while evidence was read.
    """
    if not 1 <= repeats <= _MAX_REPEATS:
        raise ValueError(f"repeats must be between 1 and {_MAX_REPEATS}, got {repeats!r}")
    if warmup < 0:
        raise ValueError(f"warmup must not be negative, got {warmup!r}")
    say = progress or (lambda message: None)
    started = time.perf_counter()
    ledger_path = scratch_dir / "review-latency-ledger.db"
    ledger_path.unlink(missing_ok=True)
    candidates = registry.candidates
    end_to_end: dict[int, list[float]] = {c.version: [] for c in candidates}
    cpu: dict[int, list[float]] = {c.version: [] for c in candidates}
    phased: dict[int, list[PhasedReview]] = {c.version: [] for c in candidates}
    verdicts: dict[int, set[str]] = {c.version: set() for c in candidates}
    rounds = 0
    with ReviewRunner(registry.tracking_uri, policies_dir, ledger_path) as runner:
        for number in range(warmup + repeats):
            timed = number >= warmup
            if timed and rounds > 0 and time.perf_counter() - started > max_seconds:
                logger.warning("stopping after %d timed rounds: %.0f s budget", rounds, max_seconds)
                break
            say(f"round {number + 1}/{warmup + repeats}" + ("" if timed else " (warm-up)"))
            for candidate in candidates:
                decision, wall_ms, cpu_ms = runner.review(candidate.model, candidate.version)
                steps = runner.review_in_phases(candidate.model, candidate.version)
                if timed:
                    end_to_end[candidate.version].append(wall_ms)
                    cpu[candidate.version].append(cpu_ms)
                    phased[candidate.version].append(steps)
                    verdicts[candidate.version].update((decision.verdict, steps.verdict))
            rounds += 1 if timed else 0
    ledger_path.unlink(missing_ok=True)
    versions = [
        VersionLatency(
            version=c.version,
            title=c.title,
            expected_verdict=c.expected_verdict,
            verdicts=sorted(verdicts[c.version]),
            summary=_summary(end_to_end[c.version], cpu[c.version], phased[c.version]),
        )
        for c in candidates
    ]
    return LatencyReport(
        model=registry.model_name,
        tracking_uri=registry.tracking_uri,
        rounds=rounds,
        warmup_rounds=warmup,
        versions=versions,
        overall=_summary(
            [ms for c in candidates for ms in end_to_end[c.version]],
            [ms for c in candidates for ms in cpu[c.version]],
            [p for c in candidates for p in phased[c.version]],
        ),
        seconds=round(time.perf_counter() - started, 3),
    )


def _row(label: str, title: str, verdict: str, summary: LatencySummary) -> str:
    phases = " | ".join(f"{summary.phases_median_ms[p]:.0f}" for p in PHASES)
    return (
        f"| {label} | {title} | {verdict} | {summary.reviews} | {summary.median_ms:.0f} "
        f"| {summary.p90_ms:.0f} | {summary.cpu_median_ms:.0f} | {phases} "
        f"| {summary.phased_total_median_ms:.0f} |"
    )


def render_table(report: LatencyReport) -> str:
    """The report as a Markdown table (milliseconds; phase columns are medians)."""
    lines = [
        "| version | candidate | verdict | reviews | median (ms) | p90 (ms) | CPU median (ms) | "
        + " | ".join(PHASES)
        + " | phases total |",
        "|---|---|---|---:|---:|---:|---:|" + "---:|" * (len(PHASES) + 1),
    ]
    for v in report.versions:
        verdict = "/".join(v.verdicts)
        if not v.as_expected:
            verdict += f" (expected {v.expected_verdict})"
        lines.append(_row(f"v{v.version}", v.title, verdict, v.summary))
    lines.append(_row("all", "", "", report.overall))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Build or reuse the demo registry, time the reviews and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--workdir",
        type=Path,
        help="directory of the demo build (default: a temporary directory, removed afterwards)",
    )
    parser.add_argument(
        "--reuse", action="store_true", help="reuse the demo registry a previous run built there"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed rounds first (default 1)")
    parser.add_argument(
        "--max-seconds", type=float, default=300.0, help="no new round starts after this"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of a new demo build")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    if not 1 <= args.repeats <= _MAX_REPEATS:
        parser.error(f"--repeats must be between 1 and {_MAX_REPEATS}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    quiet_mlflow()
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="promogate-bench-")) if temporary else args.workdir
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        registry = prepare_registry(workdir, reuse=args.reuse, seed=args.seed)
        report = measure_review_latency(
            registry,
            workdir,
            repeats=args.repeats,
            warmup=args.warmup,
            max_seconds=args.max_seconds,
        )
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    print(render_table(report))
    print(
        f"\n{report.rounds} timed round(s) after {report.warmup_rounds} warm-up round(s), "
        f"{report.overall.reviews} reviews end to end plus as many in phases, "
        f"{report.seconds:.0f} s; registry built in {registry.build_seconds:.0f} s"
    )


if __name__ == "__main__":
    main()
