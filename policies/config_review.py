"""Static review of a pipeline config change: two revisions of one file, before any training.

The PR bot calls it for config files a pull request touches, and the chat calls it when an engineer
pastes a change. It classifies the changes exactly as a promotion review does
(`tools.pipeline_diff`) and applies a policy's ``pipeline:`` rules where they can be judged from
config alone; rules that need a training run (convergence) are skipped with a reason. Without
rules, every change of a class that usually moves metrics (data source or window, split, features,
seed, evaluation, dependencies) becomes an advisory ``warn`` check ``pipeline.review.<class>``.
No MLflow is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from policies.pipeline_rules import PipelineEvidence, PipelineRules, evaluate_pipeline_evidence
from policies.result import STATUS_ORDER, CheckResult, CheckStatus
from tools.pipeline_config import (
    ConfigFormat,
    ConfigProblem,
    PipelineConfig,
    load_config_files,
)
from tools.pipeline_diff import ChangeClass, ConfigChange, PipelineDiff, diff_pipeline_configs

__all__ = ["ADVISORY_CLASSES", "ConfigReview", "review_config_change"]

logger = logging.getLogger("promogate.policies")

ADVISORY_CLASSES: tuple[ChangeClass, ...] = (
    "data_source",
    "data_window",
    "split",
    "features",
    "seed",
    "evaluation",
    "dependency",
    "label",
)
_ADVICE: dict[ChangeClass, str] = {
    "data_source": "a different training data source changes what the model learns",
    "data_window": "a different data window changes the population the model sees",
    "split": "a different split changes what the metrics are measured on",
    "features": "a changed feature set can move segments unevenly and can add sensitive inputs",
    "seed": "without a fixed seed the run cannot be reproduced; a new seed moves metrics by noise",
    "evaluation": "a changed evaluation config makes metrics incomparable with the champion's",
    "dependency": "a changed dependency can change model behaviour and serving",
    "hyperparameter": "a hyperparameter change is routine but moves metrics",
    "other": "",
    "label": "a changed label makes the model predict something else, so its metrics are not "
    "comparable with the champion's",
}


class ConfigReview(BaseModel):
    """The result of reviewing one config file's change."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    format: ConfigFormat | None = Field(
        default=None, description="The format the new revision was read as; None if unreadable."
    )
    status: CheckStatus = Field(description="The worst check status ('pass' with no checks).")
    summary: str
    changes: list[ConfigChange] = Field(default_factory=list)
    checks: list[CheckResult] = Field(default_factory=list)
    problems: list[ConfigProblem] = Field(default_factory=list)


def _load(
    text: str | None, path: str, files: Mapping[str, str] | None, ref_prefix: str
) -> PipelineConfig:
    if text is None:
        return PipelineConfig()
    tree = dict(files or {})
    tree[path] = text
    # Without the group files, a Hydra primary is reviewed on its own defaults list.
    return load_config_files(tree, ref_prefix=ref_prefix, strict_includes=files is not None)


def _only(config: PipelineConfig, path: str) -> PipelineConfig:
    """The values and problems of `path` (and files composed into it), not of sibling files."""
    keep = {path}
    for f in config.files:
        if f.path == path:
            keep.update(f.includes)
    return PipelineConfig(
        values={k: v for k, v in config.values.items() if v.source in keep},
        files=[f for f in config.files if f.path in keep],
        problems=[p for p in config.problems if p.source in keep],
    )


def _advisories(policy: str, diff: PipelineDiff) -> list[CheckResult]:
    checks: list[CheckResult] = []
    for cls in ADVISORY_CLASSES:
        changes = diff.by_class(cls)
        if not changes:
            continue
        checks.append(
            CheckResult(
                id=f"pipeline.review.{cls}",
                policy=policy,
                kind="pipeline",
                status="warn",
                message=f"{_ADVICE[cls]}: " + "; ".join(c.explain() for c in changes),
                observed=f"{len(changes)} change(s)",
                details={"changes": [c.key for c in changes]},
                evidence=[r for c in changes for r in c.refs],
                how_to_fix="confirm the change is intended and compare the retrained model with "
                "the champion before promoting it",
            )
        )
    return checks


def review_config_change(
    old_text: str | None,
    new_text: str | None,
    *,
    path: str,
    rules: PipelineRules | None = None,
    policy: str = "config-review",
    old_files: Mapping[str, str] | None = None,
    new_files: Mapping[str, str] | None = None,
) -> ConfigReview:
    """Review a change to one pipeline config file: classify each change and apply the rules.

    Args:
        old_text: The file before the change (e.g. on the PR's base branch); None if the change
            adds the file.
        new_text: The file after the change; None if the change deletes it.
        path: The file's path in the repository, e.g. ``pipeline/pipeline.yaml``; picks the
            format (YAML, JSON, ``params.yaml``, ``dvc.yaml``, ``MLproject``, a Kubeflow spec, a
            Hydra primary config, ``requirements.txt``, ``conda.yaml``).
        rules: A policy's ``pipeline:`` section. Without it, changes of risky classes become
            advisory warnings.
        policy: The policy's name, recorded on every check.
        old_files: Other files of the same config tree at the old revision, by path (Hydra group
            files). Without them a Hydra primary is reviewed on its defaults list alone.
        new_files: The same at the new revision.
    """
    old = _only(_load(old_text, path, old_files, "file@base:"), path)
    new = _only(_load(new_text, path, new_files, "file:"), path)
    diff = diff_pipeline_configs(old, new, extra_patterns=rules.classes if rules else None)
    note = ""
    if new_text is not None and new.problems and not new.values:
        # Nothing to compare: an unreadable file would read as every key removed.
        diff = PipelineDiff(
            changes=[], baseline_has_config=old.has_config, candidate_has_config=False
        )
        note = " (the new revision cannot be read)"
    elif old_text is not None and old.problems and not old.values:
        note = " (the old revision cannot be read; every key counts as added)"
    fmt = next((f.format for f in new.files if f.path == path), None)
    problems = [*new.problems, *(p for p in old.problems if p not in new.problems)]
    checks: list[CheckResult] = []
    for problem in new.problems:
        checks.append(
            CheckResult(
                id=f"pipeline.config.{problem.source}",
                policy=policy,
                kind="pipeline",
                status="error",
                message=f"{problem.location}: {problem.message}",
                evidence=[problem.ref],
                details={"kind": problem.kind, "file": problem.source, "line": problem.line},
                how_to_fix=f"fix {problem.source!r} so that it parses",
            )
        )
    if rules is None:
        checks += _advisories(policy, diff)
    else:
        candidate = PipelineEvidence(ref=f"{path} (new)", config=new)
        baseline = PipelineEvidence(ref=f"{path} (old)", config=old)
        rule_checks = evaluate_pipeline_evidence(policy, rules, candidate, baseline, static=True)
        # Problems of the new revision were reported above; the rules report them again.
        seen = {c.id for c in checks}
        checks += [c for c in rule_checks if c.id not in seen]
    status: CheckStatus = max(
        (c.status for c in checks), key=lambda s: STATUS_ORDER[s], default="pass"
    )
    if status == "skip":
        status = "pass"
    failing = [c.id for c in checks if c.status in ("fail", "error")]
    summary = f"{path}: {diff.summary()}{note}"
    if failing:
        summary += f"; {len(failing)} check(s) failed: {', '.join(failing)}"
    elif checks:
        summary += f"; worst check status: {status}"
    logger.debug("config review of %s: %s", path, summary)
    return ConfigReview(
        path=path,
        format=fmt,
        status=status,
        summary=summary,
        changes=diff.changes,
        checks=checks,
        problems=problems,
    )
