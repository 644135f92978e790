"""The demo: a real MLflow registry with real models and planted defects, and the command that
reviews every candidate on it (`promogate demo`). It sits above the front doors and uses them."""

from demo.command import EXAMPLE_POLICIES, review_demo_candidates, run_demo
from demo.registry import CHAMPION_ALIAS, DEMO_MODEL_NAME, DemoRegistry, build_demo_registry
from demo.support_assistant import build_support_assistant_versions
from demo.team_styles import TeamRegistry, build_team_registry

__all__ = [
    "CHAMPION_ALIAS",
    "DEMO_MODEL_NAME",
    "EXAMPLE_POLICIES",
    "DemoRegistry",
    "TeamRegistry",
    "build_demo_registry",
    "build_support_assistant_versions",
    "build_team_registry",
    "review_demo_candidates",
    "run_demo",
]
