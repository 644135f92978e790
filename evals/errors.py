"""Errors of the evals package: bad suite files, unreachable targets, bad datasets, judges."""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "DatasetImportError",
    "EvalError",
    "JudgeError",
    "SuiteError",
    "TargetError",
]


class EvalError(Exception):
    """Base class of every error the evals package raises on purpose."""


class _LocatedError(EvalError):
    """An error about a file, optionally at a line; the message starts with `file:line:`."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.detail = message
        if self.path is not None and line is not None:
            text = f"{self.path}:{line}: {message}"
        elif self.path is not None:
            text = f"{self.path}: {message}"
        else:
            text = message
        super().__init__(text)


class SuiteError(_LocatedError):
    """A suite file (YAML header or JSONL cases) is missing, unparsable or does not validate."""


class DatasetImportError(_LocatedError):
    """An external dataset (AdvBench, HarmBench, XSTest, JailbreakBench) cannot be imported."""


class TargetError(EvalError):
    """A target model or endpoint cannot be resolved or reached."""


class JudgeError(EvalError):
    """A judge could not reach a verdict (e.g. the LLM judge's output did not validate)."""
