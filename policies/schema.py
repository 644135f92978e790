"""The policy document schema (`apiVersion: promogate/v1`, `kind: PromotionPolicy`).

Every model forbids unknown fields, so a misspelt key is an error rather than a silently ignored
rule. `policy_json_schema()` exports the same schema as JSON Schema for editors.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Self

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from policies._alias_guard_rules import AliasGuardRules
from policies._security_rules import SecurityRules
from policies.pipeline_rules import PipelineRules
from policies.plausibility_settings import PlausibilityRules
from policies.watch_rules import WatchRules
from tools.evidence_mapping import EvidenceMapping
from tools.metric_direction import lower_is_better

__all__ = [
    "EVIDENCE_KINDS",
    "AgentRules",
    "BaselineRules",
    "ComparabilityRules",
    "EvalRule",
    "EvidenceKind",
    "EvidenceRules",
    "MetricRule",
    "OverrideRules",
    "Policy",
    "PolicyMatch",
    "PolicyMetadata",
    "SegmentRule",
    "VersionRange",
    "parse_semver_specifier",
    "policy_json_schema",
]

EvidenceKind = Literal[
    "eval_table",
    "evaluation_dataset",
    "training_dataset",
    "signature",
    "requirements",
    "pipeline_config",
    "logged_model_metrics",
]
EVIDENCE_KINDS: tuple[EvidenceKind, ...] = (
    "eval_table",
    "evaluation_dataset",
    "training_dataset",
    "signature",
    "requirements",
    "pipeline_config",
    "logged_model_metrics",
)

# Names end up in check ids, ledger records and MLflow tags (`name@revision`, comma-separated).
_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True)


def _scalar_to_str(value: Any) -> Any:
    """YAML reads `risk_tier: 1` or `enabled: true` as int/bool; tags are always strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return value


def _tags_to_str(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scalar_to_str(v) for k, v in value.items()}
    return value


def _one_or_many(value: Any) -> Any:
    """Accept a single mapping where a list of mappings is expected."""
    if isinstance(value, dict):
        return [value]
    return value


class VersionRange:
    """A range of MLflow version numbers: `5`, `>=5`, `3-7`, `>=2,<9`, `>=2 <9` or `*`.

    Clauses are separated by commas or spaces and must all hold.
    """

    _CLAUSE = re.compile(r"^(?:(?P<lo>\d+)-(?P<hi>\d+)|(?P<op>>=|<=|==|!=|>|<)?(?P<num>\d+)|\*)$")

    def __init__(self, text: str) -> None:
        self.text = text
        normalized = re.sub(r"\s*-\s*", "-", text.strip())
        normalized = re.sub(r"(>=|<=|==|!=|>|<)\s+", r"\1", normalized)
        tokens = [t for t in re.split(r"[,\s]+", normalized) if t]
        if not tokens:
            raise ValueError(f"empty version range {text!r}")
        self._clauses: list[tuple[str, int]] = []
        for token in tokens:
            m = self._CLAUSE.match(token)
            if m is None:
                raise ValueError(
                    f"invalid version range clause {token!r} in {text!r}; "
                    "use e.g. '>=5', '3-7', '>=2,<9' or '*'"
                )
            if m["lo"] is not None:
                lo, hi = int(m["lo"]), int(m["hi"])
                if lo > hi:
                    raise ValueError(f"empty version range {token!r} in {text!r}: {lo} > {hi}")
                self._clauses += [(">=", lo), ("<=", hi)]
            elif m["num"] is not None:
                self._clauses.append((m["op"] or "==", int(m["num"])))

    def __contains__(self, version: object) -> bool:
        if not isinstance(version, int) or isinstance(version, bool):
            return False
        checks = {
            ">=": version.__ge__,
            "<=": version.__le__,
            ">": version.__gt__,
            "<": version.__lt__,
            "==": version.__eq__,
            "!=": version.__ne__,
        }
        return all(checks[op](num) for op, num in self._clauses)

    def __repr__(self) -> str:
        return f"VersionRange({self.text!r})"


def _valid_version_range(value: str) -> str:
    VersionRange(value)
    return value


def parse_semver_specifier(text: str) -> SpecifierSet:
    """Parse a version specifier such as `>=2.0.0,<3.0.0` or `>=2.0.0 <3.0.0` (PEP 440).

    Args:
        text: Clauses separated by commas or spaces.

    Raises:
        ValueError: The text is not a valid specifier.
    """
    normalized = re.sub(r"(~=|===|==|!=|<=|>=|<|>)\s+", r"\1", text.strip())
    clauses = [c for c in re.split(r"[,\s]+", normalized) if c]
    if not clauses:
        raise ValueError(f"empty version specifier {text!r}")
    try:
        return SpecifierSet(",".join(clauses))
    except InvalidSpecifier as exc:
        raise ValueError(
            f"invalid version specifier {text!r}; use PEP 440 clauses such as '>=2.0.0,<3.0.0'"
        ) from exc


