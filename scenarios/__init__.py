"""Registries with known truth, as a team elsewhere would log them: the demo's credit-risk model
with planted defects, the same model logged in several teams' styles, the plausibility scenarios,
the demo's review of every candidate and its production days after promotion (one drifting). The
demo command and the benchmarks both build on them.

Names are imported on first use: the builders import MLflow, scikit-learn and pandas, and the
demo command (mounted for every CLI command) needs only the example policies' path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tools.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from scenarios.demo_registry import CHAMPION_ALIAS as CHAMPION_ALIAS
    from scenarios.demo_registry import DEMO_MODEL_NAME as DEMO_MODEL_NAME
    from scenarios.demo_registry import DemoRegistry as DemoRegistry
    from scenarios.demo_registry import build_demo_registry as build_demo_registry
    from scenarios.demo_review import EXAMPLE_POLICIES as EXAMPLE_POLICIES
    from scenarios.demo_review import DemoVersion as DemoVersion
    from scenarios.demo_review import review_demo_candidates as review_demo_candidates
    from scenarios.plausibility_registry import PLAUSIBILITY_SCENARIOS as PLAUSIBILITY_SCENARIOS
    from scenarios.plausibility_registry import PlausibilityRegistry as PlausibilityRegistry
    from scenarios.plausibility_registry import PlausibilityScenario as PlausibilityScenario
    from scenarios.plausibility_registry import (
        build_plausibility_registry as build_plausibility_registry,
    )
    from scenarios.team_styles import TeamRegistry as TeamRegistry
    from scenarios.team_styles import build_team_registry as build_team_registry
    from scenarios.watch_windows import DRIFT_REGION as DRIFT_REGION
    from scenarios.watch_windows import describe_watch as describe_watch
    from scenarios.watch_windows import run_watch_scenario as run_watch_scenario
    from scenarios.watch_windows import watch_command as watch_command

_EXPORTS: dict[str, str] = {
    "CHAMPION_ALIAS": "scenarios.demo_registry",
    "DEMO_MODEL_NAME": "scenarios.demo_registry",
    "DemoRegistry": "scenarios.demo_registry",
    "build_demo_registry": "scenarios.demo_registry",
    "EXAMPLE_POLICIES": "scenarios.demo_review",
    "DemoVersion": "scenarios.demo_review",
    "review_demo_candidates": "scenarios.demo_review",
    "PLAUSIBILITY_SCENARIOS": "scenarios.plausibility_registry",
    "PlausibilityRegistry": "scenarios.plausibility_registry",
    "PlausibilityScenario": "scenarios.plausibility_registry",
    "build_plausibility_registry": "scenarios.plausibility_registry",
    "TeamRegistry": "scenarios.team_styles",
    "build_team_registry": "scenarios.team_styles",
    "DRIFT_REGION": "scenarios.watch_windows",
    "describe_watch": "scenarios.watch_windows",
    "run_watch_scenario": "scenarios.watch_windows",
    "watch_command": "scenarios.watch_windows",
}

__all__ = [
    "CHAMPION_ALIAS",
    "DEMO_MODEL_NAME",
    "DRIFT_REGION",
    "EXAMPLE_POLICIES",
    "PLAUSIBILITY_SCENARIOS",
    "DemoRegistry",
    "DemoVersion",
    "PlausibilityRegistry",
    "PlausibilityScenario",
    "TeamRegistry",
    "build_demo_registry",
    "build_plausibility_registry",
    "build_team_registry",
    "describe_watch",
    "review_demo_candidates",
    "run_watch_scenario",
    "watch_command",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
