"""The investigator's pipeline questions, answered from real fixture configs and loss curves."""

from __future__ import annotations

import math

import pytest
from support.pipeline_fixtures import FIXTURES, artifacts, curve

from agents._agent_tools import ReviewContext, review_tools
from agents._pipeline_diagnosis import diagnose_pipeline
from policies.decision import QuestionAnswer
from policies.result import CheckResult, CheckStatus, PolicyVerdict
from tools.evidence import ArtifactFile, EvidenceBundle, RunEvidence, VersionEvidence

CONVERGED = [math.exp(-i / 4) + 0.1 for i in range(40)]
STILL_FALLING = [1.0 - 0.02 * i for i in range(40)]
DIVERGED = [1.0, 0.8, 0.6, float("nan"), 0.5, 0.4]


def version(
    number: int,
    files: list[ArtifactFile],
    *,
    params: dict[str, str] | None = None,
    histories: dict[str, list[float]] | None = None,
) -> VersionEvidence:
    return VersionEvidence(
        model="churn",
        version=number,
        run_id=f"r{number}",
        run=RunEvidence(
            run_id=f"r{number}", experiment_id="1", status="FINISHED", params=params or {}
        ),
        metric_histories={k: curve(v) for k, v in (histories or {}).items()},
        artifacts=files,
    )


def window_only(window: str) -> list[ArtifactFile]:
    """The demo's shape: one pipeline file whose only change is the data window (line 3)."""
    text = (FIXTURES / "yaml" / "old" / "pipeline" / "pipeline.yaml").read_text()
    return [
        ArtifactFile(
            path="pipeline/pipeline.yaml",
            owner="run",
            content=text.replace("window: 365d", f"window: {window}"),
        )
    ]


def segment_check(status: CheckStatus = "fail", delta: float = -0.14) -> CheckResult:
    return CheckResult(
        id="segments.region.recall.west",
        policy="prod",
        kind="segment",
        status=status,
        message="recall for region=west: 0.61 vs baseline 0.75, down 0.14",
        observed=0.75 + delta,
        baseline=0.75,
        delta=delta,
        threshold=0.03,
        details={"column": "region", "segment": "west"},
        evidence=["run:r2/metrics/segment/region=west/recall"],
    )


METRIC = CheckResult(
    id="metrics.roc_auc.max_drop",
    policy="prod",
    kind="metric",
    status="warn",
    message="roc_auc dropped",
    observed=0.88,
    baseline=0.91,
    delta=-0.03,
)
PASSING = CheckResult(
    id="metrics.accuracy.min",
    policy="prod",
    kind="metric",
    status="pass",
    message="ok",
    observed=0.9,
)


def context(bundle: EvidenceBundle) -> ReviewContext:
    """The offline plan's tool context (the checks under diagnosis are passed on their own)."""
    return ReviewContext(bundle, PolicyVerdict(verdict="approve", outcomes=[]), caller="offline")


def diagnose(bundle: EvidenceBundle, checks: list[CheckResult]) -> list[QuestionAnswer]:
    return diagnose_pipeline(context(bundle), checks)


def ask(
    candidate: VersionEvidence, baseline: VersionEvidence | None, checks: list[CheckResult]
) -> dict[str, QuestionAnswer]:
    answers = diagnose(EvidenceBundle(candidate=candidate, baseline=baseline), checks)
    return {qa.question: qa for qa in answers}


