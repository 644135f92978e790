"""One-shot commands run with raised collector thresholds; long-running ones keep the defaults."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from api._cli_gc import ONE_SHOT_THRESHOLDS, freeze_at_exit, tune_for_command


@pytest.fixture(autouse=True)
def restored_collector() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    yield before
    gc.set_threshold(*before)
    gc.unfreeze()


@pytest.mark.parametrize(
    ("args", "one_shot"),
    [
        (["review", "credit-risk", "2"], True),
        (["gate", "credit-risk", "@challenger"], True),
        (["serve", "--port", "8080"], False),
        (["worker"], False),
        (["watch", "--all"], False),
        (["--version"], False),
        ([], False),
    ],
    ids=["review", "gate", "serve", "worker", "watch", "version", "no-command"],
)
def test_only_one_shot_commands_raise_the_thresholds(
    args: list[str], one_shot: bool, restored_collector: tuple[int, int, int]
) -> None:
    tune_for_command(args)
    assert gc.get_threshold() == (ONE_SHOT_THRESHOLDS if one_shot else restored_collector)
    assert gc.isenabled()


def test_freezing_at_exit_keeps_every_object_alive_and_tracked() -> None:
    kept = {"a": [1, 2]}
    freeze_at_exit()
    assert gc.get_freeze_count() > 0
    assert gc.is_tracked(kept) and kept == {"a": [1, 2]}
