"""The promotion request file: a pull request that adds or changes one asks for a full review.

```yaml
# promotions/credit-risk.yaml
apiVersion: promogate/v1
kind: PromotionRequest
model: credit-risk          # registered model name
version: 7                  # a version number, or instead:
# alias: challenger         # the version an alias names now
target_alias: champion      # the alias the promotion would move (default: the repository's)
```

The file is untrusted (it comes from the pull request's head): it only names what to review. The
policies, the approvers and the verdict come from elsewhere.
"""

from __future__ import annotations

from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from api._model_name import ModelName
from api.github.errors import RequestFileError

__all__ = ["MAX_REQUEST_BYTES", "PromotionRequest", "parse_request_file"]

MAX_REQUEST_BYTES = 16 * 1024
_ALIAS = r"^[A-Za-z0-9_\-]{1,255}$"


class PromotionRequest(BaseModel):
    """What a promotion request file asks for."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    api_version: Literal["promogate/v1"] = Field(alias="apiVersion")
    kind: Literal["PromotionRequest"]
    model: ModelName
    version: int | None = Field(default=None, ge=1)
    alias: str | None = Field(default=None, pattern=_ALIAS)
    target_alias: str | None = Field(default=None, pattern=_ALIAS)

    @model_validator(mode="after")
    def _one_reference(self) -> PromotionRequest:
        if (self.version is None) == (self.alias is None):
            raise ValueError("give exactly one of 'version' and 'alias'")
        return self

    @property
    def ref(self) -> str:
        """The version reference the review resolves: ``7`` or ``@challenger``."""
        return str(self.version) if self.version is not None else f"@{self.alias}"


def _key_lines(text: str) -> dict[str, int]:
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.split("#", 1)[0]
        if ":" in stripped and not line.startswith((" ", "\t")):
            lines.setdefault(stripped.split(":", 1)[0].strip(), number)
    return lines


def parse_request_file(path: str, text: str) -> PromotionRequest:
    """Read a promotion request file.

    Args:
        path: The file's path in the repository (named in errors).
        text: Its content at the pull request's head.

    Raises:
        RequestFileError: The file is too large, not YAML, not a mapping, or does not validate;
            the error names the line where it can.
    """
    if len(text.encode("utf-8")) > MAX_REQUEST_BYTES:
        raise RequestFileError(path, None, f"larger than {MAX_REQUEST_BYTES} bytes")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise RequestFileError(path, line, f"not valid YAML: {problem}") from exc
    if not isinstance(data, dict):
        raise RequestFileError(
            path, 1, f"expected a mapping with apiVersion, kind, model, got {type(data).__name__}"
        )
    try:
        return PromotionRequest.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first.get("loc", ())]
        key = loc[0] if loc else None
        line = _key_lines(text).get(key) if key else None
        field = ".".join(loc) or "file"
        got = first.get("input")
        detail = f"{field}: {first.get('msg', 'invalid')}"
        if key and not isinstance(got, dict):
            detail += f" (got {got!r})"
        raise RequestFileError(path, line or 1, detail) from exc