def test_window_change_explains_the_segment_regression_with_line_and_evidence() -> None:
    candidate = version(
        2, window_only("90d"), params={"data.window": "90d"}, histories={"train_loss": CONVERGED}
    )
    baseline = version(1, window_only("365d"), params={"data.window": "365d"})

    answers = diagnose(
        EvidenceBundle(candidate=candidate, baseline=baseline), [segment_check(), PASSING]
    )

    assert [qa.question for qa in answers] == [
        "What changed in the pipeline?",
        "Does a pipeline change explain the regression of segments.region.recall.west?",
        "Did training converge?",
    ]
    changed, explained, converged = answers
    assert changed.answer == (
        "1 pipeline config change(s): data_window 1 from churn/1 to churn/2: the data window "
        "(data.window) changed from 365d to 90d (-75%) at pipeline/pipeline.yaml:3."
    )
    assert explained.check_id == "segments.region.recall.west"
    assert explained.answer.startswith(
        "Plausibly: recall on segment region=west fell 0.14 (0.75 -> 0.61); the data window "
        "(data.window) changed from 365d to 90d (-75%) at pipeline/pipeline.yaml:3."
    )
    assert explained.tools == ["get_pipeline_diff"]
    assert explained.evidence == [
        "run:r2/metrics/segment/region=west/recall",
        "artifact:pipeline/pipeline.yaml:3",
        "artifact:churn/1/pipeline/pipeline.yaml:3",
    ]
    assert explained.data["explaining_changes"][0]["key"] == "data.window"
    assert converged.answer.startswith("Yes: train_loss converged")


def test_a_dropped_segment_feature_leads_the_explanation() -> None:
    candidate = version(2, artifacts("yaml", "new") + artifacts("deps", "new"))
    baseline = version(1, artifacts("yaml", "old") + artifacts("deps", "old"))

    qa = ask(candidate, baseline, [segment_check()])[
        "Does a pipeline change explain the regression of segments.region.recall.west?"
    ]

    keys = [c["key"] for c in qa.data["explaining_changes"]]
    assert keys[:2] == ["features.include", "data.window"]
    assert "involves the segment column 'region' itself" in qa.answer
    assert "less likely to explain it: seed 1, hyperparameter 1, dependency 4" in qa.answer


# id, candidate files, baseline files, check, expected answer start
EXPLAIN = [
    (
        "kubeflow-metric",
        ("kubeflow", "new"),
        ("kubeflow", "old"),
        METRIC,
        "Plausibly: roc_auc fell 0.03 (0.91 -> 0.88); the data window (parameters.data_window)",
    ),
    (
        "dvc-segment",
        ("dvc", "new"),
        ("dvc", "old"),
        segment_check(),
        "Plausibly: recall on segment region=west fell 0.14 (0.75 -> 0.61); the data window "
        "(prepare.window) changed from 365d to 90d (-75%) at params.yaml:2",
    ),
    (
        "hydra-segment",
        ("hydra", "new"),
        ("hydra", "old"),
        segment_check("warn"),
        "Plausibly: recall on segment region=west fell 0.14 (0.75 -> 0.61); the data window "
        "(data.window) changed from 365d to 90d (-75%) at pipeline/data/window90.yaml:2",
    ),
    (
        "mlproject-metric",
        ("mlproject", "new"),
        ("mlproject", "old"),
        METRIC,
        "Plausibly: roc_auc fell 0.03 (0.91 -> 0.88); the data window "
        "(entry_points.main.parameters.data_window) changed from 365d to 90d (-75%) at MLproject:9",
    ),
    (
        "json-metric",
        ("json", "new"),
        ("json", "old"),
        METRIC,
        "Plausibly: roc_auc fell 0.03 (0.91 -> 0.88); the data window (data.window_days) changed "
        "from 365 to 90 (-75%) at pipeline/pipeline.json:4",
    ),
    (
        "deps-only",
        ("deps", "new"),
        ("deps", "old"),
        METRIC,
        "Possibly: roc_auc fell 0.03 (0.91 -> 0.88); no data, feature, split or evaluation change, "
        "but a dependency",
    ),
    (
        "unchanged",
        ("yaml", "old"),
        ("yaml", "old"),
        segment_check(),
        "No: recall on segment region=west fell 0.14 (0.75 -> 0.61), yet the pipeline config did "
        "not change",
    ),
]


