"""Build the PR bot from settings: credentials, GitHub clients, trusted config, metrics.

Only this module (and the router and CLI above it) reads `Settings`; the bot takes explicit
arguments.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from api.github._auth import AppAuth, TokenCredentials
from api.github._bot import PRBot
from api.github._client import GitHubClient
from api.github._config import BotConfig, load_bot_config
from api.github._metrics import GitHubMetrics
from api.github._pr_commands import run_command
from api.github.errors import GitHubConfigError

if TYPE_CHECKING:
    from api.settings import Settings
    from review import GateService

__all__ = ["ClientPool", "build_bot", "client_pool"]

logger = logging.getLogger("promogate.github")


class ClientPool:
    """GitHub clients by App installation (or the one token client), reused across jobs.

    Args:
        base_url: The REST API base URL.
        token: Plain token mode.
        app: App mode.
    """

    def __init__(
        self, base_url: str, *, token: str | None = None, app: AppAuth | None = None
    ) -> None:
        if (token is None) == (app is None):
            raise GitHubConfigError("configure exactly one of a GitHub token and a GitHub App")
        self.base_url = base_url
        self.app = app
        self._token_client = (
            GitHubClient(base_url, TokenCredentials(token)) if token is not None else None
        )
        self._clients: dict[int, GitHubClient] = {}
        self._lock = threading.Lock()

    def __call__(self, installation_id: int | None) -> GitHubClient:
        if self._token_client is not None:
            return self._token_client
        assert self.app is not None
        if installation_id is None:
            raise GitHubConfigError(
                "App mode needs the delivery's installation id; the event carried none"
            )
        with self._lock:
            client = self._clients.get(installation_id)
            if client is None:
                client = GitHubClient(self.base_url, self.app.for_installation(installation_id))
                self._clients[installation_id] = client
            return client

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
        if self._token_client is not None:
            clients.append(self._token_client)
        for client in clients:
            client.close()


def client_pool(settings: Settings) -> ClientPool:
    """The clients the settings configure: App mode when an App id is set, else token mode.

    Raises:
        GitHubConfigError: Neither (or an App without its private key).
    """
    if settings.github_app_id:
        key = (
            settings.github_app_private_key.get_secret_value()
            if settings.github_app_private_key is not None
            else None
        )
        if key is None and settings.github_app_private_key_path is not None:
            try:
                key = settings.github_app_private_key_path.read_text(encoding="utf-8")
            except OSError as exc:
                raise GitHubConfigError(
                    f"cannot read the App private key "
                    f"{str(settings.github_app_private_key_path)!r}: {exc}"
                ) from exc
        if not key:
            raise GitHubConfigError(
                "PROMOGATE_GITHUB_APP_ID is set but no private key "
                "(PROMOGATE_GITHUB_APP_PRIVATE_KEY or _PATH)"
            )
        return ClientPool(settings.github_api_url, app=AppAuth(settings.github_app_id, key))
    if settings.github_token is not None:
        return ClientPool(settings.github_api_url, token=settings.github_token.get_secret_value())
    raise GitHubConfigError(
        "no GitHub credentials: set PROMOGATE_GITHUB_TOKEN, or PROMOGATE_GITHUB_APP_ID and the "
        "App's private key"
    )


def build_bot(
    settings: Settings,
    gate: GateService,
    *,
    metrics: GitHubMetrics | None = None,
    config: BotConfig | None = None,
    clients: ClientPool | None = None,
) -> PRBot:
    """The PR bot for one configuration.

    Raises:
        GitHubConfigError: No trusted config file, or no credentials.
    """
    if config is None:
        if settings.github_config is None:
            raise GitHubConfigError(
                "PROMOGATE_GITHUB_CONFIG is not set: the bot serves no repository without its "
                "trusted configuration"
            )
        config = load_bot_config(settings.github_config)
    pool = clients if clients is not None else client_pool(settings)
    return PRBot(
        gate,
        config,
        pool,
        public_url=settings.public_url or settings.server_url,
        bot_user_id=settings.github_bot_user_id,
        bot_login=settings.github_bot_login,
        app_id=settings.github_app_id,
        metrics=metrics,
        llm=settings.llm,
        openai_api_key=settings.openai_api_key,
        openai_base_url=settings.openai_base_url,
        commands=run_command,
    )
