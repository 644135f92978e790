"""The demo: a real MLflow registry with real models and planted defects, and the command that
reviews every candidate on it (`promogate demo`). It sits above the front doors and uses them."""

from demo.command import EXAMPLE_POLICIES, review_demo_candidates, run_demo
from demo.plausibility_registry import (
    PLAUSIBILITY_SCENARIOS,
    PlausibilityRegistry,
    PlausibilityScenario,
    build_plausibility_registry,
)
from demo.registry import CHAMPION_ALIAS, DEMO_MODEL_NAME, DemoRegistry, build_demo_registry
from demo.support_assistant import build_support_assistant_versions

__all__ = [
    "CHAMPION_ALIAS",
    "DEMO_MODEL_NAME",
    "EXAMPLE_POLICIES",
    "PLAUSIBILITY_SCENARIOS",
    "DemoRegistry",
    "PlausibilityRegistry",
    "PlausibilityScenario",
    "build_demo_registry",
    "build_plausibility_registry",
    "build_support_assistant_versions",
    "review_demo_candidates",
    "run_demo",
]