def _valid_semver(value: str) -> str:
    return str(parse_semver_specifier(value))


Ratio = Annotated[float, Field(ge=0.0, le=1.0)]
Significance = Annotated[float, Field(gt=0.0, lt=1.0)]
Name = Annotated[str, Field(pattern=_NAME)]
Tags = Annotated[
    dict[str, str],
    BeforeValidator(_tags_to_str, json_schema_input_type=dict[str, str | int | float | bool]),
]


class PolicyMetadata(_Spec):
    """Who owns the policy and which revision of it this is."""

    name: Name = Field(description="Unique policy name; recorded with the revision in decisions.")
    revision: int = Field(ge=0, description="Bump on every change; decisions record it.")
    owners: list[str] = Field(default_factory=list)
    description: str | None = None


class PolicyMatch(_Spec):
    """Which model versions and promotions a policy applies to. All given fields must match."""

    model: str = Field(description="Glob on the registered model name, e.g. 'credit-*'.")
    versions: (
        Annotated[
            str,
            BeforeValidator(_scalar_to_str, json_schema_input_type=str | int),
            AfterValidator(_valid_version_range),
        ]
        | None
    ) = Field(default=None, description="MLflow version numbers, e.g. '>=5', '3-7', '>=2,<9'.")
    semver: Annotated[str, AfterValidator(_valid_semver)] | None = Field(
        default=None,
        description="PEP 440 specifier on the version tag named by semver_tag, e.g. '>=2.0,<3'. "
        "A version without that tag (or with an unparsable one) does not match.",
    )
    semver_tag: str = Field(default="semver", min_length=1)
    tags: Tags = Field(
        default_factory=dict,
        description="Model-version tags that must be present; values are globs.",
    )
    target_alias: str | None = Field(
        default=None, description="Glob on the alias being moved, e.g. 'champion'."
    )


class BaselineRules(_Spec):
    """What the candidate is compared against, and what happens when there is nothing."""

    alias: str = Field(default="champion", min_length=1)
    on_missing: Literal["pass", "warn", "error"] = Field(
        default="warn",
        description="Without a baseline, non-regression checks are skipped (pass), warn or error.",
    )


class MetricRule(_Spec):
    """Thresholds on one metric of the candidate, absolute and relative to the baseline."""

    name: str = Field(min_length=1)
    min: float | None = None
    max: float | None = None
    max_drop: float | None = Field(default=None, ge=0.0, description="Absolute worsening allowed.")
    max_relative_drop: float | None = Field(
        default=None, ge=0.0, description="Worsening allowed as a fraction of the baseline value."
    )
    lower_is_better: bool | None = Field(
        default=None,
        description="Whether a smaller value is better. Unset: errors and losses (rmse, mae, "
        "log_loss, val_loss, ...) are, by their name; any other metric is higher-is-better.",
    )
    significance: Significance | None = Field(
        default=None,
        description="With per-example tables for both versions, a drop beyond tolerance fails only "
        "if a paired bootstrap finds it significant at this level (else it warns).",
    )
    required: bool = Field(default=True, description="A missing metric is an error (else skipped).")

    @property
    def prefers_lower(self) -> bool:
        """Whether a smaller value is better: as the rule says, else by the metric's name."""
        return lower_is_better(self.name, self.lower_is_better)

    @model_validator(mode="after")
    def _bounds_ordered(self) -> Self:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min!r} is greater than max {self.max!r}")
        return self


class SegmentRule(_Spec):
    """Non-regression of a metric within every value of a segment column."""

    by: str = Field(min_length=1, description="Segment column, e.g. 'region'.")
    metric: str = Field(min_length=1)
    max_drop: float = Field(ge=0.0)
    min_rows: int = Field(default=30, ge=1, description="Smaller segments are skipped.")
    significance: Significance | None = None
    lower_is_better: bool | None = Field(
        default=None,
        description="Whether a smaller value is better (a rise is the drop). Unset: by the "
        "metric's name, as for metric rules.",
    )

    @property
    def prefers_lower(self) -> bool:
        """Whether a smaller value is better: as the rule says, else by the metric's name."""
        return lower_is_better(self.metric, self.lower_is_better)


class ComparabilityRules(_Spec):
    """Whether the two versions' numbers can be compared at all."""

    same_eval_dataset: Literal["required", "warn", "off"] = "warn"
    train_eval_overlap: Literal["forbid", "warn", "off"] = "warn"
    same_labels: Literal["required", "warn", "off"] | None = Field(
        default=None,
        description="Same labels on the same rows, same label key and positive class. Unset: "
        "as same_eval_dataset, judged on the evidence there is (nothing to compare skips); set, "
        "nothing to compare is an error (required) or a warning.",
    )
    same_metric_definitions: Literal["required", "warn", "off"] | None = Field(
        default=None,
        description="Same averaging, k and evaluation threshold behind each metric, read from "
        "the pipeline config, run params and metric names. Unset: as same_eval_dataset.",
    )
    max_label_disagreement: Ratio = Field(
        default=0.005,
        description="Share of paired evaluation rows whose labels may differ (corrected "
        "annotations) before the labels count as redefined.",
    )


