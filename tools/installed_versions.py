"""Versions of installed distributions, as `importlib.metadata.version` gives them, read faster.

`importlib.metadata.version` hands the whole METADATA file to the standard library's email
parser, a millisecond or two a distribution; a review asks for nine (the versions a decision
records and those that key the on-disk importance cache). The Version header is near the top, so
the headers before it are read here, line by line. Anything the email parser might read another
way (a line that is not a plain header, a folded value) is left to `importlib.metadata`.
"""

from __future__ import annotations

import re
from importlib import metadata

__all__ = ["installed_version"]

# A header line as the email parser recognises one: printable ASCII other than ':' up to a ':'.
_HEADER = re.compile(r"[\041-\071\073-\176]+:")


def installed_version(name: str) -> str:
    """The version of the installed distribution `name`.

    Args:
        name: The distribution's name, e.g. ``scikit-learn``.

    Raises:
        importlib.metadata.PackageNotFoundError: No such distribution is installed.
    """
    dist = metadata.distribution(name)
    # The files `Distribution.metadata` reads, in its order.
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or dist.read_text("") or ""
    found = version_header(text)
    return found if found is not None else dist.version


def version_header(text: str) -> str | None:
    """The Version header of a metadata text, or None when the email parser should decide.

    Args:
        text: A METADATA or PKG-INFO file's content.
    """
    lines = text.split("\n")
    for index, raw in enumerate(lines):
        line = raw.removesuffix("\r")
        if "\r" in line or _HEADER.match(line) is None:
            return None
        field, _, value = line.partition(":")
        if field.lower() != "version":
            continue
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if following[:1] in (" ", "\t"):
            return None
        return value.lstrip(" \t")
    return None
