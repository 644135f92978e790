"""Settings, read once at the edge (CLI and server) and passed down as explicit arguments."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "load_settings"]


class Settings(BaseSettings):
    """promogate's configuration; every field can be set as `PROMOGATE_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="PROMOGATE_", extra="ignore")

    tracking_uri: str = Field(
        default="sqlite:///mlflow.db",
        description="MLflow tracking URI (sqlite:///..., http://host:5000).",
    )
    registry_uri: str | None = Field(default=None, description="MLflow registry URI, if different.")
    ledger_url: str = Field(
        default="sqlite:///promogate.db", description="SQLAlchemy URL of the decision ledger."
    )
    policies_dir: Path | None = Field(
        default=None,
        description="Trusted policy directory; without one every review blocks (deny by default).",
    )
    llm: str = Field(
        default="offline",
        description="'offline' or 'openai:<model>' (OPENAI_API_KEY, OPENAI_BASE_URL).",
    )
    openai_api_key: str | None = Field(default=None, validation_alias="OPENAI_API_KEY")
    openai_base_url: str | None = Field(default=None, validation_alias="OPENAI_BASE_URL")
    evidence_timeout_s: float = Field(
        default=30.0, gt=0, description="Bound on each evidence source."
    )
    mlflow_http_timeout_s: float = Field(default=10.0, gt=0)
    mlflow_http_retries: int = Field(default=2, ge=0)
    publish_tags: bool = Field(
        default=True, description="Write decisions back as model-version tags."
    )
    baseline_alias: str = "champion"
    target_alias: str = "champion"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    host: str = Field(default="127.0.0.1", description="Address `promogate serve` binds.")
    port: int = Field(default=8080, ge=1, le=65535, description="Port `promogate serve` binds.")
    allow_anonymous: bool = Field(
        default=False,
        description="Serve the API without bearer tokens (local demo only; callers act as admin).",
    )
    server_url: str = Field(
        default="http://127.0.0.1:8080", description="The API the `gate --server` client calls."
    )
    token: SecretStr | None = Field(default=None, description="Bearer token the API clients send.")
    job_concurrency: int = Field(
        default=2, ge=1, description="Reviews run at once by the in-process queue or a worker."
    )
    request_deadline_s: float = Field(
        default=60.0, gt=0, description="Longest a synchronous review or gate request may take."
    )

    # The PR bot (docs/pr-bot.md).
    github_config: Path | None = Field(
        default=None, description="Trusted PR bot configuration: served repositories, approvers."
    )
    github_webhook_secret: SecretStr | None = Field(
        default=None, description="Webhook secret; without it POST /v1/github/webhook refuses all."
    )
    github_api_url: str = Field(
        default="https://api.github.com",
        description="GitHub REST API base URL (GitHub Enterprise: https://HOST/api/v3).",
    )
    github_token: SecretStr | None = Field(
        default=None, description="Plain token mode: a token that may comment and set statuses."
    )
    github_app_id: str | None = Field(default=None, description="GitHub App mode: the App's id.")
    github_app_private_key: SecretStr | None = Field(
        default=None, description="GitHub App mode: the App's PEM private key."
    )
    github_app_private_key_path: Path | None = Field(
        default=None, description="GitHub App mode: a file holding the App's PEM private key."
    )
    github_bot_login: str | None = Field(
        default=None, description="The bot's login (App mode: '<app-slug>[bot]')."
    )
    github_bot_user_id: int | None = Field(
        default=None, description="The bot's user id; looked up from the login or token if unset."
    )
    public_url: str | None = Field(
        default=None, description="The API's public base URL, for decision links in comments."
    )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (None values are ignored)."""
    values = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**values)  # type: ignore[arg-type]
