"""Waiting for something another process does (a webhook delivered, a job run), bounded."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

_T = TypeVar("_T")

WAIT_S = 120.0
"""Long enough for a loaded two-core machine; a test that needs it is failing anyway."""


def wait_for(what: str, probe: Callable[[], _T | None], timeout: float = WAIT_S) -> _T:
    """Poll `probe` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.25)
