"""Where a team logs its evidence, when it is not where promogate looks by default.

A policy's ``evidence:`` block (or the ``evidence.yaml`` shared by a policy directory) says where
the per-example table lives and what its columns are called, where pipeline configs live, which
dataset inputs are the training and evaluation sets when they carry no context tag, how
per-segment metric keys are spelled and which metric names mean the same thing::

    evidence:
      table:
        paths: ["reports/*/scored.csv"]          # globs over the run's artifact paths
        columns: {label: target, score: proba, prediction: pred, row_id: id,
                  segments: [region]}
      configs: ["conf/**/*.yaml"]
      datasets: {training: ["train*"], evaluation: ["holdout*"]}
      segment_keys: ["{metric}_{column}_{value}"]
      metric_aliases: {recall: [recall_score], roc_auc: [auc]}

Anything left unset is discovered (see `tools.discovery`). The reader applies the mapping; the
policy schema only carries it.
"""

from __future__ import annotations

import re
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "SEGMENT_KEY_FIELDS",
    "DatasetPatterns",
    "EvidenceMapping",
    "TableColumns",
    "TableMapping",
    "merge_mappings",
]

SEGMENT_KEY_FIELDS = ("metric", "column", "value")
_FIELD = re.compile(r"\{([^{}]*)\}")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TableColumns(_Spec):
    """What the per-example table's columns are called (unset ones are discovered by synonym)."""

    label: str | None = Field(default=None, description="The true class, e.g. 'target'.")
    score: str | None = Field(
        default=None, description="Probability of the positive class, e.g. 'proba'."
    )
    prediction: str | None = Field(default=None, description="Predicted class, e.g. 'pred'.")
    row_id: str | None = Field(default=None, description="Stable example id used for pairing.")
    segments: list[str] = Field(
        default_factory=list,
        description="Segment columns; other string columns are segment columns too.",
    )


class TableMapping(_Spec):
    """Where the per-example evaluation table lives and what its columns are called."""

    paths: list[str] = Field(
        default_factory=list,
        description="Globs over the run's artifact paths ('*' stays within a folder, '**' "
        "crosses folders); .json (mlflow.log_table), .csv or .parquet.",
    )
    columns: TableColumns = Field(default_factory=TableColumns)


class DatasetPatterns(_Spec):
    """Which dataset inputs are the training and evaluation sets when untagged (name globs)."""

    training: list[str] = Field(default_factory=list)
    evaluation: list[str] = Field(default_factory=list)


def _valid_template(template: str) -> str:
    fields = _FIELD.findall(template)
    if sorted(fields) != sorted(SEGMENT_KEY_FIELDS):
        raise ValueError(
            f"segment key template {template!r} must contain {{metric}}, {{column}} and "
            f"{{value}} exactly once each (found {fields!r})"
        )
    return template


class EvidenceMapping(_Spec):
    """Where this team logs evidence; every field is optional and unset ones are discovered."""

    table: TableMapping | None = Field(
        default=None, description="The per-example evaluation table's paths and column names."
    )
    configs: list[str] = Field(
        default_factory=list,
        description="Globs over run artifact paths of pipeline config files, e.g. 'conf/*.yaml'.",
    )
    datasets: DatasetPatterns | None = Field(
        default=None,
        description="Name globs of the training and evaluation dataset inputs, for inputs "
        "logged without an mlflow.data.context tag.",
    )
    segment_keys: list[str] = Field(
        default_factory=list,
        description="How per-segment metric keys are spelled, e.g. '{metric}/{column}:{value}', "
        "'{column}={value}/{metric}', '{metric}_{column}_{value}'.",
    )
    metric_aliases: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Other names of a metric a policy names, e.g. {recall: [recall_score]}.",
    )

    @field_validator("segment_keys")
    @classmethod
    def _templates(cls, templates: list[str]) -> list[str]:
        return [_valid_template(t) for t in templates]

    def is_empty(self) -> bool:
        return self == EvidenceMapping()

    def over(self, shared: EvidenceMapping | None) -> Self:
        """This mapping with the unset fields taken from `shared` (a directory's mapping)."""
        if shared is None:
            return self
        update: dict[str, object] = {}
        for name in EvidenceMapping.model_fields:
            mine, theirs = getattr(self, name), getattr(shared, name)
            if name == "metric_aliases":
                update[name] = {**theirs, **mine}
            elif not mine and theirs:
                update[name] = theirs
        return self.model_copy(update=update)


def merge_mappings(mappings: list[EvidenceMapping]) -> EvidenceMapping:
    """One mapping from the mappings of every policy that applies to a model.

    Paths, globs and templates are united; for the table's column names and metric aliases the
    first mapping that sets one wins (policies are in path order).
    """
    table_paths: list[str] = []
    columns: dict[str, object] = {}
    segments: list[str] = []
    configs: list[str] = []
    training: list[str] = []
    evaluation: list[str] = []
    templates: list[str] = []
    aliases: dict[str, list[str]] = {}
    has_table = has_datasets = False
    for mapping in mappings:
        if mapping.table is not None:
            has_table = True
            table_paths += mapping.table.paths
            for key, value in mapping.table.columns.model_dump(exclude={"segments"}).items():
                if value is not None:
                    columns.setdefault(key, value)
            segments += mapping.table.columns.segments
        configs += mapping.configs
        if mapping.datasets is not None:
            has_datasets = True
            training += mapping.datasets.training
            evaluation += mapping.datasets.evaluation
        templates += mapping.segment_keys
        for name, others in mapping.metric_aliases.items():
            aliases.setdefault(name, list(others))

    def unique(items: list[str]) -> list[str]:
        return list(dict.fromkeys(items))

    return EvidenceMapping(
        table=TableMapping(
            paths=unique(table_paths),
            columns=TableColumns.model_validate({**columns, "segments": unique(segments)}),
        )
        if has_table
        else None,
        configs=unique(configs),
        datasets=DatasetPatterns(training=unique(training), evaluation=unique(evaluation))
        if has_datasets
        else None,
        segment_keys=unique(templates),
        metric_aliases=aliases,
    )
