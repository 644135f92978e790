"""The front doors: the `promogate` CLI, the FastAPI app, review jobs, the gate client, and
the settings, read here once and passed down explicitly.

What callers use is exported here (pinned by tests/test_exports.py) and imported on first
use, so importing one name does not load the whole package (MLflow, LangChain).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from api.app import (
        create_app as create_app,
    )
    from api.cli import (
        main as main,
    )
    from api.cli_options import (
        AsJson as AsJson,
    )
    from api.render import (
        decisions_table as decisions_table,
    )
    from api.render import (
        print_decision as print_decision,
    )
    from api.services import (
        build_review_service as build_review_service,
    )
    from api.services import (
        configure_mlflow_environment as configure_mlflow_environment,
    )
    from api.services import (
        make_investigator as make_investigator,
    )
    from api.settings import (
        Settings as Settings,
    )
    from api.settings import (
        load_settings as load_settings,
    )

_EXPORTS: dict[str, str] = {
    "AsJson": "api.cli_options",
    "build_review_service": "api.services",
    "configure_mlflow_environment": "api.services",
    "create_app": "api.app",
    "decisions_table": "api.render",
    "load_settings": "api.settings",
    "main": "api.cli",
    "make_investigator": "api.services",
    "print_decision": "api.render",
    "Settings": "api.settings",
}

__all__ = [
    "AsJson",
    "Settings",
    "build_review_service",
    "configure_mlflow_environment",
    "create_app",
    "decisions_table",
    "load_settings",
    "main",
    "make_investigator",
    "print_decision",
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
