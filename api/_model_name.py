"""The model name the API, the PR bot's request files and its commands accept.

Its own module, so that what parses a request file does not import the API's schemas (and with
them the review pipeline, SQLAlchemy and numpy) to check one name.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

from tools.names import normalize_name

__all__ = ["ModelName"]


def _safe_model_name(value: str) -> str:
    return normalize_name(value, "model name")


ModelName = Annotated[
    str,
    # MLflow refuses "/" and ":" in a name; quotes and backslashes are its to allow, and every
    # search that names a model quotes it (tools.search_filter).
    StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f/:]+$"),
    AfterValidator(_safe_model_name),
    Field(
        description="Registered model name (NFC; no '/' or ':', which MLflow refuses; no "
        "control, bidirectional or zero-width characters, no compatibility look-alikes, letters "
        "of one script).",
        examples=["credit-risk"],
    ),
]