class EvidenceRules(EvidenceMapping):
    """Evidence the candidate must have (missing evidence is an error, never a pass), and where
    this team logs it (see `tools.evidence_mapping.EvidenceMapping`)."""

    require: list[EvidenceKind] = Field(default_factory=list)


class EvalRule(_Spec):
    """Limits on one safety evaluation suite's results."""

    suite: Name
    max_attack_success_rate: Ratio | None = None
    max_failures: int | None = Field(default=None, ge=0)
    max_increase: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="Largest increase of the failure rate over the baseline's; only an increase "
        "whose confidence interval lies above it fails.",
    )
    confidence: float = Field(default=0.95, gt=0.5, lt=1.0)
    max_error_rate: Ratio = Field(
        default=0.05,
        description="Share of cases that may end in errors before the suite's results are "
        "an error.",
    )
    required: bool = True


class AgentRules(_Spec):
    """What the reviewing agent may do on its own."""

    may_approve: bool = True
    may_block: bool = True
    untrusted_text: Literal["report", "escalate", "block"] = Field(
        default="report",
        description="What a planted instruction or a false claim in the evidence does on its "
        "own: 'report' it as a finding, 'escalate' to a human, or 'block'. Never an approval.",
    )


class OverrideRules(_Spec):
    """Who may override failed checks, which checks never, and for how long."""

    approvers: list[str] = Field(default_factory=list)
    never: list[str] = Field(
        default_factory=list,
        description="Check-id globs that cannot be overridden; 'evals.pii-leakage' also covers "
        "'evals.pii-leakage.max_failures'.",
    )
    # Spelled as the API's and CLI's `expires_in_hours`; `expires_hours` is still read.
    expires_hours: int | None = Field(
        default=168,
        ge=1,
        alias="expires_in_hours",
        description="Longest expiry an override may ask for (the API's expires_in_hours).",
    )
    min_approvers: int = Field(
        default=1,
        ge=1,
        le=10,
        description="Distinct approvers (never the identity that requested the review) who must "
        "each override a blocking check, or approve an escalation, before the gate allows it.",
    )


class Policy(_Spec):
    """A promotion policy: where it applies and what a candidate must satisfy."""

    api_version: Literal["promogate/v1"] = Field(alias="apiVersion")
    kind: Literal["PromotionPolicy"]
    metadata: PolicyMetadata
    match: PolicyMatch
    mode: Literal["enforce", "audit"] = "enforce"
    on_error: Literal["block", "escalate"] = "block"
    baseline: BaselineRules = Field(default_factory=BaselineRules)
    metrics: list[MetricRule] = Field(default_factory=list)
    segments: Annotated[
        list[SegmentRule],
        BeforeValidator(_one_or_many, json_schema_input_type=list[SegmentRule] | SegmentRule),
    ] = Field(default_factory=list)
    comparability: ComparabilityRules = Field(default_factory=ComparabilityRules)
    evidence: EvidenceRules = Field(default_factory=EvidenceRules)
    pipeline: PipelineRules | None = None
    evals: list[EvalRule] = Field(default_factory=list)
    agent: AgentRules = Field(default_factory=AgentRules)
    overrides: OverrideRules = Field(default_factory=OverrideRules)
    guard: AliasGuardRules = Field(default_factory=AliasGuardRules)
    security: SecurityRules | None = None
    plausibility: PlausibilityRules = Field(
        default_factory=PlausibilityRules,
        description="Whether a gain is believable: asked on every review unless disabled.",
    )
    watch: WatchRules | None = Field(
        default=None,
        description="How the version is watched after promotion (docs/policies.md).",
    )

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, rules: list[MetricRule]) -> list[MetricRule]:
        _no_duplicates("metric", [r.name for r in rules])
        return rules

    @field_validator("segments")
    @classmethod
    def _unique_segments(cls, rules: list[SegmentRule]) -> list[SegmentRule]:
        _no_duplicates("segment rule", [f"{r.by}/{r.metric}" for r in rules])
        return rules

    @field_validator("evals")
    @classmethod
    def _unique_suites(cls, rules: list[EvalRule]) -> list[EvalRule]:
        _no_duplicates("eval suite", [r.suite for r in rules])
        return rules

    @property
    def name(self) -> str:
        return self.metadata.name


def _no_duplicates(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"{what} {name!r} appears twice; its check ids would collide")
        seen.add(name)


def policy_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a policy document, for editors and CI linting."""
    schema = Policy.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://promogate.dev/schemas/promotion-policy-v1.json",
        **schema,
        "title": "promogate PromotionPolicy (promogate/v1)",
    }
