"""The lean CI client: `promogate gate --server URL MODEL VERSION` asks a running promogate API.

A deploy pipeline runs this before it moves an alias. It must start fast and must never read
"allowed" into an answer it did not get, so it uses the standard library only (no mlflow, langchain,
pydantic, rich or typer) and treats every failure to get a clear answer as a deny.

Exit codes (the same as `promogate gate` without a server):
    0  allowed (an approving decision, or a blocked one every failing check of which an approver
       overrode)
    1  denied: the decision blocks
    2  denied: the decision escalates to a human
    3  denied: no decision could be made or fetched (server unreachable, timeout, 5xx/503, auth
       refused, bad request, or a review that failed); the reason is printed

The bearer token comes from ``PROMOGATE_TOKEN``; the server from ``--server`` or
``PROMOGATE_SERVER_URL``.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

__all__ = [
    "EXIT_BLOCK",
    "EXIT_ERROR",
    "EXIT_ESCALATE",
    "EXIT_OK",
    "GateAnswer",
    "answer_from_body",
    "call_gate",
    "main",
    "parse_args",
    "wants_server_gate",
]

EXIT_OK: Final = 0
EXIT_BLOCK: Final = 1
EXIT_ESCALATE: Final = 2
EXIT_ERROR: Final = 3

_DEFAULT_TIMEOUT_S: Final = 120.0
_MAX_BODY_BYTES: Final = 4 * 1024 * 1024
_USAGE: Final = (
    "usage: promogate gate --server URL MODEL VERSION [--target-alias ALIAS] [--timeout SECONDS] "
    "[--json]\n"
    "  The bearer token is read from PROMOGATE_TOKEN.\n"
    "  Exit codes: 0 allowed, 1 blocked, 2 escalated, 3 no decision (the reason is printed)."
)


class GateAnswer(NamedTuple):
    """What the client concluded: the exit code, a one-line summary, and the server's JSON body."""

    exit_code: int
    line: str
    body: Mapping[str, Any] | None


class _Args(NamedTuple):
    server: str
    model: str
    version: str
    target_alias: str | None
    timeout_s: float
    as_json: bool


class _UsageError(ValueError):
    pass


def wants_server_gate(argv: Sequence[str]) -> bool:
    """True when `argv` (without the program name) is a `gate` call that names a server.

    Args:
        argv: Command-line arguments after the program name.
    """
    if not argv or argv[0] != "gate":
        return False
    return any(arg == "--server" or arg.startswith("--server=") for arg in argv[1:])


def parse_args(argv: Sequence[str], environ: Mapping[str, str]) -> _Args:
    """Parse `gate --server URL MODEL VERSION [...]` without argparse's help machinery.

    Args:
        argv: Arguments after ``gate``.
        environ: The environment (``PROMOGATE_SERVER_URL`` is the default server).
    """
    options: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    value_options = {"--server", "--target-alias", "--timeout"}
    items = list(argv)
    i = 0
    while i < len(items):
        arg = items[i]
        name, sep, inline = arg.partition("=")
        if name in value_options:
            if sep:
                options[name] = inline
            elif i + 1 < len(items):
                options[name] = items[i + 1]
                i += 1
            else:
                raise _UsageError(f"option {name} needs a value")
        elif arg == "--json":
            flags.add(arg)
        elif arg.startswith("--"):
            raise _UsageError(f"unknown option {arg!r} for a server gate")
        else:
            positional.append(arg)
        i += 1
    if len(positional) != 2:
        raise _UsageError(f"expected MODEL and VERSION, got {positional!r}")
    server = options.get("--server") or environ.get("PROMOGATE_SERVER_URL", "")
    if not server.startswith(("http://", "https://")):
        raise _UsageError(f"--server must be an http(s) URL, got {server!r}")
    try:
        timeout_s = float(options.get("--timeout", _DEFAULT_TIMEOUT_S))
    except ValueError:
        raise _UsageError(
            f"--timeout must be a number of seconds, got {options['--timeout']!r}"
        ) from None
    if timeout_s <= 0:
        raise _UsageError(f"--timeout must be positive, got {timeout_s!r}")
    return _Args(
        server=server.rstrip("/"),
        model=positional[0],
        version=positional[1],
        target_alias=options.get("--target-alias"),
        timeout_s=timeout_s,
        as_json="--json" in flags,
    )


def _version_payload(version: str) -> int | str:
    return int(version) if version.isdigit() else version


def _error_reason(status: int, body: Mapping[str, Any] | None, raw: str) -> str:
    detail: Any = body.get("detail") if body is not None else None
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    text = str(detail) if detail else raw.strip()[:300]
    return f"HTTP {status}: {text or 'no detail'}"


