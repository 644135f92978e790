"""`promogate evidence`, `policy init`, `policy validate --against` on models logged the ways
teams log them (tests/support/team_registry.py), and the exit code of usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from support.team_registry import AUTOLOGGED, CUSTOM, SYNONYMS, TeamRegistry, review_once

from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app

if TYPE_CHECKING:
    from policies.decision import Decision


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    _mount_optional_apps()
    code = run_app(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_evidence_says_where_each_piece_came_from(
    team_registry: TeamRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "evidence", SYNONYMS, "v2", "--tracking-uri", team_registry.tracking_uri
    )
    assert code == 0
    assert "- eval_table: found by discovery" in out
    assert "from reports/scored.csv" in out
    assert "- pipeline_config: found by discovery" in out
    assert "conf/train.yaml" in out
    assert "region: north, south" in out


def test_evidence_says_why_not_and_the_mapping_line(
    team_registry: TeamRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "evidence", CUSTOM, "2", "--tracking-uri", team_registry.tracking_uri, "--json"
    )
    assert code == 0
    import json

    items = {i["kind"]: i for i in json.loads(out)}
    table = items["eval_table"]
    assert table["found"] is False
    assert "is_default" in table["why_not"][0]
    assert "evidence: {table:" in table["fix"]
    assert items["training_dataset"]["found"] is False
    assert "evidence: {datasets: {training: ['snap-a']}}" in items["training_dataset"]["fix"]
    assert "settings/train_config.yaml" in items["pipeline_config"]["why_not"][0]


def _init_review_validate(
    capsys: pytest.CaptureFixture[str], registry: TeamRegistry, model: str, folder: Path
) -> tuple[str, Decision]:
    """`policy init` for v2, the review of v2 under that policy, and `policy validate --against`."""
    from policies.loader import load_policy_dir

    target = folder / "policies" / f"{model}.yaml"
    target.parent.mkdir()
    code, _, err = _run(
        capsys,
        "policy", "init", model, "latest", "-o", str(target),
        "--tracking-uri", registry.tracking_uri,
    )  # fmt: skip
    assert code == 0, err
    decision = review_once(registry.tracking_uri, model, 2, load_policy_dir(target.parent))
    code, _, err = _run(
        capsys, "policy", "validate", str(target.parent), "--against", model, "2",
        "--tracking-uri", registry.tracking_uri,
    )  # fmt: skip
    assert code == 0, err
    return target.read_text(), decision


def test_policy_init_writes_a_policy_that_validates_and_reviews(
    team_registry: TeamRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text, decision = _init_review_validate(capsys, team_registry, SYNONYMS, tmp_path)
    assert "# Starter policy for 'synonyms'" in text
    assert "name: recall" in text and "segments: {by: region" in text
    assert 'paths: ["reports/scored.csv"]' in text and "label: y_true" in text
    assert decision.verdict == "approve", decision.reasons


def test_policy_init_guards_a_regressors_errors_and_its_autologged_training_data(
    team_registry: TeamRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = _run(
        capsys, "evidence", AUTOLOGGED, "2", "--tracking-uri", team_registry.tracking_uri
    )
    assert code == 0, err
    assert "- training_dataset: found by convention" in out
    assert "tagged 'train'" in out
    text, decision = _init_review_validate(capsys, team_registry, AUTOLOGGED, tmp_path)
    assert "No common quality metric" not in text
    assert "{name: r2_score, min: 0.87, max_drop: 0.02}" in text
    assert (
        "{name: root_mean_squared_error, max: 1.14, max_relative_drop: 0.05, lower_is_better: true}"
        in text
    )
    assert "train_eval_overlap: forbid" in text
    assert "require: [evaluation_dataset, training_dataset]" in text
    # Autologging names its data `dataset`: the tag finds it, a name glob would not be safe.
    assert "training: [" not in text
    assert decision.verdict == "approve", decision.reasons
    assert {c.id for c in decision.checks if c.kind == "metric"} >= {
        "metrics.r2_score.min",
        "metrics.root_mean_squared_error.max",
        "metrics.mean_absolute_error.max_relative_drop",
    }


LINTED = textwrap.dedent(
    """\
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: typo, revision: 1}
    match: {model: "synonyms"}
    metrics: [{name: recal, min: 0.5}]
    segments: {by: regoin, metric: recall, max_drop: 0.1}
    ---
    apiVersion: promogate/v1
    kind: PromotionPolicy
    metadata: {name: wrong-model, revision: 1}
    match: {model: "synonym"}
    """
)


def test_validate_against_suggests_names(
    team_registry: TeamRegistry, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "p.yaml").write_text(LINTED)
    code, _, err = _run(
        capsys, "policy", "validate", str(tmp_path), "--against", SYNONYMS, "2",
        "--tracking-uri", team_registry.tracking_uri,
    )  # fmt: skip
    assert code == 3
    assert "metric 'recal' is not logged by synonyms/2; did you mean 'recall'?" in err
    assert "segment column 'regoin'" in err and "did you mean 'region'?" in err
    assert "match.model 'synonym' does not match 'synonyms'; did you mean 'synonyms'" in err


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["review", "m", "1", "--bogus"], 3),
        (["gate"], 3),
        (["review", "m", "1", "--llm"], 3),
        (["nonsense-command"], 3),
        (["policy", "validate"], 3),
        (["--version"], 0),
        (["--help"], 0),
    ],
    ids=["unknown-option", "missing-args", "missing-value", "unknown-command", "sub-missing",
         "version", "help"],
)  # fmt: skip
def test_usage_errors_exit_3_through_the_console_script(
    args: list[str], expected: int, tmp_path: Path
) -> None:
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    done = subprocess.run(
        [sys.executable, "-c", "from api.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        timeout=120,
    )
    assert done.returncode == expected, done.stderr
    if expected == 3:
        assert "Usage:" in done.stderr or "Error" in done.stderr
    assert not (tmp_path / "mlflow.db").exists()


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    from api._cli_usage import package_version

    code, out, _ = _run(capsys, "--version")
    assert code == 0 and out.strip() == f"promogate {package_version()}"


@pytest.mark.parametrize(
    ("value", "expected"),
    [(27.456, 27.5), (1.1363, 1.14), (0.0013201, 0.00133), (12_345.0, 12_400.0), (0.0, 0.0)],
    ids=["tens", "ones", "small", "thousands", "zero"],
)
def test_a_starter_error_ceiling_keeps_three_significant_digits(
    value: float, expected: float
) -> None:
    from api._evidence_commands import _ceil

    assert _ceil(value) == expected


def test_a_starter_policy_reads_a_regressors_own_spellings() -> None:
    from api._evidence_commands import starter_policy
    from tools.evidence import RunEvidence, VersionEvidence

    run = RunEvidence(
        run_id="r", experiment_id="0", status="FINISHED", metrics={"rmse": 1.2, "r2": 0.9}
    )
    text = starter_policy(VersionEvidence(model="m", version=2, run_id="r", run=run))
    assert "{name: r2_score, min: 0.85, max_drop: 0.02}  # logged 0.9 as r2" in text
    assert (
        "{name: root_mean_squared_error, max: 1.32, max_relative_drop: 0.05, "
        "lower_is_better: true}  # logged 1.2 as rmse" in text
    )
    assert "mean_absolute_error" not in text


def test_evidence_says_why_autologgings_eval_data_is_not_the_evaluation_set() -> None:
    from api._evidence_commands import describe_evidence
    from tools.evidence import DatasetInput, VersionEvidence

    datasets = [
        DatasetInput(name="dataset", digest="d1", context="training"),
        DatasetInput(name="valid", digest="d2", context="eval"),
    ]
    items = {
        i.kind: i
        for i in describe_evidence(VersionEvidence(model="m", version=2, datasets=datasets))
    }
    evaluation = items["evaluation_dataset"]
    assert not evaluation.found
    assert any("'valid' tagged 'eval'" in why for why in evaluation.why_not)
    assert evaluation.fix == "mlflow.log_input(dataset, context='evaluation')"
    assert items["training_dataset"].found and not items["training_dataset"].why_not
