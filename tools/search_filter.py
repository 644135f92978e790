"""String literals of MLflow's search filter grammar.

MLflow's filters (``search_model_versions``, ``search_runs``, ``search_logged_models``) take a
string between single or double quotes and have no escape for the quote character inside it.
A model named ``o'brien-churn`` is a valid MLflow name, and a filter that wraps it in single
quotes fails to parse; wrapped in double quotes it matches exactly. Only a value holding both
quote characters cannot be named, and `filter_literal` says so instead of sending a filter that
fails or, worse, matches something else.
"""

from __future__ import annotations

from tools.errors import UnsearchableValueError

__all__ = ["filter_literal"]


def filter_literal(value: str, what: str = "model name") -> str:
    """`value` quoted for an MLflow search filter: single quotes unless it holds one.

    Args:
        value: The string to match exactly (or the pattern of a ``LIKE``).
        what: What the value is, for the error message.

    Raises:
        UnsearchableValueError: `value` holds both quote characters.
    """
    quote = '"' if "'" in value else "'"
    if quote in value:
        raise UnsearchableValueError(value, what)
    return f"{quote}{value}{quote}"