def _decode(raw: bytes) -> Mapping[str, Any] | None:
    try:
        value = json.loads(raw.decode("utf-8", errors="replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def answer_from_body(body: Mapping[str, Any], model: str, version: str) -> GateAnswer:
    allowed = body.get("allowed") is True
    verdict = str(body.get("verdict", "block"))
    error = body.get("error")
    reasons = body.get("reasons")
    reason = (
        str(error) if error else (str(reasons[0]) if isinstance(reasons, list) and reasons else "")
    )
    shown_version = body.get("version", version)
    alias = body.get("target_alias", "")
    subject = f"{body.get('model', model)} v{shown_version} @{alias}"
    if allowed and not error:
        return GateAnswer(EXIT_OK, f"allow {verdict} {subject}: {reason}", body)
    if error:
        code = EXIT_ERROR
    elif verdict == "escalate":
        code = EXIT_ESCALATE
    elif verdict == "approve":
        # An approval the server did not allow (should not happen): deny rather than guess.
        code = EXIT_ERROR
    else:
        code = EXIT_BLOCK
    return GateAnswer(code, f"deny {verdict} {subject}: {reason}", body)


def call_gate(
    server: str,
    model: str,
    version: str,
    *,
    token: str | None,
    target_alias: str | None = None,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
) -> GateAnswer:
    """POST /v1/gate and turn the answer into an exit code; any failure is a deny.

    Args:
        server: Base URL of the promogate API, e.g. ``http://promogate:8080``.
        model: Registered model name.
        version: Version number or ``@alias``.
        token: Bearer token, or None to call without one (only a demo server accepts that).
        target_alias: The alias the deploy would move; the server's default when None.
        timeout_s: Bound on the whole request, including the review the server may run.
    """
    payload: dict[str, Any] = {"model": model, "version": _version_payload(version)}
    if target_alias is not None:
        payload["target_alias"] = target_alias
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": "promogate-gate-client",
        "Idempotency-Key": f"gate-{uuid.uuid4().hex}",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"{server}/v1/gate", data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    deny = f"deny {model} v{version}"
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            raw = response.read(_MAX_BODY_BYTES)
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        raw = exc.read(_MAX_BODY_BYTES) if exc.fp is not None else b""
        body = _decode(raw)
        reason = _error_reason(exc.code, body, raw.decode("utf-8", errors="replace"))
        if exc.code == 503:
            reason = f"the gate is unavailable, so the promotion is denied ({reason})"
        return GateAnswer(EXIT_ERROR, f"{deny}: {reason}", body)
    except TimeoutError:
        return GateAnswer(
            EXIT_ERROR, f"{deny}: no answer from {server!r} within {timeout_s:g} s", None
        )
    except urllib.error.URLError as exc:
        return GateAnswer(EXIT_ERROR, f"{deny}: cannot reach {server!r}: {exc.reason}", None)
    except OSError as exc:
        return GateAnswer(EXIT_ERROR, f"{deny}: connection to {server!r} failed: {exc}", None)
    body = _decode(raw)
    if status != 200 or body is None:
        return GateAnswer(
            EXIT_ERROR, f"{deny}: unexpected answer (HTTP {status}) from {server!r}", body
        )
    return answer_from_body(body, model, version)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Run `gate --server ...`: print one line (or the JSON answer) and return the exit code.

    Args:
        argv: Arguments after the program name, starting with ``gate``; ``sys.argv[1:]`` if None.
        environ: The environment; ``os.environ`` if None.
    """
    args_in = list(sys.argv[1:] if argv is None else argv)
    env = os.environ if environ is None else environ
    if args_in and args_in[0] == "gate":
        args_in = args_in[1:]
    if "--help" in args_in or "-h" in args_in:
        print(_USAGE)
        return EXIT_OK
    try:
        args = parse_args(args_in, env)
    except _UsageError as exc:
        print(f"error: {exc}\n{_USAGE}", file=sys.stderr)
        return EXIT_ERROR
    answer = call_gate(
        args.server,
        args.model,
        args.version,
        token=env.get("PROMOGATE_TOKEN") or None,
        target_alias=args.target_alias,
        timeout_s=args.timeout_s,
    )
    if args.as_json:
        # Without an answer from the gate there is still a deny to report, in the same shape.
        body = answer.body if answer.body is not None else {"allowed": False, "error": answer.line}
        print(json.dumps(body, indent=2, sort_keys=True))
    else:
        print(answer.line)
    return answer.exit_code


if __name__ == "__main__":
    sys.exit(main())
