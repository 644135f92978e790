"""`promogate evidence` and `policy init` on GenAI apps evaluated with ``mlflow.genai.evaluate``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.genai_registry import FAQ_BOT, SUPPORT_BOT, GenaiRegistry
from support.team_registry import review_once

from api._cli_usage import run_app
from api.cli import _mount_optional_apps, app

pytestmark = pytest.mark.slow


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    _mount_optional_apps()
    code = run_app(app, list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_evidence_names_the_traces_and_the_scored_dataset(
    genai_registry: GenaiRegistry, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys, "evidence", SUPPORT_BOT, "2", "--tracking-uri", genai_registry.tracking_uri,
        "--json",
    )  # fmt: skip
    assert code == 0
    items = {i["kind"]: i for i in json.loads(out)}
    run_id = genai_registry.run_ids[(SUPPORT_BOT, 2)]
    assert items["eval_table"]["found"] is True
    assert any(run_id in w and "mlflow.genai.evaluate" in w for w in items["eval_table"]["where"])
    assert items["evaluation_dataset"]["found"] is True
    # Expected answers differ on every row: not offered as segments.
    assert items["segment_metrics"]["found"] is False


@pytest.mark.parametrize("model", [SUPPORT_BOT, FAQ_BOT], ids=["predict-fn", "outputs"])
def test_policy_init_guards_the_scorers_and_reviews_on_the_first_try(
    genai_registry: GenaiRegistry,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    model: str,
) -> None:
    from policies.loader import load_policy_dir

    target = tmp_path / "policies" / f"{model}.yaml"
    target.parent.mkdir()
    code, _, err = _run(
        capsys, "policy", "init", model, "latest", "-o", str(target),
        "--tracking-uri", genai_registry.tracking_uri,
    )  # fmt: skip
    assert code == 0, err
    text = target.read_text()
    assert "name: exact_match" in text and "as exact_match/mean" in text
    assert "require: [eval_table, evaluation_dataset]" in text
    # The table is read from traces: no artifact path that would match nothing.
    assert "paths:" not in text
    code, _, err = _run(
        capsys, "policy", "validate", str(target.parent), "--against", model, "latest",
        "--tracking-uri", genai_registry.tracking_uri,
    )  # fmt: skip
    assert code == 0, err
    policies = load_policy_dir(target.parent)
    latest = max(v for (m, v) in genai_registry.run_ids if m == model)
    decision = review_once(genai_registry.tracking_uri, model, latest, policies)
    if model == SUPPORT_BOT:
        # The latest support-bot answers 5 of 12: a policy written from it passes it, and the
        # comparison with the champion (9 of 12) blocks.
        assert decision.verdict == "block"
        failed = [c.id for c in decision.checks if c.status == "fail"]
        assert "metrics.exact_match.max_drop" in failed
        assert "metrics.exact_match.min" not in failed
    else:
        assert decision.verdict == "approve", decision.reasons
