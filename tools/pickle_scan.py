"""Run the two pickle scanners, each in its own process with a time and a memory limit.

Every pickle stream is scanned by picklescan and by fickling independently. A scanner that
crashes, times out, runs out of memory, cannot decode the stream, or reports no globals for a
stream whose opcodes import some (picklescan answers a stream it could not parse with an empty,
clean-looking result) yields a report with status `error`, `timeout` or `memory` and a message
naming the limit: never `clean`.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.pickle_sniffer import PickleLocation

__all__ = [
    "SCANNERS",
    "PickleReport",
    "ScanFinding",
    "ScanLimits",
    "ScannerName",
    "ScannerReport",
    "ScannerStatus",
    "scan_location",
    "scan_pickles",
]

logger = logging.getLogger("promogate.tools")

ScannerName = Literal["picklescan", "fickling"]
SCANNERS: tuple[ScannerName, ...] = ("picklescan", "fickling")
ScannerStatus = Literal["clean", "flagged", "error", "timeout", "memory"]


class ScanLimits(BaseModel):
    """Limits for one scanner process."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    timeout_s: float = Field(default=300.0, gt=0)
    memory_mb: int = Field(default=4096, ge=64)


class ScanFinding(BaseModel):
    """One thing a scanner flagged."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    global_name: str | None = Field(default=None, alias="global")
    severity: str
    clearable: bool = Field(
        description="True when a policy allowlist naming the global may clear it (an import a "
        "scanner does not know); known-dangerous imports, calls and evals are never clearable."
    )
    message: str


class ScannerReport(BaseModel):
    """One scanner's verdict on one pickle stream."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    scanner: ScannerName
    status: ScannerStatus
    findings: list[ScanFinding] = Field(default_factory=list)
    globals_seen: list[str] = Field(default_factory=list)
    message: str | None = None
    # Measurements vary run to run: kept out of dumps so evidence digests stay reproducible.
    seconds: float = Field(default=0.0, exclude=True)
    peak_rss_mb: float | None = Field(default=None, exclude=True)


class PickleReport(BaseModel):
    """A pickle stream, the globals its opcodes import, and each scanner's report."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    location: PickleLocation
    opcode_globals: list[str] | None = Field(
        default=None, description="Globals read from the opcodes; None when they could not be."
    )
    reports: list[ScannerReport] = Field(default_factory=list)


def _failed(
    scanner: ScannerName, status: ScannerStatus, message: str, seconds: float
) -> tuple[ScannerReport, list[str] | None]:
    return ScannerReport(scanner=scanner, status=status, message=message, seconds=seconds), None


def scan_location(
    root: Path, location: PickleLocation, scanner: ScannerName, limits: ScanLimits
) -> tuple[ScannerReport, list[str] | None]:
    """Run one scanner on one stream in a child process.

    Returns:
        The scanner's report, and the globals the child read from the opcodes (None if it could
        not).
    """
    request = {
        "root": str(root),
        "location": location.model_dump(),
        "scanner": scanner,
        "memory_bytes": limits.memory_mb * 1024 * 1024,
    }
    started = time.perf_counter()
    try:
        # The same interpreter and environment; the request is its only input.
        done = subprocess.run(
            [sys.executable, "-m", "tools.pickle_scan_worker"],
            input=json.dumps(request).encode(),
            capture_output=True,
            timeout=limits.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return _failed(
            scanner,
            "timeout",
            f"{scanner} exceeded the time limit of {limits.timeout_s:g} s on "
            f"{location.label!r} and was stopped",
            time.perf_counter() - started,
        )
    seconds = time.perf_counter() - started
    # Messages name files by their artifact path, never by the temporary copy's location.
    stderr = done.stderr.decode(errors="replace")[-2000:].replace(str(root), "<artifacts>")
    try:
        payload: dict[str, Any] = json.loads(done.stdout or b"{}")
    except json.JSONDecodeError:
        payload = {}
    if payload.get("limit") == "memory" or "MemoryError" in stderr:
        return _failed(
            scanner,
            "memory",
            f"{scanner} exceeded the memory limit of {limits.memory_mb} MiB on "
            f"{location.label!r} and was stopped",
            seconds,
        )
    if done.returncode != 0 or "findings" not in payload:
        lines = stderr.strip().splitlines()
        reason = str(payload.get("error") or (lines[-1] if lines else "no output"))
        if done.returncode < 0:
            reason = f"killed by signal {-done.returncode}"
        return _failed(
            scanner, "error", f"{scanner} failed on {location.label!r}: {reason}", seconds
        )
    opcode_globals = payload.get("opcode_globals")
    peak = payload.get("peak_rss_kib")
    try:
        findings = [ScanFinding.model_validate(f) for f in payload["findings"]]
    except ValidationError as exc:
        return _failed(scanner, "error", f"{scanner} returned an unreadable report: {exc}", seconds)
    globals_seen = [str(g) for g in payload.get("globals") or []]
    common: dict[str, Any] = {
        "scanner": scanner,
        "findings": findings,
        "globals_seen": globals_seen,
        "seconds": seconds,
        "peak_rss_mb": round(peak / 1024, 1) if isinstance(peak, int | float) else None,
    }
    if payload.get("error"):
        return ScannerReport(
            status="error", message=str(payload["error"]), **common
        ), opcode_globals
    if opcode_globals and not globals_seen and not findings:
        # The "No issues found" of a scanner that never read the imports.
        return ScannerReport(
            status="error",
            message=f"{scanner} reported no globals although the opcodes of {location.label!r} "
            f"import {len(opcode_globals)}; treated as not scanned",
            **common,
        ), opcode_globals
    status: ScannerStatus = "flagged" if findings else "clean"
    return ScannerReport(status=status, **common), opcode_globals


def scan_pickles(
    root: Path,
    locations: Sequence[PickleLocation],
    limits: ScanLimits,
    *,
    scanners: Sequence[ScannerName] = SCANNERS,
    workers: int = 2,
) -> list[PickleReport]:
    """Scan every stream with every scanner, `workers` child processes at a time.

    Args:
        root: The local artifact directory.
        locations: The streams found by `tools.pickle_sniffer.find_pickles`.
        limits: Time and memory limit per scanner process.
        scanners: Which scanners to run (both by default).
        workers: Concurrent child processes.
    """
    jobs = [(loc, scanner) for loc in locations for scanner in scanners]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        results = list(pool.map(lambda job: scan_location(root, job[0], job[1], limits), jobs))
    reports: list[PickleReport] = []
    for loc in locations:
        mine = [res for (job_loc, _), res in zip(jobs, results, strict=True) if job_loc is loc]
        opcode_globals = next((g for _, g in mine if g is not None), None)
        reports.append(
            PickleReport(
                location=loc,
                opcode_globals=opcode_globals,
                reports=[report for report, _ in mine],
            )
        )
    for report in reports:
        for item in report.reports:
            logger.info(
                "%s on %s: %s (%.2f s)",
                item.scanner,
                report.location.label,
                item.status,
                item.seconds,
            )
    return reports
