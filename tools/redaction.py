"""One redaction for every secret that could reach a message, a log line, a decision or a page.

Configured URLs carry credentials (``postgresql://user:password@host/db``,
``http://user:token@mlflow:5000``, ``https://proxy/v1?api_key=...``), and libraries put those URLs
into their exception texts. `redact` removes, wherever it finds them in a text:

- the password of URL userinfo (``scheme://user:***@host``), and a bare token as userinfo;
- the values of query and key-value parameters that name a secret (``token``, ``password``,
  ``api_key``, ``access_token``, ``secret``, ``sig``, ``signature``, ``key``, ...), in URLs and in
  libpq connection strings (``password=...``);
- ``Authorization`` values (``Bearer ...``, ``Basic ...``) and promogate and OpenAI token shapes
  (``pgt_...``, ``sk-...``).

It is applied where text is made (error messages, decision errors, API problem answers, log
records), and it is idempotent. This module uses the standard library only, so the lean gate
client can use it too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any, Final

__all__ = ["MASK", "install_log_redaction", "redact", "redact_all"]

MASK: Final = "***"

_SECRET_NAMES = (
    r"password|passwd|pwd|secret|client_secret|token|access_token|refresh_token|id_token|"
    r"api[_-]?key|apikey|signature|x-amz-signature|x-amz-credential|x-amz-security-token|"
    r"credentials?|private_key"
)
# scheme://user:password@  and  scheme://token@  (the userinfo of any URL)
_USERINFO_WITH_PASSWORD = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@?#'\"\\]*:)[^\s@/'\"\\]*@"
)
_USERINFO_TOKEN = re.compile(
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<user>[^\s:/@?#'\"]{16,})@"
)
# ?token=...&  key=value in query strings, libpq conninfo and env-style text
_SECRET_PARAM = re.compile(
    rf"(?P<head>(?<![A-Za-z0-9_])(?:{_SECRET_NAMES})(?:\s*=\s*['\"]?|['\"]\s*:\s*['\"]))"
    rf"(?P<value>[^\s&;,'\")\]}}\\]+)",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(
    r"(?P<head>\b(?:bearer|basic|digest)\s+)"
    r"(?P<value>(?=[^\s]*[0-9_=+/\-])[A-Za-z0-9._~+/=\-]{8,})",
    re.IGNORECASE,
)
_TOKEN_PREFIXES = ("pgt_", "sk-", "sk_live_", "ghp_", "github_pat_")
_TOKEN_SHAPES = re.compile(
    rf"\b(?:{'|'.join(re.escape(p) for p in _TOKEN_PREFIXES)})[A-Za-z0-9_\-]{{8,}}"
)


def _lowercase_twin(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """`pattern` without IGNORECASE, for lowercased ASCII text.

    A case-insensitive pattern whose literal letters are all lowercase, and whose character
    classes name both cases or no letter, matches ASCII text where its twin matches the text
    lowercased; the twin scans two to three times faster, and a whole decision is redacted
    before it is recorded.
    """
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)


_SECRET_PARAM_LOWER = _lowercase_twin(_SECRET_PARAM)
_AUTHORIZATION_LOWER = _lowercase_twin(_AUTHORIZATION)


def redact(text: str) -> str:
    """`text` with every credential-shaped part replaced by ``***``.

    Args:
        text: Any text that may hold a URL, a header value or a connection string.
    """
    if not text:
        return text
    # Each pattern is tried only where a cheaper test says it may match (the same answer:
    # every test below holds wherever its pattern matches); then on the text itself.
    ascii_lower = text.lower() if text.isascii() else None
    out = text
    scheme = text.find("://")
    if scheme >= 0 and text.find("@", scheme) >= 0:
        out = _USERINFO_WITH_PASSWORD.sub(lambda m: f"{m.group('head')}{MASK}@", out)
        out = _USERINFO_TOKEN.sub(lambda m: f"{m.group('head')}{MASK}@", out)
    if ascii_lower is None or _SECRET_PARAM_LOWER.search(ascii_lower) is not None:
        out = _SECRET_PARAM.sub(_mask_param, out)
    if ascii_lower is None or _AUTHORIZATION_LOWER.search(ascii_lower) is not None:
        out = _AUTHORIZATION.sub(lambda m: f"{m.group('head')}{MASK}", out)
    if any(prefix in out for prefix in _TOKEN_PREFIXES):
        out = _TOKEN_SHAPES.sub(MASK, out)
    return out


def _mask_param(match: re.Match[str]) -> str:
    if match.group("value") == MASK:
        return match.group(0)
    return f"{match.group('head')}{MASK}"


def redact_all(texts: Iterable[str]) -> list[str]:
    """`redact` applied to each text.

    Args:
        texts: Texts to redact.
    """
    return [redact(t) for t in texts]


def _redact_arg(value: Any) -> Any:
    if isinstance(value, str | BaseException) or not isinstance(
        value, int | float | bool | type(None)
    ):
        return redact(str(value))
    return value


_installed = False
# Loggers whose formatter unpacks the record's arguments (uvicorn's access line: client, method,
# path, HTTP version, status); flattened into the message, every access line failed to format.
_ARGUMENTS_KEPT = frozenset({"uvicorn.access"})


def install_log_redaction() -> None:
    """Redact every log record this process makes, whichever library logs it.

    The record's message is formatted with its arguments and redacted once, when the record is
    made; an exception's traceback text is redacted too. Idempotent.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name in _ARGUMENTS_KEPT and isinstance(record.args, tuple):
            # Its formatter reads the arguments themselves: each is redacted where it stands.
            record.msg = redact(str(record.msg))
            record.args = tuple(_redact_arg(a) for a in record.args)
        else:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = f"{record.msg!s} {record.args!r}"
            record.msg = redact(message)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
