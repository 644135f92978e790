"""The scanner process: runs one pickle scanner on one pickle stream and prints a JSON report.

Started by `tools.pickle_scan` as `python -m tools.pickle_scan_worker` with the request on
standard input. It caps its own address space (RLIMIT_AS) before importing a scanner, so a scanner
that needs gigabytes for a crafted or huge pickle ends here with a MemoryError instead of taking the
service down; the parent enforces the time limit by killing it. Nothing here unpickles: picklescan
and fickling decode opcodes, and fickling's symbolic interpreter only builds an AST.
"""

from __future__ import annotations

import json
import re
import resource
import sys
from pathlib import Path
from typing import Any

from tools.pickle_sniffer import PickleLocation, list_globals, open_location

__all__ = ["main", "run_scanner"]

_IMPORT_TRIGGER = re.compile(r"^from\s+([\w.]+)\s+import\s+([\w.]+)")
# fickling's "Call to `Tree(...)` can execute arbitrary code": a call of an imported callable.
_UNUSED_PREFIX = re.compile(r"^_var\d+:\s*")
_CALL_TRIGGER = re.compile(r"^([A-Za-z_]\w*)(?:\.__new__)?\(")


def _picklescan(root: Path, location: PickleLocation) -> dict[str, Any]:
    from picklescan.scanner import SafetyLevel, scan_pickle_bytes

    with open_location(root, location) as stream:
        result = scan_pickle_bytes(stream, location.label)
    findings = [
        {
            "global": f"{g.module}.{g.name}",
            "severity": g.safety.value,
            # An unknown global may be cleared by a policy allowlist; a known-dangerous one never.
            "clearable": g.safety == SafetyLevel.Suspicious,
            "message": f"{g.safety.value} global {g.module}.{g.name}",
        }
        for g in result.globals
        if g.safety != SafetyLevel.Innocuous
    ]
    seen = sorted({f"{g.module}.{g.name}" for g in result.globals})
    error = "picklescan could not parse the whole stream" if result.scan_err else None
    return {"findings": findings, "globals": seen, "error": error}


def _register_fickling_opcodes() -> None:
    """Teach fickling the protocol-5 BYTEARRAY8 opcode (raw bytes, as NumPy arrays pickle).

    fickling 0.1.x raises NotImplementedError on it, so every protocol-5 pickle holding a NumPy
    array would be unscannable. This is a subclass of its own opcode class, registered through
    fickling's documented extension point (`Opcode.__init_subclass__`); fickling itself is used
    unmodified.
    """
    from fickling.fickle import OPCODES_BY_NAME, BinBytes8

    if "BYTEARRAY8" in OPCODES_BY_NAME:  # a newer fickling knows it already
        return

    class ByteArray8(BinBytes8):  # type: ignore[misc]
        name = "BYTEARRAY8"
        priority = BinBytes8.priority + 1


def _fickling_finding(item: Any, local: dict[str, set[str]], severity: Any) -> dict[str, Any]:
    """A fickling result as a finding; only what an allowlisted global explains is clearable.

    "imports a module outside the standard library" names the global; "Call to `Tree(...)` can
    execute arbitrary code" and an unused variable holding `encode(...)` are calls of an imported
    callable, as safe as that callable. Known-unsafe imports, calls of exec/eval/compile/open and
    anything else are never clearable.
    """
    trigger = str(item.trigger or "")
    global_name: str | None = None
    clearable = False
    if item.analysis_name == "NonStandardImports":
        match = _IMPORT_TRIGGER.match(trigger)
        if match:
            global_name, clearable = f"{match[1]}.{match[2]}", True
    elif (
        item.analysis_name == "OvertlyBadEval" and item.severity == severity.LIKELY_UNSAFE
    ) or item.analysis_name == "UnusedVariables":
        # "Variable `_var3` is assigned value `encode(...)` but unused": protocol 2 pickles
        # bytes that way; as safe as the callable, so only an allowlisted one clears it.
        call = _CALL_TRIGGER.match(_UNUSED_PREFIX.sub("", trigger))
        targets = local.get(call[1], set()) if call else set()
        if len(targets) == 1:
            global_name, clearable = next(iter(targets)), True
    else:
        match = _IMPORT_TRIGGER.match(trigger)
        global_name = f"{match[1]}.{match[2]}" if match else None
    return {
        "global": global_name,
        "severity": item.severity.name.lower(),
        "clearable": clearable,
        "message": str(item)[:500],
    }


def _fickling(root: Path, location: PickleLocation) -> dict[str, Any]:
    from fickling.analysis import Severity, check_safety
    from fickling.fickle import Pickled

    _register_fickling_opcodes()
    findings: list[dict[str, Any]] = []
    seen: set[str] = set()
    error: str | None = None
    with open_location(root, location) as stream:
        index = 0
        while True:
            here = stream.tell()
            if stream.read(1) == b"":
                break
            stream.seek(here)
            try:
                pickled = Pickled.load(stream, fail_on_decode_error=True)
            except (ValueError, NotImplementedError) as exc:
                if index == 0:
                    error = f"fickling could not decode the pickle: {exc}"
                # Later streams: PyTorch's legacy format ends in raw tensor bytes.
                break
            index += 1
            local: dict[str, set[str]] = {}
            for node in pickled.properties.imports:
                for alias in node.names:
                    module = getattr(node, "module", None)
                    qualified = f"{module}.{alias.name}" if module else alias.name
                    seen.add(qualified)
                    local.setdefault(alias.asname or alias.name, set()).add(qualified)
            for item in check_safety(pickled).results:
                if item.severity > Severity.LIKELY_SAFE:
                    findings.append(_fickling_finding(item, local, Severity))
            if index >= 16:
                break
    return {"findings": findings, "globals": sorted(seen), "error": error}


_SCANNERS = {"picklescan": _picklescan, "fickling": _fickling}


def run_scanner(request: dict[str, Any]) -> dict[str, Any]:
    """Run the requested scanner; the report adds the opcode-level globals and peak memory."""
    root = Path(request["root"])
    location = PickleLocation.model_validate(request["location"])
    scanner = str(request["scanner"])
    report: dict[str, Any] = {"scanner": scanner}
    try:
        with open_location(root, location) as stream:
            report["opcode_globals"] = list_globals(stream)
    except ValueError as exc:
        report["opcode_globals"] = None
        report["opcode_error"] = str(exc)
    report.update(_SCANNERS[scanner](root, location))
    return report


def _peak_rss_kib() -> int | None:
    """This process's peak resident set (VmHWM); ru_maxrss would count the parent before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def main() -> int:
    request = json.loads(sys.stdin.read())
    memory = int(request.get("memory_bytes") or 0)
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    try:
        report = run_scanner(request)
        status = 0
    except MemoryError:
        report = {"scanner": request.get("scanner"), "limit": "memory"}
        status = 3
    except RecursionError as exc:
        report = {"scanner": request.get("scanner"), "error": f"recursion limit: {exc}"}
        status = 2
    report["peak_rss_kib"] = _peak_rss_kib()
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return status


if __name__ == "__main__":
    sys.exit(main())
