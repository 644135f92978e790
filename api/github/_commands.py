"""`/promogate` commands in pull request comments.

```text
/promogate review [MODEL VERSION]
/promogate ask QUESTION
/promogate override CHECK-ID [CHECK-ID ...] --reason "why" --expires 24h
```

The first line of a comment that starts with ``/promogate`` is the command; other comments are not
commands. Parsing never evaluates anything: it only splits the text.
"""

from __future__ import annotations

import re
import shlex
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.github.errors import CommandError

__all__ = ["COMMAND_PREFIX", "Command", "CommandName", "find_command", "parse_duration_hours"]

COMMAND_PREFIX = "/promogate"
CommandName = Literal["review", "ask", "override", "help"]
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([hdwm]?)$", re.IGNORECASE)
_HOURS = {"": 1.0, "h": 1.0, "d": 24.0, "w": 168.0, "m": 1.0 / 60.0}
_MAX_ARGS = 2000


class Command(BaseModel):
    """One parsed command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: CommandName
    text: str = Field(description="The command line as written (clipped).")
    model: str | None = None
    ref: str | None = None
    question: str | None = None
    check_ids: list[str] = Field(default_factory=list)
    reason: str | None = None
    expires_hours: float | None = None


def parse_duration_hours(text: str) -> float:
    """Hours in ``24h``, ``2d``, ``1w``, ``90m`` or a bare number of hours.

    Raises:
        CommandError: Not a positive duration.
    """
    match = _DURATION.match(text.strip())
    if match is None or float(match.group(1)) <= 0:
        raise CommandError(f"--expires {text!r} is not a duration such as 24h, 2d or 1w")
    return float(match.group(1)) * _HOURS[match.group(2).lower()]


def _override(line: str, rest: str) -> Command:
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise CommandError(f"cannot split {rest!r}: {exc}") from exc
    check_ids: list[str] = []
    reason: str | None = None
    expires: float | None = None
    index = 0
    while index < len(words):
        word = words[index]
        if word in ("--reason", "--expires"):
            if index + 1 >= len(words):
                raise CommandError(f"{word} needs a value")
            value = words[index + 1]
            if word == "--reason":
                reason = value
            else:
                expires = parse_duration_hours(value)
            index += 2
            continue
        if word.startswith("--"):
            raise CommandError(f"unknown option {word!r}; use --reason and --expires")
        check_ids.append(word)
        index += 1
    if not check_ids:
        raise CommandError("name the check ids to override, e.g. metrics.roc_auc.max_drop")
    if not reason or len(reason.strip()) < 10:
        raise CommandError('--reason "..." is required (at least 10 characters)')
    if expires is None:
        raise CommandError("--expires is required, e.g. --expires 24h")
    return Command(
        name="override", text=line, check_ids=check_ids, reason=reason, expires_hours=expires
    )


def find_command(body: str) -> Command | None:
    """The command in a comment, None when the comment holds none.

    Args:
        body: The comment's Markdown (untrusted).

    Raises:
        CommandError: A `/promogate` line that cannot be parsed.
    """
    for raw in body.splitlines():
        line = raw.strip()
        if not line.lower().startswith(COMMAND_PREFIX):
            continue
        after = line[len(COMMAND_PREFIX) :]
        if after and not after[0].isspace():
            continue
        text = line[:_MAX_ARGS]
        parts = after.strip().split(None, 1)
        if not parts:
            return Command(name="help", text=text)
        verb, rest = parts[0].lower(), (parts[1] if len(parts) > 1 else "")
        if verb == "review":
            args = rest.split()
            if not args:
                return Command(name="review", text=text)
            if len(args) != 2:
                raise CommandError(f"use '/promogate review MODEL VERSION', got {rest!r}")
            return Command(name="review", text=text, model=args[0], ref=args[1])
        if verb == "ask":
            if not rest.strip():
                raise CommandError("use '/promogate ask QUESTION'")
            return Command(name="ask", text=text, question=rest.strip()[:_MAX_ARGS])
        if verb == "override":
            return _override(text, rest)
        if verb == "help":
            return Command(name="help", text=text)
        raise CommandError(f"unknown command {verb!r}; use review, ask or override")
    return None