@pytest.mark.parametrize(
    ("cand", "base", "check", "start"), [e[1:] for e in EXPLAIN], ids=[e[0] for e in EXPLAIN]
)
def test_explanations_per_format(
    cand: tuple[str, str], base: tuple[str, str], check: CheckResult, start: str
) -> None:
    answers = diagnose(
        EvidenceBundle(
            candidate=version(2, artifacts(*cand)), baseline=version(1, artifacts(*base))
        ),
        [check],
    )

    (qa,) = [a for a in answers if a.check_id == check.id]
    assert qa.answer.startswith(start), qa.answer


def test_bookkeeping_changes_do_not_explain_a_regression() -> None:
    base = version(1, window_only("365d"))
    text = base.artifacts[0].content.replace("outputs/v1", "outputs/v9")
    cand = version(2, [ArtifactFile(path="pipeline/pipeline.yaml", owner="run", content=text)])

    qa = ask(cand, base, [METRIC])[
        "Does a pipeline change explain the regression of metrics.roc_auc.max_drop?"
    ]

    assert qa.answer.startswith("Not by the config: roc_auc fell 0.03")


def test_run_params_alone_are_diffed_and_cited() -> None:
    cand = version(2, [], params={"data.window": "90d", "seed": "1"})
    base = version(1, [], params={"data.window": "365d", "seed": "1"})

    answers = ask(cand, base, [segment_check()])

    qa = answers["Does a pipeline change explain the regression of segments.region.recall.west?"]
    assert (
        "the data window (data.window) changed from 365d to 90d (-75%) at run param data.window"
        in qa.answer
    )
    assert "run:r2/params/data.window" in qa.evidence


@pytest.mark.parametrize(
    ("candidate", "baseline", "what", "explain"),
    [
        (
            version(2, []),
            version(1, window_only("365d")),
            "Unknown: no readable pipeline config was logged for churn/2",
            "Cannot tell: recall on segment region=west fell 0.14 (0.75 -> 0.61), but no readable "
            "pipeline config was logged for churn/2.",
        ),
        (
            version(2, window_only("90d")),
            version(1, []),
            "Unknown: the baseline churn/1 has no readable pipeline config",
            "Cannot tell: recall on segment region=west fell 0.14 (0.75 -> 0.61), but no readable "
            "pipeline config was logged for the baseline churn/1.",
        ),
        (
            version(2, window_only("90d")),
            None,
            "There is no baseline to compare with.",
            "Cannot tell: recall on segment region=west fell 0.14 (0.75 -> 0.61), but there is no "
            "baseline to compare the pipeline config with.",
        ),
    ],
    ids=["candidate-missing", "baseline-missing", "first-version"],
)
def test_missing_config_is_reported_not_guessed(
    candidate: VersionEvidence, baseline: VersionEvidence | None, what: str, explain: str
) -> None:
    answers = ask(candidate, baseline, [segment_check()])

    assert answers["What changed in the pipeline?"].answer.startswith(what)
    assert (
        answers[
            "Does a pipeline change explain the regression of segments.region.recall.west?"
        ].answer
        == explain
    )


def test_malformed_candidate_file_is_named_in_the_answer() -> None:
    bad = ArtifactFile(
        path="pipeline/pipeline.yaml",
        owner="run",
        content=(FIXTURES / "malformed" / "bad_indent.yaml").read_text(),
    )

    answers = ask(version(2, [bad]), version(1, window_only("365d")), [])

    assert (
        "pipeline/pipeline.yaml:4: malformed YAML"
        in answers["What changed in the pipeline?"].answer
    )


CONVERGENCE = [
    ("converged", {"train_loss": CONVERGED}, "Yes: train_loss converged"),
    ("still-falling", {"train_loss": STILL_FALLING}, "Not fully: train_loss was still falling"),
    ("diverged", {"val_loss": DIVERGED}, "No: val_loss became nan at step 3"),
    ("too-short", {"loss": [1.0, 0.5]}, "Unknown: loss has 2 point(s)"),
    ("none", {}, "Unknown: churn/2 logged no loss history"),
]


