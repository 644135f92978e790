"""The parts every rule family shares: the comparison as checks read it, the baseline a policy
sees, the check constructor and the significance judgement."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

from comparison import (
    Comparison,
    Unavailable,
)
from policies.loader import LoadedPolicy
from policies.result import (
    CheckKind,
    CheckResult,
    CheckStatus,
    PolicyRef,
)
from policies.schema import Policy
from tools.evidence import VersionEvidence
from tools.segments import (
    TableMetric,
    TablePairing,
)
from tools.significance import (
    BootstrapResult,
)

__all__ = ["RunBase"]

logger = logging.getLogger("promogate.policies")

#: The implicit policy that blocks a version no policy matches.
DENY_BY_DEFAULT = PolicyRef(
    name="promogate.deny-by-default",
    revision=0,
    sha256=hashlib.sha256(b"promogate: no matching policy blocks").hexdigest(),
)

_BOOTSTRAP_RESAMPLES = 2000
_BOOTSTRAP_SEED = 0
# Drops equal to the tolerance pass; this absorbs float noise such as 0.80 - 0.79 > 0.01.
_EPS = 1e-9
_REGRESSION_WHEN_MISSING: dict[str, CheckStatus] = {
    "pass": "skip",
    "warn": "warn",
    "error": "error",
}
_BASELINE_WHEN_MISSING: dict[str, CheckStatus] = {"pass": "pass", "warn": "warn", "error": "error"}
_HOW_TO_LOG_TABLE = (
    "log a per-example evaluation table for both versions with "
    "mlflow.log_table(df, artifact_file='eval/predictions.json'), columns row_id, label, "
    "prediction, score and the segment columns, scored on the same evaluation rows"
)
_HOW_TO_LOG_EVAL_DATASET = (
    "log the evaluation data on the source run of both versions with "
    "mlflow.log_input(mlflow.data.from_pandas(eval_df, name=...), context='evaluation')"
)
_HOW_TO_LOG_TRAIN_DATASET = (
    "log the training data on the source run with "
    "mlflow.log_input(mlflow.data.from_pandas(train_df, name=...), context='training')"
)
_PIPELINE_FILES = ("params.yaml", "dvc.yaml", "MLproject")


def _num(value: float) -> str:
    return f"{value:.4g}"


def _gap_notes(version: VersionEvidence, *sources: str) -> list[str]:
    return [g.message for g in version.gaps if g.source in sources]


def _short_digests(digests: set[str]) -> str:
    return ", ".join(sorted(d[:12] for d in digests)) or "none"


class _BundleView:
    """The review's comparison as the checks read it: each fact, or why it is unavailable."""

    def __init__(self, facts: Comparison) -> None:
        self.facts = facts
        self.bundle = facts.bundle

    @property
    def candidate(self) -> VersionEvidence:
        return self.bundle.candidate

    def pairing(self) -> TablePairing | str:
        paired = self.facts.paired_tables()
        return paired.reason if isinstance(paired, Unavailable) else paired.pairing

    def bootstrap(
        self, metric: TableMetric, column: str | None = None, segment: str | None = None
    ) -> BootstrapResult | str:
        """Paired bootstrap of the candidate against the baseline, or why it cannot be run."""
        result = self.facts.bootstrap(
            metric,
            segment=(column, segment) if column is not None and segment is not None else None,
        )
        return result.reason if isinstance(result, Unavailable) else result


@dataclass(frozen=True)
class _Baseline:
    """The baseline as this policy sees it, and what non-regression checks do without it."""

    version: VersionEvidence | None
    missing_status: CheckStatus
    reason: str | None


