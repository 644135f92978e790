"""Errors of the PR bot and its GitHub client, in one hierarchy::

    GitHubError
    ├── SignatureError            a webhook delivery whose X-Hub-Signature-256 is absent or wrong
    ├── GitHubConfigError         the trusted bot configuration is missing or invalid
    ├── RequestFileError          a promotion request file that cannot be read (names file and line)
    ├── CommandError              a `/promogate` comment command that cannot be parsed
    └── GitHubApiError            GitHub answered with an error, or could not be reached
        ├── GitHubAuthError       401, or the App could not get an installation token
        ├── GitHubNotFoundError   404
        ├── GitHubRateLimitError  rate limited longer than the client may wait
        └── GitHubUnavailableError 5xx or a transport failure after every retry

Every message names the offending value with ``!r``.
"""

from __future__ import annotations

__all__ = [
    "CommandError",
    "GitHubApiError",
    "GitHubAuthError",
    "GitHubConfigError",
    "GitHubError",
    "GitHubNotFoundError",
    "GitHubRateLimitError",
    "GitHubUnavailableError",
    "RequestFileError",
    "SignatureError",
]


class GitHubError(Exception):
    """Base of the PR bot's errors."""


class SignatureError(GitHubError):
    """A webhook delivery's signature is absent, malformed or does not match the secret."""


class GitHubConfigError(GitHubError):
    """The trusted bot configuration is missing or invalid."""


class RequestFileError(GitHubError):
    """A promotion request file that cannot be read.

    Args:
        path: The file's path in the repository.
        line: The 1-based line of the problem, when known.
        message: What is wrong.
    """

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")
        self.path = path
        self.line = line
        self.message = message


class CommandError(GitHubError):
    """A `/promogate` command that cannot be parsed."""


class GitHubApiError(GitHubError):
    """GitHub answered with an error status, or could not be reached.

    Args:
        message: What failed.
        status: The HTTP status, None when no answer came.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class GitHubAuthError(GitHubApiError):
    """GitHub refused the credentials (401), or no installation token could be obtained."""


class GitHubNotFoundError(GitHubApiError):
    """GitHub answered 404."""


class GitHubRateLimitError(GitHubApiError):
    """Rate limited for longer than the client is allowed to wait."""


class GitHubUnavailableError(GitHubApiError):
    """GitHub answered 5xx, or the transport failed, on every attempt."""
