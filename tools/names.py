"""Names a person reads and trusts: registered model names and aliases, checked before use.

A model name is shown in decisions, tags, comments and pages, and an approver acts on what it
reads. ``credit\\u202erisk`` (a right-to-left override) or ``ｃｒｅｄｉｔ-risk``
(full-width letters) reads as ``credit-risk`` and is not it. `normalize_name` returns the NFC
form of a name and refuses:

- control characters and format characters (Unicode categories ``Cc`` and ``Cf``: bidirectional
  controls, zero-width spaces and joiners, the byte-order mark), and unassigned or private-use ones;
- compatibility look-alikes: characters NFKC folds into others (full-width and half-width forms,
  ligatures, superscripts, circled letters);
- letters from more than one script (``сredit`` with a Cyrillic ``с``), except the combinations one
  writing system uses (Han with Hiragana and Katakana; Han with Hangul).

Digits, punctuation and spaces belong to no script. Standard library only.
"""

from __future__ import annotations

import unicodedata
from typing import Final

__all__ = ["UnsafeNameError", "letter_scripts", "normalize_name"]

_REFUSED_CATEGORIES: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SCRIPT_FAMILIES: Final = (
    frozenset({"CJK", "HIRAGANA", "KATAKANA", "KATAKANA-HIRAGANA"}),
    frozenset({"CJK", "HANGUL"}),
)


class UnsafeNameError(ValueError):
    """A name holds characters that let it pass for another name."""


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def letter_scripts(text: str) -> set[str]:
    """The scripts of the letters in `text`, by the first word of each letter's Unicode name.

    Args:
        text: Any text.
    """
    return {_script(c) for c in text if unicodedata.category(c).startswith("L")}


def normalize_name(value: str, what: str = "name") -> str:
    """`value` in NFC, or `UnsafeNameError` when it could pass for another name.

    Args:
        value: The name as received.
        what: What the name is, for the message (``model name``, ``alias``).
    """
    name = unicodedata.normalize("NFC", value)
    for char in name:
        category = unicodedata.category(char)
        if category in _REFUSED_CATEGORIES:
            raise UnsafeNameError(
                f"{what} {value!r} holds the invisible or control character U+{ord(char):04X} "
                f"({unicodedata.name(char, 'unnamed')}, category {category}); "
                "names may not hide characters"
            )
    folded = unicodedata.normalize("NFKC", name)
    if folded != name:
        odd = next(c for c in name if unicodedata.normalize("NFKC", c) != c)
        raise UnsafeNameError(
            f"{what} {value!r} holds the look-alike character U+{ord(odd):04X} "
            f"({unicodedata.name(odd, 'unnamed')}); write {folded!r} instead"
        )
    scripts = letter_scripts(name)
    if len(scripts) > 1 and not any(scripts <= family for family in _SCRIPT_FAMILIES):
        raise UnsafeNameError(
            f"{what} {value!r} mixes letters of the scripts {sorted(scripts)!r}; "
            "a name is written in one script"
        )
    return name
