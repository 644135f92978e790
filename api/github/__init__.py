"""The PR review bot: GitHub webhooks, the GitHub REST client, comments, checks and commands.

Modules: `signature` (webhook HMAC), `auth` (App JWT, installation tokens, plain tokens),
`client` (REST calls with retries), `config` (the trusted configuration), `events` (what a
delivery asks for), `request_file` (the promotion request format), `commands` (comment command
parsing), `report` (comment and check rendering), `bot` (the reviews), `pr_commands` (the
commands), `jobs` (the queue), `router` (`POST /v1/github/webhook`), `service` (built from
settings), `cli` (`promogate pr`), `testing` (the fake GitHub). See docs/pr-bot.md.
"""

from api.github._commands import Command, find_command
from api.github._config import BotConfig, RepoConfig, load_bot_config
from api.github._request_file import PromotionRequest, parse_request_file
from api.github.errors import (
    GitHubApiError,
    GitHubConfigError,
    GitHubError,
    RequestFileError,
    SignatureError,
)
from api.github.signature import sign_payload, verify_signature

__all__ = [
    "BotConfig",
    "Command",
    "GitHubApiError",
    "GitHubConfigError",
    "GitHubError",
    "PromotionRequest",
    "RepoConfig",
    "RequestFileError",
    "SignatureError",
    "find_command",
    "load_bot_config",
    "parse_request_file",
    "sign_payload",
    "verify_signature",
]
