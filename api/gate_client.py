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
       refused, bad request, or a review that failed), or the answer cannot be trusted; the
       reason is printed

The bearer token comes from ``PROMOGATE_TOKEN``; the server from ``--server`` or
``PROMOGATE_SERVER_URL``; the server's public key from ``--public-key`` or
``PROMOGATE_PUBLIC_KEY`` (base64, PEM, or a file holding either).

Every request goes through one HTTP core, `send_json`, which the other lean ``--server`` clients
share. It trusts only what it can check, and anything else is exit 3:

- it never follows a redirect (a 3xx would turn the POST into a GET and carry the token to
  another origin);
- it accepts only ``application/json`` holding one JSON object with unique keys
  (``{"allowed": false, "allowed": true}`` is refused) and no NaN or Infinity;
- given the server's public key, it accepts a 2xx answer only with a valid Ed25519 signature over
  exactly this request (method, path, a fresh nonce, the request body) and this answer
  (`api.answer_signature`), and the gate answer must name exactly the model, version and target
  alias asked about. An answer for another version, a replayed answer, or one signed with another
  key is a deny, even through proxies.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

from tools.redaction import redact

__all__ = [
    "EXIT_BLOCK",
    "EXIT_ERROR",
    "EXIT_ESCALATE",
    "EXIT_OK",
    "GateAnswer",
    "HttpAnswer",
    "answer_from_body",
    "call_gate",
    "load_public_key",
    "main",
    "parse_args",
    "parse_json_object",
    "send_json",
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
    "[--public-key KEY] [--json]\n"
    "  The bearer token is read from PROMOGATE_TOKEN; the server's public key from --public-key\n"
    "  or PROMOGATE_PUBLIC_KEY (then only answers it signed count).\n"
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
    public_key: str | None = None


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
    value_options = {"--server", "--target-alias", "--timeout", "--public-key"}
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
        raise _UsageError(f"--server must be an http(s) URL, got {redact(server)!r}")
    if "@" in urllib.parse.urlsplit(server).netloc:
        raise _UsageError(
            f"--server {redact(server)!r} holds credentials; pass the token in PROMOGATE_TOKEN"
        )
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
        public_key=options.get("--public-key") or environ.get("PROMOGATE_PUBLIC_KEY") or None,
    )


def _version_payload(version: str) -> int | str:
    return int(version) if version.isascii() and version.isdigit() else version


def _error_reason(status: int, body: Mapping[str, Any] | None, raw: str) -> str:
    detail: Any = body.get("detail") if body is not None else None
    if isinstance(detail, list):
        detail = "; ".join(str(item.get("msg", item)) for item in detail if isinstance(item, dict))
    text = str(detail) if detail else raw.strip()[:300]
    return f"HTTP {status}: {redact(text) or 'no detail'}"


class _DuplicateKeyError(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKeyError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name!r}")


