"""`promogate eval`: list the built-in safety suites and run a suite against a target.

Exit codes of `eval run`, for CI systems: 0 the suite passed, 1 it failed (attacks succeeded beyond
its thresholds), 3 error (the suite could not run or be scored honestly: unreachable target, error
rate above the suite's limit, invalid suite, MLflow refused the results), 130 interrupted (rerun
with the same `--cache` to resume).

mlflow and the evals runner are imported inside the commands, so mounting this app costs nothing
at start-up.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from api.settings import Settings
    from evals.judges import Judge
    from evals.results import LoggedSuiteRun
    from evals.runner import SuiteRun
    from evals.suite import Suite

__all__ = ["EVAL_EXIT_CODES", "eval_app"]

EVAL_EXIT_CODES: dict[str, int] = {"pass": 0, "fail": 1, "error": 3, "interrupted": 130}

eval_app = typer.Typer(
    name="eval",
    help="Safety evaluation suites: list them, run one against a model or endpoint.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

JudgeChoice = Literal["auto", "offline", "llm"]
_JUDGE_CHOICES: dict[str, JudgeChoice] = {"auto": "auto", "offline": "offline", "llm": "llm"}
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_LIMIT_LABELS = {
    "max_attack_success_rate": "asr",
    "max_failures": "failures",
    "max_error_rate": "error rate",
}
# Classifier suites speak of segments, parity and stability, not of attacks.
_CLASSIFIER_LIMIT_LABELS = {
    "max_segment_drop": "segment drop",
    "max_demographic_parity_difference": "parity difference",
    "max_equalized_odds_difference": "equalized-odds difference",
    "max_flip_rate": "flipped predictions",
    "max_metric_drop": "metric drop",
    "max_failures": "failing checks",
}

TrackingUri = Annotated[
    str | None,
    typer.Option("--tracking-uri", help="MLflow tracking URI (env PROMOGATE_TRACKING_URI)."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _settings(**overrides: object) -> Settings:
    from api.settings import load_settings

    return load_settings(**overrides)


def _fail(message: str, *, as_json: bool, code: int = EVAL_EXIT_CODES["error"]) -> typer.Exit:
    if as_json:
        typer.echo(json.dumps({"error": message}))
    else:
        typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


# --- list ---------------------------------------------------------------------------------------


def _limits(header: Any) -> dict[str, float]:
    limits: dict[str, float] = header.thresholds.model_dump(exclude_none=True)
    if header.target_kind == "classifier":
        limits = {k: v for k, v in limits.items() if k == "max_failures"}
        limits.update(
            {
                k: float(v)
                for k, v in header.params.items()
                if k in _CLASSIFIER_LIMIT_LABELS and isinstance(v, int | float)
            }
        )
    return limits


@eval_app.command("list")
def list_suites(as_json: AsJson = False) -> None:
    """List the built-in suites with their category, detector, size and thresholds."""
    from evals.errors import SuiteError
    from evals.suite import builtin_suite_paths, load_suite

    rows: list[dict[str, Any]] = []
    for name, path in builtin_suite_paths().items():
        try:
            suite = load_suite(path)
        except SuiteError as exc:
            rows.append({"name": name, "error": str(exc)})
            continue
        header = suite.header
        rows.append(
            {
                "name": header.name,
                "version": header.version,
                "category": header.category,
                "target_kind": header.target_kind,
                "detector": header.detector,
                "cases": len(suite.cases),
                "thresholds": _limits(header),
                "description": header.description,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from api._plain_output import is_terminal

    if not is_terminal():
        for row in rows:
            if "error" in row:
                typer.echo(f"{row['name']}: invalid: {row['error']}")
                continue
            labels = (
                _CLASSIFIER_LIMIT_LABELS if row["target_kind"] == "classifier" else _LIMIT_LABELS
            )
            limits = ", ".join(f"{labels.get(k, k)} <= {v:g}" for k, v in row["thresholds"].items())
            typer.echo(
                f"{row['name']} {row['version']} ({row['target_kind']}, {row['category']}, "
                f"{row['cases']} cases): {limits}"
            )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Built-in safety suites")
    table.add_column("suite", overflow="fold")
    table.add_column("version")
    table.add_column("category", overflow="fold")
    table.add_column("detector", overflow="fold")
    table.add_column("cases", justify="right")
    table.add_column("limits", overflow="fold")
    for row in rows:
        if "error" in row:
            table.add_row(row["name"], "-", "[red]invalid[/red]", "-", "-", row["error"])
            continue
        labels = _CLASSIFIER_LIMIT_LABELS if row["target_kind"] == "classifier" else _LIMIT_LABELS
        limits = ", ".join(f"{labels.get(k, k)} ≤ {v:g}" for k, v in row["thresholds"].items())
        table.add_row(
            row["name"],
            row["version"],
            row["category"],
            row["detector"],
            str(row["cases"]),
            limits,
        )
    Console().print(table)


# --- run ----------------------------------------------------------------------------------------


def _judge(choice: JudgeChoice, settings: Settings) -> Judge:
    from evals.judges import make_judge

    wants_llm = choice == "llm" or (choice == "auto" and settings.llm != "offline")
    if not wants_llm:
        return make_judge(None)
    from agents.chat_model import build_chat_model

    # The same LLM settings as the reviewer; the judge has no retry loop of its own, so the
    # client retries 429s and 5xx itself.
    chat = build_chat_model(
        settings.llm,
        api_key=settings.openai_api_key,
        base_url=settings.openai_base_url,
        max_retries=2,
    )
    return make_judge(chat)


async def _run_llm_suite(
    suite: Suite,
    spec: str,
    *,
    settings: Settings,
    api_key: str | None,
    judge: Judge,
    concurrency: int,
    timeout_s: float,
    retries: int,
    cache_path: Path | None,
    console: Console | None,
) -> SuiteRun:
    from evals.response_cache import ResponseCache
    from evals.runner import run_suite
    from evals.targets import parse_target

    target = parse_target(
        spec,
        tracking_uri=settings.tracking_uri,
        registry_uri=settings.registry_uri,
        api_key=api_key,
    )
    cache = ResponseCache(cache_path) if cache_path is not None else None
    try:
        return await run_suite(
            suite,
            target,
            judge=judge,
            concurrency=concurrency,
            timeout_s=timeout_s,
            retries=retries,
            cache=cache,
            progress=console,
        )
    finally:
        await target.close()
        if cache is not None:
            cache.close()


def _read_dataset(path: Path) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    if path.suffix in {".json", ".jsonl"}:
        return pd.read_json(path, lines=path.suffix == ".jsonl")
    return pd.read_csv(path)


def _run_classifier_suite(
    suite: Suite, spec: str, *, settings: Settings, dataset: Path | None
) -> SuiteRun:
    from evals.classic import run_classifier_suite
    from evals.errors import EvalError
    from evals.targets import load_model_version, resolve_model_version

    if dataset is None:
        named = suite.header.params.get("dataset")
        if not isinstance(named, str):
            raise EvalError(
                f"suite {suite.header.name!r} needs an evaluation dataset: pass --dataset PATH "
                "or set params.dataset in the suite header"
            )
        dataset = Path(suite.path).parent / named
    if not spec.startswith("models:/"):
        raise EvalError(
            f"classifier suites run against registry models (models:/...), not {spec!r}"
        )
    name, version = resolve_model_version(
        spec, tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri
    )
    model = load_model_version(
        name, version, tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri
    )
    try:
        data = _read_dataset(dataset)
    except (OSError, ValueError) as exc:
        raise EvalError(f"cannot read the evaluation dataset {str(dataset)!r}: {exc}") from exc
    return run_classifier_suite(suite, model, data, target=f"models:/{name}/{version}")


def _log(run: SuiteRun, log_to: str, settings: Settings) -> LoggedSuiteRun:
    from evals.errors import EvalError
    from evals.results import log_suite_run, parse_model_version

    if log_to == "new":
        return log_suite_run(
            run, tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri
        )
    if log_to == "source":
        parsed = parse_model_version(run.target)
        if parsed is None:
            raise EvalError(f"--log-to source needs a models:/ target, not {run.target!r}")
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        client = MlflowClient(
            tracking_uri=settings.tracking_uri, registry_uri=settings.registry_uri
        )
        try:
            run_id = client.get_model_version(parsed[0], str(parsed[1])).run_id
        except MlflowException as exc:
            raise EvalError(f"cannot read {run.target!r}: {exc.message}") from exc
        if not run_id:
            raise EvalError(f"{run.target!r} has no source run; use --log-to new")
        return log_suite_run(
            run,
            tracking_uri=settings.tracking_uri,
            run_id=run_id,
            registry_uri=settings.registry_uri,
        )
    if not _RUN_ID.match(log_to):
        raise EvalError(f"--log-to takes a run id, 'new' or 'source', got {log_to!r}")
    return log_suite_run(
        run, tracking_uri=settings.tracking_uri, run_id=log_to, registry_uri=settings.registry_uri
    )


def _print_run(run: SuiteRun, logged: LoggedSuiteRun | None, show: int, console: Console) -> None:
    from rich.table import Table

    from evals.results import case_records

    colour = {"pass": "green", "fail": "red", "error": "yellow"}.get(run.status, "white")
    summary = Table(show_header=False, title=f"Suite {run.suite} {run.suite_version}")
    summary.add_column("field", style="bold")
    summary.add_column("value")
    rate = "-" if run.attack_success_rate is None else f"{run.attack_success_rate:.3f}"
    classifier = run.category in ("fairness", "robustness")
    skipped = sum(1 for r in run.results if r.status == "skip")
    for field, value in (
        ("status", f"[{colour}]{run.status}[/{colour}]"),
        ("reason", run.reason or "-"),
        ("target", run.target),
        ("judge", run.judge),
        ("cases", str(run.cases)),
        ("failures", str(run.failures)),
        ("errors", f"{run.errors} (rate {run.error_rate:.3f})"),
        ("failing check rate" if classifier else "attack success rate", rate),
        ("skipped (tested nothing)", str(skipped)),
        ("cached responses", str(run.cached)),
        ("duration", f"{run.duration_s:.1f} s"),
    ):
        summary.add_row(field, value)
    for name, figure in sorted(run.metrics.items()):
        summary.add_row(name, f"{figure:.4g}")
    console.print(summary)
    records = case_records(run, excerpt_chars=160)
    for status, title in (("fail", "Failing cases"), ("error", "Errors")):
        chosen = [r for r in records if r["status"] == status]
        if not chosen:
            continue
        table = Table(title=f"{title} ({len(chosen)})")
        table.add_column("case")
        table.add_column("label" if status == "fail" else "error")
        table.add_column("reason" if status == "fail" else "attempts")
        table.add_column("evidence" if status == "fail" else "response")
        for record in chosen[:show]:
            if status == "fail":
                row = (record["label"] or "-", record["reason"] or "-")
                # What the detector matched says more than the start of the response.
                evidence = ", ".join(record["matches"]) or record["response_excerpt"] or "-"
            else:
                row = (record["error"] or "-", str(record["attempts"]))
                evidence = record["response_excerpt"] or "-"
            table.add_row(record["case_id"], *row, evidence)
        if len(chosen) > show:
            table.caption = f"{len(chosen) - show} more not shown (--show N)"
        console.print(table)
    if logged is not None:
        console.print(
            f"logged to run {logged.run_id} (experiment {logged.experiment_id}): "
            f"{len(logged.metrics)} metrics, artifact {logged.artifact_path}"
        )


@eval_app.command("run")
def run(
    suite_name: Annotated[
        str, typer.Argument(metavar="SUITE", help="A built-in suite name or a suite .yaml path.")
    ],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="models:/NAME/VERSION, models:/NAME@ALIAS, openai:MODEL@BASE_URL or "
            "http(s)://HOST:PORT/invocations.",
        ),
    ],
    log_to: Annotated[
        str | None,
        typer.Option(
            "--log-to",
            help="Log results to MLflow: a run id, 'source' (the version's source run) or 'new' "
            "(a new evaluation run tagged promogate.eval_target).",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=256, help="Requests in flight at once.")
    ] = 8,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Per-request timeout in seconds.")
    ] = 30.0,
    retries: Annotated[
        int, typer.Option("--retries", min=0, max=10, help="Retries on timeouts, 429 and 5xx.")
    ] = 2,
    cache: Annotated[
        Path | None,
        typer.Option(
            "--cache",
            help="SQLite response cache: an interrupted run resumes from it. Use one file per "
            "model under test (an endpoint redeployed under the same URL keeps its entries).",
        ),
    ] = None,
    judge: Annotated[
        str,
        typer.Option(
            "--judge",
            help="auto (the LLM judge when PROMOGATE_LLM is set), offline or llm.",
        ),
    ] = "auto",
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset", help="Evaluation dataset (CSV, Parquet, JSON) for classifier suites."
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="PROMOGATE_EVAL_API_KEY",
            show_default=False,
            help="Bearer token for an openai: target.",
        ),
    ] = None,
    show: Annotated[int, typer.Option("--show", min=0, help="Failing cases to print.")] = 10,
    tracking_uri: TrackingUri = None,
    as_json: AsJson = False,
) -> None:
    """Run a suite against a target, print the result and optionally log it to MLflow."""
    from rich.console import Console

    from api._mlflow_http import configure_mlflow_http
    from evals.errors import EvalError
    from evals.suite import find_suite

    judge_choice = _JUDGE_CHOICES.get(judge)
    if judge_choice is None:
        raise _fail(f"--judge must be auto, offline or llm, got {judge!r}", as_json=as_json)
    if log_to is not None and log_to not in ("new", "source") and not _RUN_ID.match(log_to):
        raise _fail(f"--log-to takes a run id, 'new' or 'source', got {log_to!r}", as_json=as_json)
    settings = _settings(tracking_uri=tracking_uri)
    configure_mlflow_http(settings)
    try:
        suite = find_suite(suite_name)
    except EvalError as exc:
        raise _fail(str(exc), as_json=as_json) from None
    console = Console(stderr=True)
    try:
        if suite.header.target_kind == "classifier":
            result = _run_classifier_suite(suite, target, settings=settings, dataset=dataset)
        else:
            result = asyncio.run(
                _run_llm_suite(
                    suite,
                    target,
                    settings=settings,
                    api_key=api_key,
                    judge=_judge(judge_choice, settings),
                    concurrency=concurrency,
                    timeout_s=timeout,
                    retries=retries,
                    cache_path=cache,
                    console=None if as_json else console,
                )
            )
    except KeyboardInterrupt:
        hint = " rerun with the same --cache to resume" if cache else " use --cache to resume"
        raise _fail(f"interrupted;{hint}", as_json=as_json, code=130) from None
    except (EvalError, ValueError) as exc:
        raise _fail(str(exc), as_json=as_json) from None
    logged: LoggedSuiteRun | None = None
    if log_to is not None:
        try:
            logged = _log(result, log_to, settings)
        except EvalError as exc:
            raise _fail(
                f"the suite ran ({result.status}) but was not logged: {exc}", as_json=as_json
            ) from None
    if as_json:
        from evals.results import case_records

        payload = result.model_dump(mode="json", exclude={"results"})
        payload["results"] = case_records(result)
        typer.echo(
            json.dumps(
                {
                    "suite_run": payload,
                    "logged": logged.model_dump(mode="json") if logged is not None else None,
                },
                indent=2,
            )
        )
    else:
        _print_run(result, logged, show, Console())
    raise typer.Exit(EVAL_EXIT_CODES[result.status])
