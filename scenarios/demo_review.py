"""The demo's review: every candidate of a registry reviewed with the example policies into a
fresh ledger, each verdict held against the one its planted defect calls for."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from rich.console import Console

    from policies.decision import Decision
    from review import ReviewService

__all__ = ["EXAMPLE_POLICIES", "DemoVersion", "offline_review_service", "review_demo_candidates"]


def _package_dir(name: str) -> Path:
    # Found without importing the package: `register` runs for every CLI command, so mounting
    # `promogate demo` must not load the review stack (see tests/api/test_cli_imports.py).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"package {name!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


EXAMPLE_POLICIES = _package_dir("policies") / "examples"


class DemoVersion(Protocol):
    """A demo model version and the verdict its defect (or its absence) calls for."""

    @property
    def model(self) -> str: ...
    @property
    def version(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def expected_verdict(self) -> str: ...


def offline_review_service(
    tracking_uri: str, ledger_path: Path, policies_dir: Path
) -> ReviewService:
    """The review service the demo runs: offline investigator, a SQLite ledger at `ledger_path`."""
    from api.services import build_review_service, configure_mlflow_environment
    from api.settings import Settings

    settings = Settings(
        tracking_uri=tracking_uri,
        ledger_url=f"sqlite:///{ledger_path}",
        policies_dir=policies_dir,
        llm="offline",
    )
    configure_mlflow_environment(settings)
    return build_review_service(settings)


def review_demo_candidates(
    tracking_uri: str,
    candidates: Sequence[DemoVersion],
    ledger_path: Path,
    *,
    console: Console | None = None,
) -> tuple[list[Decision], list[str]]:
    """Review every demo candidate with the example policies into a fresh ledger.

    Returns the decisions and a line for each one that differs from the verdict the candidate
    was built to get. Prints each decision when a console is given.
    """
    from api.render import print_decision

    ledger_path.unlink(missing_ok=True)
    service = offline_review_service(tracking_uri, ledger_path, EXAMPLE_POLICIES)
    decisions: list[Decision] = []
    mismatches: list[str] = []
    for candidate in candidates:
        decision = service.review(candidate.model, str(candidate.version)).decision
        decisions.append(decision)
        if decision.verdict != candidate.expected_verdict:
            mismatches.append(
                f"{candidate.model} v{candidate.version} ({candidate.title}): expected "
                f"{candidate.expected_verdict}, got {decision.verdict}"
            )
        if console is not None:
            console.rule(f"{candidate.model} v{candidate.version}: {candidate.title}")
            print_decision(decision, console)
    return decisions, mismatches