class RunBase:
    """The checks of one policy against one bundle: what every rule family shares."""

    def __init__(self, loaded: LoadedPolicy, view: _BundleView) -> None:
        self.loaded = loaded
        self.policy: Policy = loaded.policy
        self.view = view
        self.candidate = view.candidate
        self.on_missing: CheckStatus = _REGRESSION_WHEN_MISSING[self.policy.baseline.on_missing]
        self.baseline = self._baseline()

    # -- helpers -------------------------------------------------------------------------------

    def check(
        self, id: str, kind: CheckKind, status: CheckStatus, message: str, **fields: Any
    ) -> CheckResult:
        return CheckResult(
            id=id, policy=self.policy.name, kind=kind, status=status, message=message, **fields
        )

    def _baseline(self) -> _Baseline:
        bundle = self.view.bundle
        wanted = self.policy.baseline.alias
        pinned = bundle.baseline_alias is not None and re.fullmatch(r"v\d+", bundle.baseline_alias)
        if bundle.baseline_alias is not None and bundle.baseline_alias != wanted and not pinned:
            return _Baseline(
                None,
                "error",
                f"the evidence compares against @{bundle.baseline_alias} but policy "
                f"{self.policy.name!r} compares against @{wanted}; review with baseline @{wanted}",
            )
        if bundle.baseline is None:
            reason = f"{self.candidate.model} has no @{wanted} version to compare against"
            if wanted in self.candidate.aliases:
                reason = (
                    f"v{self.candidate.version} already holds @{wanted}, so there is no other "
                    "version to compare it against"
                )
            return _Baseline(None, self.on_missing, reason)
        return _Baseline(bundle.baseline, self.on_missing, None)

    def _has_regression_rules(self) -> bool:
        p = self.policy
        return (
            any(r.max_drop is not None or r.max_relative_drop is not None for r in p.metrics)
            or bool(p.segments)
            or p.comparability.same_eval_dataset != "off"
            or any(r.max_increase is not None for r in p.evals)
        )

    def _judge_exceeded(
        self,
        message: str,
        significance: float | None,
        test: BootstrapResult | str | None,
        fields: dict[str, Any],
    ) -> tuple[CheckStatus, str, dict[str, Any]]:
        """Fail, or warn when a paired test says the worsening beyond tolerance may be noise."""
        if significance is None:
            return "fail", message, fields
        details = dict(fields.get("details", {}))
        if isinstance(test, BootstrapResult):
            details["bootstrap"] = test.model_dump()
            fields = {**fields, "details": details, "p_value": test.p_value}
            interval = (
                f"paired bootstrap on {test.n} examples, {test.n_resamples} resamples: "
                f"p={test.p_value:.3g}, {test.confidence:.0%} CI of the change "
                f"[{test.ci_low:+.4f}, {test.ci_high:+.4f}]"
            )
            if test.p_value < significance:
                return "fail", f"{message}; the drop is significant ({interval})", fields
            return (
                "warn",
                f"{message}; but it is not significant at {significance} ({interval}), so it "
                "may be evaluation noise: warning instead of blocking",
                fields,
            )
        reason = test or "no paired per-example results"
        details["significance_untested"] = reason
        fields = {**fields, "details": details, "how_to_fix": _HOW_TO_LOG_TABLE}
        return (
            "fail",
            f"{message}; significance could not be tested ({reason}), so the tolerance alone "
            "decides; to test it, log per-example evaluation tables for both versions",
            fields,
        )

    # -- checks --------------------------------------------------------------------------------

    def _baseline_check(self) -> CheckResult:
        alias = self.policy.baseline.alias
        if self.baseline.version is not None:
            b = self.baseline.version
            return self.check(
                "baseline.present",
                "baseline",
                "pass",
                f"comparing {self.candidate.ref} against {b.ref} (@{alias})",
                baseline=b.ref,
                evidence=[f"registry:{b.ref}"],
            )
        bundle_alias = self.view.bundle.baseline_alias
        status: CheckStatus = (
            "error"
            if bundle_alias is not None and bundle_alias != alias
            else _BASELINE_WHEN_MISSING[self.policy.baseline.on_missing]
        )
        effect = {"skip": "skipped", "warn": "warnings", "error": "errors"}.get(
            self.baseline.missing_status, self.baseline.missing_status
        )
        return self.check(
            "baseline.present",
            "baseline",
            status,
            f"{self.baseline.reason}; non-regression checks are {effect} "
            f"(baseline.on_missing: {self.policy.baseline.on_missing})",
            threshold=f"@{alias}",
            details={"on_missing": self.policy.baseline.on_missing},
        )

    def _no_baseline(self, id: str, kind: CheckKind, what: str, **fields: Any) -> CheckResult:
        status = self.baseline.missing_status
        return self.check(id, kind, status, f"{self.baseline.reason}; {what} not checked", **fields)
