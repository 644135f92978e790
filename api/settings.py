"""Settings, read once at the edge (CLI and server) and passed down as explicit arguments."""

from __future__ import annotations

import difflib
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from tools.redaction import redact

__all__ = ["Settings", "SettingsError", "load_settings"]

_SOURCES = "options, PROMOGATE_* variables, promogate.toml or [tool.promogate] in pyproject.toml"
_PREFIX = "PROMOGATE_"
_OTHER_VARIABLES = frozenset({"PROMOGATE_EVAL_API_KEY"})
"""``PROMOGATE_*`` variables the product reads that are no setting (`promogate eval run`'s key)."""
_TEST_PREFIX = "PROMOGATE_TEST_"
"""The test suite's own variables."""

logger = logging.getLogger("promogate.api")
_warned: set[str] = set()
_warned_lock = threading.Lock()


class SettingsError(ValueError):
    """The settings cannot be read: a config file that does not parse, or a value of the wrong
    kind; the message names the file and line, or the setting and the value (never a secret)."""


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
    # In any case: PROMOGATE_LOG_LEVEL=debug is how most tools take it.
    log_level: Annotated[
        Literal["DEBUG", "INFO", "WARNING", "ERROR"],
        BeforeValidator(lambda value: value.upper() if isinstance(value, str) else value),
    ] = "INFO"
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
    mlflow_webhook_secret: SecretStr | None = Field(
        default=None,
        description="Shared secret of the MLflow webhook; the receiver refuses every delivery "
        "without one.",
    )
    mlflow_webhook_tolerance_s: float = Field(
        default=300.0,
        gt=0,
        description="How far a delivery's X-MLflow-Timestamp may be from now (covers MLflow's "
        "retries, which reuse the first timestamp).",
    )
    reconcile_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between the API's reconciler passes over guarded aliases; 0 (the "
        "default) disables them. 60 is a good value once the guard is set up.",
    )
    reconcile_deadline_s: float = Field(
        default=120.0, gt=0, description="Longest one reconciler pass may keep starting checks."
    )
    notify_url: str | None = Field(
        default=None, description="Webhook for blocks, escalations and alias-guard findings."
    )
    notify_format: Literal["slack", "generic"] = Field(
        default="slack", description="'slack' (incoming-webhook JSON) or 'generic' (signed JSON)."
    )
    notify_secret: SecretStr | None = Field(
        default=None, description="Signs the generic notification form."
    )
    notify_attempts: int = Field(default=3, ge=1, description="Tries per notification.")
    mlflow_ui_url: str | None = Field(
        default=None,
        description="Base URL of the MLflow UI that pages link to (default: the tracking URI "
        "when it is http(s); no links otherwise).",
    )
    page_session_ttl_s: float = Field(
        default=8 * 3600.0, gt=0, description="How long a page login (session cookie) lasts."
    )
    chat_session_ttl_s: float = Field(
        default=1800.0, gt=0, description="A web chat conversation idle this long is forgotten."
    )
    max_request_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body the API reads (413 above)."
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="Ed25519 private key that signs every answer (PEM PKCS#8, or base64 of the "
        "raw 32 bytes); `promogate key generate` makes one.",
    )
    signing_key_file: Path | None = Field(
        default=None, description="File holding the signing key, instead of PROMOGATE_SIGNING_KEY."
    )
    public_key: str | None = Field(
        default=None,
        description="The server's public key the API clients trust (base64 or PEM, or a file "
        "holding it); answers not signed by it are denied.",
    )
    anchor_file: Path | None = Field(
        default=None,
        description="Append-only file that receives checkpoints of the ledger's chain head.",
    )
    anchor_run_id: str | None = Field(
        default=None, description="MLflow run that receives checkpoints of the chain head as tags."
    )
    anchor_interval_s: float = Field(
        default=300.0, gt=0, description="Seconds between checkpoints while the API serves."
    )
    review_rate_per_minute: int = Field(
        default=60,
        ge=0,
        description="Reviews and gate calls a token may make a minute, per API process (0: no "
        "limit).",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Options, then environment, then promogate.toml / [tool.promogate] (api._config_file)."""
        from api._config_file import config_file_sources

        return (
            init_settings,
            env_settings,
            dotenv_settings,
            *config_file_sources(settings_cls),
            file_secret_settings,
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
    token_cache_s: float = Field(
        default=5.0,
        ge=0.0,
        le=300.0,
        description="How long an authenticated token is answered from memory (0: every request "
        "reads the database); a token revoked by another process or replica stops "
        "authenticating at the latest this long after.",
    )
    decision_cache_entries: int = Field(
        default=2048,
        ge=0,
        description="Recorded decisions kept serialised in memory for reads (0: none); they "
        "never change once recorded.",
    )

    # The post-promotion watch (docs/watch.md).
    watch_interval_s: float = Field(
        default=0.0,
        ge=0,
        description="Seconds between the API's watch passes over every watched alias; 0 (the "
        "default) leaves them to workers (PROMOGATE_WATCH_CRON) or to cron.",
    )
    watch_cron: str | None = Field(
        default=None,
        description="Cron schedule of the periodic watch job run by `promogate worker` "
        "(PostgreSQL job queue), e.g. '*/15 * * * *'; unset: no periodic job.",
    )
    watch_deadline_s: float = Field(
        default=600.0, gt=0, description="Longest one periodic pass may keep starting passes."
    )
    watch_score_rollback: bool = Field(
        default=True,
        description="Score the rollback target on labelled windows to say what moving back "
        "costs (only when its artifacts pass the security checks).",
    )

    # The on-disk cache of what local reviews derive from model files and evidence
    # (tools/disk_cache.py).
    disk_cache: bool = Field(
        default=True,
        description="Keep the feature importances read from model files (and, for a local "
        "review, the screenings of the evidence's text) on disk, so a later review of the same "
        "files and evidence does not compute them again (false: memory only).",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Directory of the on-disk cache (default $XDG_CACHE_HOME/promogate or "
        "~/.cache/promogate).",
    )
    cache_max_bytes: int = Field(
        default=32 * 1024 * 1024,
        gt=0,
        description="Bound on the size of each of the on-disk cache's directories "
        "(importances, screenings).",
    )

    # The process that reads model files for `serve` and `worker` (tools/importance_process.py).
    model_file_process: bool = Field(
        default=True,
        description="Have `promogate serve` and `promogate worker` read model files' feature "
        "importances in a warm child process of their own: on another core while the review "
        "reads the rest, with its memory capped (false: in the serving process).",
    )
    model_file_process_memory_mb: int = Field(
        default=4096,
        ge=256,
        description="Address-space cap of the model-file reader process, in MiB; a file that "
        "needs more is recorded as unreadable.",
    )
    model_file_process_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="How long the model-file reader process may take for one file before it "
        "is stopped and the file recorded as unreadable.",
    )


def load_settings(**overrides: object) -> Settings:
    """Settings from the environment, with explicit overrides (None values are ignored).

    Raises:
        SettingsError: A config file does not parse, or a value is not of its setting's kind.
    """
    values = {k: v for k, v in overrides.items() if v is not None}
    try:
        settings = Settings(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(_invalid_values(exc)) from None
    except ValueError as exc:  # a config file that does not parse (api._config_file)
        raise SettingsError(redact(str(exc))) from None
    for line in _misspelt_variables(os.environ):
        with _warned_lock:
            if line in _warned:
                continue
            _warned.add(line)
        logger.warning("%s", line)
    return settings


def _setting_variables() -> dict[str, str]:
    """The environment variable of each setting, upper-cased, to the setting's name."""
    names: dict[str, str] = {}
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        names[alias.upper() if isinstance(alias, str) else f"{_PREFIX}{name.upper()}"] = name
    return names


def _misspelt_variables(environ: Mapping[str, str]) -> list[str]:
    """One line for each ``PROMOGATE_*`` variable that sets nothing but looks like a setting's.

    The environment is not refused, as a config file's unknown key is: it holds whatever else
    runs there. But ``PROMOGATE_LEDGER_URI`` for ``PROMOGATE_LEDGER_URL`` would leave the
    decisions in a default ledger nobody reads, so a close miss is said.

    Args:
        environ: The environment (names are matched in any case, as the settings read them).
    """
    known = _setting_variables()
    lines = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith(_PREFIX) or upper.startswith(_TEST_PREFIX):
            continue
        if upper in known or upper in _OTHER_VARIABLES:
            continue
        close = difflib.get_close_matches(upper, sorted(known), n=1, cutoff=0.8)
        if close:
            lines.append(f"{variable} is not a setting and is ignored (did you mean {close[0]}?)")
    return lines


def _invalid_values(exc: ValidationError) -> str:
    """Each invalid value in one line: the setting, what is wrong, and the value unless secret."""
    lines = []
    for error in exc.errors(include_url=False):
        name = ".".join(str(part) for part in error["loc"]) or "settings"
        field = Settings.model_fields.get(str(error["loc"][0])) if error["loc"] else None
        secret = field is not None and "SecretStr" in str(field.annotation)
        shown = "" if secret or "input" not in error else f", got {error['input']!r}"
        lines.append(f"setting {name!r}: {error['msg']}{shown}")
    return redact("; ".join(lines) + f" (settings come from {_SOURCES})")
