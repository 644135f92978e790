"""Comparability rules: same evaluation data, train/eval overlap."""

from __future__ import annotations

from typing import Any

from comparison import (
    Unavailable,
    dataset_ref,
    input_digests,
    metric_dataset_digests,
)
from policies._rule_base import (
    _HOW_TO_LOG_EVAL_DATASET,
    _HOW_TO_LOG_TRAIN_DATASET,
    RunBase,
    _gap_notes,
    _short_digests,
)
from policies.result import (
    CheckResult,
)
from tools.evidence import VersionEvidence

__all__ = ["ComparabilityChecks"]


class ComparabilityChecks(RunBase):
    """Comparability rules: same evaluation data, train/eval overlap."""

    # comparability -----------------------------------------------------------------------------

    def _comparability_checks(self) -> list[CheckResult]:
        out: list[CheckResult] = []
        rules = self.policy.comparability
        if rules.same_eval_dataset != "off":
            out.append(self._same_eval_dataset(rules.same_eval_dataset == "required"))
        if rules.train_eval_overlap != "off":
            out.append(self._train_eval_overlap(rules.train_eval_overlap == "forbid"))
        return out

    def _logged_model_digests(self, version: VersionEvidence) -> dict[str, str]:
        """Dataset digest per policy metric, from the logged model's dataset-linked metrics."""
        wanted = {r.name for r in self.policy.metrics}
        return {k: d for k, d in metric_dataset_digests(version).items() if k in wanted}

    def _same_eval_dataset(self, required: bool) -> CheckResult:
        id = "comparability.same_eval_dataset"
        c = self.candidate
        b = self.baseline.version
        if b is None:
            return self._no_baseline(id, "comparability", "evaluation dataset comparability")
        cand_digests = set(input_digests(c, "evaluation"))
        base_digests = set(input_digests(b, "evaluation"))
        evidence = [dataset_ref(d) for d in sorted(cand_digests | base_digests)]
        signals: list[str] = []
        mismatches: list[str] = []
        if cand_digests and base_digests:
            signals.append("evaluation dataset inputs")
            if cand_digests != base_digests:
                mismatches.append(
                    f"evaluation datasets differ: {c.ref} used {_short_digests(cand_digests)}, "
                    f"{b.ref} used {_short_digests(base_digests)}"
                )
        lm_c, lm_b = self._logged_model_digests(c), self._logged_model_digests(b)
        for key in sorted(set(lm_c) & set(lm_b)):
            signals.append(f"logged-model metric {key!r}")
            if lm_c[key] != lm_b[key]:
                mismatches.append(
                    f"{key!r} was computed on dataset {lm_c[key][:12]} for {c.ref} but on "
                    f"{lm_b[key][:12]} for {b.ref}"
                )
        if (
            c.eval_table is not None
            and b.eval_table is not None
            and "row_id" in c.eval_table.columns
            and "row_id" in b.eval_table.columns
        ):
            signals.append("evaluation table row ids")
            ids_c = {str(v) for v in c.eval_table.column("row_id")}
            ids_b = {str(v) for v in b.eval_table.column("row_id")}
            if ids_c != ids_b:
                mismatches.append(
                    f"evaluation tables cover different rows: {len(ids_c - ids_b)} only in "
                    f"{c.ref}, {len(ids_b - ids_c)} only in {b.ref}"
                )
        details: dict[str, Any] = {
            "candidate_digests": sorted(cand_digests),
            "baseline_digests": sorted(base_digests),
            "candidate_metric_digests": lm_c,
            "baseline_metric_digests": lm_b,
            "compared": signals,
        }
        observed = ",".join(sorted(cand_digests)) or None
        baseline = ",".join(sorted(base_digests)) or None
        if not signals:
            return self.check(
                id,
                "comparability",
                "error" if required else "warn",
                f"cannot tell whether {c.ref} and {b.ref} were scored on the same evaluation data: "
                "no evaluation dataset digests for both versions",
                observed=observed,
                baseline=baseline,
                details=details,
                evidence=evidence,
                how_to_fix=_HOW_TO_LOG_EVAL_DATASET,
            )
        if mismatches:
            details["mismatches"] = mismatches
            return self.check(
                id,
                "comparability",
                "fail" if required else "warn",
                f"{c.ref} and {b.ref} were not scored on the same evaluation data, so their "
                f"metrics are not comparable: {'; '.join(mismatches)}",
                observed=observed,
                baseline=baseline,
                details=details,
                evidence=evidence,
                how_to_fix="score the candidate on the baseline's evaluation dataset",
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"{c.ref} and {b.ref} were scored on the same evaluation data "
            f"(compared: {', '.join(signals)})",
            observed=observed,
            baseline=baseline,
            details=details,
            evidence=evidence,
        )

    def _train_eval_overlap(self, forbid: bool) -> CheckResult:
        id = "comparability.train_eval_overlap"
        c = self.candidate
        train = c.datasets_in("training")
        evals = c.datasets_in("evaluation")
        evidence = [dataset_ref(d.digest) for d in [*train, *evals]]
        fact = self.view.facts.train_eval_overlap()
        if isinstance(fact, Unavailable):
            missing = [n for n, ds in (("training", train), ("evaluation", evals)) if not ds]
            how = " and ".join(
                _HOW_TO_LOG_TRAIN_DATASET if n == "training" else _HOW_TO_LOG_EVAL_DATASET
                for n in missing
            )
            return self.check(
                id,
                "comparability",
                "error" if forbid else "warn",
                f"cannot check train/eval overlap for {c.ref}: no "
                f"{' or '.join(missing)} dataset input",
                evidence=evidence,
                how_to_fix=how,
                details={"gaps": _gap_notes(c, "datasets")},
            )
        overlaps = [
            {"training": o.training, "evaluation": o.evaluation, "same": o.same}
            for o in fact.overlaps
        ]
        if overlaps:
            pairs = "; ".join(
                f"training {o['training']!r} and evaluation {o['evaluation']!r} have the same "
                f"{o['same']}"
                for o in overlaps
            )
            return self.check(
                id,
                "comparability",
                "fail" if forbid else "warn",
                f"{c.ref} was evaluated on data it was trained on: {pairs}",
                evidence=evidence,
                details={"overlaps": overlaps},
                how_to_fix="evaluate on a held-out split that is disjoint from the training data",
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"training and evaluation datasets of {c.ref} are distinct "
            f"({len(train)} training, {len(evals)} evaluation inputs)",
            evidence=evidence,
        )
