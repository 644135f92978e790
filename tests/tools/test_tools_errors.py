"""Messages of the typed tool errors: each names the thing with repr and says how to fix it."""

from __future__ import annotations

import pytest

from tools.errors import (
    AliasNotFoundError,
    ArtifactNotFoundError,
    ArtifactTooLargeError,
    BackendUnavailableError,
    InvalidVersionRefError,
    LoggedModelNotFoundError,
    MalformedArtifactError,
    ModelNotFoundError,
    NotFoundError,
    RunNotFoundError,
    ToolError,
    VersionNotFoundError,
)


@pytest.mark.parametrize(
    ("error", "parent", "names", "fix"),
    [
        (ModelNotFoundError("credit"), NotFoundError, ["'credit'"], "register it"),
        (
            VersionNotFoundError("credit", 9, [3, 1, 2]),
            NotFoundError,
            ["'credit'", "9"],
            "existing versions: 1, 2, 3",
        ),
        (VersionNotFoundError("credit", 1), NotFoundError, ["'credit'"], "has no versions yet"),
        (
            AliasNotFoundError("credit", "prod", {"champion": 2, "challenger": 3}),
            NotFoundError,
            ["'credit'", "'prod'"],
            "@challenger -> version 3, @champion -> version 2",
        ),
        (
            AliasNotFoundError("credit", "prod", {}),
            NotFoundError,
            ["'prod'"],
            "set_registered_model_alias('credit', 'prod', VERSION)",
        ),
        (RunNotFoundError("abc123"), NotFoundError, ["'abc123'"], "tracking URI"),
        (LoggedModelNotFoundError("m-1"), NotFoundError, ["'m-1'"], "not deleted"),
        (
            ArtifactNotFoundError("run", "abc", "eval/x.json"),
            NotFoundError,
            ["'eval/x.json'", "'abc'"],
            "list the run's artifacts",
        ),
        (InvalidVersionRefError("five"), ToolError, ["'five'"], "'@champion'"),
        (
            MalformedArtifactError("eval/predictions.json", "not valid JSON"),
            ToolError,
            ["'eval/predictions.json'", "not valid JSON"],
            None,
        ),
        (
            ArtifactTooLargeError("pipeline/big.yaml", 300, 100),
            ToolError,
            ["'pipeline/big.yaml'", "300 bytes", "100-byte limit"],
            "log a smaller file",
        ),
        (BackendUnavailableError("get_run failed"), ToolError, ["get_run failed"], "reachable"),
    ],
    ids=[
        "model",
        "version-lists-existing",
        "version-none-exist",
        "alias-lists-existing",
        "alias-none-exist",
        "run",
        "logged-model",
        "artifact",
        "invalid-ref",
        "malformed-artifact",
        "too-large",
        "backend",
    ],
)
def test_error_message_names_thing_and_fix(
    error: ToolError, parent: type[ToolError], names: list[str], fix: str | None
) -> None:
    assert isinstance(error, parent)
    text = str(error)
    for name in names:
        assert name in error.message
    if fix is None:
        assert error.how_to_fix is None
        assert text == error.message
    else:
        assert error.how_to_fix is not None and fix in error.how_to_fix
        assert text == f"{error.message}. {error.how_to_fix}"


def test_errors_module_does_not_import_mlflow() -> None:
    import subprocess
    import sys

    code = "import sys, tools.errors, tools.collector; print('mlflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
