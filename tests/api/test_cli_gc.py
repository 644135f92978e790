"""One-shot commands run with raised collector thresholds; long-running ones keep the defaults
and, served from a process of their own, freeze what they hold once warmed up (garbage made later
is still collected). The freezing cases each run in a Python process of their own: freezing is
process-wide."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api._cli_gc import ONE_SHOT_THRESHOLDS, freeze_at_exit, tune_for_command
from benchmarks._mlflow_server import MlflowServer

EXAMPLE_POLICIES = Path(__file__).resolve().parents[2] / "policies" / "examples"


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


def test_settling_freezes_what_is_alive_and_garbage_made_later_is_collected(
    own_interpreter: Callable[[str], str],
) -> None:
    out = own_interpreter(
        """
        import gc, weakref
        from api._cli_gc import settle_heap

        class Node:
            pass

        kept = Node()
        frozen = settle_heap()
        gone = []
        weakref.finalize(kept, gone.append, "kept")
        del kept  # frozen, but its last reference went: freed at once
        cycle = Node()
        cycle.me = cycle
        weakref.finalize(cycle, gone.append, "cycle")
        del cycle  # made after the freeze: the collector still finds it
        gc.collect()
        print(frozen > 1000, sorted(gone))
        """
    )
    assert out.splitlines()[-1] == "True ['cycle', 'kept']"


def test_a_review_observer_passes_every_review_on_and_settles_once_after_the_first(
    own_interpreter: Callable[[str], str],
) -> None:
    out = own_interpreter(
        """
        import gc, threading
        from api._cli_gc import SettleAfterFirstReview

        seen = []
        settler = SettleAfterFirstReview(lambda decision, seconds: seen.append(seconds))
        before = settler.wait(0.1)  # nothing reviewed, nothing settled
        settler(None, 1.0)
        settler(None, 2.0)
        settled = settler.wait()
        running = [t.name for t in threading.enumerate()].count("promogate-settle-heap")
        print(before, settled, gc.get_freeze_count() > 0, seen, running)
        """
    )
    assert out.splitlines()[-1] == "False True True [1.0, 2.0] 0"


@pytest.mark.parametrize(
    ("freeze_heap", "expected"),
    [(True, "frozen, more after a review"), (False, "none frozen")],
    ids=["served-process", "app-in-a-host-process"],
)
def test_an_app_freezes_its_process_only_when_it_serves_from_a_process_of_its_own(
    own_interpreter: Callable[[str], str],
    mlflow_server: MlflowServer,
    tmp_path: Path,
    freeze_heap: bool,
    expected: str,
) -> None:
    out = own_interpreter(
        f"""
        import gc, threading
        from fastapi.testclient import TestClient
        from api.app import create_app
        from api.settings import Settings

        def join(name):
            for thread in threading.enumerate():
                if thread.name == name:
                    thread.join(timeout=120)

        settings = Settings(
            tracking_uri={mlflow_server.url!r},
            ledger_url={f"sqlite:///{tmp_path / 'ledger.db'}"!r},
            policies_dir={str(EXAMPLE_POLICIES)!r},
            allow_anonymous=True,
        )
        with TestClient(create_app(settings, freeze_heap={freeze_heap!r})) as client:
            join("promogate-warm-up")
            warmed = gc.get_freeze_count()
            # A review of a model MLflow does not know: answered, and seen by the observer.
            client.post("/v1/gate", json={{"model": "no-such-model", "version": 1}})
            join("promogate-settle-heap")
            reviewed = gc.get_freeze_count()
        if warmed == 0:
            print("none frozen" if reviewed == 0 else "frozen only after a review")
        else:
            print("frozen, more after a review" if reviewed > warmed else "frozen once")
        """
    )
    assert out.splitlines()[-1] == expected
