"""The work after a gate answer: run aside, failures logged, waited for by the next caller."""

from __future__ import annotations

import logging
import threading

import pytest

from review._followups import Followups


def _blocked(followups: Followups, model: str, version: int) -> tuple[threading.Event, list[str]]:
    """Submit a follow-up that runs until the returned event is set; it appends to the list."""
    release = threading.Event()
    done: list[str] = []

    def work() -> None:
        assert release.wait(10.0)
        done.append(f"{model}/{version}")

    followups.submit(model, version, f"work on {model}/{version}", work)
    return release, done


@pytest.mark.parametrize(
    ("waited_model", "waited_version", "waits"),
    [
        pytest.param("churn", 3, True, id="same-version"),
        pytest.param("churn", None, True, id="same-model-by-alias"),
        pytest.param("churn", 4, False, id="other-version"),
        pytest.param("fraud", None, False, id="other-model"),
    ],
)
def test_a_call_waits_only_for_the_followups_of_what_it_asks_about(
    waited_model: str, waited_version: int | None, waits: bool
) -> None:
    followups = Followups(wait_s=10.0)
    release, done = _blocked(followups, "churn", 3)
    waiter = threading.Thread(target=followups.wait, args=(waited_model, waited_version))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive() is waits
    release.set()
    waiter.join(10.0)
    assert not waiter.is_alive()
    followups.drain(10.0)
    assert done == ["churn/3"]


def test_drain_waits_for_every_followup() -> None:
    followups = Followups()
    releases = [_blocked(followups, "churn", v) for v in (1, 2)]
    drainer = threading.Thread(target=followups.drain, args=(10.0,))
    drainer.start()
    for release, _ in releases:
        drainer.join(0.1)
        assert drainer.is_alive()
        release.set()
    drainer.join(10.0)
    assert not drainer.is_alive()
    assert [d for _, done in releases for d in done] == ["churn/1", "churn/2"]


def test_a_failing_followup_is_logged_and_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    followups = Followups()

    def fail() -> None:
        raise RuntimeError("tags refused")

    with caplog.at_level(logging.WARNING, logger="promogate.review"):
        followups.submit("churn", 3, "publishing the tags of decision 'd-1'", fail)
        followups.wait("churn", 3)
    assert "publishing the tags of decision 'd-1' failed" in caplog.text
    assert "tags refused" in caplog.text


def test_a_wait_gives_up_after_its_bound_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    followups = Followups(wait_s=0.05)
    release, done = _blocked(followups, "churn", 3)
    with caplog.at_level(logging.WARNING, logger="promogate.review"):
        followups.wait("churn", 3)
    assert done == []
    assert "still running" in caplog.text
    release.set()
    followups.drain(10.0)
    assert done == ["churn/3"]


def test_a_held_followup_starts_once_its_answer_has_left_and_is_waited_for_meanwhile() -> None:
    followups = Followups(wait_s=10.0)
    answered = threading.Event()
    started = threading.Event()
    followups.submit("churn", 3, "tags", started.set, after=answered)
    assert not started.wait(0.3)
    # A later call on the same version sees the held work and waits for it.
    waiter = threading.Thread(target=followups.wait, args=("churn", 3))
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive()
    answered.set()
    waiter.join(10.0)
    assert not waiter.is_alive()
    assert started.is_set()


def test_a_held_followup_whose_answer_never_leaves_starts_after_the_hold(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("review._followups.HOLD_S", 0.2)
    followups = Followups()
    started = threading.Event()
    followups.submit("churn", 3, "tags", started.set, after=threading.Event())
    assert started.wait(10.0)
