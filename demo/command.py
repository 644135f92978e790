"""`promogate demo`: build a registry with real models and real defects, review each candidate."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli_options import AsJson
from scenarios.demo_review import EXAMPLE_POLICIES, DemoVersion, review_demo_candidates

if TYPE_CHECKING:
    from rich.console import Console

    from policies.decision import Decision
    from scenarios.demo_registry import DemoRegistry

__all__ = ["register", "run_demo"]


def run_demo(
    directory: Path,
    *,
    as_json: bool = False,
    console: Console | None = None,
    pages_url: str = "http://127.0.0.1:8080",
) -> int:
    """Build the demo registry in `directory`, review each candidate and print the decisions.

    Ends with the page of each decision under `pages_url`, where `promogate serve --demo
    DIR` serves them. Returns 0 when every decision matches the defect the candidate was built
    with, 1 otherwise.
    """
    from rich.console import Console

    from api.demo_site import DemoManifest
    from api.render import decisions_table
    from demo._planted_pickle import PLANTED_MODEL_NAME, build_planted_pickle_versions
    from demo._support_assistant import build_support_assistant_versions
    from scenarios.demo_registry import build_demo_registry

    # MLflow otherwise copies the current directory's uv.lock and pyproject.toml into every model
    # it logs when it happens to run inside a uv project; the demo's models need neither.
    os.environ.setdefault("MLFLOW_LOG_UV_FILES", "false")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    console = console or Console(stderr=as_json)
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with console.status("building the demo registry (training real models)…") as status:
        registry = build_demo_registry(directory, progress=lambda msg: status.update(msg))
        assistant = build_support_assistant_versions(
            registry.tracking_uri,
            artifact_location=f"{registry.artifact_root.rstrip('/')}/support-assistant",
            progress=lambda msg: status.update(msg),
        )
        planted = build_planted_pickle_versions(
            registry.tracking_uri,
            artifact_location=f"{registry.artifact_root.rstrip('/')}/{PLANTED_MODEL_NAME}",
            progress=lambda msg: status.update(msg),
        )
    candidates: list[DemoVersion] = [
        *registry.candidates,
        *(v for v in assistant if v.role == "candidate"),
        *(v for v in planted if v.role == "candidate"),
    ]
    console.print(
        f"[dim]registry {registry.tracking_uri} built in "
        f"{time.perf_counter() - started:.1f} s[/dim]"
    )
    decisions, mismatches = review_demo_candidates(
        registry.tracking_uri,
        candidates,
        directory / "promogate.db",
        console=None if as_json else console,
    )
    elapsed = time.perf_counter() - started
    if as_json:
        print(json.dumps([d.model_dump(mode="json") for d in decisions], indent=2))
    else:
        console.print(decisions_table(decisions, title="Demo decisions"))
        ledger = directory / "promogate.db"
        console.print(
            f"[dim]{len(decisions)} reviews in {elapsed:.1f} s · ledger {ledger} · "
            f"policies {EXAMPLE_POLICIES.name}/[/dim]"
        )
    reopened, watch_mismatches = _watch_after_promotion(registry, directory, console, pages_url)
    mismatches += watch_mismatches
    DemoManifest(
        tracking_uri=registry.tracking_uri,
        ledger_url=f"sqlite:///{directory / 'promogate.db'}",
        policies_dir=EXAMPLE_POLICIES,
        decision_ids=[d.id for d in decisions] + reopened,
    ).write(directory)
    _print_page_urls(console, directory, decisions, pages_url)
    # The review must never have loaded the planted pickle: its only effect would be this file.
    mismatches += [
        f"{v.model} v{v.version}: the planted pickle was loaded (marker {v.marker} exists)"
        for v in planted
        if v.marker is not None and Path(v.marker).exists()
    ]
    for line in mismatches:
        console.print(f"[red]unexpected decision:[/red] {line}")
    return 1 if mismatches else 0


def _watch_after_promotion(
    registry: DemoRegistry, directory: Path, console: Console, pages_url: str
) -> tuple[list[str], list[str]]:
    """Promote the clean candidate, play its production days and watch it (scenarios.watch_windows).

    Returns the id of the decision the watch reopened (if any) and a line for each way the watch
    did not do what the drifting day calls for.
    """
    from evals.errors import EvalError
    from scenarios.watch_windows import (
        DRIFT_REGION,
        describe_watch,
        run_watch_scenario,
        watch_command,
    )

    started = time.perf_counter()
    try:
        with console.status("promoting v2, logging production windows, watching @champion…"):
            watched = run_watch_scenario(registry, directory / "promogate.db", EXAMPLE_POLICIES)
    except EvalError as exc:
        return [], [f"post-promotion watch: {exc}"]
    console.rule(f"After promotion: watching {registry.model_name}@champion")
    command = watch_command(directory, EXAMPLE_POLICIES)
    for line in describe_watch(watched, command, pages_url):
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    result = watched.watch
    console.print(f"[dim]watch scenario in {time.perf_counter() - started:.1f} s[/dim]")
    problems: list[str] = []
    levels = {w.window_id: w.level for w in result.windows}
    if levels.get(watched.drifting_window_id) != "alert":
        problems.append(f"the drifting day's window is {levels.get(watched.drifting_window_id)!r}")
    problems += [
        f"stable window {w} is {level!r}"
        for w, level in levels.items()
        if w != watched.drifting_window_id and level != "ok"
    ]
    segment = f"region={DRIFT_REGION}"
    if not any(m.segment == segment and m.status == "alert" for m in watched.realised):
        problems.append(f"no significant realised recall drop in {segment}")
    advice = result.advice
    if advice is None or advice.target is None or advice.target.version != watched.previous_version:
        problems.append(f"the rollback advice does not name v{watched.previous_version}")
    reopened = [result.decision_id] if result.decision_id is not None else []
    return reopened, [f"post-promotion watch: {p}" for p in problems]


def _print_page_urls(
    console: Console, directory: Path, decisions: Sequence[Decision], pages_url: str
) -> None:
    base = pages_url.rstrip("/")
    console.print(f"\nClick through the decisions: [bold]promogate serve --demo {directory}[/bold]")
    labels = [f"{d.model} v{d.version}" for d in decisions]
    width = max((len(label) for label in labels), default=0)
    for label, decision in zip(labels, decisions, strict=True):
        console.print(
            f"  {label:<{width}} {decision.verdict:<8} {base}/decisions/{decision.id}",
            highlight=False,
            soft_wrap=True,
        )


def demo(
    directory: Annotated[
        Path, typer.Argument(help="Working directory for the demo registry and ledger.")
    ] = Path("promogate-demo"),
    as_json: AsJson = False,
) -> None:
    """Build a demo MLflow registry with real models and defects, and review every candidate."""
    from api.settings import load_settings

    settings = load_settings()
    pages_url = f"http://{settings.host}:{settings.port}"
    raise typer.Exit(run_demo(directory, as_json=as_json, pages_url=pages_url))


def register(app: typer.Typer) -> None:
    """Add `promogate demo` to the CLI (the `promogate.commands` entry point)."""
    app.command(name="demo")(demo)
