"""The demo: a real MLflow registry with real models and planted defects, and the command that
reviews every candidate on it (`promogate demo`). It sits above the front doors and uses them.

Names are imported on first use: the CLI loads `demo.command` for every command it runs, and the
registry builders import MLflow, scikit-learn and pandas.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from demo._support_assistant import (
        build_support_assistant_versions as build_support_assistant_versions,
    )
    from demo.command import run_demo as run_demo
    from scenarios.demo_registry import CHAMPION_ALIAS as CHAMPION_ALIAS
    from scenarios.demo_registry import DEMO_MODEL_NAME as DEMO_MODEL_NAME
    from scenarios.demo_registry import DemoRegistry as DemoRegistry
    from scenarios.demo_registry import build_demo_registry as build_demo_registry
    from scenarios.demo_review import EXAMPLE_POLICIES as EXAMPLE_POLICIES
    from scenarios.demo_review import review_demo_candidates as review_demo_candidates
    from scenarios.plausibility_registry import PLAUSIBILITY_SCENARIOS as PLAUSIBILITY_SCENARIOS
    from scenarios.plausibility_registry import PlausibilityRegistry as PlausibilityRegistry
    from scenarios.plausibility_registry import PlausibilityScenario as PlausibilityScenario
    from scenarios.plausibility_registry import (
        build_plausibility_registry as build_plausibility_registry,
    )
    from scenarios.team_styles import TeamRegistry as TeamRegistry
    from scenarios.team_styles import build_team_registry as build_team_registry

_EXPORTS: dict[str, str] = {
    "CHAMPION_ALIAS": "scenarios.demo_registry",
    "DEMO_MODEL_NAME": "scenarios.demo_registry",
    "DemoRegistry": "scenarios.demo_registry",
    "EXAMPLE_POLICIES": "scenarios.demo_review",
    "PLAUSIBILITY_SCENARIOS": "scenarios.plausibility_registry",
    "PlausibilityRegistry": "scenarios.plausibility_registry",
    "PlausibilityScenario": "scenarios.plausibility_registry",
    "build_plausibility_registry": "scenarios.plausibility_registry",
    "build_demo_registry": "scenarios.demo_registry",
    "build_support_assistant_versions": "demo._support_assistant",
    "review_demo_candidates": "scenarios.demo_review",
    "run_demo": "demo.command",
    "TeamRegistry": "scenarios.team_styles",
    "build_team_registry": "scenarios.team_styles",
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
