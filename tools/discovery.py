"""Find evidence where a team logged it: by an evidence mapping, by convention, or by content.

Every piece found outside the documented convention is recorded as an `EvidenceOrigin`, so a
decision says which file a number came from. Discovery only picks what is unambiguous: a single
table with label and score columns, a single config file, a dataset input whose digest the logged
model's metrics name. More than one candidate is an error that lists them and shows the mapping
line that would choose.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Final, Literal

from tools.artifacts import (
    ArtifactEntry,
    RunArtifactRepository,
    download_artifact,
    list_run_artifacts,
)
from tools.datasets import in_dataset_order
from tools.errors import ArtifactError, MalformedArtifactError, ToolError
from tools.eval_table import EVAL_TABLE_MAX_BYTES, EVAL_TABLE_PATHS, parse_eval_table
from tools.evidence import (
    ArtifactFile,
    DatasetInput,
    EvalTable,
    EvidenceGap,
    EvidenceOrigin,
    LoggedModelEvidence,
    RunEvidence,
)
from tools.evidence_cache import TABLE_CACHE_BYTES, ByteBoundedCache, content_key
from tools.evidence_mapping import EvidenceMapping, TableColumns
from tools.regression_metrics import EVALUATE_NAMES

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tools._genai_eval import GenaiEvaluation, GenaiTable

__all__ = [
    "BUILTIN_METRIC_ALIASES",
    "COLUMN_SYNONYMS",
    "DISCOVERED_SEGMENT_KEYS",
    "METRIC_DATASET_SOURCE",
    "TABLE_CACHE",
    "AmbiguousEvidenceError",
    "FoundTable",
    "apply_metric_aliases",
    "artifact_glob",
    "assign_dataset_contexts",
    "column_roles",
    "evaluation_named_by_metrics",
    "find_configs",
    "find_eval_table",
    "normalize_segment_keys",
    "rename_columns",
]

logger = logging.getLogger("promogate.tools")

# Parsed evaluation tables under the SHA-256 of their bytes (see `tools.evidence_cache`).
TABLE_CACHE: ByteBoundedCache[EvalTable] = ByteBoundedCache(TABLE_CACHE_BYTES)


def table_size(table: EvalTable) -> int:
    """Estimated bytes of a parsed table: a list per row plus a boxed value per cell, and what
    reviews derive from it and keep with it (`EvalTable.derived`: its columns, segment numbers,
    numeric columns and row ids' positions, about 200 bytes a row)."""
    return 256 + len(table.rows) * (264 + 40 * len(table.columns))


Role = Literal["label", "score", "prediction", "row_id"]
ROLES: tuple[Role, ...] = ("label", "score", "prediction", "row_id")

COLUMN_SYNONYMS: dict[Role, tuple[str, ...]] = {
    "label": (
        "label",
        "target",
        "y_true",
        "y",
        "ground_truth",
        "true_label",
        "actual",
        "labels",
        "targets",
    ),
    "score": (
        "score",
        "proba",
        "probability",
        "y_score",
        "y_proba",
        "prob",
        "pred_proba",
        "predicted_proba",
        "predicted_probability",
        "prediction_score",
    ),
    "prediction": (
        "prediction",
        "pred",
        "y_pred",
        "predicted",
        "predicted_label",
        "predictions",
        "prediction_label",
    ),
    "row_id": ("row_id", "id", "example_id", "sample_id", "record_id"),
}

BUILTIN_METRIC_ALIASES: tuple[tuple[str, ...], ...] = (
    ("accuracy", "accuracy_score"),
    ("recall", "recall_score"),
    ("precision", "precision_score"),
    ("f1", "f1_score"),
    ("roc_auc", "auc", "roc_auc_score"),
    ("log_loss", "logloss"),
    ("pr_auc", "precision_recall_auc", "average_precision"),
    *EVALUATE_NAMES.items(),
    ("mape", "mean_absolute_percentage_error"),
)

# Spellings with unambiguous separators are tried without a mapping; `{metric}_{column}_{value}`
# splits several ways and needs the team to say so.
DISCOVERED_SEGMENT_KEYS: tuple[str, ...] = (
    "{metric}/{column}:{value}",
    "{column}:{value}/{metric}",
    "{metric}/{column}={value}",
    "{column}={value}/{metric}",
)

_TABLE_EXTENSIONS = (".json", ".csv", ".parquet")
_CONFIG_EXTENSIONS = (".yaml", ".yml", ".json", ".toml")
# Places whose files are evidence of another kind, never a team's table or config.
_NOT_CANDIDATES = ("pipeline/", "safety/", "promogate/", "eval/predictions.")
_MAX_TABLE_CANDIDATES = 20
_CONFIG_NAME = re.compile(r"(config|conf|params|hparams|hyperparam|pipeline|settings|train)", re.I)


class AmbiguousEvidenceError(ToolError):
    """More than one artifact fits where exactly one was expected."""

    def __init__(self, what: str, candidates: Sequence[str], mapping_line: str) -> None:
        self.candidates = list(candidates)
        self.mapping_line = mapping_line
        # The mapping line is in the message itself: checks quote gap messages, not the fix.
        super().__init__(
            f"{len(candidates)} artifacts could be the {what}: "
            + ", ".join(repr(c) for c in candidates)
            + f"; choose one in the policy with {mapping_line}"
        )


def artifact_glob(pattern: str, path: str) -> bool:
    """Whether an artifact path matches a glob: ``*`` stays within a folder, ``**`` crosses."""
    regex = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            regex += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            regex += ".*"
            i += 2
        elif pattern[i] == "*":
            regex += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            regex += "[^/]"
            i += 1
        else:
            regex += re.escape(pattern[i])
            i += 1
    return re.fullmatch(regex, path) is not None


# --------------------------------------------------------------------------------------------
# The per-example table.


def column_roles(columns: Sequence[str], mapped: TableColumns | None) -> dict[Role, str]:
    """Which column holds the label, score, prediction and row id.

    A column named by the mapping must exist; an unmapped role takes the first synonym present
    (case-insensitive), e.g. ``target`` for the label, ``proba`` for the score.

    Raises:
        ValueError: A mapped column is not in the table (the message lists the columns).
    """
    lower = {c.lower(): c for c in columns}
    roles: dict[Role, str] = {}
    for role in ROLES:
        wanted = getattr(mapped, role) if mapped is not None else None
        if wanted is not None:
            if wanted not in columns:
                raise ValueError(
                    f"the mapping names {wanted!r} as the {role} column, but the columns are "
                    f"{list(columns)!r}"
                )
            roles[role] = wanted
            continue
        for synonym in COLUMN_SYNONYMS[role]:
            if synonym in lower and lower[synonym] not in roles.values():
                roles[role] = lower[synonym]
                break
    return roles


def rename_columns(table: EvalTable, roles: Mapping[Role, str]) -> EvalTable:
    """The table with its role columns under the conventional names (others keep theirs)."""
    renames = {actual: role for role, actual in roles.items() if actual != role}
    if not renames:
        return table
    taken = set(table.columns) - set(renames)
    columns: list[str] = []
    for name in table.columns:
        new = renames.get(name, name)
        if name not in renames and name in renames.values():
            # A column already called e.g. 'label' that is not the label: keep it, renamed.
            new = f"{name}_original"
            while new in taken:
                new += "_"
        columns.append(new)
    return table.model_copy(update={"columns": columns})


def _fits(table: EvalTable, roles: Mapping[Role, str]) -> str | None:
    """Why the table cannot be a per-example classification table, or None when it can."""
    if "label" not in roles:
        return f"no label column (columns found: {table.columns!r})"
    if "score" not in roles and "prediction" not in roles:
        return f"neither a score nor a prediction column (columns found: {table.columns!r})"
    return None


def _describe_roles(roles: Mapping[Role, str]) -> str:
    return ", ".join(f"{role}={actual!r}" for role, actual in roles.items())


@dataclass
class FoundTable:
    """The evaluation table a run holds (or None), where it came from, and notes on the search."""

    table: EvalTable | None = None
    origin: EvidenceOrigin | None = None
    gaps: list[EvidenceGap] = field(default_factory=list)
    genai: GenaiTable | None = None


def _load(
    client: MlflowClient,
    run_id: str,
    entry: ArtifactEntry,
    mapped: TableColumns | None,
    repository: RunArtifactRepository | None,
) -> tuple[EvalTable, dict[Role, str]]:
    data = download_artifact(
        client,
        "run",
        run_id,
        entry.path,
        max_bytes=EVAL_TABLE_MAX_BYTES,
        size_hint=entry.size,
        repository=repository,
    )
    # Keyed by the bytes just read, so a replaced table is parsed again.
    table = TABLE_CACHE.get_or_compute(
        content_key(entry.path, data),
        lambda: parse_eval_table(entry.path, data, check_columns=False),
        table_size,
    )
    try:
        roles = column_roles(table.columns, mapped)
    except ValueError as exc:
        raise MalformedArtifactError(
            entry.path, str(exc), "fix evidence.table.columns in the policy"
        ) from exc
    return table, roles


def _genai_table(
    client: MlflowClient, run_id: str, experiment_id: str, mapped: TableColumns | None
) -> FoundTable | None:
    from tools._genai_eval import read_genai_table

    found = read_genai_table(client, run_id, experiment_id)
    if found is None:
        return None
    table = found.table
    try:
        roles = column_roles(table.columns, mapped)
    except ValueError as exc:
        raise MalformedArtifactError(
            table.path, str(exc), "fix evidence.table.columns in the policy"
        ) from exc
    reason = _fits(table, roles)
    if reason is not None:
        raise MalformedArtifactError(
            table.path,
            f"{reason}; the genai evaluation of run {run_id!r} has {found.describe()}",
            "score with at least one pass/fail scorer (returning True/False or yes/no), or "
            "name the columns in the policy: evidence: {table: {columns: {prediction: ...}}}",
        )
    mapped_any = mapped is not None and any(getattr(mapped, role) is not None for role in ROLES)
    return FoundTable(
        genai=found,
        table=rename_columns(table, roles),
        origin=EvidenceOrigin(
            kind="eval_table",
            source=f"traces of run {run_id} (mlflow.genai.evaluate)",
            how="mapping" if mapped_any else "discovery",
            detail=f"{found.describe()}; columns {_describe_roles(roles)}",
        ),
    )


def find_eval_table(
    client: MlflowClient,
    run_id: str,
    mapping: EvidenceMapping | None = None,
    entries: Sequence[ArtifactEntry] | None = None,
    *,
    genai_experiment_id: str | None = None,
    repository: RunArtifactRepository | None = None,
) -> FoundTable:
    """The run's per-example evaluation table: by mapping, by convention, else by content.

    A run where ``mlflow.genai.evaluate`` ran has no table artifact: its traces and their
    assessments are the table (see `tools._genai_eval`), unless the mapping names table paths or
    the conventional table exists.

    Args:
        client: MLflow client.
        run_id: The source run.
        mapping: The applicable evidence mapping, if any.
        entries: The run's artifact listing, when the caller already has it.
        genai_experiment_id: The run's experiment when the run is an ``mlflow.genai.evaluate``
            run (its traces live there).
        repository: The run's repository, to download through (MLflow's `runs:/` route when
            None).

    Raises:
        AmbiguousEvidenceError: Several artifacts fit; the message lists them.
        MalformedArtifactError: The chosen table cannot be read or lacks label and score columns.
        ArtifactTooLargeError: The chosen table is over the size cap.
    """
    mapped_table = mapping.table if mapping is not None else None
    columns = mapped_table.columns if mapped_table is not None else None
    if entries is None:
        entries = list_run_artifacts(client, run_id)
    how: Literal["mapping", "convention", "discovery"]
    if mapped_table is not None and mapped_table.paths:
        chosen = [e for e in entries if any(artifact_glob(g, e.path) for g in mapped_table.paths)]
        if not chosen:
            return FoundTable(
                gaps=[
                    EvidenceGap(
                        source="eval_table",
                        message=f"no artifact of run {run_id!r} matches the mapped table paths "
                        f"{mapped_table.paths!r} (artifacts: "
                        f"{[e.path for e in entries][:20]!r})",
                        how_to_fix="fix evidence.table.paths in the policy, or log the table "
                        "there with mlflow.log_table(df, artifact_file=...)",
                    )
                ]
            )
        if len(chosen) > 1:
            raise AmbiguousEvidenceError(
                "per-example evaluation table",
                [e.path for e in chosen],
                f"evidence: {{table: {{paths: [{chosen[0].path!r}]}}}}",
            )
        how = "mapping"
        candidates = chosen
    else:
        conventional = [e for p in EVAL_TABLE_PATHS for e in entries if e.path == p]
        if conventional:
            how, candidates = "convention", conventional[:1]
        elif genai_experiment_id is not None and (
            genai := _genai_table(client, run_id, genai_experiment_id, columns)
        ):
            return genai
        else:
            how = "discovery"
            candidates = [
                e
                for e in entries
                if e.path.endswith(_TABLE_EXTENSIONS)
                and not e.path.startswith(_NOT_CANDIDATES)
                and (e.size is None or e.size <= EVAL_TABLE_MAX_BYTES)
            ][:_MAX_TABLE_CANDIDATES]

    if how != "discovery":
        table, roles = _load(client, run_id, candidates[0], columns, repository)
        reason = _fits(table, roles)
        if reason is not None:
            raise MalformedArtifactError(
                table.path,
                reason,
                "name the columns in the policy: evidence: {table: {columns: {label: ..., "
                "score: ...}}}",
            )
        # A table where the convention puts it, with the conventional names, needs no note.
        plain = how == "convention" and all(role == col for role, col in roles.items())
        return FoundTable(
            table=rename_columns(table, roles),
            origin=None
            if plain
            else EvidenceOrigin(
                kind="eval_table",
                source=table.path,
                how=how,
                detail=_describe_roles(roles),
            ),
        )

    fitting: list[tuple[EvalTable, dict[Role, str]]] = []
    rejected: list[str] = []
    for entry in candidates:
        try:
            table, roles = _load(client, run_id, entry, columns, repository)
        except ArtifactError as exc:
            logger.debug("table candidate %r of run %s: %s", entry.path, run_id, exc)
            continue
        reason = _fits(table, roles)
        if reason is None:
            fitting.append((table, roles))
        else:
            rejected.append(f"{entry.path!r}: {reason}")
    if len(fitting) > 1:
        paths = [t.path for t, _ in fitting]
        raise AmbiguousEvidenceError(
            "per-example evaluation table", paths, f"evidence: {{table: {{paths: [{paths[0]!r}]}}}}"
        )
    if not fitting:
        gaps = []
        if rejected:
            gaps.append(
                EvidenceGap(
                    source="eval_table",
                    message=f"run {run_id!r} logged tables, but none is a per-example table: "
                    + "; ".join(rejected),
                    how_to_fix="name the columns in the policy: evidence: {table: {paths: "
                    "[...], columns: {label: ..., score: ...}}}",
                )
            )
        return FoundTable(gaps=gaps)
    table, roles = fitting[0]
    return FoundTable(
        table=rename_columns(table, roles),
        origin=EvidenceOrigin(
            kind="eval_table",
            source=table.path,
            how="discovery",
            detail=f"the only table with label and score/prediction columns: "
            f"{_describe_roles(roles)}",
        ),
    )


# --------------------------------------------------------------------------------------------
# Pipeline configs.


def _conventional_config(path: str) -> bool:
    return path.startswith("pipeline/") or path in ("params.yaml", "dvc.yaml", "MLproject")


def find_configs(
    paths: Sequence[str], already_read: Sequence[ArtifactFile], mapping: EvidenceMapping | None
) -> tuple[list[str], Literal["mapping", "discovery"] | None, list[EvidenceGap]]:
    """Run artifact paths to read as pipeline configs besides the conventional ones.

    With config globs in the mapping, the files they match. Without, and only when the run has
    no conventional config, the one artifact that looks like a config by name (more than one is
    a gap listing them and the mapping line that would choose).

    Args:
        paths: Every run artifact path.
        already_read: Configs read by convention (``pipeline/``, ``params.yaml``...).
        mapping: The applicable evidence mapping, if any.
    """
    if mapping is not None and mapping.configs:
        chosen = [p for p in paths if any(artifact_glob(g, p) for g in mapping.configs)]
        if not chosen:
            return (
                [],
                None,
                [
                    EvidenceGap(
                        source="pipeline_config",
                        message=f"no run artifact matches the mapped config globs "
                        f"{mapping.configs!r}",
                        how_to_fix="fix evidence.configs in the policy, or log the config "
                        "with mlflow.log_artifact(path, artifact_path=...)",
                    )
                ],
            )
        return [p for p in chosen if not _conventional_config(p)], "mapping", []
    if any(a.owner == "run" for a in already_read):
        return [], None, []
    candidates = [
        p
        for p in paths
        if p.endswith(_CONFIG_EXTENSIONS)
        and not p.startswith(_NOT_CANDIDATES)
        and _CONFIG_NAME.search(posixpath.basename(p)) is not None
    ]
    if len(candidates) > 1:
        return (
            [],
            None,
            [
                EvidenceGap(
                    source="pipeline_config",
                    message=f"{len(candidates)} artifacts could be the pipeline config: "
                    + ", ".join(repr(c) for c in candidates),
                    how_to_fix=f"choose in the policy's evidence mapping, e.g. evidence: "
                    f"{{configs: [{candidates[0]!r}]}}",
                )
            ],
        )
    return candidates, ("discovery" if candidates else None), []


# --------------------------------------------------------------------------------------------
# Dataset contexts.

_TRAINING_WORDS = frozenset({"train", "training", "trainset"})
_EVALUATION_WORDS = frozenset(
    {"eval", "evaluation", "test", "testing", "holdout", "validation", "val", "valid", "testset"}
)


# Context tags spelled otherwise than `training`/`evaluation` that can mean nothing else. MLflow's
# autologging (scikit-learn, XGBoost, LightGBM, Keras, Spark) tags the data a model was fit on
# `train`. Its `eval` is not among them: there it marks data watched while fitting (XGBoost's
# `evals` and LightGBM's `valid_sets` commonly hold the training set itself), so reading it as the
# evaluation set would report that overlap and compare validation splits as if they were test sets.
_CONTEXT_TAG_SYNONYMS: Final[dict[str, tuple[str, str]]] = {
    "train": ("training", "what MLflow's autologging tags the data a model was fit on"),
    "test": ("evaluation", "held-out test data"),
    "testing": ("evaluation", "held-out test data"),
    "holdout": ("evaluation", "held-out data"),
}
METRIC_DATASET_SOURCE: Final = "logged model metrics"
"""The source type of an evaluation set known only from the logged model's metrics."""


def _name_context(name: str) -> str | None:
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    is_train, is_eval = bool(words & _TRAINING_WORDS), bool(words & _EVALUATION_WORDS)
    if is_train == is_eval:
        return None
    return "training" if is_train else "evaluation"


def assign_dataset_contexts(
    datasets: Sequence[DatasetInput],
    logged_model: LoggedModelEvidence | None,
    mapping: EvidenceMapping | None,
    *,
    genai: GenaiEvaluation | None = None,
) -> tuple[list[DatasetInput], list[EvidenceOrigin]]:
    """Dataset inputs with a context for those logged without an ``mlflow.data.context`` tag.

    In order: the mapping's name globs; the digest the logged model's metrics were computed on
    (what ``mlflow.models.evaluate`` leaves); in an ``mlflow.genai.evaluate`` run, its only
    untagged input (what it logs); a name that says train or eval/test/holdout. Inputs tagged
    ``training`` or ``evaluation`` keep it; a tag that can mean only one of them (``train``, as
    MLflow's autologging writes, ``test``, ``holdout``) is read as that one; any other tag
    (autologging's ``eval``, ``validation``) is kept.

    A genai evaluation given precomputed outputs logs them inside its dataset, so that digest
    changes with each version's answers: the examples (their inputs and expectations, from the
    traces) stand in as the evaluation dataset instead.
    """
    untagged = [ds for ds in datasets if not ds.context]
    patterns = mapping.datasets if mapping is not None else None
    metric_digests = (
        {m.dataset_digest for m in logged_model.metrics if m.dataset_digest}
        if logged_model is not None
        else set()
    )
    result: list[DatasetInput] = []
    origins: list[EvidenceOrigin] = []
    for ds in datasets:
        synonym = _CONTEXT_TAG_SYNONYMS.get((ds.context or "").strip().lower())
        if ds.context and synonym is None:
            # Its own tag stands, also against the mapping's globs: autologging names its data
            # `dataset`, as `mlflow.models.evaluate` names a DataFrame it is given.
            result.append(ds)
            continue
        if synonym is not None:
            result.append(ds.model_copy(update={"context": synonym[0]}))
            origins.append(
                EvidenceOrigin(
                    kind="training_dataset" if synonym[0] == "training" else "evaluation_dataset",
                    source=f"dataset {ds.name!r} (digest {ds.digest})",
                    how="convention",
                    detail=f"tagged {ds.context!r} ({synonym[1]}), read as {synonym[0]!r}",
                )
            )
            continue
        context: str | None = None
        how: Literal["mapping", "discovery"] = "discovery"
        detail = ""
        if patterns is not None:
            for ctx, globs in (
                ("training", patterns.training),
                ("evaluation", patterns.evaluation),
            ):
                hit = next((g for g in globs if fnmatchcase(ds.name, g)), None)
                if hit is not None:
                    context, how, detail = ctx, "mapping", f"name matches {hit!r}"
                    break
        if context is None and ds.digest in metric_digests:
            context = "evaluation"
            detail = "the logged model's metrics were computed on this digest"
        if context is None and genai is not None and len(untagged) == 1:
            if ds.digest not in genai.with_outputs:
                context = "evaluation"
                detail = f"the data mlflow.genai.evaluate scored in run {genai.run_id}"
            elif genai.examples is not None:
                result.append(ds)
                result.append(genai.examples)
                origins.append(
                    EvidenceOrigin(
                        kind="evaluation_dataset",
                        source=f"dataset {genai.examples.name!r} (digest {genai.examples.digest})",
                        how="discovery",
                        detail=f"the {genai.examples.num_rows} examples mlflow.genai.evaluate "
                        f"scored in run {genai.run_id}, by their inputs and expectations: the "
                        f"logged dataset {ds.name!r} (digest {ds.digest}) also holds each "
                        "version's precomputed outputs",
                    )
                )
                continue
        if context is None:
            context = _name_context(ds.name)
            if context is not None:
                detail = f"the name {ds.name!r} says {context}"
        if context is None:
            result.append(ds)
            continue
        result.append(ds.model_copy(update={"context": context}))
        origins.append(
            EvidenceOrigin(
                kind="training_dataset" if context == "training" else "evaluation_dataset",
                source=f"dataset {ds.name!r} (digest {ds.digest})",
                how=how,
                detail=f"logged without a context tag; {detail}",
            )
        )
    return in_dataset_order(result), origins


def evaluation_named_by_metrics(
    datasets: Sequence[DatasetInput], logged_model: LoggedModelEvidence
) -> tuple[list[DatasetInput], list[EvidenceOrigin]]:
    """The data the logged model's metrics name, as evaluation inputs, when the source run's
    `datasets` (their contexts assigned) hold none: ``mlflow.models.evaluate`` run apart from
    training (``model_id=...``, or the model URI in a run of its own) logs its dataset on that
    run, and the metrics name it by digest. Only for a source run that was read: a deleted run's
    inputs are gone, not absent.

    A digest the source run logged itself is left as it was logged: autologging links its
    training metrics (``training_accuracy_score``, XGBoost's early-stopping results) to the data
    the model was fit on, which is no evaluation set.
    """
    if any(d.context == "evaluation" for d in datasets):
        return [], []
    logged = {d.digest for d in datasets}
    named: dict[str, str] = {}
    for m in logged_model.metrics:
        # A metric logged without the dataset's name does not hide another's.
        if (
            m.dataset_digest
            and m.dataset_digest not in logged
            and (m.dataset_name or m.dataset_digest not in named)
        ):
            named[m.dataset_digest] = m.dataset_name or m.dataset_digest
    inputs = [
        DatasetInput(name=n, digest=d, context="evaluation", source_type=METRIC_DATASET_SOURCE)
        for d, n in sorted(named.items())
    ]
    return inputs, [
        EvidenceOrigin(
            kind="evaluation_dataset",
            source=f"dataset {d.name!r} (digest {d.digest})",
            how="discovery",
            detail="no evaluation input on the source run; the logged model "
            f"{logged_model.model_id}'s metrics were computed on it (an evaluation run of its own)",
        )
        for d in inputs
    ]


# --------------------------------------------------------------------------------------------
# Metric keys.


def _template_regex(template: str, metric_names: Sequence[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(n) for n in sorted(set(metric_names), key=len, reverse=True))
    groups = {
        "metric": f"(?P<metric>{names})" if names else "(?P<metric>[^/:=]+?)",
        "column": "(?P<column>[^/:=]+?)",
        "value": "(?P<value>[^/]+?)",
    }
    pattern = ""
    for part in re.split(r"(\{metric\}|\{column\}|\{value\})", template):
        pattern += (
            groups[part[1:-1]] if part in ("{metric}", "{column}", "{value}") else re.escape(part)
        )
    return re.compile(f"^{pattern}$")


def normalize_segment_keys(
    metrics: Mapping[str, float], mapping: EvidenceMapping | None
) -> tuple[dict[str, float], list[EvidenceOrigin]]:
    """Metrics with segment keys of other spellings added as ``segment/<column>:<value>/<metric>``.

    The mapping's templates are tried, else spellings whose separators are unambiguous
    (`DISCOVERED_SEGMENT_KEYS`). Metric names in a template match known metric names (the run's
    own plain metrics and common ones), so ``recall_score_region_north`` splits correctly.
    """
    templates = list(mapping.segment_keys) if mapping is not None and mapping.segment_keys else []
    how: Literal["mapping", "discovery"] = "mapping" if templates else "discovery"
    if not templates:
        templates = list(DISCOVERED_SEGMENT_KEYS)
    known = [k for k in metrics if "/" not in k and ":" not in k and "=" not in k]
    known += [name for group in BUILTIN_METRIC_ALIASES for name in group] + ["rows"]
    out = dict(metrics)
    found: dict[str, list[str]] = {}
    for template in templates:
        regex = _template_regex(template, known)
        for key, value in metrics.items():
            if key.startswith("segment/"):
                continue
            m = regex.match(key)
            if m is None or m["metric"] == key:
                continue
            canonical = f"segment/{m['column']}:{m['value']}/{m['metric']}"
            if canonical not in out:
                out[canonical] = value
                found.setdefault(template, []).append(key)
    origins = [
        EvidenceOrigin(
            kind="segment_metrics",
            source=", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else ""),
            how=how,
            detail=f"{len(keys)} metric keys spelled {template!r} read as "
            "segment/<column>:<value>/<metric>",
        )
        for template, keys in found.items()
    ]
    return out, origins


def apply_metric_aliases(
    run: RunEvidence,
    logged_model: LoggedModelEvidence | None,
    mapping: EvidenceMapping | None,
    metric_names: Sequence[str] = (),
) -> tuple[RunEvidence, list[EvidenceOrigin]]:
    """The run with the metrics policies name filled from their aliases where absent.

    ``recall`` is read from ``recall_score`` (what ``mlflow.models.evaluate`` logs), ``roc_auc``
    from ``auc``, a genai scorer ``name`` from ``name/mean``; the mapping adds the team's own.
    Only names in `metric_names` (or the mapping's) are filled, so a run's metrics are not
    multiplied under every synonym.
    """
    wanted = set(metric_names) | (set(mapping.metric_aliases) if mapping is not None else set())
    present: dict[str, float] = {}
    if logged_model is not None:
        for m in logged_model.metrics:
            present.setdefault(m.key, m.value)
    present.update(run.metrics)
    groups: list[tuple[tuple[str, ...], Literal["mapping", "discovery"]]] = []
    if mapping is not None:
        groups += [((name, *others), "mapping") for name, others in mapping.metric_aliases.items()]
    groups += [(group, "discovery") for group in BUILTIN_METRIC_ALIASES]
    groups += [
        ((key.removesuffix("/mean"), key), "discovery")
        for key in present
        if key.endswith("/mean") and key.count("/") == 1
    ]
    added: dict[str, float] = {}
    origins: list[EvidenceOrigin] = []
    for group, how in groups:
        source = next((name for name in group if name in present), None)
        if source is None:
            continue
        for name in group:
            if name in wanted and name not in present and name not in added:
                added[name] = present[source]
                origins.append(
                    EvidenceOrigin(
                        kind="metric_alias",
                        source=f"metric {source!r}",
                        how=how,
                        detail=f"read as {name!r}",
                    )
                )
    if not added:
        return run, []
    return run.model_copy(update={"metrics": {**run.metrics, **added}}), origins
