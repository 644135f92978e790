"""The demo: a real MLflow registry with real models and planted defects, and the command that
reviews every candidate on it (`promogate demo`). It sits above the front doors and uses them.

Names are imported on first use: the CLI loads `demo.command` for every command it runs, and the
registry builders import MLflow, scikit-learn and pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo._plausibility_registry import PLAUSIBILITY_SCENARIOS as PLAUSIBILITY_SCENARIOS
    from demo._plausibility_registry import PlausibilityRegistry as PlausibilityRegistry
    from demo._plausibility_registry import PlausibilityScenario as PlausibilityScenario
    from demo._plausibility_registry import (
        build_plausibility_registry as build_plausibility_registry,
    )
    from demo._support_assistant import (
        build_support_assistant_versions as build_support_assistant_versions,
    )
    from demo._team_styles import TeamRegistry as TeamRegistry
    from demo._team_styles import build_team_registry as build_team_registry
    from demo.command import EXAMPLE_POLICIES as EXAMPLE_POLICIES
    from demo.command import review_demo_candidates as review_demo_candidates
    from demo.command import run_demo as run_demo
    from demo.registry import CHAMPION_ALIAS as CHAMPION_ALIAS
    from demo.registry import DEMO_MODEL_NAME as DEMO_MODEL_NAME
    from demo.registry import DemoRegistry as DemoRegistry
    from demo.registry import build_demo_registry as build_demo_registry

_EXPORTS: dict[str, str] = {
    "CHAMPION_ALIAS": "demo.registry",
    "DEMO_MODEL_NAME": "demo.registry",
    "DemoRegistry": "demo.registry",
    "EXAMPLE_POLICIES": "demo.command",
    "PLAUSIBILITY_SCENARIOS": "demo._plausibility_registry",
    "PlausibilityRegistry": "demo._plausibility_registry",
    "PlausibilityScenario": "demo._plausibility_registry",
    "build_plausibility_registry": "demo._plausibility_registry",
    "build_demo_registry": "demo.registry",
    "build_support_assistant_versions": "demo._support_assistant",
    "review_demo_candidates": "demo.command",
    "run_demo": "demo.command",
    "TeamRegistry": "demo._team_styles",
    "build_team_registry": "demo._team_styles",
}

__all__ = [
    "CHAMPION_ALIAS",
    "DEMO_MODEL_NAME",
    "EXAMPLE_POLICIES",
    "PLAUSIBILITY_SCENARIOS",
    "DemoRegistry",
    "PlausibilityRegistry",
    "PlausibilityScenario",
    "TeamRegistry",
    "build_demo_registry",
    "build_plausibility_registry",
    "build_support_assistant_versions",
    "build_team_registry",
    "review_demo_candidates",
    "run_demo",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
