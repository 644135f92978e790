"""Comparability rules: same evaluation data (rows, labels, metric definitions), train/eval
overlap."""

from __future__ import annotations

from typing import Any, Literal

from comparison import (
    DefinitionChange,
    Unavailable,
    dataset_ref,
    input_digests,
    metric_dataset_digests,
    metric_name_qualifiers,
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
    CheckStatus,
)
from tools.evidence import VersionEvidence

__all__ = ["ComparabilityChecks"]

_Mode = Literal["required", "warn", "off"]
_HOW_TO_COMPARE_LABELS = (
    "log a per-example evaluation table for both versions with row_id and label columns "
    "(mlflow.log_table(df, artifact_file='eval/predictions.json')) and the pipeline config or "
    "run params that name the label (e.g. data.label, pos_label)"
)
_HOW_TO_RESCORE = (
    "score both versions against the same label definition (re-score the champion with the new "
    "label, or the candidate with the old one) before comparing their metrics"
)
_HOW_TO_RECOMPUTE = (
    "compute the metrics of both versions with the same definition (averaging, k, threshold), "
    "e.g. by re-scoring the champion with the candidate's evaluation settings"
)


class ComparabilityChecks(RunBase):
    """Comparability rules: same evaluation data (rows, labels, metric definitions), train/eval
    overlap."""

    # comparability -----------------------------------------------------------------------------

    def _comparability_checks(self) -> list[CheckResult]:
        out: list[CheckResult] = []
        rules = self.policy.comparability
        if rules.same_eval_dataset != "off":
            out.append(self._same_eval_dataset(rules.same_eval_dataset == "required"))
        if rules.train_eval_overlap != "off":
            out.append(self._train_eval_overlap(rules.train_eval_overlap == "forbid"))
        labels: _Mode = rules.same_labels or rules.same_eval_dataset
        if labels != "off":
            out.append(self._same_labels(labels, explicit=rules.same_labels is not None))
        definitions: _Mode = rules.same_metric_definitions or rules.same_eval_dataset
        if definitions != "off":
            out.append(
                self._same_metric_definitions(
                    definitions, explicit=rules.same_metric_definitions is not None
                )
            )
        return out

    def _uncompared(self, mode: _Mode, explicit: bool) -> CheckStatus:
        """Nothing to compare: an explicit rule errors (required) or warns; one that follows
        same_eval_dataset skips, since the digests already decide whether the data is known."""
        if not explicit:
            return "skip"
        return "error" if mode == "required" else "warn"

    def _same_labels(self, mode: _Mode, explicit: bool) -> CheckResult:
        id = "comparability.same_labels"
        c = self.candidate
        b = self.baseline.version
        if b is None:
            return self._no_baseline(id, "comparability", "label comparability")
        tolerance = self.policy.comparability.max_label_disagreement
        facts = self.view.facts
        agreement = facts.label_agreement()
        changes = facts.label_changes()
        signals: list[str] = []
        mismatches: list[str] = []
        evidence: list[str] = []
        unavailable: dict[str, str] = {}
        details: dict[str, Any] = {"tolerance": tolerance}
        if isinstance(agreement, Unavailable):
            unavailable["evaluation_tables"] = agreement.reason
        else:
            signals.append("labels of the paired evaluation rows")
            details["label_agreement"] = agreement.model_dump(mode="json")
            evidence += agreement.evidence
            if agreement.share > tolerance:
                mismatches.append(f"{agreement.describe()}, beyond the tolerance {tolerance:.1%}")
        if isinstance(changes, Unavailable):
            unavailable["pipeline_config"] = changes.reason
        else:
            signals.append("label keys of the pipeline config")
            details["label_changes"] = [ch.model_dump(mode="json") for ch in changes]
            for change in changes:
                evidence += change.evidence
                mismatches.append(change.describe())
        details["compared"] = signals
        if unavailable:
            details["not_compared"] = unavailable
        evidence = list(dict.fromkeys(evidence))
        if not signals:
            return self.check(
                id,
                "comparability",
                self._uncompared(mode, explicit),
                f"cannot tell whether {c.ref} and {b.ref} were scored against the same labels: "
                + "; ".join(unavailable.values()),
                details=details,
                how_to_fix=_HOW_TO_COMPARE_LABELS,
            )
        if mismatches:
            details["mismatches"] = mismatches
            return self.check(
                id,
                "comparability",
                "fail" if mode == "required" else "warn",
                f"{c.ref} and {b.ref} were not scored against the same labels, so their metrics "
                f"are not comparable: {'; '.join(mismatches)}",
                observed=agreement.share if not isinstance(agreement, Unavailable) else None,
                threshold=tolerance,
                details=details,
                evidence=evidence,
                how_to_fix=_HOW_TO_RESCORE,
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"{c.ref} and {b.ref} were scored against the same labels "
            f"(compared: {', '.join(signals)})",
            observed=agreement.share if not isinstance(agreement, Unavailable) else None,
            threshold=tolerance,
            details=details,
            evidence=evidence,
        )

    def _judged_metrics(self) -> set[str]:
        """Base names of the metrics this policy judges (empty: it judges none by name)."""
        names = {r.name for r in self.policy.metrics} | {s.metric for s in self.policy.segments}
        out: set[str] = set()
        for name in names:
            out.add(name.lower())
            parsed = metric_name_qualifiers(name)
            if parsed is not None:
                out.add(parsed[0])
        return out

    def _relevant(self, change: DefinitionChange, judged: set[str]) -> bool:
        return change.source == "config" or not judged or change.key in judged

    def _same_metric_definitions(self, mode: _Mode, explicit: bool) -> CheckResult:
        id = "comparability.same_metric_definitions"
        c = self.candidate
        b = self.baseline.version
        if b is None:
            return self._no_baseline(id, "comparability", "metric definition comparability")
        facts = self.view.facts
        found = facts.metric_definition_changes()
        signals: list[str] = []
        unavailable: dict[str, str] = {}
        diff = facts.pipeline_diff()
        if isinstance(diff, Unavailable):
            unavailable["pipeline_config"] = diff.reason
        else:
            signals.append("metric settings of the pipeline config and run params")
        if facts.metrics("candidate") and facts.metrics("baseline"):
            signals.append("metric names")
        else:
            unavailable["metric_names"] = "one of the versions logged no metrics"
        details: dict[str, Any] = {"compared": signals}
        if unavailable:
            details["not_compared"] = unavailable
        if isinstance(found, Unavailable) or not signals:
            reasons = [found.reason] if isinstance(found, Unavailable) else []
            return self.check(
                id,
                "comparability",
                self._uncompared(mode, explicit),
                f"cannot tell whether {c.ref} and {b.ref} computed their metrics the same way: "
                + "; ".join(reasons or list(unavailable.values())),
                details=details,
                how_to_fix="log the evaluation settings (averaging, k, threshold) as run params "
                "or in the pipeline config of both versions",
            )
        judged = self._judged_metrics()
        changes = [ch for ch in found if self._relevant(ch, judged)]
        details["changes"] = [ch.model_dump(mode="json") for ch in changes]
        ignored = [ch.describe() for ch in found if not self._relevant(ch, judged)]
        if ignored:
            details["not_judged"] = ignored
        if changes:
            evidence = list(dict.fromkeys(r for ch in changes for r in ch.evidence))
            return self.check(
                id,
                "comparability",
                "fail" if mode == "required" else "warn",
                f"{c.ref} and {b.ref} did not compute their metrics the same way, so they are "
                f"not comparable: {'; '.join(ch.describe() for ch in changes)}",
                details=details,
                evidence=evidence,
                how_to_fix=_HOW_TO_RECOMPUTE,
            )
        return self.check(
            id,
            "comparability",
            "pass",
            f"{c.ref} and {b.ref} computed their metrics the same way "
            f"(compared: {', '.join(signals)})",
            details=details,
        )

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
