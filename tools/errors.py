"""Typed errors raised by the read-only MLflow tools.

Every message names the offending value with ``!r`` and says how to fix it, because these messages
reach engineers through the CLI, the API and the PR bot verbatim::

    ToolError
    ├── NotFoundError
    │   ├── ModelNotFoundError(model)
    │   ├── VersionNotFoundError(model, version)
    │   ├── AliasNotFoundError(model, alias)
    │   ├── RunNotFoundError(run_id)
    │   ├── LoggedModelNotFoundError(model_id)
    │   └── ArtifactNotFoundError(owner, owner_id, path)
    ├── InvalidVersionRefError(ref)     "five", "@", "0": not a version number or @alias
    ├── UnsearchableValueError(value)   holds both quote characters: no MLflow filter can name it
    ├── BackendUnavailableError         MLflow unreachable, 5xx, timeout (retried when transient)
    ├── BackendRequestError             MLflow refused the request (4xx other than not-found)
    │   └── MissingStoreError(uri)      a sqlite:/// store whose file does not exist (never created)
    ├── ArtifactError(path)
    │   ├── MalformedArtifactError(path)  an artifact that cannot be parsed
    │   └── ArtifactTooLargeError(path)   an artifact over the size cap
    └── ReaderProcessError              the model-file reader process ended, failed or timed out

Importing this module is cheap: it does not import mlflow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from tools.redaction import redact

__all__ = [
    "AliasNotFoundError",
    "ArtifactError",
    "ArtifactNotFoundError",
    "ArtifactTooLargeError",
    "BackendRequestError",
    "BackendUnavailableError",
    "InvalidVersionRefError",
    "LoggedModelNotFoundError",
    "MalformedArtifactError",
    "MissingStoreError",
    "ModelNotFoundError",
    "NotFoundError",
    "ReaderProcessError",
    "RunNotFoundError",
    "ToolError",
    "UnsearchableValueError",
    "VersionNotFoundError",
]


class ToolError(Exception):
    """Base class: a tool could not read the evidence it was asked for.

    Attributes:
        message: What went wrong, naming the offending value.
        how_to_fix: What the user can do about it, or None when nothing specific applies.
    """

    def __init__(self, message: str, how_to_fix: str | None = None) -> None:
        # MLflow's exception texts name its URL, credentials included: redact where text is made.
        message = redact(message)
        how_to_fix = redact(how_to_fix) if how_to_fix is not None else None
        self.message = message
        self.how_to_fix = how_to_fix
        super().__init__(message if how_to_fix is None else f"{message}. {how_to_fix}")


class NotFoundError(ToolError):
    """The registry or tracking store has no such model, version, alias, run or logged model."""


class ModelNotFoundError(NotFoundError):
    """No registered model with this name."""

    def __init__(self, model: str) -> None:
        self.model = model
        super().__init__(
            f"registered model {model!r} not found",
            "check the name (it is case-sensitive) or register it with "
            "mlflow.register_model(model_info.model_uri, name)",
        )


class VersionNotFoundError(NotFoundError):
    """The registered model exists but has no such version."""

    def __init__(self, model: str, version: int, existing: Iterable[int] = ()) -> None:
        self.model = model
        self.version = version
        self.existing = sorted(existing)
        if self.existing:
            fix = "existing versions: " + ", ".join(str(v) for v in self.existing)
        else:
            fix = f"{model!r} has no versions yet; register one with mlflow.register_model"
        super().__init__(f"registered model {model!r} has no version {version!r}", fix)


class AliasNotFoundError(NotFoundError):
    """The registered model exists but no version holds this alias."""

    def __init__(self, model: str, alias: str, existing: Mapping[str, int] | None = None) -> None:
        self.model = model
        self.alias = alias
        self.existing = dict(existing or {})
        if self.existing:
            listed = ", ".join(f"@{a} -> version {v}" for a, v in sorted(self.existing.items()))
            fix = f"existing aliases of {model!r}: {listed}"
        else:
            fix = (
                f"{model!r} has no aliases; pass a version number or set one with "
                f"MlflowClient().set_registered_model_alias({model!r}, {alias!r}, VERSION)"
            )
        super().__init__(f"registered model {model!r} has no alias {alias!r}", fix)


class RunNotFoundError(NotFoundError):
    """No run with this id in the tracking store."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(
            f"run {run_id!r} not found",
            "check that the tracking URI points at the store the run was logged to",
        )


