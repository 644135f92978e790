"""Pipeline rules on the data: `min_eval_fraction`, `train_eval_overlap` and
`evaluation_set_changed`."""

from __future__ import annotations

from comparison.datasets import dataset_overlaps
from policies._pipeline_rule_base import PipelineRuleBase, values_matching
from policies._pipeline_schema import (
    _EVAL_DATA_KEYS,
    _EVAL_SET_IDENTITY,
    _HOW_TO_LOG_DATASETS,
    _TRAIN_DATA_KEYS,
    DEFAULT_TRAIN_FRACTION_KEYS,
    RuleMode,
)
from policies.result import CheckResult, CheckStatus
from tools.pipeline_config import (
    ConfigValue,
    key_matches,
    numeric_value,
    value_text,
)

__all__ = ["DataChecks"]


class DataChecks(PipelineRuleBase):
    """The evaluation split, training/evaluation overlap, and a changed evaluation set."""

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
        config_train = values_matching(side.config, _TRAIN_DATA_KEYS, exclude=_EVAL_DATA_KEYS)
        config_eval = values_matching(side.config, _EVAL_DATA_KEYS)
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
