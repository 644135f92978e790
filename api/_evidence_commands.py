"""`promogate evidence`, `promogate policy init` and `promogate policy validate --against`.

What promogate finds for a version (each evidence kind: where from, or why not and the mapping
line or logging call that would fix it); a starter policy written from what the version actually
logged; and a lint of policies against real evidence with did-you-mean suggestions.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import BaseModel

from api.cli_options import AsJson, ModelArg, PoliciesDir, RefArg, TrackingUri

if TYPE_CHECKING:
    from policies.loader import LoadedPolicy
    from tools.evidence import VersionEvidence
    from tools.evidence_mapping import EvidenceMapping
    from tools.regression_metrics import RegressionMetric

__all__ = [
    "EvidenceItem",
    "describe_evidence",
    "lint_policies",
    "register_evidence_commands",
    "starter_policy",
]

EXIT_ERROR = 3

# Metrics a starter policy guards when the version logged them (higher is better).
_GUARDED_METRICS = ("roc_auc", "recall", "precision", "f1", "accuracy", "pr_auc")
# Which of what mlflow.models.evaluate logs for a regressor a starter policy guards.
_GUARDED_REGRESSION_METRICS: tuple[RegressionMetric, ...] = ("r2", "rmse", "mae")
_MAX_SEGMENT_VALUES = 20
_DATASET_CONTEXTS = ("training", "evaluation")


class EvidenceItem(BaseModel):
    """One kind of evidence for a version: found (where, how) or not (why, and the fix)."""

    kind: str
    found: bool
    where: list[str] = []
    how: str | None = None
    why_not: list[str] = []
    fix: str | None = None


def _origins(evidence: VersionEvidence, kind: str) -> list[str]:
    return [f"{o.source} ({o.how}: {o.detail})" for o in evidence.origins if o.kind == kind]


def _gaps(evidence: VersionEvidence, *sources: str) -> list[str]:
    return [g.message for g in evidence.gaps if g.source in sources]


def _item(
    kind: str, found: list[str], evidence: VersionEvidence, sources: Sequence[str], fix: str
) -> EvidenceItem:
    origins = _origins(evidence, kind)
    hows = {o.how for o in evidence.origins if o.kind == kind}
    how = None
    if found:
        how = next((h for h in ("mapping", "discovery") if h in hows), "convention")
    return EvidenceItem(
        kind=kind,
        found=bool(found),
        where=origins or found,
        how=how,
        why_not=[] if found else _gaps(evidence, *sources),
        fix=None if found else fix,
    )


def _segment_columns(evidence: VersionEvidence) -> dict[str, list[str]]:
    """Segment columns and their values, from the table and from segment metric keys."""
    from tools.segments import parse_segment_metric_key

    columns: dict[str, set[str]] = {}
    table = evidence.eval_table
    if table is not None:
        for name in table.columns:
            if name in ("label", "score", "prediction", "row_id"):
                continue
            cells = [v for v in table.column(name) if isinstance(v, str)]
            values = set(cells)
            # A value per row (an expected answer, a text) is an identifier, not a segment.
            if len(cells) > 1 and len(values) == len(cells):
                continue
            if values and len(values) <= _MAX_SEGMENT_VALUES:
                columns.setdefault(name, set()).update(values)
    if evidence.run is not None:
        for key in evidence.run.metrics:
            parsed = parse_segment_metric_key(key)
            if parsed is not None:
                columns.setdefault(parsed.column, set()).add(parsed.value)
    return {k: sorted(v) for k, v in sorted(columns.items())}


def _with_aliases(metrics: dict[str, float]) -> dict[str, float]:
    """`metrics` plus the common names of what it logs (recall for recall_score, ...)."""
    from tools.discovery import BUILTIN_METRIC_ALIASES

    out = dict(metrics)
    for group in BUILTIN_METRIC_ALIASES:
        present = next((n for n in group if n in metrics), None)
        if present is not None:
            for name in group:
                out.setdefault(name, metrics[present])
    return out


def _plain_metrics(evidence: VersionEvidence) -> dict[str, float]:
    metrics: dict[str, float] = {}
    if evidence.logged_model is not None:
        for m in evidence.logged_model.metrics:
            metrics.setdefault(m.key, m.value)
    if evidence.run is not None:
        metrics.update(evidence.run.metrics)
    return {
        k: v
        for k, v in sorted(metrics.items())
        if not k.startswith(("segment/", "safety/")) and math.isfinite(v)
    }


def describe_evidence(evidence: VersionEvidence) -> list[EvidenceItem]:
    """Each evidence kind for one version: where it came from, or why not and how to fix it."""
    from tools.pipeline_config import is_config_artifact

    table = [evidence.eval_table.path] if evidence.eval_table is not None else []
    items = [
        _item(
            "eval_table",
            table,
            evidence,
            ("eval_table",),
            "evidence: {table: {paths: ['<artifact path>'], columns: {label: <col>, score: <col>}}}"
            " in the policy, or mlflow.log_table(df, artifact_file='eval/predictions.json')",
        )
    ]
    # Inputs whose context tag is neither (autologging's `eval`): a missing set says so.
    own = [d for d in evidence.datasets if d.context not in (None, *_DATASET_CONTEXTS)]
    for context in reversed(_DATASET_CONTEXTS):
        found = [f"{d.name} (digest {d.digest})" for d in evidence.datasets_in(context)]
        untagged = [d.name for d in evidence.datasets if not d.context]
        fix = f"mlflow.log_input(dataset, context={context!r})"
        if untagged:
            fix = (
                f"evidence: {{datasets: {{{context}: [{untagged[0]!r}]}}}} in the policy, or {fix}"
            )
        item = _item(f"{context}_dataset", found, evidence, ("datasets",), fix)
        if not found and own:
            note = (
                "inputs tagged otherwise are not read as either: "
                + ", ".join(f"{d.name!r} tagged {d.context!r}" for d in own)
                + " (autologging tags the data watched while fitting 'eval')"
            )
            item = item.model_copy(update={"why_not": [*item.why_not, note]})
        items.append(item)
    configs = [a.path for a in evidence.artifacts if a.owner == "run" and is_config_artifact(a)]
    items.append(
        _item(
            "pipeline_config",
            configs,
            evidence,
            ("pipeline_config", "artifacts"),
            "evidence: {configs: ['<folder>/*.yaml']} in the policy, or "
            "mlflow.log_artifact('pipeline.yaml', artifact_path='pipeline')",
        )
    )
    segments = _segment_columns(evidence)
    items.append(
        EvidenceItem(
            kind="segment_metrics",
            found=bool(segments),
            where=[f"{col}: {', '.join(values)}" for col, values in segments.items()]
            + _origins(evidence, "segment_metrics"),
            how=None,
            fix=None
            if segments
            else "a segment column in the evaluation table, or metric keys "
            "segment/<column>:<value>/<metric> (other spellings: evidence: {segment_keys: "
            "['{metric}_{column}_{value}']})",
        )
    )
    metrics = _plain_metrics(evidence)
    items.append(
        EvidenceItem(
            kind="metrics",
            found=bool(metrics),
            where=[f"{k} = {v:.4g}" for k, v in metrics.items()],
            fix=None if metrics else "mlflow.log_metric(name, value) on the source run",
        )
    )
    lm = evidence.logged_model
    items.append(
        EvidenceItem(
            kind="logged_model_metrics",
            found=bool(lm is not None and lm.metrics),
            where=sorted(
                {f"{m.key} on {m.dataset_name or '?'} ({m.dataset_digest})" for m in lm.metrics}
            )[:20]
            if lm is not None
            else [],
            why_not=_gaps(evidence, "logged_model"),
            fix=None
            if lm is not None and lm.metrics
            else "mlflow.models.evaluate(model_info.model_uri, data, ...) or "
            "mlflow.log_metric(key, value, model_id=..., dataset=...)",
        )
    )
    return items


def _collect(
    model: str, ref: str, tracking_uri: str | None, policies_dir: Path | None
) -> tuple[VersionEvidence, list[LoadedPolicy]]:
    from api._mlflow_http import settings_client
    from api.settings import load_settings
    from policies.evidence_mapping import applicable_mapping, metric_names_for
    from policies.loader import load_policy_dir
    from tools.collector import collect_version
    from tools.registry import resolve_version

    settings = load_settings(tracking_uri=tracking_uri, policies_dir=policies_dir)
    policies = load_policy_dir(settings.policies_dir) if settings.policies_dir else []
    client = settings_client(settings)
    resolved = resolve_version(client, model, ref)
    mapping: EvidenceMapping = applicable_mapping(policies, model)
    evidence = collect_version(
        client,
        model,
        resolved.version,
        timeout_s=settings.evidence_timeout_s,
        mapping=mapping,
        metric_names=metric_names_for(policies, model),
    )
    return evidence, policies


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(EXIT_ERROR)


def evidence_command(
    model: ModelArg,
    ref: RefArg,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    as_json: AsJson = False,
) -> None:
    """Show what promogate finds for MODEL at VERSION: each evidence kind, where from or why not."""
    from policies.errors import PolicyError
    from tools.errors import ToolError

    try:
        evidence, _ = _collect(model, ref, tracking_uri, policies)
    except (ToolError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    items = describe_evidence(evidence)
    if as_json:
        typer.echo(json.dumps([i.model_dump(mode="json") for i in items], indent=2))
        return
    typer.echo(f"{evidence.model} v{evidence.version} (run {evidence.run_id})")
    for item in items:
        mark = "found" if item.found else "MISSING"
        typer.echo(f"- {item.kind}: {mark}" + (f" by {item.how}" if item.how else ""))
        for where in item.where[:12]:
            typer.echo(f"    from {where}")
        for why in item.why_not:
            typer.echo(f"    why: {why}")
        if item.fix:
            typer.echo(f"    fix: {item.fix}")


# --------------------------------------------------------------------------------------------
# policy init


def _floor(value: float, margin: float) -> float:
    return math.floor((value - margin) * 100) / 100


def _ceil(value: float, digits: int = 3) -> float:
    """`value` rounded up to `digits` significant digits (a ceiling for an error in any units)."""
    if not value > 0:
        return 0.0
    scale = 10.0 ** (digits - 1 - math.floor(math.log10(value)))
    return float(f"{math.ceil(value * scale) / scale:.{digits}g}")


def starter_policy(evidence: VersionEvidence, *, name: str | None = None) -> str:
    """A commented starter policy from what `evidence` logged, that validates and reviews.

    Thresholds leave the version's own values a little room (it passes them): a regressor's
    errors (``root_mean_squared_error``...) are bounded from above; the evidence mapping
    pins down what discovery found, so later runs are read the same way.
    """
    from tools import (
        EVALUATE_NAMES,
        GENAI_DATASET_SOURCE,
        GENAI_TABLE_PATH,
        METRIC_DATASET_SOURCE,
        lower_is_better,
    )

    model = evidence.model
    policy_name = name or "".join(c if c.isalnum() or c in "._-" else "-" for c in model)
    logged = _plain_metrics(evidence)
    metrics = _with_aliases(logged)
    lines = [
        f"# Starter policy for {model!r}, written from what version {evidence.version} logged.",
        "# Thresholds leave that version's values a little room; tighten them to your own bar.",
        "apiVersion: promogate/v1",
        "kind: PromotionPolicy",
        f"metadata: {{name: {policy_name}, revision: 1}}",
        f"match: {{model: {json.dumps(model)}, target_alias: champion}}",
        "mode: enforce",
        "on_error: block",
        "# Without a champion yet (a first version) the comparisons below warn and do not block.",
        "baseline: {alias: champion, on_missing: warn}",
    ]
    guarded = [m for m in _GUARDED_METRICS if m in metrics]

    def logged_as(metric: str) -> str:
        return next(
            (k for k in logged if k == metric or _with_aliases({k: 0.0}).get(metric) == 0.0),
            metric,
        )

    if guarded:
        lines.append("metrics:")
        for metric in guarded:
            lines.append(
                f"  - {{name: {metric}, min: {_floor(metrics[metric], 0.05)}, max_drop: 0.02}}"
                f"  # logged {metrics[metric]:.4f} as {logged_as(metric)}"
            )
    elif scorer_means := {
        k.removesuffix("/mean"): v
        for k, v in logged.items()
        if k.endswith("/mean") and k.count("/") == 1
    }:
        # mlflow.genai.evaluate logs <scorer>/mean; a policy names the scorer (read by alias).
        lines.append("metrics:")
        for metric, value in scorer_means.items():
            lines.append(
                f"  - {{name: {metric}, min: {_floor(value, 0.05)}, max_drop: 0.02}}"
                f"  # logged {value:.4f} as {metric}/mean by mlflow.genai.evaluate"
            )
    elif regression := [
        EVALUATE_NAMES[m] for m in _GUARDED_REGRESSION_METRICS if EVALUATE_NAMES[m] in metrics
    ]:
        lines.append("metrics:")
        for metric in regression:
            value = metrics[metric]
            bound = (
                f"max: {_ceil(value * 1.1)}, max_relative_drop: 0.05, lower_is_better: true"
                if lower_is_better(metric)
                else f"min: {_floor(value, 0.05)}, max_drop: 0.02"
            )
            lines.append(
                f"  - {{name: {metric}, {bound}}}  # logged {value:.4g} as {logged_as(metric)}"
            )
    else:
        lines.append(
            f"# No common quality metric found among: {', '.join(list(metrics)[:10]) or 'none'}"
        )
        lines.append("metrics: []")
    segments = _segment_columns(evidence)
    segment_metric = next(
        (m for m in ("recall", "roc_auc", "accuracy") if m in guarded),
        guarded[0] if guarded else None,
    )
    if segments and segment_metric is not None:
        column = next(iter(segments))
        lines.append(f"# Segment columns found: {', '.join(segments)}")
        lines.append(
            f"segments: {{by: {column}, metric: {segment_metric}, max_drop: 0.05, min_rows: 30}}"
        )
    has_eval = bool(evidence.datasets_in("evaluation"))
    has_train = bool(evidence.datasets_in("training"))
    same = "required" if has_eval else "warn"
    overlap = "forbid" if has_eval and has_train else "warn"
    lines.append(f"comparability: {{same_eval_dataset: {same}, train_eval_overlap: {overlap}}}")
    require = [
        kind
        for kind, present in (
            ("eval_table", evidence.eval_table is not None),
            ("evaluation_dataset", has_eval),
            ("training_dataset", has_train),
        )
        if present
    ]
    lines.append("evidence:")
    lines.append(f"  require: [{', '.join(require)}]")
    for origin in evidence.origins:
        lines.append(f"  # found {origin.kind} at {origin.source} by {origin.how}")
    if evidence.eval_table is not None and evidence.eval_table.path == GENAI_TABLE_PATH:
        # Read from the evaluation's traces, not a file: only renamed columns need saying.
        table_origin = next((o for o in evidence.origins if o.kind == "eval_table"), None)
        columns = _columns_from_detail(table_origin.detail if table_origin else "")
        renamed = {k: v for k, v in columns.items() if k != v}
        if renamed:
            column_text = ", ".join(f"{k}: {v}" for k, v in renamed.items())
            lines.append(f"  table: {{columns: {{{column_text}}}}}")
    elif evidence.eval_table is not None and evidence.eval_table.path not in (
        "eval/predictions.json",
        "eval/predictions.csv",
        "eval/predictions.parquet",
    ):
        table_origin = next((o for o in evidence.origins if o.kind == "eval_table"), None)
        columns = _columns_from_detail(table_origin.detail if table_origin else "")
        column_text = ", ".join(f"{k}: {v}" for k, v in columns.items())
        lines.append(
            f"  table: {{paths: [{json.dumps(evidence.eval_table.path)}], "
            f"columns: {{{column_text}}}}}"
        )
    configs = [o.source for o in evidence.origins if o.kind == "pipeline_config"]
    if configs:
        lines.append(f"  configs: [{', '.join(json.dumps(c) for c in configs)}]")
    # Names a mapping can pin: the source run's own inputs, not those known another way.
    logged_names = {
        d.name
        for d in evidence.datasets
        if d.source_type not in (GENAI_DATASET_SOURCE, METRIC_DATASET_SOURCE)
    }
    named = {
        kind: [
            o.source.split("'")[1]
            for o in evidence.origins
            if o.kind == f"{kind}_dataset"
            and o.how != "convention"
            and "'" in o.source
            and o.source.split("'")[1] in logged_names
        ]
        for kind in ("training", "evaluation")
    }
    if any(named.values()):
        parts = ", ".join(
            f"{k}: [{', '.join(json.dumps(n) for n in v)}]" for k, v in named.items() if v
        )
        lines.append(f"  datasets: {{{parts}}}")
    return "\n".join(lines) + "\n"


def _columns_from_detail(detail: str) -> dict[str, str]:
    import re

    return {m[0]: m[1] for m in re.findall(r"(label|score|prediction|row_id)='([^']+)'", detail)}


def policy_init(
    model: ModelArg,
    ref: RefArg,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the policy to this file.")
    ] = None,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
) -> None:
    """Write a starter policy for MODEL from what VERSION actually logged."""
    from policies.errors import PolicyError
    from policies.loader import load_policy_text
    from tools.errors import ToolError

    try:
        evidence, _ = _collect(model, ref, tracking_uri, policies)
        text = starter_policy(evidence)
        load_policy_text(text, str(output or "<starter policy>"))
    except (ToolError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists():
        raise _fail(f"{str(output)!r} exists; not overwriting it")
    output.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {output}")


# --------------------------------------------------------------------------------------------
# policy validate --against


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def lint_policies(
    policies: Sequence[LoadedPolicy], evidence: VersionEvidence, model_names: Sequence[str]
) -> list[str]:
    """Problems of policies against one version's real evidence, with did-you-mean suggestions."""
    from fnmatch import fnmatchcase

    from tools.discovery import BUILTIN_METRIC_ALIASES

    problems: list[str] = []
    metrics = _plain_metrics(evidence)
    aliases = {n for group in BUILTIN_METRIC_ALIASES for n in group if set(group) & set(metrics)}
    segments = _segment_columns(evidence)
    for loaded in policies:
        policy = loaded.policy
        where = f"{loaded.path}:{loaded.line} ({policy.name})"
        if not fnmatchcase(evidence.model, policy.match.model):
            problems.append(
                f"{where}: match.model {policy.match.model!r} does not match "
                f"{evidence.model!r}{_suggest(policy.match.model, model_names)}"
            )
            continue
        known = set(metrics) | aliases | set(policy.evidence.metric_aliases)
        for rule in policy.metrics:
            if rule.name not in known:
                problems.append(
                    f"{where}: metric {rule.name!r} is not logged by {evidence.ref}"
                    f"{_suggest(rule.name, sorted(metrics))}"
                )
        for seg in policy.segments:
            if seg.by not in segments:
                problems.append(
                    f"{where}: segment column {seg.by!r} is not in {evidence.ref}'s evidence "
                    f"(columns: {sorted(segments)!r}){_suggest(seg.by, sorted(segments))}"
                )
        items = {i.kind: i for i in describe_evidence(evidence)}
        for kind in policy.evidence.require:
            item = items.get(kind)
            if item is not None and not item.found:
                problems.append(
                    f"{where}: required evidence {kind!r} is missing for {evidence.ref}"
                    + (f": {item.why_not[0]}" if item.why_not else "")
                    + (f"; fix: {item.fix}" if item.fix else "")
                )
    return problems


def validate_against(directory: Path, against: Sequence[str], tracking_uri: str | None) -> int:
    """Lint the policies of `directory` against MODEL VERSION; print problems, return the code."""
    from api._mlflow_http import settings_client
    from policies.errors import PolicyError
    from tools.errors import ToolError
    from tools.registry import registered_model_names

    if len(against) != 2:
        raise _fail(f"--against takes MODEL VERSION, got {list(against)!r}")
    model, ref = against
    try:
        evidence, policies = _collect(model, ref, tracking_uri, directory)
        from api.settings import load_settings

        settings = load_settings(tracking_uri=tracking_uri)
        names = registered_model_names(settings_client(settings))
    except (ToolError, PolicyError) as exc:
        raise _fail(str(exc)) from None
    problems = lint_policies(policies, evidence, names)
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        return EXIT_ERROR
    typer.echo(f"ok: {len(policies)} policies fit the evidence of {evidence.ref}")
    return 0


def register_evidence_commands(app: typer.Typer, policy_app: typer.Typer) -> None:
    """Add `evidence` to `app` and `init` to the `policy` sub-app."""
    app.command(name="evidence")(evidence_command)
    policy_app.command(name="init")(policy_init)
