"""Package faces whose names are imported on first use.

Every package's `__init__` names what it offers in `__all__`, but importing a face must not import
MLflow, LangChain or pandas for a caller that needs one small name (the CLI mounts every command
on each run). The face lists which module defines each name, and this module supplies the
package's `__getattr__` and `__dir__`.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str], public: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The `__getattr__` and `__dir__` of a package whose names load on first use.

    Args:
        package: The package's `__name__`.
        exports: Each name imported on first use, and the module that defines it.
        public: The package's `__all__`.
    """
    namespace = sys.modules[package].__dict__

    def module_getattr(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        # Kept in the package, so the next lookup does not come here.
        namespace[name] = value
        return value

    def module_dir() -> list[str]:
        return sorted([*namespace, *public])

    return module_getattr, module_dir
