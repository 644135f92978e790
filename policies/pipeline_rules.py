"""The ``pipeline:`` section of a policy and its checks.

Rules read the flat view of the candidate's pipeline config (`tools.pipeline_config`), its diff
against the baseline (`tools.pipeline_diff`), the candidate's dataset inputs and its loss history::

    pipeline:
      require: [seed]                          # keys that must exist (globs; `seed` = any *seed,
                                               # and any key of the seed class: random_state)
      forbid_changes: [data.source, "features.pii_*", data_window]   # key globs or change classes
      ranges: {data.window: {min: 180d}, train.learning_rate: {max: 0.3}}
      min_eval_fraction: 0.15
      train_eval_overlap: forbid               # forbid | warn | off (true/false accepted)
      dependencies: {require_pinned: true, forbid_changes: false}
      convergence: {metric: train_loss}
      evaluation_set_changed: warn             # forbid | warn | off
      classes: {data_window: ["*.lookback_days"]}   # extra change-class patterns

Every rule yields `pass`, `fail` (or `warn` where the rule says so) and `error` when the evidence it
needs is missing or unreadable. A config that is missing entirely is an `error` only for rules that
read it; with none of those, a single `skip` check says so. Check ids: ``pipeline.require.seed``,
``pipeline.forbid_changes.data.source``, ``pipeline.ranges.data.window``,
``pipeline.min_eval_fraction``, ``pipeline.train_eval_overlap``,
``pipeline.dependencies.require_pinned``, ``pipeline.dependencies.forbid_changes``,
``pipeline.convergence.train_loss``, ``pipeline.evaluation_set_changed``, and
``pipeline.config.<file>`` for a file that cannot be read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from comparison.comparison import Comparison
from comparison.convergence import (
    ConvergenceAssessment,
    ConvergenceState,
    assess_convergence,
)
from comparison.datasets import dataset_overlaps
from comparison.pipeline import PipelineEvidence, pipeline_evidence
from comparison.unavailable import Unavailable
from policies.pipeline_schema import (
    _EVAL_DATA_KEYS,
    _EVAL_SET_IDENTITY,
    _HOW_TO_LOG_DATASETS,
    _HOW_TO_LOG_ENV,
    _TRAIN_DATA_KEYS,
    DEFAULT_EVAL_FRACTION_KEYS,
    DEFAULT_TRAIN_FRACTION_KEYS,
    HOW_TO_LOG_PIPELINE,
    ConvergenceRule,
    DependencyRules,
    PipelineRules,
    RangeRule,
    RuleMode,
)
from policies.result import CheckResult, CheckStatus
from tools.evidence import EvidenceBundle
from tools.pipeline_config import (
    ConfigValue,
    PipelineConfig,
    key_matches,
    numeric_value,
    value_text,
)
from tools.pipeline_diff import (
    CHANGE_CLASSES,
    ChangeClass,
    PipelineDiff,
    classify_key,
    diff_pipeline_configs,
)

__all__ = [
    "DEFAULT_EVAL_FRACTION_KEYS",
    "DEFAULT_TRAIN_FRACTION_KEYS",
    "HOW_TO_LOG_PIPELINE",
    "ConvergenceAssessment",
    "ConvergenceRule",
    "ConvergenceState",
    "DependencyRules",
    "PipelineEvidence",
    "PipelineRules",
    "RangeRule",
    "RuleMode",
    "assess_convergence",
    "evaluate_pipeline",
    "evaluate_pipeline_evidence",
    "is_pinned",
    "pipeline_evidence",
]


logger = logging.getLogger("promogate.policies")


def is_pinned(value: ConfigValue) -> bool:
    """Whether a dependency value pins one exact version.

    pip: a single ``==`` (no wildcard) or ``===`` specifier, or a direct URL with a commit or hash.
    conda: ``name=1.2.3``, ``name==1.2.3`` or ``name 1.2.3`` without wildcards or ranges.

    Args:
        value: A ``dependencies.pip.*`` or ``dependencies.conda.*`` value of the flat view.
    """
    text = value_text(value.value)
    if value.key.startswith("dependencies.conda."):
        rest = text.split("::")[-1]
        for i, ch in enumerate(rest):
            if ch in "=<>!~ ":
                version = rest[i:].strip()
                break
        else:
            return False
        if any(op in version for op in ("<", ">", "!", "~", "*", "|", ",")):
            return False
        return version.lstrip("= ").strip() != ""
    try:
        req = Requirement(text)
    except InvalidRequirement:
        return False
    if req.url:
        return "#sha256=" in req.url or any(
            len(part) == 40 and all(c in "0123456789abcdef" for c in part)
            for part in req.url.replace("#", "@").split("@")
        )
    specs = list(req.specifier)
    return len(specs) == 1 and (
        specs[0].operator == "===" or (specs[0].operator == "==" and "*" not in specs[0].version)
    )


class _Checks:
    """Builds the pipeline checks of one policy over candidate/baseline pipeline evidence."""

    def __init__(
        self,
        policy: str,
        rules: PipelineRules,
        candidate: PipelineEvidence,
        baseline: PipelineEvidence | None,
        static: bool,
    ) -> None:
        self.policy = policy
        self.rules = rules
        self.candidate = candidate
        self.baseline = baseline
        self.static = static
        self._diff: PipelineDiff | None = None

    @property
    def diff(self) -> PipelineDiff:
        if self._diff is None:
            assert self.baseline is not None
            self._diff = diff_pipeline_configs(
                self.baseline.config, self.candidate.config, extra_patterns=self.rules.classes
            )
        return self._diff

    def check(self, id: str, status: CheckStatus, message: str, **fields: Any) -> CheckResult:
        return CheckResult(
            id=f"pipeline.{id}",
            policy=self.policy,
            kind="pipeline",
            status=status,
            message=message,
            **fields,
        )

    # missing evidence ---------------------------------------------------------------------------

    def _why_missing(self, side: PipelineEvidence) -> str:
        if side.config.problems:
            parts = [f"no readable pipeline config for {side.ref}"]
            parts += [f"{p.location}: {p.message}" for p in side.config.problems]
        else:
            parts = [
                f"no readable pipeline config for {side.ref} (no config file under pipeline/, "
                "params.yaml, dvc.yaml or MLproject, and no run params)"
            ]
        parts += side.gaps
        return "; ".join(parts)

    def missing_config(self, id: str, side: PipelineEvidence, needed_for: str) -> CheckResult:
        return self.check(
            id,
            "error",
            f"{needed_for} cannot be checked: {self._why_missing(side)}",
            evidence=[f"version:{side.ref}/artifacts"],
            details={"problems": [p.model_dump() for p in side.config.problems]},
            how_to_fix=HOW_TO_LOG_PIPELINE,
        )

    def problem_checks(self) -> list[CheckResult]:
        sides = [("", self.candidate)]
        diff_rules = (
            self.rules.forbid_changes
            or self.rules.evaluation_set_changed != "off"
            or (self.rules.dependencies is not None and self.rules.dependencies.forbid_changes)
        )
        if self.baseline is not None and diff_rules:
            sides.append(("baseline.", self.baseline))
        out: list[CheckResult] = []
        for prefix, side in sides:
            for problem in side.config.problems:
                # A broken file blocks only where a rule reads config; otherwise it is a warning.
                status: CheckStatus = "error" if self.rules.needs_config or prefix else "warn"
                if problem.origin == "logged_model" and self.rules.dependencies is None:
                    status = "warn"
                out.append(
                    self.check(
                        f"config.{prefix}{problem.source}",
                        status,
                        f"{side.ref}: {problem.location}: {problem.message}",
                        evidence=[problem.ref],
                        details={
                            "kind": problem.kind,
                            "file": problem.source,
                            "line": problem.line,
                        },
                        how_to_fix=f"fix {problem.source!r} and log it again",
                    )
                )
        return out

    # require -----------------------------------------------------------------------------------

    def required(self, config: PipelineConfig, pattern: str) -> list[ConfigValue]:
        """Values satisfying a `require` pattern: matching keys, and for a change-class name
        (``seed``) every key of that class (``model.random_state``)."""
        cls = pattern.removeprefix("class:")
        return [
            v
            for key, v in sorted(config.values.items())
            if v.format != "datasets"
            and not key.startswith("dependencies.")
            and (
                key_matches(pattern, key)
                or (cls in CHANGE_CLASSES and classify_key(key, self.rules.classes) == cls)
            )
        ]

    def require(self, pattern: str) -> CheckResult:
        id = f"require.{pattern}"
        config = self.candidate.config
        if not config.has_config:
            return self.missing_config(id, self.candidate, f"required key {pattern!r}")
        matches = self.required(config, pattern)
        if not matches:
            note = ""
            if self.baseline is not None:
                had = self.required(self.baseline.config, pattern)
                if had:
                    note = f"; the baseline {self.baseline.ref} had " + ", ".join(
                        f"{v.key}={value_text(v.value)} ({v.location})" for v in had
                    )
            return self.check(
                id,
                "fail",
                f"required key {pattern!r} is missing from {self.candidate.ref}'s pipeline config "
                f"({len(config.values)} keys read){note}",
                threshold=pattern,
                evidence=[f"version:{self.candidate.ref}/pipeline"],
                how_to_fix=f"set {pattern!r} in the pipeline config (or log it as a run param)",
            )
        empty = [v for v in matches if v.value in (None, "", [])]
        if len(empty) == len(matches):
            return self.check(
                id,
                "fail",
                f"required key {pattern!r} is present but empty: "
                + ", ".join(f"{v.key} at {v.location}" for v in empty),
                threshold=pattern,
                evidence=[v.ref for v in empty],
                how_to_fix=f"give {empty[0].key!r} a value",
            )
        found = [v for v in matches if v not in empty]
        return self.check(
            id,
            "pass",
            f"required key {pattern!r} is set: "
            + ", ".join(f"{v.key}={value_text(v.value)} ({v.location})" for v in found),
            observed=", ".join(f"{v.key}={value_text(v.value)}" for v in found),
            threshold=pattern,
            evidence=[v.ref for v in found],
        )

    # forbid_changes ----------------------------------------------------------------------------

    def _no_baseline(self, id: str, what: str) -> CheckResult:
        return self.check(
            id, "skip", f"{what}: there is no baseline to compare with (first version)"
        )

    def forbid_change(self, pattern: str) -> CheckResult:
        id = f"forbid_changes.{pattern}"
        if self.baseline is None:
            return self._no_baseline(id, f"changes to {pattern!r}")
        about_deps = pattern.removeprefix("class:") == "dependency" or pattern.startswith(
            "dependencies"
        )
        # In a config review an absent old revision is a new file: every key is an addition.
        sides = (self.candidate,) if self.static else (self.candidate, self.baseline)
        for side in sides:
            has = side.config.has_config or (about_deps and side.config.has_dependencies)
            if not has:
                if about_deps:
                    return self.check(
                        id,
                        "error",
                        f"changes to {pattern!r} cannot be checked: {side.ref} has no "
                        "requirements.txt, conda.yaml or python_env.yaml on its logged model",
                        how_to_fix=_HOW_TO_LOG_ENV,
                    )
                return self.missing_config(id, side, f"changes to {pattern!r}")
        changes = self.diff.matching(pattern)
        kind = "class" if pattern.removeprefix("class:") in CHANGE_CLASSES else "keys"
        if changes:
            return self.check(
                id,
                "fail",
                f"forbidden change ({kind} {pattern!r}) from {self.baseline.ref} to "
                f"{self.candidate.ref}: " + "; ".join(c.explain() for c in changes),
                observed=f"{len(changes)} change(s)",
                threshold=pattern,
                details={"changes": [c.as_data() for c in changes]},
                evidence=[r for c in changes for r in c.refs],
                how_to_fix="revert the change, or have the policy owners allow it",
            )
        return self.check(
            id,
            "pass",
            f"no change to {pattern!r} between {self.baseline.ref} and {self.candidate.ref}",
            observed="0 changes",
            threshold=pattern,
        )

    # ranges ------------------------------------------------------------------------------------

    def range(self, pattern: str, rule: RangeRule) -> CheckResult:
        id = f"ranges.{pattern}"
        bounds = " and ".join(
            part
            for part in (
                f">= {rule.min}" if rule.min is not None else "",
                f"<= {rule.max}" if rule.max is not None else "",
            )
            if part
        )
        config = self.candidate.config
        if not config.has_config:
            return self.missing_config(id, self.candidate, f"the range of {pattern!r}")
        matches = [v for v in config.matching(pattern) if v.format != "datasets"]
        if not matches:
            return self.check(
                id,
                "skip",
                f"no key matches {pattern!r} in {self.candidate.ref}'s pipeline config; add it to "
                "`require` to make it mandatory",
                threshold=bounds,
            )
        bad: list[str] = []
        unreadable: list[str] = []
        for v in matches:
            number = numeric_value(v.value)
            if number is None:
                unreadable.append(f"{v.key}={value_text(v.value)!r} ({v.location})")
            elif (rule.low is not None and number < rule.low) or (
                rule.high is not None and number > rule.high
            ):
                bad.append(f"{v.key}={value_text(v.value)} ({v.location})")
        shown = ", ".join(f"{v.key}={value_text(v.value)}" for v in matches)
        refs = [v.ref for v in matches]
        if bad:
            return self.check(
                id,
                "fail",
                f"{', '.join(bad)} outside the allowed range {bounds}",
                observed=shown,
                threshold=bounds,
                evidence=refs,
                how_to_fix=f"set {pattern!r} within {bounds}",
            )
        if unreadable:
            return self.check(
                id,
                "error",
                f"{', '.join(unreadable)} is not a number or duration; cannot check {bounds}",
                observed=shown,
                threshold=bounds,
                evidence=refs,
                how_to_fix="use a number, a percentage (20%) or a duration (90d, 12w, 6mo, 1y)",
            )
        return self.check(
            id, "pass", f"{shown} within {bounds}", observed=shown, threshold=bounds, evidence=refs
        )

    # min_eval_fraction -------------------------------------------------------------------------

    def _fraction_from_config(self) -> tuple[float, ConfigValue] | None:
        config = self.candidate.config
        for pattern in self.rules.eval_fraction_keys:
            for v in config.matching(pattern):
                number = numeric_value(v.value)
                if number is not None and 0.0 < number < 1.0:
                    return number, v
        for pattern in DEFAULT_TRAIN_FRACTION_KEYS:
            for v in config.matching(pattern):
                number = numeric_value(v.value)
                if number is not None and 0.0 < number < 1.0:
                    return 1.0 - number, v
        return None

    def min_eval_fraction(self, minimum: float) -> CheckResult:
        id = "min_eval_fraction"
        found = self._fraction_from_config()
        if found is not None:
            fraction, value = found
            source = f"{value.key}={value_text(value.value)} ({value.location})"
            evidence = [value.ref]
        else:
            train = [d.num_rows for d in self.candidate.datasets if d.context == "training"]
            evals = [d.num_rows for d in self.candidate.datasets if d.context == "evaluation"]
            if train and evals and None not in train and None not in evals:
                n_train = sum(n for n in train if n is not None)
                n_eval = sum(n for n in evals if n is not None)
                fraction = n_eval / (n_train + n_eval) if n_train + n_eval else 0.0
                source = f"{n_eval} evaluation rows of {n_train + n_eval} (dataset inputs)"
                evidence = [f"version:{self.candidate.ref}/datasets"]
            else:
                why = (
                    self._why_missing(self.candidate)
                    if not self.candidate.config.has_config
                    else f"no key matching {', '.join(self.rules.eval_fraction_keys[:4])}, ... "
                    "holds a fraction between 0 and 1"
                )
                return self.check(
                    id,
                    "error",
                    f"the evaluation split of {self.candidate.ref} is unknown: {why}; and the "
                    "dataset inputs do not give both training and evaluation row counts",
                    threshold=minimum,
                    how_to_fix="set the split in the pipeline config (e.g. split.eval_fraction: "
                    f"0.2), or {_HOW_TO_LOG_DATASETS}",
                )
        shown = f"evaluation split {fraction:.3g} from {source}"
        if fraction < minimum:
            return self.check(
                id,
                "fail",
                f"{shown} is below the minimum {minimum:.3g}",
                observed=fraction,
                threshold=minimum,
                evidence=evidence,
                how_to_fix=f"evaluate on at least {minimum:.0%} of the data",
            )
        return self.check(
            id,
            "pass",
            f"{shown} meets the minimum {minimum:.3g}",
            observed=fraction,
            threshold=minimum,
            evidence=evidence,
        )

    # train_eval_overlap ------------------------------------------------------------------------

    def train_eval_overlap(self, mode: RuleMode) -> CheckResult:
        id = "train_eval_overlap"
        side = self.candidate
        train = [d for d in side.datasets if d.context == "training"]
        evals = [d for d in side.datasets if d.context == "evaluation"]
        overlaps: list[str] = []
        evidence: list[str] = []
        checked = False
        if train and evals:
            checked = True
            overlaps += [
                f"training {o.training!r} and evaluation {o.evaluation!r} have the same digest "
                f"{o.value}"
                if o.same == "digest"
                else f"training {o.training!r} and evaluation {o.evaluation!r} come from the "
                f"same source {o.value}"
                for o in dataset_overlaps(train, evals)
            ]
            evidence.append(f"version:{side.ref}/datasets")
        config_train = _values_matching(side.config, _TRAIN_DATA_KEYS, exclude=_EVAL_DATA_KEYS)
        config_eval = _values_matching(side.config, _EVAL_DATA_KEYS)
        if config_train and config_eval:
            checked = True
            for tv in config_train:
                for ev in config_eval:
                    if value_text(tv.value) == value_text(ev.value) and tv.value not in (None, ""):
                        overlaps.append(
                            f"{tv.key} ({tv.location}) and {ev.key} ({ev.location}) both read "
                            f"{value_text(tv.value)}"
                        )
                        evidence += [tv.ref, ev.ref]
        status: CheckStatus = "fail" if mode == "forbid" else "warn"
        if overlaps:
            return self.check(
                id,
                status,
                f"training and evaluation data of {side.ref} overlap: " + "; ".join(overlaps),
                observed="overlap",
                evidence=evidence,
                how_to_fix="evaluate on data held out from training",
            )
        if not checked:
            where = "the config under review" if self.static else "the dataset inputs"
            return self.check(
                id,
                "error" if mode == "forbid" else "warn",
                f"training/evaluation overlap of {side.ref} cannot be checked: {where} name no "
                "training and evaluation data (no dataset inputs with both contexts, no "
                "train/eval path keys in the config)",
                how_to_fix=_HOW_TO_LOG_DATASETS,
            )
        return self.check(
            id,
            "pass",
            f"training and evaluation data of {side.ref} are distinct ("
            + ("digests and sources differ" if train and evals else "their paths differ")
            + ")",
            observed="distinct",
            evidence=evidence,
        )

    # dependencies ------------------------------------------------------------------------------

    def require_pinned(self, rules: DependencyRules) -> CheckResult:
        id = "dependencies.require_pinned"
        config = self.candidate.config
        if not config.has_dependencies:
            return self.check(
                id,
                "error",
                f"{self.candidate.ref} has no requirements.txt, conda.yaml or python_env.yaml on "
                "its logged model, so its dependencies cannot be checked",
                evidence=[f"version:{self.candidate.ref}/artifacts"],
                how_to_fix=_HOW_TO_LOG_ENV,
            )
        ignored = {name.lower() for name in rules.ignore}
        deps = [
            v
            for key, v in sorted(config.values.items())
            if key.startswith(("dependencies.pip.", "dependencies.conda."))
            and key.rsplit(".", 1)[-1] not in ignored
        ]
        unpinned = [v for v in deps if not is_pinned(v)]
        if unpinned:
            return self.check(
                id,
                "fail",
                f"{len(unpinned)} of {len(deps)} dependencies of {self.candidate.ref} are not "
                "pinned to one version: "
                + ", ".join(f"{value_text(v.value)} ({v.location})" for v in unpinned),
                observed=len(unpinned),
                threshold=0,
                details={"unpinned": [value_text(v.value) for v in unpinned]},
                evidence=[v.ref for v in unpinned],
                how_to_fix="pin each requirement with ==, e.g. pip_requirements="
                "['scikit-learn==1.5.2'] in log_model",
            )
        return self.check(
            id,
            "pass",
            f"all {len(deps)} dependencies of {self.candidate.ref} are pinned",
            observed=0,
            threshold=0,
            evidence=sorted({f"{v.ref.rsplit(':', 1)[0]}" for v in deps}),
        )

    def dependency_changes(self) -> CheckResult:
        id = "dependencies.forbid_changes"
        if self.baseline is None:
            return self._no_baseline(id, "dependency changes")
        sides = (self.candidate,) if self.static else (self.candidate, self.baseline)
        for side in sides:
            if not side.config.has_dependencies:
                return self.check(
                    id,
                    "error",
                    f"dependency changes cannot be checked: {side.ref} has no requirements.txt, "
                    "conda.yaml or python_env.yaml on its logged model",
                    how_to_fix=_HOW_TO_LOG_ENV,
                )
        changes = [c for c in self.diff.changes if c.key.startswith("dependencies.")]
        if changes:
            return self.check(
                id,
                "fail",
                f"the dependencies changed from {self.baseline.ref} to {self.candidate.ref}: "
                + "; ".join(f"{c.describe()} ({c.location})" for c in changes),
                observed=f"{len(changes)} change(s)",
                details={"changes": [c.as_data() for c in changes]},
                evidence=[r for c in changes for r in c.refs],
                how_to_fix="keep the champion's dependencies, or have the policy owners allow "
                "the upgrade",
            )
        return self.check(
            id,
            "pass",
            f"the dependencies of {self.candidate.ref} match {self.baseline.ref}",
            observed="0 changes",
        )

    # convergence -------------------------------------------------------------------------------

    def convergence(self, rule: ConvergenceRule) -> CheckResult:
        id = f"convergence.{rule.metric}"
        if self.static:
            return self.check(
                id,
                "skip",
                "convergence needs a training run's metric history; none in a config review",
            )
        history = self.candidate.metric_histories.get(rule.metric, [])
        ref = f"version:{self.candidate.ref}/metric_history/{rule.metric}"
        how = (
            f"log the loss every epoch or iteration: mlflow.log_metric({rule.metric!r}, value, "
            "step=epoch)"
        )
        if not history:
            known = ", ".join(sorted(self.candidate.metric_histories)) or "none"
            return self.check(
                id,
                "error",
                f"{self.candidate.ref} has no metric history for {rule.metric!r} "
                f"(histories read: {known})",
                how_to_fix=how,
            )
        result = assess_convergence(history, rule)
        details = result.model_dump(exclude={"message"})
        fields: dict[str, Any] = {
            "observed": result.last,
            "details": details,
            "evidence": [ref],
        }
        if result.state == "insufficient":
            return self.check(id, "error", result.message, how_to_fix=how, **fields)
        if result.state == "diverged":
            return self.check(
                id,
                rule.on_diverged,
                result.message,
                how_to_fix="lower the learning rate or fix the data; a diverged model is not a "
                "candidate",
                **fields,
            )
        if result.state == "still_falling":
            return self.check(
                id,
                rule.on_still_falling,
                result.message,
                threshold=rule.max_tail_improvement,
                how_to_fix="train longer (more epochs/estimators) or use early stopping on a "
                "validation loss",
                **fields,
            )
        return self.check(id, "pass", result.message, threshold=rule.max_tail_improvement, **fields)

    # evaluation_set_changed --------------------------------------------------------------------

    def evaluation_set(self, mode: RuleMode) -> CheckResult:
        id = "evaluation_set_changed"
        if self.baseline is None:
            return self._no_baseline(id, "the evaluation set")
        status: CheckStatus = "fail" if mode == "forbid" else "warn"
        reasons: list[str] = []
        evidence: list[str] = []
        known = False
        cand, base = self.candidate.evaluation_digests, self.baseline.evaluation_digests
        if cand and base:
            known = True
            evidence += [
                f"version:{self.candidate.ref}/datasets",
                f"version:{self.baseline.ref}/datasets",
            ]
            if set(cand) != set(base):
                reasons.append(
                    f"evaluation dataset digest(s) {', '.join(cand)} differ from the baseline's "
                    f"{', '.join(base)}"
                )
        # Config keys say something only when both sides have a config to compare.
        comparable = self.candidate.config.has_config and self.baseline.config.has_config
        eval_keys = [
            k
            for k in set(self.candidate.config.values) | set(self.baseline.config.values)
            if comparable
            if self.diff_class(k) == "evaluation"
            and not k.startswith("datasets.")
            and any(key_matches(p, k) for p in _EVAL_SET_IDENTITY)
        ]
        if eval_keys:
            known = True
            for change in self.diff.changes:
                if change.key in eval_keys:
                    reasons.append(change.explain())
                    evidence += change.refs
        if reasons:
            return self.check(
                id,
                status,
                f"{self.candidate.ref} {'would be' if self.static else 'was'} evaluated on a "
                f"different evaluation set than "
                f"{self.baseline.ref}: "
                + "; ".join(reasons)
                + "; metric comparisons with the baseline are not like for like",
                observed="changed",
                evidence=evidence,
                how_to_fix="re-evaluate both versions on the same evaluation set",
            )
        if not known:
            return self.check(
                id,
                "error" if mode == "forbid" else "warn",
                "whether the evaluation set changed is unknown: neither evaluation dataset "
                f"digests for both {self.candidate.ref} and {self.baseline.ref} nor evaluation "
                "data keys in their configs",
                how_to_fix="log the evaluation data with mlflow.log_input(dataset, "
                "context='evaluation')",
            )
        return self.check(
            id,
            "pass",
            f"{self.candidate.ref} and {self.baseline.ref} were evaluated on the same "
            "evaluation set",
            observed="unchanged",
            evidence=evidence,
        )

    def diff_class(self, key: str) -> ChangeClass:
        return classify_key(key, self.rules.classes)

    # all ---------------------------------------------------------------------------------------

    def run(self) -> list[CheckResult]:
        rules = self.rules
        if rules.is_empty:
            return []
        checks = self.problem_checks()
        if not rules.needs_config and not self.candidate.config.has_config and not self.static:
            checks.append(
                self.check(
                    "config",
                    "skip",
                    f"no pipeline config was logged for {self.candidate.ref}; no rule of this "
                    "policy reads one",
                )
            )
        checks += [self.require(p) for p in rules.require]
        checks += [self.forbid_change(p) for p in rules.forbid_changes]
        checks += [self.range(p, r) for p, r in rules.ranges.items()]
        if rules.min_eval_fraction is not None:
            checks.append(self.min_eval_fraction(rules.min_eval_fraction))
        if rules.train_eval_overlap != "off":
            checks.append(self.train_eval_overlap(rules.train_eval_overlap))
        if rules.dependencies is not None:
            if rules.dependencies.require_pinned:
                checks.append(self.require_pinned(rules.dependencies))
            if rules.dependencies.forbid_changes:
                checks.append(self.dependency_changes())
        if rules.convergence is not None:
            checks.append(self.convergence(rules.convergence))
        if rules.evaluation_set_changed != "off":
            checks.append(self.evaluation_set(rules.evaluation_set_changed))
        return checks


def _values_matching(
    config: PipelineConfig, patterns: Iterable[str], exclude: Iterable[str] = ()
) -> list[ConfigValue]:
    excluded = tuple(exclude)
    return [
        v
        for key, v in sorted(config.values.items())
        if v.format != "datasets"
        and any(key_matches(p, key) for p in patterns)
        and not any(key_matches(p, key) for p in excluded)
        and isinstance(v.value, str)
    ]


def evaluate_pipeline_evidence(
    policy: str,
    rules: PipelineRules,
    candidate: PipelineEvidence,
    baseline: PipelineEvidence | None,
    *,
    static: bool = False,
) -> list[CheckResult]:
    """Evaluate `rules` on already loaded pipeline evidence (shared by reviews and config reviews).

    Args:
        policy: The policy's name, recorded on every check.
        rules: The policy's ``pipeline:`` section.
        candidate: The candidate's (or the new file's) pipeline evidence.
        baseline: The baseline's (or the old file's); None for a first version.
        static: True for a config review before training: rules that need a run (convergence)
            are skipped with a reason.
    """
    return _Checks(policy, rules, candidate, baseline, static).run()


def evaluate_pipeline(
    policy: str, rules: PipelineRules, evidence: EvidenceBundle | Comparison
) -> list[CheckResult]:
    """Evaluate `rules` against the pipeline configs, params, datasets and loss histories.

    Args:
        policy: The policy's name, recorded on every check.
        rules: The policy's ``pipeline:`` section.
        evidence: The review's comparison (pipeline evidence is read once per review), or the
            candidate's and the baseline's evidence.
    """
    if rules.is_empty:
        return []
    facts = Comparison.of(evidence)
    candidate = facts.pipeline("candidate")
    assert not isinstance(candidate, Unavailable)  # the candidate always exists
    found = facts.pipeline("baseline")
    baseline = None if isinstance(found, Unavailable) else found
    checks = evaluate_pipeline_evidence(policy, rules, candidate, baseline)
    logger.debug("pipeline rules of %s: %d checks", policy, len(checks))
    return checks
