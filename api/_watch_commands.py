"""`promogate watch` and `promogate monitor ...`: the post-promotion watch from the shell.

Mounted on the main CLI by `api.cli`. Settings are read here, at the edge, and passed down.

Exit codes of ``watch``, in the spirit of the gate's (0 approve, 1 block, 2 escalate, 3 error):
0 every new window is ok (or below its sample floor, or there was nothing new), 1 an alert (the
champion's decision was reopened; the rollback is advised, or done under ``rollback:
automatic``), 2 a window at ``watch`` level (something moved; a human should look), 3 the pass
could not evaluate (no policy with a ``watch:`` section, no reference, a broken monitoring
artifact, MLflow or the ledger unreachable): never read as ok.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli_options import AsJson, LedgerUrl, PoliciesDir, TrackingUri

if TYPE_CHECKING:
    from api.settings import Settings
    from review.watch_runner import WatchPass

__all__ = ["WATCH_EXIT_CODES", "monitor_app", "register_watch_commands", "watch_command"]

WATCH_EXIT_CODES: dict[str, int] = {
    "ok": 0,
    "skip": 0,
    "alert": 1,
    "watch": 2,
    "error": 3,
}

monitor_app = typer.Typer(
    help="Log monitoring windows, late labels and references for the watch.",
    no_args_is_help=True,
)


def _settings(**overrides: object) -> Settings:
    # pydantic-settings is imported only when a watch command runs, not when the CLI is mounted.
    from api.settings import load_settings

    return load_settings(**overrides)


def _split(target: str) -> tuple[str, str | None]:
    model, _, alias = target.partition("@")
    if not model:
        raise typer.BadParameter(f"expected MODEL or MODEL@ALIAS, got {target!r}")
    return model, alias or None


def pass_exit_code(passes: list[WatchPass]) -> int:
    """The worst exit code of the passes (3 beats 1 beats 2 beats 0)."""
    order = [0, 2, 1, 3]
    codes = [WATCH_EXIT_CODES[p.level] for p in passes] or [0]
    return max(codes, key=order.index)


def _print(passes: list[WatchPass]) -> None:
    from api._plain_output import is_terminal

    lines: list[str] = []
    for result in passes:
        head = f"{result.model}@{result.alias}"
        if result.version is not None:
            head += f" v{result.version}"
        lines.append(f"{head}: {result.level} ({len(result.windows)} window(s) evaluated)")
        for window in result.windows:
            span = (
                f"{window.window_start:%Y-%m-%d %H:%M} to {window.window_end:%Y-%m-%d %H:%M}"
                if window.window_start and window.window_end
                else "?"
            )
            line = f"  window {window.window_id} ({span}): {window.level}"
            if window.reevaluation_reason:
                line += f" [re-evaluated: {window.reevaluation_reason}]"
            if window.error:
                line += f" error: {window.error}"
            if window.drifted_features:
                line += f"; drifted: {', '.join(window.drifted_features)}"
            if window.drifted_segments:
                segs = "; ".join(f"{k}: {', '.join(v)}" for k, v in window.drifted_segments.items())
                line += f"; within segments: {segs}"
            if window.failing:
                line += f"; checks: {', '.join(window.failing[:8])}"
            line += f" (ledger {window.record_id})"
            lines.append(line)
        if result.decision_id:
            lines.append(f"  decision reopened: {result.decision_id} ({result.decision_verdict})")
        if result.advice is not None:
            lines.append(f"  {result.advice.summary}")
        if result.rollback is not None:
            rollback = result.rollback
            state = (
                f"rolled back to v{rollback.version} (promotion {rollback.promotion_id})"
                if rollback.done
                else f"automatic rollback to v{result.rollback.version} refused"
            )
            lines.append(f"  {state}: {'; '.join(result.rollback.reasons[:3])}")
        for error in result.errors:
            lines.append(f"  error: {error}")
    if is_terminal():
        from rich.console import Console

        Console().print("\n".join(lines), markup=False, highlight=False)
    else:
        for line in lines:
            typer.echo(line)


def watch_command(
    target: Annotated[
        str | None,
        typer.Argument(
            metavar="MODEL[@ALIAS]",
            help="The model whose alias holder is watched (@champion, or the target alias, by "
            "default).",
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Every alias a policy with a watch: section names.")
    ] = False,
    policies: PoliciesDir = None,
    tracking_uri: TrackingUri = None,
    ledger_url: LedgerUrl = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            "--metrics-file",
            help="Also write the watch gauges to this .prom file (node_exporter textfile).",
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """One pass over the new monitoring windows of MODEL@ALIAS's holder: evaluate, record, act.

    Exit 0 ok, 1 alert (decision reopened, rollback advised or done), 2 watch, 3 could not
    evaluate.
    """
    from api._notifications import Notifier
    from api._watch_service import build_watcher
    from api.services import build_review_service, configure_mlflow_environment
    from ledger.errors import LedgerError
    from review.gate import GateService

    if (target is None) == (not every):
        typer.echo("error: give MODEL[@ALIAS] or --all (not both)", err=True)
        raise typer.Exit(3)
    settings = _settings(tracking_uri=tracking_uri, ledger_url=ledger_url, policies_dir=policies)
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    configure_mlflow_environment(settings)
    notifier = Notifier(
        settings.notify_url,
        form=settings.notify_format,
        secret=settings.notify_secret.get_secret_value() if settings.notify_secret else None,
        attempts=settings.notify_attempts,
    )
    reviews = build_review_service(settings)
    gate = GateService(reviews)
    watcher = build_watcher(settings, gate, notifier)
    try:
        if every:
            passes = watcher.watch_all(deadline_s=settings.watch_deadline_s)
        else:
            assert target is not None
            model, alias = _split(target)
            passes = [watcher.watch(model, alias)]
        if metrics_file is not None:
            from api._watch_metrics import write_watch_metrics

            write_watch_metrics(reviews.ledger, metrics_file)
    except LedgerError as exc:
        typer.echo(f"error: the ledger is unavailable, nothing was recorded: {exc}", err=True)
        raise typer.Exit(3) from None
    finally:
        gate.drain()
        notifier.flush()
        notifier.close()
        reviews.ledger.close()
    if as_json:
        typer.echo(
            json.dumps([{**p.model_dump(mode="json"), "level": p.level} for p in passes], indent=2)
        )
    else:
        _print(passes)
    raise typer.Exit(pass_exit_code(passes))


def _read_frame(path: Path) -> Any:
    import pandas as pd  # type: ignore[import-untyped]

    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (OSError, ValueError, ImportError) as exc:
        typer.echo(f"error: cannot read {str(path)!r}: {exc}", err=True)
        raise typer.Exit(3) from None
    typer.echo(f"error: {str(path)!r} is neither .csv nor .parquet", err=True)
    raise typer.Exit(3)


def _moment(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{option} must be an ISO 8601 time, got {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


FileOption = Annotated[
    Path, typer.Option("--file", "-f", help="The rows: a .csv or .parquet file.", exists=True)
]
StartOption = Annotated[
    str, typer.Option("--start", help="Window start, ISO 8601 (UTC unless an offset is given).")
]
EndOption = Annotated[str, typer.Option("--end", help="Window end, ISO 8601.")]
VersionArg = Annotated[int, typer.Argument(help="The monitored version number.")]


@monitor_app.command("log")
def monitor_log(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    version: VersionArg,
    file: FileOption,
    start: StartOption,
    end: EndOption,
    labels: Annotated[
        bool,
        typer.Option(
            "--labels",
            help="The file holds late labels (row_id, label) for the window, not its inputs.",
        ),
    ] = False,
    score_column: Annotated[str, typer.Option(help="Column of the model's score.")] = "score",
    prediction_column: Annotated[
        str, typer.Option(help="Column of the predicted class.")
    ] = "prediction",
    tracking_uri: TrackingUri = None,
    as_json: AsJson = False,
) -> None:
    """Log one monitoring window (or its late labels) for MODEL VERSION from a file.

    Also tags the version with the new run (promogate.watch.latest_window), which MLflow's
    webhook turns into a watch pass when promogate serve receives its events.
    """
    from api._mlflow_http import settings_client
    from tools.errors import ToolError
    from watch.errors import WatchError
    from watch.monitoring import log_labels, log_monitoring_window

    settings = _settings(tracking_uri=tracking_uri)
    client = settings_client(settings)
    frame = _read_frame(file)
    window_start, window_end = _moment(start, "--start"), _moment(end, "--end")
    try:
        # MLflow writes "View run ... at: <url>" to stdout when a run ends on a tracking server;
        # stdout carries this command's result (--json), so MLflow's lines go to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            if labels:
                run_id = log_labels(
                    frame, model, str(version), window_start, window_end, client=client
                )
            else:
                run_id = log_monitoring_window(
                    frame,
                    model,
                    str(version),
                    window_start,
                    window_end,
                    client=client,
                    score_column=score_column,
                    prediction_column=prediction_column,
                )
    except (WatchError, ToolError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    result = {
        "model": model,
        "version": version,
        "run_id": run_id,
        "kind": "labels" if labels else "window",
        "rows": len(frame),
        "window_start": window_start.isoformat(),
        "window_end": window_end.isoformat(),
    }
    if as_json:
        typer.echo(json.dumps(result, indent=2))
    else:
        typer.echo(
            f"logged {result['kind']} of {model} v{version} "
            f"({window_start:%Y-%m-%d %H:%M} to {window_end:%Y-%m-%d %H:%M}, {len(frame)} rows) "
            f"as run {run_id}"
        )


@monitor_app.command("reference")
def monitor_reference(
    model: Annotated[str, typer.Argument(help="Registered model name.")],
    version: VersionArg,
    file: FileOption,
    tracking_uri: TrackingUri = None,
) -> None:
    """Log the reference MODEL VERSION is watched against (its training or evaluation rows)."""
    from api._mlflow_http import settings_client
    from watch.errors import WatchError
    from watch.monitoring import log_reference_profile

    settings = _settings(tracking_uri=tracking_uri)
    client = settings_client(settings)
    frame = _read_frame(file)
    try:
        run_id = log_reference_profile(frame, model, str(version), client=client)
    except (WatchError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(3) from None
    typer.echo(f"logged the reference of {model} v{version} ({len(frame)} rows) as run {run_id}")


def register_watch_commands(app: typer.Typer) -> None:
    """Add `watch` and `monitor` to the `promogate` app."""
    app.command(name="watch")(watch_command)
    app.add_typer(monitor_app, name="monitor")