def parse_json_object(raw: bytes) -> Mapping[str, Any]:
    """A JSON object parsed strictly: UTF-8, no duplicate keys, no NaN or Infinity.

    Args:
        raw: The body as received.

    Raises:
        ValueError: Anything else (the message says what).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"the answer is not UTF-8: {exc.reason}") from None
    value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constants)
    if not isinstance(value, dict):
        raise ValueError(f"the answer is a JSON {type(value).__name__}, not an object")
    return value


def _decode(raw: bytes) -> Mapping[str, Any] | None:
    try:
        return parse_json_object(raw)
    except ValueError:
        return None


class HttpAnswer(NamedTuple):
    """What the shared HTTP core received: usable only when `problem` is None.

    Attributes:
        status: The HTTP status, or None when no answer came.
        body: The strictly parsed JSON object (None for a non-JSON error answer).
        raw: The answer body as received.
        problem: Why the answer cannot be trusted or used (unreachable, timeout, redirect,
            not JSON, duplicate keys, unsigned or wrongly signed); None when it can.
        signed: True when the answer's signature verified with the trusted key.
    """

    status: int | None
    body: Mapping[str, Any] | None
    raw: bytes
    problem: str | None
    signed: bool = False


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx answer is an error: following it would turn a POST into a GET and carry the token
    to wherever the redirect points."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


_OPENER: Final = urllib.request.build_opener(_RefuseRedirects())


def load_public_key(value: str) -> Any:
    """The trusted Ed25519 public key from its text (base64 or PEM) or a file holding it.

    Args:
        value: ``--public-key`` or ``PROMOGATE_PUBLIC_KEY``.

    Raises:
        ValueError: Not a readable Ed25519 public key.
    """
    from api.answer_signature import BadSignatureError, public_key_from_text

    text = value
    candidate = os.path.expanduser(value.strip())
    if not value.strip().startswith("-----BEGIN") and os.path.isfile(candidate):
        with open(candidate, encoding="utf-8") as handle:
            text = handle.read()
    try:
        return public_key_from_text(text)
    except BadSignatureError as exc:
        raise ValueError(f"--public-key: {exc}") from None


def send_json(
    server: str,
    method: str,
    path: str,
    payload: Mapping[str, Any] | None = None,
    *,
    token: str | None,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
    public_key: Any = None,
    idempotency_key: str | None = None,
) -> HttpAnswer:
    """One request to the promogate API, with every safety the lean clients share.

    Never follows a redirect; reads at most 4 MiB; accepts only a JSON object with unique keys
    (``application/json``); with `public_key`, accepts a 2xx answer only when it carries a valid
    signature over exactly this request (method, path, fresh nonce, request body) and this
    answer. Never raises for the server's behaviour: an unusable answer has `problem` set, and
    callers treat it as a deny.

    Args:
        server: Base URL of the promogate API, e.g. ``https://promogate:8080``.
        method: ``GET`` or ``POST``.
        path: The route, e.g. ``/v1/gate``.
        payload: The JSON body of a POST.
        token: Bearer token, or None to call without one.
        timeout_s: Bound on the whole request.
        public_key: The server's trusted Ed25519 public key (`load_public_key`), or None.
        idempotency_key: ``Idempotency-Key`` of a POST; a fresh one when None.
    """
    from api.answer_signature import NONCE_HEADER, SIGNATURE_HEADER

    data = json.dumps(payload).encode() if payload is not None else None
    nonce = secrets.token_urlsafe(24)
    headers = {
        "Accept": "application/json",
        "User-Agent": "promogate-client",
        NONCE_HEADER: nonce,
    }
    if data is not None:
        headers["Content-Type"] = "application/json"
        headers["Idempotency-Key"] = idempotency_key or f"cli-{uuid.uuid4().hex}"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(f"{server}{path}", data=data, headers=headers, method=method)
    try:
        with _OPENER.open(request, timeout=timeout_s) as response:
            raw = response.read(_MAX_BODY_BYTES + 1)
            status = int(response.status)
            answer_headers = response.headers
    except urllib.error.HTTPError as exc:
        raw = exc.read(_MAX_BODY_BYTES + 1) if exc.fp is not None else b""
        status = exc.code
        answer_headers = exc.headers
        if 300 <= status < 400:
            location = exc.headers.get("Location", "") if exc.headers is not None else ""
            return HttpAnswer(
                status,
                None,
                raw,
                f"{redact(server)!r} answered a redirect "
                f"(HTTP {status} to {redact(location)[:200]!r}); "
                "redirects are never followed: point --server at the gate itself",
            )
    except TimeoutError:
        return HttpAnswer(
            None, None, b"", f"no answer from {redact(server)!r} within {timeout_s:g} s"
        )
    except urllib.error.URLError as exc:
        return HttpAnswer(
            None, None, b"", f"cannot reach {redact(server)!r}: {redact(str(exc.reason))}"
        )
    except (OSError, ValueError) as exc:
        return HttpAnswer(
            None, None, b"", f"connection to {redact(server)!r} failed: {redact(str(exc))}"
        )
    if len(raw) > _MAX_BODY_BYTES:
        return HttpAnswer(status, None, b"", f"the answer is over {_MAX_BODY_BYTES} bytes")
    content_type = (answer_headers.get("Content-Type", "") if answer_headers else "").lower()
    try:
        if content_type.split(";")[0].strip() != "application/json":
            raise ValueError(f"the answer is {content_type or 'untyped'!r}, not application/json")
        body: Mapping[str, Any] | None = parse_json_object(raw)
    except ValueError as exc:
        if status < 300:
            return HttpAnswer(status, None, raw, f"unusable answer (HTTP {status}): {exc}")
        body = None
    if public_key is None or status >= 300:
        # An error answer is a deny whether or not it is signed.
        return HttpAnswer(status, body, raw, None)
    from api.answer_signature import BadSignatureError, verify_answer

    try:
        verify_answer(
            public_key,
            answer_headers.get(SIGNATURE_HEADER) if answer_headers else None,
            status=status,
            method=method,
            path=urllib.parse.urlsplit(f"{server}{path}").path,
            nonce=nonce,
            request=data or b"",
            body=raw,
        )
    except BadSignatureError as exc:
        return HttpAnswer(status, body, raw, f"untrusted answer (HTTP {status}): {exc}")
    return HttpAnswer(status, body, raw, None, signed=True)


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


def _subject_mismatch(
    body: Mapping[str, Any], model: str, version: str, target_alias: str | None
) -> str | None:
    """Why a gate answer is not about exactly what was asked, or None when it is."""
    if not isinstance(body.get("allowed"), bool):
        return f"'allowed' is {body.get('allowed')!r}, not true or false"
    if body.get("verdict") not in ("approve", "block", "escalate"):
        return f"unknown verdict {body.get('verdict')!r}"
    if body.get("model") != model:
        return f"the answer is about model {body.get('model')!r}, not {model!r}"
    answered = body.get("version")
    asked = _version_payload(version)
    if isinstance(asked, int) and (answered != asked or isinstance(answered, bool)):
        return f"the answer is about version {answered!r}, not {asked!r}"
    if answered is not None and (not isinstance(answered, int) or isinstance(answered, bool)):
        return f"the answer names version {answered!r}, not a version number"
    alias = body.get("target_alias")
    if not isinstance(alias, str) or (target_alias is not None and alias != target_alias):
        return f"the answer is about alias {alias!r}, not {target_alias!r}"
    return None


def call_gate(
    server: str,
    model: str,
    version: str,
    *,
    token: str | None,
    target_alias: str | None = None,
    timeout_s: float = _DEFAULT_TIMEOUT_S,
    public_key: Any = None,
) -> GateAnswer:
    """POST /v1/gate and turn the answer into an exit code; any failure is a deny.

    Args:
        server: Base URL of the promogate API, e.g. ``http://promogate:8080``.
        model: Registered model name.
        version: Version number or ``@alias``.
        token: Bearer token, or None to call without one (only a demo server accepts that).
        target_alias: The alias the deploy would move; the server's default when None.
        timeout_s: Bound on the whole request, including the review the server may run.
        public_key: The server's trusted public key (`load_public_key`); with it, only an answer
            signed for exactly this request counts.
    """
    payload: dict[str, Any] = {"model": model, "version": _version_payload(version)}
    if target_alias is not None:
        payload["target_alias"] = target_alias
    answer = send_json(
        server,
        "POST",
        "/v1/gate",
        payload,
        token=token,
        timeout_s=timeout_s,
        public_key=public_key,
        idempotency_key=f"gate-{uuid.uuid4().hex}",
    )
    deny = f"deny {model} v{version}"
    if answer.problem is not None:
        return GateAnswer(EXIT_ERROR, f"{deny}: {answer.problem}", answer.body)
    status = answer.status or 0
    body = answer.body
    if status != 200:
        reason = _error_reason(status, body, answer.raw.decode("utf-8", errors="replace"))
        if status == 503:
            reason = f"the gate is unavailable, so the promotion is denied ({reason})"
        return GateAnswer(EXIT_ERROR, f"{deny}: {reason}", body)
    if body is None:
        return GateAnswer(
            EXIT_ERROR, f"{deny}: unexpected answer (HTTP {status}) from {redact(server)!r}", None
        )
    mismatch = _subject_mismatch(body, model, version, target_alias)
    if mismatch is not None:
        return GateAnswer(EXIT_ERROR, f"{deny}: untrusted answer: {mismatch}", body)
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
    public_key = None
    if args.public_key is not None:
        try:
            public_key = load_public_key(args.public_key)
        except (ValueError, OSError) as exc:
            print(f"error: {exc}\n{_USAGE}", file=sys.stderr)
            return EXIT_ERROR
    answer = call_gate(
        args.server,
        args.model,
        args.version,
        token=env.get("PROMOGATE_TOKEN") or None,
        target_alias=args.target_alias,
        timeout_s=args.timeout_s,
        public_key=public_key,
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
