"""What an LLM review costs, on the demo registry, with the scripted OpenAI-compatible server.

Two measurements:

1. Per review of each demo candidate (credit-risk v2..v6 against the v1 champion), through
   `review.ReviewService` with the LLM investigator talking real HTTP to `ScriptedOpenAIServer` on
   loopback, driven by `review_playbook` (it asks the tools about every check that needs attention,
   then files its review): LLM calls, tool calls, prompt and completion tokens, wall time.
2. Prompt size as the evidence grows tenfold: the v3 bundle, then the same bundle with ten times the
   metrics, ten times the segments (a `branch` column with 40 values instead of 4, checked by the
   policy) and histories ten times longer. The opening prompt stays bounded because the agent reads
   detail through tools; "all up front" is the size of the evidence if it were sent whole.

Token counts are the scripted server's estimates (four characters per token). Run::

    uv run python -m benchmarks.llm_review [--workdir DIR] [--reuse] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from agents.llm_investigator import LlmInvestigator, make_llm_investigator
from agents.testing import ScriptedOpenAIServer, review_playbook
from ledger.store import Ledger
from policies.evaluator import evaluate_policies
from policies.loader import LoadedPolicy, load_policy_text
from review import ReviewConfig, ReviewService, history_keys_for
from tools.evidence import EvalTable, EvidenceBundle, MetricPoint, VersionEvidence

if TYPE_CHECKING:
    from mlflow import MlflowClient

__all__ = ["GrowthRow", "ReviewRow", "inflate_bundle", "main", "measure_growth", "measure_reviews"]

logger = logging.getLogger("promogate.evals")

_POLICY_FILE = Path(__file__).resolve().parents[2] / "policies" / "examples" / "credit-risk.yaml"
_REGION_RULE = "  - {by: region, metric: recall, max_drop: 0.03, min_rows: 100, significance: 0.05}"
_BRANCH_RULE = "  - {by: branch, metric: recall, max_drop: 0.05, min_rows: 20, significance: 0.05}"
_MODEL_SPEC = "openai:gpt-4o-mini"


class ReviewRow(BaseModel):
    """One review of a demo candidate."""

    model_config = ConfigDict(frozen=True)

    version: int
    expected: str
    verdict: str
    investigator: str
    llm_calls: int
    tool_calls: int
    prompt_tokens: int
    completion_tokens: int
    opening_prompt_chars: int
    wall_s: float


class GrowthRow(BaseModel):
    """One review of the same candidate at a given evidence scale."""

    model_config = ConfigDict(frozen=True)

    scale: str
    evidence_chars: int
    metrics: int
    segments: int
    history_points: int
    checks: int
    opening_prompt_chars: int
    prompt_tokens: int
    llm_calls: int
    tool_calls: int


def _policies(with_branch: bool) -> list[LoadedPolicy]:
    text = _POLICY_FILE.read_text()
    if with_branch:
        text = text.replace(_REGION_RULE, f"{_REGION_RULE}\n{_BRANCH_RULE}")
    return load_policy_text(text, str(_POLICY_FILE.name))


def _investigator(server: ScriptedOpenAIServer, client: MlflowClient | None) -> LlmInvestigator:
    return make_llm_investigator(
        _MODEL_SPEC, api_key="bench", base_url=server.base_url, client=client
    )


def measure_reviews(
    client: MlflowClient, model: str, versions: Sequence[tuple[int, str]]
) -> list[ReviewRow]:
    """Review each (version, expected verdict) against the champion; one row per review.

    Args:
        client: MLflow client of the demo registry.
        model: The registered model.
        versions: Versions to review, with the verdict the demo expects.
    """
    policies = _policies(with_branch=False)
    rows: list[ReviewRow] = []
    with (
        ScriptedOpenAIServer(responder=review_playbook) as server,
        tempfile.TemporaryDirectory() as scratch,
        Ledger(f"sqlite:///{Path(scratch) / 'ledger.db'}") as ledger,
    ):
        service = ReviewService(
            ReviewConfig(publish_tags=False),
            ledger=ledger,
            investigator=_investigator(server, client),
            policies=policies,
            client=client,
        )
        for version, expected in versions:
            first = len(server.requests)
            started = time.perf_counter()
            decision = service.review(model, str(version)).decision
            wall = time.perf_counter() - started
            requests = server.requests[first:]
            usage = decision.usage
            rows.append(
                ReviewRow(
                    version=version,
                    expected=expected,
                    verdict=decision.verdict,
                    investigator=decision.investigator,
                    llm_calls=usage.llm_calls,
                    tool_calls=usage.tool_calls,
                    prompt_tokens=usage.prompt_tokens,
                    completion_tokens=usage.completion_tokens,
                    opening_prompt_chars=requests[0].prompt_chars if requests else 0,
                    wall_s=round(wall, 3),
                )
            )
    return rows


def _branch_of(row_id: Any, branches: int) -> str:
    return f"b{sum(map(ord, str(row_id))) % branches:02d}"


def _with_branches(table: EvalTable | None, branches: int) -> EvalTable | None:
    if table is None or "row_id" not in table.columns:
        return table
    index = table.columns.index("row_id")
    return EvalTable(
        path=table.path,
        columns=[*table.columns, "branch"],
        rows=[[*row, _branch_of(row[index], branches)] for row in table.rows],
    )


def _longer(points: list[MetricPoint], factor: int) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for a, b in itertools.pairwise(points):
        for k in range(factor):
            frac = k / factor
            out.append(
                MetricPoint(
                    step=a.step * factor + k,
                    value=a.value + (b.value - a.value) * frac,
                    timestamp=a.timestamp,
                )
            )
    if points:
        last = points[-1]
        out.append(MetricPoint(step=last.step * factor, value=last.value, timestamp=last.timestamp))
    return out


def _inflate_version(version: VersionEvidence, factor: int, branches: int) -> VersionEvidence:
    run = version.run
    if run is not None:
        extra = {
            f"extra/{key}/variant_{i}": value
            for key, value in run.metrics.items()
            for i in range(factor - 1)
        }
        run = run.model_copy(update={"metrics": {**run.metrics, **extra}})
    histories = {k: _longer(v, factor) for k, v in version.metric_histories.items()}
    return version.model_copy(
        update={
            "run": run,
            "metric_histories": histories,
            "eval_table": _with_branches(version.eval_table, branches),
        }
    )


def inflate_bundle(bundle: EvidenceBundle, factor: int, *, branches: int) -> EvidenceBundle:
    """The bundle with `factor` times the metrics and history points, and a `branch` segment
    column with `branches` values on both versions' evaluation tables.

    Args:
        bundle: The collected evidence.
        factor: How many times more metrics and history points.
        branches: How many values the added `branch` segment column takes.
    """
    baseline = bundle.baseline
    return bundle.model_copy(
        update={
            "candidate": _inflate_version(bundle.candidate, factor, branches),
            "baseline": _inflate_version(baseline, factor, branches) if baseline else None,
        }
    )


def measure_growth(bundle: EvidenceBundle, factor: int = 10) -> list[GrowthRow]:
    """Review the bundle at scale 1 (4 branches) and at `factor` (4 x factor branches).

    Args:
        bundle: The collected evidence of one candidate.
        factor: The growth factor.
    """
    policies = _policies(with_branch=True)
    rows: list[GrowthRow] = []
    with ScriptedOpenAIServer(responder=review_playbook) as server:
        investigator = _investigator(server, None)
        for scale, inflated in (
            ("1x", inflate_bundle(bundle, 1, branches=4)),
            (f"{factor}x", inflate_bundle(bundle, factor, branches=4 * factor)),
        ):
            verdict = evaluate_policies(policies, inflated)
            first = len(server.requests)
            investigation = investigator.investigate(inflated, verdict)
            requests = server.requests[first:]
            cand = inflated.candidate
            rows.append(
                GrowthRow(
                    scale=scale,
                    evidence_chars=len(inflated.model_dump_json()),
                    metrics=len(cand.run.metrics) if cand.run is not None else 0,
                    segments=sum(1 for c in verdict.checks if c.kind == "segment"),
                    history_points=sum(len(p) for p in cand.metric_histories.values()),
                    checks=len(verdict.checks),
                    opening_prompt_chars=requests[0].prompt_chars if requests else 0,
                    prompt_tokens=investigation.usage.prompt_tokens,
                    llm_calls=investigation.usage.llm_calls,
                    tool_calls=investigation.usage.tool_calls,
                )
            )
    return rows


def _markdown(rows: Sequence[BaseModel]) -> str:
    if not rows:
        return "(no rows)"
    fields = list(type(rows[0]).model_fields)
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(str(getattr(r, f)) for f in fields) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Build (or reuse) the demo registry, run both measurements and print them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, default=None, help="where the demo registry lives")
    parser.add_argument(
        "--reuse", action="store_true", help="reuse a demo registry already built in --workdir"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    import mlflow

    from scenarios.demo_registry import DEMO_MODEL_NAME, build_demo_registry
    from tools.collector import collect_bundle

    scratch = None
    workdir = args.workdir
    if workdir is None:
        scratch = tempfile.TemporaryDirectory(prefix="promogate-llm-bench-")
        workdir = Path(scratch.name)
    try:
        db = workdir / "mlflow.db"
        started = time.perf_counter()
        if args.reuse and db.exists():
            tracking_uri = f"sqlite:///{db.resolve()}"
            versions = [(v, "?") for v in range(2, 7)]
        else:
            registry = build_demo_registry(workdir, seed=args.seed)
            tracking_uri = registry.tracking_uri
            versions = [(c.version, c.expected_verdict) for c in registry.candidates]
        build_s = time.perf_counter() - started
        client = mlflow.MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        reviews = measure_reviews(client, DEMO_MODEL_NAME, versions)
        bundle = collect_bundle(
            client,
            DEMO_MODEL_NAME,
            3,
            history_keys=history_keys_for(_policies(False), DEMO_MODEL_NAME),
        )
        growth = measure_growth(bundle)
    finally:
        if scratch is not None:
            scratch.cleanup()
    if args.json:
        payload = {
            "registry_seconds": round(build_s, 1),
            "reviews": [r.model_dump() for r in reviews],
            "growth": [g.model_dump() for g in growth],
        }
        print(json.dumps(payload, indent=2))
        return
    print(f"Demo registry ready in {build_s:.1f} s ({tracking_uri}).\n")
    print("Per review (scripted server, review_playbook responder):\n")
    print(_markdown(reviews))
    print("\nPrompt size as evidence grows (credit-risk v3):\n")
    print(_markdown(growth))


if __name__ == "__main__":
    main()