@pytest.mark.parametrize(
    ("histories", "start"), [c[1:] for c in CONVERGENCE], ids=[c[0] for c in CONVERGENCE]
)
def test_did_training_converge(histories: dict[str, list[float]], start: str) -> None:
    answers = ask(version(2, window_only("90d"), histories=histories), None, [METRIC])

    qa = answers["Did training converge?"]
    assert qa.answer.startswith(start), qa.answer


def test_convergence_compares_with_the_baseline_loss() -> None:
    cand = version(2, window_only("90d"), histories={"train_loss": STILL_FALLING})
    base = version(1, window_only("365d"), histories={"train_loss": CONVERGED})

    qa = ask(cand, base, [])["Did training converge?"]

    assert "(baseline churn/1 ended at 0.1001)" in qa.answer
    assert qa.tools == ["get_metric_history"]
    assert qa.evidence == [
        "run:r1/metric_history/train_loss",
        "run:r2/metric_history/train_loss",
    ]
    assert qa.data["train_loss"]["state"] == "still_falling"


def test_no_regression_and_no_loss_history_asks_only_what_changed() -> None:
    answers = diagnose(
        EvidenceBundle(
            candidate=version(2, window_only("90d")), baseline=version(1, window_only("365d"))
        ),
        [PASSING],
    )

    assert [qa.question for qa in answers] == ["What changed in the pipeline?"]


# id, candidate, baseline, checks: the questions' shapes (diff, no diff, no baseline, losses)
RECORDED = [
    (
        "window-change",
        version(2, window_only("90d"), histories={"train_loss": STILL_FALLING}),
        version(1, window_only("365d"), histories={"train_loss": CONVERGED}),
        [segment_check(), METRIC],
    ),
    (
        "every-format-change",
        version(2, artifacts("yaml", "new") + artifacts("deps", "new")),
        version(1, artifacts("yaml", "old") + artifacts("deps", "old")),
        [segment_check()],
    ),
    ("candidate-missing", version(2, []), version(1, window_only("365d")), [METRIC]),
    (
        "first-version",
        version(2, window_only("90d"), histories={"val_loss": DIVERGED}),
        None,
        [METRIC],
    ),
    ("no-loss-history", version(2, window_only("90d")), version(1, []), [METRIC]),
]


@pytest.mark.parametrize(
    ("candidate", "baseline", "checks"), [r[1:] for r in RECORDED], ids=[r[0] for r in RECORDED]
)
def test_answers_record_real_tool_calls_and_cite_what_the_tools_returned(
    candidate: VersionEvidence,
    baseline: VersionEvidence | None,
    checks: list[CheckResult],
) -> None:
    ctx = context(EvidenceBundle(candidate=candidate, baseline=baseline))

    answers = diagnose_pipeline(ctx, checks)

    tool_names = {t.name for t in review_tools()}
    citable = ctx.seen_refs | {ref for c in checks for ref in c.evidence}
    for qa in answers:
        assert qa.tools, qa.question
        assert set(qa.tools) <= tool_names, qa.question
        assert set(qa.evidence) <= citable, (qa.question, set(qa.evidence) - citable)


def test_environments_alone_are_diffed_by_the_tool_and_the_answer_alike() -> None:
    """With no pipeline config on either side, the diff tool once answered "no diff" while the
    diagnosis compared the logged models' environments itself; both now read the comparison's
    environment-only diff."""
    from agents._agent_tools import call_tool

    ctx = context(
        EvidenceBundle(
            candidate=version(2, artifacts("deps", "new")),
            baseline=version(1, artifacts("deps", "old")),
        )
    )

    listed = call_tool("get_pipeline_diff", ctx)
    (changed, *_) = diagnose_pipeline(ctx, [METRIC])

    assert "error" not in listed
    assert {c["class"] for c in listed["changes"]} == {"dependency"}
    assert "only the logged models' environments were compared" in changed.answer
    assert changed.evidence
    assert set(changed.evidence) <= set(listed["evidence"])
