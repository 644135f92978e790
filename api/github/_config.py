"""The bot's trusted configuration: which repositories it serves, and what counts as what in them.

Read by the server from a file its operator controls (``PROMOGATE_GITHUB_CONFIG``), or, for a
repository that opts in with ``config_from_base: true``, from ``.promogate.yml`` on the pull
request's **base** branch. Never from the pull request's head: the change under review cannot
choose which of its files are reviewed, which model they train, or who may override.

```yaml
repositories:
  acme/credit-models:
    pipelines:                                 # which paths are pipeline configs, what they train
      - {paths: ["pipelines/credit/*", "params.yaml", "dvc.yaml"], model: credit-risk}
    requests: ["promotions/*.yaml"]            # promotion request files
    target_alias: champion
    config_from_base: false
approvers:                                     # policy approver names -> GitHub users or @org/team
  release-lead: [alice, "@acme/ml-leads"]
```
"""

from __future__ import annotations

import logging
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.github.errors import GitHubConfigError

__all__ = [
    "BASE_CONFIG_PATH",
    "BaseBranchConfig",
    "BotConfig",
    "PipelineMapping",
    "RepoConfig",
    "load_bot_config",
    "path_matches",
]

logger = logging.getLogger("promogate.github")

BASE_CONFIG_PATH = ".promogate.yml"
_DEFAULT_REQUESTS = ["promotions/*.yaml", "promotions/*.yml"]


def path_matches(path: str, patterns: list[str]) -> bool:
    """Whether a repository path matches one of the globs (``*`` also crosses ``/``).

    Args:
        path: A file path in the repository, e.g. ``pipelines/credit/params.yaml``.
        patterns: Globs such as ``pipelines/*`` or ``params.yaml``.
    """
    return any(fnmatchcase(path, pattern) for pattern in patterns)


class PipelineMapping(BaseModel):
    """Paths that are pipeline configuration, and the registered model they train."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    paths: list[str] = Field(min_length=1, description="Globs of pipeline config files.")
    model: str | None = Field(
        default=None,
        description="The registered model the pipeline trains; its policies' `pipeline:` rules "
        "apply. Without it, risky changes become advisory warnings.",
    )


class BaseBranchConfig(BaseModel):
    """What a repository may say about itself in ``.promogate.yml`` on its base branch."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipelines: list[PipelineMapping] = Field(default_factory=list)
    requests: list[str] = Field(default_factory=lambda: list(_DEFAULT_REQUESTS))
    target_alias: str = "champion"


class RepoConfig(BaseBranchConfig):
    """One served repository."""

    config_from_base: bool = Field(
        default=False,
        description="Read pipelines, requests and target alias from .promogate.yml on the base "
        "branch (never the head).",
    )

    def pipeline_for(self, path: str) -> PipelineMapping | None:
        """The first pipeline mapping whose globs match `path`."""
        return next((m for m in self.pipelines if path_matches(path, m.paths)), None)

    def is_request(self, path: str) -> bool:
        return path_matches(path, self.requests)

    def with_base(self, base: BaseBranchConfig) -> RepoConfig:
        """This configuration with the base branch's paths, models and target alias."""
        return self.model_copy(
            update={
                "pipelines": base.pipelines,
                "requests": base.requests,
                "target_alias": base.target_alias,
            }
        )


class BotConfig(BaseModel):
    """The served repositories and the approver mapping."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    repositories: dict[str, RepoConfig] = Field(default_factory=dict)
    approvers: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Policy approver name -> GitHub logins or '@org/team-slug'.",
    )

    def repo(self, full_name: str) -> RepoConfig | None:
        """A repository's configuration (``owner/name``, case-insensitive); None if unserved."""
        wanted = full_name.lower()
        return next((c for n, c in self.repositories.items() if n.lower() == wanted), None)


def load_bot_config(path: Path) -> BotConfig:
    """Read the trusted configuration file.

    Args:
        path: A YAML file in the format of the module docstring.

    Raises:
        GitHubConfigError: The file is missing, is not YAML, or does not validate.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GitHubConfigError(f"cannot read the GitHub bot config {str(path)!r}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise GitHubConfigError(f"the GitHub bot config {str(path)!r} is not YAML: {exc}") from exc
    try:
        return BotConfig.model_validate(data or {})
    except ValidationError as exc:
        raise GitHubConfigError(f"the GitHub bot config {str(path)!r} is invalid: {exc}") from exc