class LoggedModelNotFoundError(NotFoundError):
    """No MLflow 3 logged model with this id."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id
        super().__init__(
            f"logged model {model_id!r} not found",
            "check that the tracking URI points at the store the model was logged to, "
            "and that the logged model was not deleted",
        )


class ArtifactNotFoundError(NotFoundError):
    """No artifact at this path in the run or logged model (or the owner itself is gone)."""

    def __init__(self, owner: str, owner_id: str, path: str) -> None:
        self.owner = owner
        self.owner_id = owner_id
        self.path = path
        kind = "run" if owner == "run" else "logged model"
        super().__init__(
            f"no artifact {path!r} in {kind} {owner_id!r}",
            f"list the {kind}'s artifacts to check the path, or log the file there",
        )


class InvalidVersionRefError(ToolError):
    """A version reference that is neither a positive version number nor ``@alias``."""

    def __init__(self, ref: object) -> None:
        self.ref = ref
        super().__init__(
            f"invalid version reference {ref!r}",
            "pass a version number such as 5, '5' or 'v5', 'latest', or an alias such as "
            "'@champion'",
        )


class UnsearchableValueError(ToolError):
    """A value MLflow's search filters cannot name: it holds both quote characters, and their
    string literals have no escape."""

    def __init__(self, value: str, what: str) -> None:
        self.value = value
        super().__init__(
            f"cannot search MLflow for the {what} {value!r}: it holds both quote characters, "
            "which no MLflow search filter can express",
            f"rename the {what} without one of them",
        )


class BackendUnavailableError(ToolError):
    """MLflow could not be reached or failed on its side (connection error, timeout, 5xx).

    Attributes:
        transient: Whether retrying may help (connection refused, 5xx, timeout); False when the
            URI answers but is not an MLflow server.
    """

    def __init__(self, message: str, how_to_fix: str | None = None, *, transient: bool = True):
        self.transient = transient
        super().__init__(
            message,
            how_to_fix
            or "check that the MLflow tracking server is running and reachable at the "
            "configured tracking URI, then retry",
        )


class BackendRequestError(ToolError):
    """MLflow answered but refused the request (bad parameter, permission denied, ...)."""


class ArtifactError(ToolError):
    """An artifact exists but cannot be used.

    Attributes:
        path: The artifact path inside its run or logged model.
    """

    def __init__(self, path: str, message: str, how_to_fix: str | None = None) -> None:
        self.path = path
        super().__init__(message, how_to_fix)


class MalformedArtifactError(ArtifactError):
    """An artifact that cannot be parsed in the format its name promises."""

    def __init__(self, path: str, reason: str, how_to_fix: str | None = None) -> None:
        self.reason = reason
        super().__init__(path, f"artifact {path!r} is malformed: {reason}", how_to_fix)


class ArtifactTooLargeError(ArtifactError):
    """An artifact bigger than the tools are willing to read."""

    def __init__(self, path: str, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            path,
            f"artifact {path!r} is {size} bytes, over the {limit}-byte limit",
            "log a smaller file (e.g. a sample of the evaluation rows) or split it",
        )


class MissingStoreError(BackendRequestError):
    """A ``sqlite:///`` MLflow store whose file does not exist; promogate never creates one."""

    def __init__(self, uri: str, path: str) -> None:
        self.uri = uri
        self.path = path
        super().__init__(
            f"the MLflow store {uri!r} does not exist (no file {path!r}); promogate never creates "
            "one, since an empty store would hide every model",
            "pass the URI of your MLflow store with --tracking-uri or PROMOGATE_TRACKING_URI "
            "(or run from the directory that holds mlflow.db)",
        )


class ReaderProcessError(ToolError):
    """The process that reads model files (`tools.importance_process`) gave no answer: it ended,
    ran out of memory, answered in a form it never uses, or did not answer in time."""
